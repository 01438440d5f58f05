//! Webhooks (issue 14): time from the API write to the receiver's 2xx (p50/p99, locally), the
//! events per second the pipeline sustains locally (stream -> events function -> queue -> sender
//! -> receiver), and the cost per million events on AWS at published prices, from what this run
//! measured (invocations per event, durations, item sizes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::report::{Prices, Stats};
use crate::stack::{report_durations, Partner, Stack};

/// SQS standard queue, per million requests (64 KB chunks), US East, looked up on `Prices::DATE`.
const SQS_PER_M_REQUESTS: f64 = 0.40;
/// DynamoDB storage, per GB-month.
const DDB_STORAGE_GB_MONTH: f64 = 0.25;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(State(seen): State<Arrivals>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        if v["type"] == "policy.issued" {
            if let Some(tn) = v["data"]["tracking_number"].as_str() {
                seen.lock().unwrap().entry(tn.to_string()).or_insert(at);
            }
        }
    }
    StatusCode::NO_CONTENT
}

async fn wait_for(seen: &Arrivals, tns: &[String], within: Duration) -> Result<Instant, String> {
    let deadline = Instant::now() + within;
    loop {
        {
            let s = seen.lock().unwrap();
            if tns.iter().all(|t| s.contains_key(t)) {
                return Ok(tns.iter().map(|t| s[t]).max().unwrap_or_else(Instant::now));
            }
        }
        if Instant::now() > deadline {
            let s = seen.lock().unwrap();
            let missing = tns.iter().filter(|t| !s.contains_key(*t)).count();
            return Err(format!(
                "webhooks: {missing} of {} events not received within {within:?}",
                tns.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Measures and renders the webhook section of bench/RESULTS.md.
pub async fn measure(
    stack: &Stack,
    p: &Partner,
    samples: usize,
    memory_mb: u64,
) -> Result<String, String> {
    let seen: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(seen.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let token = p.token().await?;
    let created = p
        .post_json(&token, "/webhook-endpoints", &json!({"url": format!("http://127.0.0.1:{port}/hooks"), "event_types": ["policy.issued"]}))
        .await;
    if created.status != 201 {
        return Err(format!(
            "webhooks: creating the endpoint: {} {}",
            created.status, created.body
        ));
    }
    let run = format!("{}", std::process::id());

    // Latency: one write at a time, API call start -> the receiver has the event.
    let mut latency = Vec::new();
    for i in 0..samples.min(100) {
        let tn = format!("WHL-{run}-{i}");
        let t0 = Instant::now();
        let call = p.submit(&token, &tn).await;
        if call.status != 201 {
            return Err(format!("webhooks: submit {}: {}", call.status, call.body));
        }
        let at = wait_for(&seen, std::slice::from_ref(&tn), Duration::from_secs(30)).await?;
        latency.push(at.duration_since(t0).as_secs_f64() * 1000.0);
    }
    let latency = Stats::of(&latency);

    // Throughput: N writes from 16 clients; events per second from the first write to the last
    // delivery; the functions' REPORT lines give invocations and durations per event.
    let n = 400;
    let (ev_off, tx_off) = (stack.log_offset("events"), stack.log_offset("sender"));
    let tns: Vec<String> = (0..n).map(|i| format!("WHT-{run}-{i}")).collect();
    let started = Instant::now();
    let queue = Arc::new(Mutex::new(tns.clone()));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (queue, p, token) = (queue.clone(), p.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(tn) = queue.lock().unwrap().pop() else {
                    return Ok::<(), String>(());
                };
                let call = p.submit(&token, &tn).await;
                if call.status != 201 {
                    return Err(format!("webhooks: submit {}: {}", call.status, call.body));
                }
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())??;
    }
    let written = started.elapsed().as_secs_f64();
    let last = wait_for(&seen, &tns, Duration::from_secs(300)).await?;
    let seconds = last.duration_since(started).as_secs_f64();
    let events_per_s = n as f64 / seconds;
    let ev = report_durations(&stack.log_since("events", ev_off));
    let tx = report_durations(&stack.log_since("sender", tx_off));
    server.abort();

    // Cost per million events (one subscribed endpoint each), at published prices.
    let per_event = |invocations: usize| invocations as f64 / n as f64;
    let gb = memory_mb as f64 / 1024.0;
    let ev_inv = per_event(ev.len());
    let tx_inv = per_event(tx.len());
    let ev_ms = Stats::of(&ev).billed_mean;
    let tx_ms = Stats::of(&tx).billed_mean;
    let lambda = |inv: f64, ms: f64| {
        inv * 1e6
            * (Prices::LAMBDA_PER_M_REQUESTS / 1e6 + ms / 1000.0 * gb * Prices::LAMBDA_ARM_GB_S)
    };
    // Event log Put: an item of ~2 KB (the delivery view) = 2 WRU; the endpoints query, one per
    // partner per batch (strongly consistent, < 4 KB) = 1 RRU per invocation; the sender's
    // endpoint read (1 RRU) and attempt record (< 1 KB: 1 WRU).
    let wru = 2.0 + 1.0;
    let rru = ev_inv + 1.0;
    let ddb = 1e6 * (wru * Prices::DDB_PER_M_WRU + rru * Prices::DDB_PER_M_RRU) / 1e6;
    // SQS: SendMessageBatch per 10 jobs, Lambda's DeleteMessageBatch per sender batch, and its
    // ReceiveMessage per batch (empty long polls are a fixed ~$0.3 a month, left out).
    let sqs = (0.1 + 2.0 * tx_inv) * SQS_PER_M_REQUESTS;
    // 30 days of the event (~2 KB) and its attempt (~0.4 KB) per million events.
    let storage = 2.4 * DDB_STORAGE_GB_MONTH;
    let cost_events = lambda(ev_inv, ev_ms);
    let cost_sender = lambda(tx_inv, tx_ms);
    let total = cost_events + cost_sender + ddb + sqs + storage;
    let mut o = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        o,
        "## Webhooks: write to receiver, events per second, cost per million events\n"
    );
    let _ = writeln!(o, "A local receiver (on the bench's host) registered for `policy.issued`; each figure measured in this run through devstack's event source mappings (DynamoDB Local's stream, moto's SQS) and the release binaries.\n");
    let _ = writeln!(o, "| figure | value |\n|---|---|");
    let _ = writeln!(o, "| API write → receiver's 2xx, one at a time ({} samples) | p50 {:.1} ms, p99 {:.1} ms (min {:.1}) |", latency.n, latency.p50, latency.p99, latency.min);
    let _ = writeln!(o, "| events per second, {n} writes from 16 clients (first write → last delivery) | {events_per_s:.1} /s ({seconds:.1} s; the writes alone took {written:.1} s) |");
    let _ = writeln!(o, "| events function: invocations per event, billed mean duration | {ev_inv:.3}, {ev_ms:.1} ms |");
    let _ = writeln!(o, "| sender: invocations per event, billed mean duration | {tx_inv:.3}, {tx_ms:.1} ms (locally the receiver answers in < 1 ms; a partner's own latency is billed here) |");
    let _ = writeln!(o, "\nCost per million events on AWS (one endpoint each; prices of {}; Lambda arm64 {memory_mb} MB):\n", Prices::DATE);
    let _ = writeln!(o, "| part | USD per million events |\n|---|---|");
    let _ = writeln!(
        o,
        "| events function (requests + duration) | {cost_events:.3} |"
    );
    let _ = writeln!(
        o,
        "| sender function (requests + duration) | {cost_sender:.3} |"
    );
    let _ = writeln!(
        o,
        "| DynamoDB: event log Put 2 WRU, attempt 1 WRU, reads {rru:.2} RRU | {ddb:.3} |"
    );
    let _ = writeln!(
        o,
        "| SQS requests ({:.2} per event) | {sqs:.3} |",
        0.1 + 2.0 * tx_inv
    );
    let _ = writeln!(
        o,
        "| DynamoDB storage, 30 days of events and attempts (~2.4 GB) | {storage:.3} |"
    );
    let _ = writeln!(o, "| **total** | **{total:.2}** |");
    let _ = writeln!(o, "\nNot in it: reading the stream (free for Lambda triggers), TTL deletions (free), the SQS pollers' empty long polls (fixed, ~$0.3 a month), CloudWatch logs, and data transfer out to partners. On AWS the sender's duration is dominated by each partner's response time: at a 200 ms partner, 10 jobs per batch in parallel add about {:.3} USD per million.\n", 1e6 * (0.1 * 0.2 * gb * Prices::LAMBDA_ARM_GB_S));
    Ok(o)
}
