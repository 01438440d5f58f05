//! Black-box test harness: starts the real local stack once per test binary and drives it
//! over HTTP exactly as a partner would (see `tests/tests/api/`).

pub mod catalogue;
pub mod claims;
pub mod http;
pub mod jwt;
pub mod ops;
pub mod partner;
pub mod receiver;
pub mod stack;
pub mod workload;

pub use http::{client, names_field, send, Resp};
pub use partner::{
    ahasme_premium, at, event, onboard_kit_json, opsctl, opsctl_json, opsctl_run, opsctl_run_on,
    parse_time, put_product, rfc3339, signature, unique_name, unique_tn, Delivery, Kit, OpsOutput,
    Partner, ALL_SUBSCRIPTIONS, KIT_KEYS,
};
pub use stack::{stack, workspace_root, Stack};
