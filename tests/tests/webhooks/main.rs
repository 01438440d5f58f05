//! Webhooks (issue 14), end to end on a stack of their own: table stream -> events function ->
//! event log -> queue -> sender -> a receiver run by the test, with the retry schedule shortened
//! by configuration (`devstack up --function-env WEBHOOK_RETRY_DELAYS_SECONDS=1,...`, an
//! endpoint failing for 12 s is disabled, queue visibility 12 s). Each test has its own partner
//! and receiver; fault injection is keyed by tracking numbers only its test uses.

mod claims;
mod delivery;
mod endpoints;
mod pipeline;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use blackbox::receiver::Receiver;
use blackbox::{Partner, Stack};
use serde_json::{json, Value};

/// Seconds an endpoint may fail every attempt before it is disabled, on this stack.
pub const DISABLE_AFTER_SECONDS: u64 = 12;

static STACK: OnceLock<Option<Stack>> = OnceLock::new();

/// The webhook stack; `None` (the test says it is skipped) against an external stack.
pub fn stack() -> Option<&'static Stack> {
    let s = STACK
        .get_or_init(|| {
            Stack::start_private_with(&[
                "--function-env",
                "WEBHOOK_RETRY_DELAYS_SECONDS=1,1,1,1,1,1,1,1,1,1,1,1",
                "--function-env",
                &format!("WEBHOOK_DISABLE_AFTER_SECONDS={DISABLE_AFTER_SECONDS}"),
                "--queue-visibility-timeout",
                "12",
            ])
        })
        .as_ref();
    if s.is_none() {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
    }
    s
}

/// A new partner with every subscription (`claims` included) on the webhook stack.
pub async fn partner(stack: &Stack, prefix: &str) -> Partner {
    Partner::from_kit(
        blackbox::partner::onboard_kit_json_with(
            stack,
            &blackbox::unique_name(prefix),
            &blackbox::claims::CLAIM_SUBSCRIPTIONS,
        )
        .await,
    )
}

/// Registers `url` for `types` (all when `None`); returns (endpoint id, secret).
pub async fn register(p: &Partner, url: &str, types: Option<&[&str]>) -> (String, String) {
    let mut body = json!({"url": url, "description": "blackbox receiver"});
    if let Some(t) = types {
        body["event_types"] = json!(t);
    }
    let resp = p.post_json("/webhook-endpoints", &body).await;
    let v = resp.expect(201);
    (
        v["id"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

/// Every event of the partner's log (all pages), newest first.
pub async fn logged_events(p: &Partner) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/events?limit=100".to_string(),
            Some(c) => format!(
                "/events?limit=100&cursor={}",
                blackbox::partner::path_escape(c)
            ),
        };
        let v = p.get(&path).await.expect(200).clone();
        out.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// Waits until the partner's log holds at least `n` events.
pub async fn wait_logged(p: &Partner, n: usize, within: Duration) -> Vec<Value> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let events = logged_events(p).await;
        if events.len() >= n || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The resource an event is about: its claim id for a claim event, else its tracking number.
pub fn resource_of(event: &Value) -> &str {
    let data = &event["data"];
    if event["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("claim."))
    {
        data["claim_id"].as_str().unwrap_or("")
    } else {
        data["tracking_number"].as_str().unwrap_or("")
    }
}

/// (resource: tracking number or claim id, type, version) -> how many events of the log have it.
pub fn log_index(events: &[Value]) -> BTreeMap<(String, String, u64), usize> {
    let mut m = BTreeMap::new();
    for e in events {
        let key = (
            resource_of(e).to_string(),
            e["type"].as_str().unwrap_or("").to_string(),
            e["data"]["version"].as_u64().unwrap_or(0),
        );
        *m.entry(key).or_insert(0) += 1;
    }
    m
}

/// A receiver with the partner's endpoint registered on it.
pub async fn receiver_for(p: &Partner) -> (Receiver, String, String) {
    let r = Receiver::start().await;
    let (id, secret) = register(p, &r.url("/hooks"), None).await;
    (r, id, secret)
}
