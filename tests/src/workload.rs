//! Delivery lifecycles driven concurrently as partners would (retrying 503s after `Retry-After`),
//! then reconciled with what is stored: the load run and the fault-injection tests share it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::Resp;
use crate::partner::{event, Delivery, Partner};

/// How many times one call is retried on 503 before the run counts it as failed.
const MAX_TRIES: usize = 40;

/// What every response of a run was, and how long it took.
#[derive(Default)]
pub struct Tally {
    /// `route status` -> count, every response including the 503s that were retried.
    pub statuses: BTreeMap<String, u64>,
    /// Latencies in microseconds, every response.
    pub latencies_us: Vec<u64>,
    /// Responses that were neither the expected answer nor a 503 with `Retry-After`.
    pub unexpected: Vec<String>,
    /// Calls still 503 after `MAX_TRIES`.
    pub gave_up: u64,
    /// Submissions answered 200 (a safe retry) rather than 201: the first attempt's write
    /// landed although its answer was a 503 (or was lost inside the function's SDK retries).
    pub submit_replays: u64,
}

impl Tally {
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum()
    }

    fn count(&self, pred: impl Fn(u16) -> bool) -> u64 {
        self.statuses
            .iter()
            .filter(|(k, _)| {
                k.rsplit(' ')
                    .next()
                    .and_then(|s| s.parse::<u16>().ok())
                    .is_some_and(&pred)
            })
            .map(|(_, v)| v)
            .sum()
    }

    pub fn status_503(&self) -> u64 {
        self.count(|s| s == 503)
    }

    /// 5xx other than 503 (500, 502, 504): each is a broken promise.
    pub fn other_5xx(&self) -> u64 {
        self.count(|s| s >= 500 && s != 503)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    }
}

/// One call with partner-style retries: 503 + `Retry-After` is retried (after the advised wait,
/// capped at `max_wait`); any other answer is returned.
async fn call<F, Fut>(
    tally: &Mutex<Tally>,
    route: &str,
    max_wait: Duration,
    mut f: F,
) -> Option<Resp>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Resp>,
{
    for _ in 0..MAX_TRIES {
        let started = Instant::now();
        let resp = f().await;
        let us = started.elapsed().as_micros() as u64;
        {
            let mut t = tally.lock().unwrap();
            *t.statuses
                .entry(format!("{route} {}", resp.status))
                .or_default() += 1;
            t.latencies_us.push(us);
        }
        if resp.status != 503 {
            return Some(resp);
        }
        let Some(wait) = resp
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            tally.lock().unwrap().unexpected.push(format!(
                "{route}: 503 without a numeric Retry-After: {}",
                resp.text
            ));
            return None;
        };
        tokio::time::sleep(Duration::from_secs(wait).min(max_wait)).await;
    }
    tally.lock().unwrap().gave_up += 1;
    None
}

/// What one lifecycle should have left behind.
#[derive(Debug, Clone)]
pub struct Expected {
    pub delivery: Delivery,
    pub delivery_status: &'static str,
    pub policy_status: &'static str,
    /// The events of accepted tracking requests (each must be stored exactly once).
    pub events: Vec<Value>,
    /// Tracking requests that added events (each leaves one stored event batch, inside the
    /// delivery item or, past its inline limit, in an item of its own).
    pub batches: usize,
}

fn unexpected(tally: &Mutex<Tally>, what: String) {
    tally.lock().unwrap().unexpected.push(what);
}

