//! Tests that change or break the stack they run on, so each starts a stack of its own
//! (`Stack::start_private`) instead of sharing the API tests' stack. Skipped when the tests run
//! against an external stack (`PARTNER_API_BASE_URL`).

mod keys_rotate;
mod outage;
mod quote_expiry;
mod rotation;
mod throttle;
