//! Event notifications (webhooks, issue 14): the pure parts. What an event is and how it is
//! derived from a change of a table item (`event`), the Standard Webhooks 1.0 signature
//! (`signing`), the rules a receiver URL must follow and the address check done at registration
//! and at every send (`target`), how endpoint secrets are sealed at rest (`sealing`), and the
//! retry schedule (`retry`). The use cases are in `service::webhooks` (the API), `service::events`
//! (stream -> event log -> queue) and `service::sender` (queue -> the partner's URL).

pub mod event;
pub mod retry;
pub mod sealing;
pub mod signing;
pub mod target;

pub use event::{event_id, Event, EventType, API_VERSION};