/// Runs lifecycle `i`: every fourth one is cancelled after `in_process`; the others go
/// `in_process`, `in_delivery` (sent twice: the resend must add nothing), `success`.
/// Returns what must be stored, or `None` when a call did not end as the contract says.
pub async fn lifecycle(
    p: &Partner,
    i: usize,
    tally: &Mutex<Tally>,
    max_wait: Duration,
) -> Option<Expected> {
    let body = p.submit_body();
    let resp = call(tally, "submit", max_wait, || p.submit(&body)).await?;
    if resp.status != 201 && resp.status != 200 {
        unexpected(tally, format!("submit {i}: {} {}", resp.status, resp.text));
        return None;
    }
    if resp.status == 200 {
        tally.lock().unwrap().submit_replays += 1;
    }
    let delivery = Delivery {
        tracking_number: body["tracking_number"].as_str()?.to_string(),
        policy_id: resp.json["policy_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        url_certificate: resp.json["url_certificate"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        premium: body["premium_amount"].as_i64()?,
        body,
    };
    let cancelled = i % 4 == 3;
    let steps: &[&str] = if cancelled {
        &["in_process"]
    } else {
        &["in_process", "in_delivery", "in_delivery", "success"]
    };
    let mut events = Vec::new();
    let mut batches = 0;
    for (n, status) in steps.iter().enumerate() {
        // The resend of in_delivery carries the same event again.
        let resend = n > 0 && steps[n - 1] == *status;
        let ev = if resend {
            events.last().cloned()?
        } else {
            event(status, n as u32)
        };
        let tb = p.tracking_body(&delivery, status, vec![ev.clone()]);
        let resp = call(tally, "tracking", max_wait, || p.track(&tb)).await?;
        if resp.status != 200 {
            unexpected(
                tally,
                format!("tracking {i} {status}: {} {}", resp.status, resp.text),
            );
            return None;
        }
        if !resend {
            events.push(ev);
            batches += 1;
        }
    }
    if cancelled {
        let cb = p.cancel_body(&delivery);
        let resp = call(tally, "cancel", max_wait, || p.cancel(&cb)).await?;
        if resp.status != 200 || resp.json["policy_id"] != json!(delivery.policy_id) {
            unexpected(tally, format!("cancel {i}: {} {}", resp.status, resp.text));
            return None;
        }
    }
    Some(Expected {
        delivery,
        delivery_status: if cancelled { "in_process" } else { "success" },
        policy_status: if cancelled { "cancelled" } else { "active" },
        events,
        batches,
    })
}

/// The outcome of a run.
pub struct Run {
    pub lifecycles: usize,
    pub clients: usize,
    pub elapsed: Duration,
    pub tally: Tally,
    pub expected: Vec<Expected>,
}

impl Run {
    pub fn report(&self) -> String {
        let t = &self.tally;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "{} lifecycles at {} concurrent clients in {:.1} s: {} requests ({:.1} req/s, {:.2} lifecycles/s); \
             503 (retried) {} ({:.2} %); other 5xx {}; unexpected {}; gave up {}; submit replays {}; \
             latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\nstatuses: {:?}",
            self.lifecycles,
            self.clients,
            secs,
            t.requests(),
            t.requests() as f64 / secs,
            self.expected.len() as f64 / secs,
            t.status_503(),
            100.0 * t.status_503() as f64 / t.requests().max(1) as f64,
            t.other_5xx(),
            t.unexpected.len(),
            t.gave_up,
            t.submit_replays,
            t.percentile_ms(0.50),
            t.percentile_ms(0.99),
            t.percentile_ms(1.0),
            t.statuses,
        )
    }
}

/// Runs `lifecycles` lifecycles with `clients` concurrent workers.
pub async fn run(p: Arc<Partner>, lifecycles: usize, clients: usize, max_wait: Duration) -> Run {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (p, tally, next) = (p.clone(), tally.clone(), next.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= lifecycles {
                    return done;
                }
                if let Some(e) = lifecycle(&p, i, &tally, max_wait).await {
                    done.push(e);
                }
            }
        });
    }
    let mut expected = Vec::new();
    while let Some(r) = workers.join_next().await {
        expected.extend(r.expect("worker panicked"));
    }
    let elapsed = started.elapsed();
    let tally = Arc::try_unwrap(tally)
        .ok()
        .expect("workers are done")
        .into_inner()
        .unwrap();
    Run {
        lifecycles,
        clients,
        elapsed,
        tally,
        expected,
    }
}

/// What the reconciliation found.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub checked: usize,
    /// Accepted deliveries or events not stored.
    pub lost: Vec<String>,
    /// Deliveries, events or event batches stored more than once or not asked for.
    pub duplicated: Vec<String>,
    /// Stored state that differs from the answers (status, policy, ids).
    pub mismatched: Vec<String>,
}

impl Reconciled {
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.mismatched.is_empty()
    }
}

/// Event identity as the partner sees it: time, status and description.
fn event_key(e: &Value) -> String {
    format!(
        "{}|{}|{}",
        e["tracking_time"].as_str().unwrap_or(""),
        e["tracking_status"].as_str().unwrap_or(""),
        e["tracking_desctiption"]
            .as_str()
            .or(e["tracking_description"].as_str())
            .unwrap_or("")
    )
}

/// Reconciles every expected lifecycle with the stored state, read twice: through the control
/// tower API (delivery, policy, history) and directly from DynamoDB Local (every item of the
/// partner: one delivery item per tracking number, one event batch per accepted tracking
/// request, inside the delivery item or in an `EVENTS#` item of its own, nothing else).
pub async fn reconcile(p: &Partner, stack_json: &Value, expected: &[Expected]) -> Reconciled {
    let mut r = Reconciled::default();
    for e in expected {
        let tn = &e.delivery.tracking_number;
        let resp = p.delivery(tn).await;
        if resp.status == 404 {
            r.lost.push(format!("delivery {tn} not stored"));
            continue;
        }
        let stored = resp.expect(200);
        r.checked += 1;
        if stored["policy"]["policy_id"] != json!(e.delivery.policy_id) {
            r.mismatched.push(format!(
                "{tn}: answered policy {} but stored {}",
                e.delivery.policy_id, stored["policy"]["policy_id"]
            ));
        }
        if stored["delivery_status"] != json!(e.delivery_status) {
            r.mismatched.push(format!(
                "{tn}: status {} expected {}",
                stored["delivery_status"], e.delivery_status
            ));
        }
        if stored["policy"]["policy_status"] != json!(e.policy_status) {
            r.mismatched.push(format!(
                "{tn}: policy {} expected {}",
                stored["policy"]["policy_status"], e.policy_status
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for ev in stored["tracking_history"].as_array().into_iter().flatten() {
            *seen.entry(event_key(ev)).or_default() += 1;
        }
        for ev in &e.events {
            match seen.remove(&event_key(ev)) {
                None => r
                    .lost
                    .push(format!("{tn}: event {} not stored", event_key(ev))),
                Some(1) => {}
                Some(n) => r
                    .duplicated
                    .push(format!("{tn}: event {} stored {n} times", event_key(ev))),
            }
        }
        for (k, n) in seen {
            r.duplicated
                .push(format!("{tn}: event {k} stored {n} times but never sent"));
        }
    }

    // Directly from the table: the partner's items.
    let items = scan_partner(stack_json, &p.kit.partner_id).await;
    let mut deliveries: HashMap<String, usize> = HashMap::new();
    let mut batches: HashMap<String, usize> = HashMap::new();
    for item in &items {
        let pk = item["pk"]["S"].as_str().unwrap_or("").to_string();
        let sk = item["sk"]["S"].as_str().unwrap_or("");
        if sk == "DELIVERY" {
            *batches.entry(pk.clone()).or_default() += inline_batches(item).len();
            *deliveries.entry(pk).or_default() += 1;
        } else if sk.starts_with("EVENTS#") {
            *batches.entry(pk).or_default() += 1;
        } else {
            r.mismatched.push(format!("unexpected item {pk} {sk}"));
        }
    }
    let prefix = format!("DELIVERY#{}#", p.kit.partner_id);
    for e in expected {
        let pk = format!("{prefix}{}", e.delivery.tracking_number);
        match deliveries.remove(&pk) {
            Some(1) => {}
            None => r.lost.push(format!("no delivery item {pk}")),
            Some(n) => r.duplicated.push(format!("{n} delivery items {pk}")),
        }
        let n = batches.remove(&pk).unwrap_or(0);
        if n < e.batches {
            r.lost
                .push(format!("{pk}: {n} event batches, expected {}", e.batches));
        } else if n > e.batches {
            r.duplicated
                .push(format!("{pk}: {n} event batches, expected {}", e.batches));
        }
    }
    // Anything left is a delivery nobody was told about (a lifecycle that failed is not in
    // `expected`; the callers assert there are none).
    for (pk, _) in deliveries {
        r.duplicated
            .push(format!("delivery item {pk} stored but never confirmed"));
    }
    r
}

/// One stored tracking update: the delivery version it produced, the status it set, its events.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub version: u64,
    pub delivery_status: String,
    pub events: Vec<Value>,
}

/// A compressed attribute of a delivery item (DynamoDB JSON) as JSON, `None` when absent
/// (shared/src/store/delivery_layout.rs: `d` holds `{submission, policy, created_at}`, `e` the
/// tracking updates).
pub fn compressed_attribute(item: &Value, name: &str) -> Option<Value> {
    use base64::Engine;
    let b64 = item[name]["B"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("attribute {name} is not base64: {e}"));
    Some(
        shared::store::decode_compressed_attribute(&bytes)
            .unwrap_or_else(|e| panic!("attribute {name} does not decode: {e}")),
    )
}

/// The tracking updates kept inside a delivery item (DynamoDB JSON): its `e` attribute, a
/// compressed list of batches.
pub fn inline_batches(item: &Value) -> Vec<StoredBatch> {
    let Some(decoded) = compressed_attribute(item, "e") else {
        return Vec::new();
    };
    decoded
        .as_array()
        .unwrap_or_else(|| panic!("attribute e is not a list: {decoded}"))
        .iter()
        .map(|b| StoredBatch {
            version: b["version"].as_u64().unwrap_or(0),
            delivery_status: b["delivery_status"].as_str().unwrap_or("").to_string(),
            events: b["events"].as_array().cloned().unwrap_or_default(),
        })
        .collect()
}

/// Every stored tracking update of one delivery (the items of its partition, DynamoDB JSON), in
/// the order they were written: inside the delivery item and in `EVENTS#<version>` items.
pub fn stored_batches(items: &[Value]) -> Vec<StoredBatch> {
    let mut out = Vec::new();
    for i in items {
        let sk = i["sk"]["S"].as_str().unwrap_or("");
        if sk == "DELIVERY" {
            out.extend(inline_batches(i));
        } else if let Some(v) = sk.strip_prefix("EVENTS#") {
            out.push(StoredBatch {
                version: v.parse().unwrap_or(0),
                delivery_status: i["delivery_status"]["S"].as_str().unwrap_or("").to_string(),
                events: i["events"]["L"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let m = e["M"].as_object().cloned().unwrap_or_default();
                        Value::Object(m.into_iter().map(|(k, v)| (k, v["S"].clone())).collect())
                    })
                    .collect(),
            });
        }
    }
    out.sort_by_key(|b| b.version);
    out
}

/// Every item of a partner (deliveries and event batches), read straight from DynamoDB Local.
pub async fn scan_partner(stack_json: &Value, partner_id: &str) -> Vec<Value> {
    let prefix = format!("DELIVERY#{partner_id}#");
    let mut items = Vec::new();
    let mut start: Option<Value> = None;
    loop {
        let mut req = json!({
            "TableName": stack_json["table_name"],
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": prefix}},
            "ConsistentRead": true,
        });
        if let Some(s) = start.take() {
            req["ExclusiveStartKey"] = s;
        }
        let out = dynamodb(stack_json, "Scan", &req).await;
        items.extend(out["Items"].as_array().cloned().unwrap_or_default());
        match out.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => return items,
        }
    }
}

/// Every item under one delivery's partition key, in sort-key order (delivery, then any event
/// batches of their own by version).
pub async fn query_delivery(stack_json: &Value, partner_id: &str, tn: &str) -> Vec<Value> {
    let out = dynamodb(
        stack_json,
        "Query",
        &json!({
            "TableName": stack_json["table_name"],
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": format!("DELIVERY#{partner_id}#{tn}")}},
            "ConsistentRead": true,
        }),
    )
    .await;
    out["Items"].as_array().cloned().unwrap_or_default()
}

/// One DynamoDB JSON API call to DynamoDB Local (which does not check request signatures).
pub async fn dynamodb(stack_json: &Value, action: &str, body: &Value) -> Value {
    let endpoint = stack_json["dynamodb_endpoint"]
        .as_str()
        .unwrap_or_else(|| panic!("stack.json has no dynamodb_endpoint: {stack_json}"));
    let resp = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", format!("DynamoDB_20120810.{action}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=host;x-amz-target, Signature=0000",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("DynamoDB {action}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "DynamoDB {action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("DynamoDB {action}: {e}: {text}"))
}
