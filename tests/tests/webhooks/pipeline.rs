//! The pipeline's guarantees: exactly one event per change in the log (a stream record processed
//! again adds nothing), even when the events function fails or crashes mid-batch and the sender
//! crashes mid-batch; every event reaches the receiver at least once, none invented; the event
//! log's listing; and a load run with claims reconciled against the log and the receiver.

use std::collections::BTreeSet;
use std::time::Duration;

use blackbox::receiver::Delivery;
use blackbox::{unique_tn, Partner};
use serde_json::{json, Value};

use crate::{log_index, logged_events, partner, receiver_for, stack, wait_logged};

const WAIT: Duration = Duration::from_secs(120);

/// The events a set of deliveries (and claims) must have produced: (tracking number or claim
/// id, type, version).
type Expected = BTreeSet<(String, String, u64)>;

async fn reconcile(p: &Partner, r: &blackbox::receiver::Receiver, expected: &Expected) {
    // The log: exactly one event per expected change, nothing else.
    let deadline = std::time::Instant::now() + WAIT;
    let events = loop {
        let events = logged_events(p).await;
        if events.len() >= expected.len() || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let index = log_index(&events);
    let keys: Expected = index.keys().cloned().collect();
    assert_eq!(&keys, expected, "the log's events are not the changes made");
    assert!(
        index.values().all(|n| *n == 1),
        "an event twice in the log: {index:?}"
    );
    // The receiver: every logged event at least once, and nothing that is not logged.
    let ids: BTreeSet<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let got = r
        .wait_for(WAIT, "every logged event", |g: &[Delivery]| {
            let ok: BTreeSet<&str> = g
                .iter()
                .filter(|d| d.answered == 200)
                .map(|d| d.id.as_str())
                .collect();
            ids.iter().all(|i| ok.contains(i.as_str()))
        })
        .await;
    for d in &got {
        assert!(ids.contains(&d.id), "invented event {} {}", d.id, d.body);
        let logged: &Value = events.iter().find(|e| e["id"] == d.id.as_str()).unwrap();
        assert_eq!(
            &d.json(),
            logged,
            "a delivery differs from its logged event"
        );
    }
    eprintln!(
        "reconciled: {} events logged once each, {} deliveries received ({} duplicates)",
        ids.len(),
        got.len(),
        got.len() - ids.len()
    );
}

fn expect_lifecycle(expected: &mut Expected, tn: &str, statuses: &[&str], cancel: bool) {
    expected.insert((tn.to_string(), "policy.issued".into(), 1));
    let mut version = 1;
    for _ in statuses {
        version += 1;
        expected.insert((tn.to_string(), "delivery.status_changed".into(), version));
    }
    if cancel {
        version += 1;
        expected.insert((tn.to_string(), "policy.cancelled".into(), version));
    }
}

fn write_faults(stack: &blackbox::Stack, faults: &Value) {
    let info = stack.stack_json();
    let path = info["fault_injection_file"]
        .as_str()
        .expect("stack.json names the fault file");
    std::fs::write(path, faults.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_in_the_events_function_and_the_sender_mid_batch_leave_exactly_one_event_per_change()
{
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-faults").await;
    let (r, _, _) = receiver_for(&p).await;
    // Tracking numbers the functions fail or crash on (only this test uses them).
    let tn = |tag: &str| format!("{tag}-{}", unique_tn());
    let (ev_fail, ev_crash, tx_fail, tx_crash) =
        (tn("EVFAIL"), tn("EVCRASH"), tn("TXFAIL"), tn("TXCRASH"));
    write_faults(
        stack,
        &json!({"events": {"fail": [ev_fail], "crash": [ev_crash]}, "sender": {"fail": [tx_fail], "crash": [tx_crash]}}),
    );
    let mut expected = Expected::new();
    let mut plain = Vec::new();
    for t in [&ev_fail, &ev_crash, &tx_fail, &tx_crash] {
        let d = p.create_from(p.submit_body_for(t, 3_000_000, 15_000)).await;
        p.advance(&d, &["in_process", "fail"]).await;
        expect_lifecycle(&mut expected, t, &["in_process", "fail"], false);
        // A claim on it: its item's images carry the tracking number, so the faults hit the
        // claim's records too (filed, then a note).
        let id = p.file_claim_ok(&p.claim_body(&d, "loss", 500_000)).await;
        let c = p.claim_json(&id).await;
        p.note(&c, "Lost in transit.").await.expect_success(201);
        expected.insert((id.clone(), "claim.submitted".into(), 1));
        expected.insert((id, "claim.updated".into(), 2));
        let d = p.create_delivery().await;
        expect_lifecycle(&mut expected, &d.tracking_number, &[], false);
        plain.push(d);
    }
    // While the faults hold: the record the events function fails on is not logged.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let so_far = log_index(&logged_events(&p).await);
    assert!(
        !so_far.keys().any(|(t, _, _)| t == &ev_fail),
        "the failed record must not be logged while it fails: {so_far:?}"
    );
    let esm_log = std::fs::read_to_string(stack.state_dir().join("logs/esm.log")).unwrap();
    assert!(
        esm_log.contains("retrying"),
        "the mapping retried:\n{esm_log}"
    );
    // Recovery.
    write_faults(stack, &json!({}));
    reconcile(&p, &r, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_lists_filters_and_pages_the_partners_events() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-log").await;
    let before = blackbox::rfc3339(time::OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let a = p.create_delivery().await;
    p.advance(&a, &["in_process"]).await;
    // The same status again with a new tracking event: no event.
    let again = p.tracking_body(&a, "in_process", vec![blackbox::event("scan", 300)]);
    p.track(&again).await.expect_success(200);
    p.cancel(&p.cancel_body(&a)).await.expect_success(200);
    let events = wait_logged(&p, 3, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = if events.len() == 3 {
        logged_events(&p).await
    } else {
        events
    };
    assert_eq!(events.len(), 3, "{events:?}");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "policy.cancelled",
            "delivery.status_changed",
            "policy.issued"
        ],
        "newest first"
    );
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let one = p.get(&format!("/events/{}", ids[1])).await;
    assert_eq!(one.expect(200), &events[1]);
    let only = p.get("/events?type=policy.issued").await;
    assert_eq!(only.expect(200)["items"].as_array().unwrap().len(), 1);
    let since = p
        .get(&format!(
            "/events?created_from={}",
            blackbox::partner::path_escape(&before)
        ))
        .await;
    assert_eq!(since.expect(200)["items"].as_array().unwrap().len(), 3);
    let future = blackbox::rfc3339(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    let none = p
        .get(&format!(
            "/events?created_from={}",
            blackbox::partner::path_escape(&future)
        ))
        .await;
    assert_eq!(none.expect(200)["items"], json!([]));
    // Pages of one, following the cursor.
    let page1 = p.get("/events?limit=1").await.expect(200).clone();
    assert_eq!(page1["items"][0]["id"], ids[0]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = p
        .get(&format!(
            "/events?limit=1&cursor={}",
            blackbox::partner::path_escape(cursor)
        ))
        .await;
    assert_eq!(page2.expect(200)["items"][0]["id"], ids[1]);
    let mut bad = cursor.to_string();
    bad.insert(3, 'x');
    p.get(&format!(
        "/events?limit=1&cursor={}",
        blackbox::partner::path_escape(&bad)
    ))
    .await
    .expect_error(400, "invalid_cursor");
    p.get("/events?type=nope").await.expect_validation("type");
    p.get("/events?limit=0").await.expect_validation("limit");
    p.get("/events?created_from=yesterday")
        .await
        .expect_validation("created_from");
}

/// A claim in a load run: its events as (type, version).
async fn claim_on(
    stack: &blackbox::Stack,
    p: &Partner,
    d: &blackbox::Delivery,
    claim_type: &str,
) -> (String, Vec<(&'static str, u64)>) {
    let id = p.file_claim_ok(&p.claim_body(d, claim_type, 500_000)).await;
    let c = p.claim_json(&id).await;
    if claim_type == "loss" {
        // The partner adds a note, then withdraws.
        p.note(&c, "Still no news of the parcel.")
            .await
            .expect_success(201);
        p.withdraw(&c, "Found.").await.expect_success(200);
        (
            id,
            vec![
                ("claim.submitted", 1),
                ("claim.updated", 2),
                ("claim.withdrawn", 3),
            ],
        )
    } else {
        // The partner adds a photo; an operator starts the review.
        p.add_document(&c, "dent.jpg", "image/jpeg", 1000)
            .await
            .expect_success(201);
        let out = blackbox::opsctl_run_on(stack, &["claim", "review", &id, "--yes"]).await;
        assert!(out.success, "opsctl claim review: {}", out.stderr);
        (
            id,
            vec![
                ("claim.submitted", 1),
                ("claim.updated", 2),
                ("claim.in_review", 3),
            ],
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_produces_exactly_the_expected_events_in_the_log_and_at_the_receiver() {
    let Some(stack) = stack() else { return };
    let n: usize = std::env::var("WEBHOOK_LOAD_LIFECYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let p = partner(stack, "wh-load").await;
    let (r, _, _) = receiver_for(&p).await;
    p.token().await;
    let mut expected = Expected::new();
    // A quarter of the lifecycles are cancelled; a quarter fail and file a loss claim (note,
    // withdraw); a quarter are delivered and file a damage claim (document, operator review):
    // the claims' writes also change the delivery item (its claims summary), which is no event.
    let done = futures_util::future::join_all((0..n).map(|i| {
        let p = &p;
        async move {
            let (d, statuses, cancel, claim) = match i % 4 {
                0 => {
                    let d = p.create_delivery().await;
                    p.advance(&d, &["in_process"]).await;
                    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
                    (d, vec!["in_process"], true, None)
                }
                1 => {
                    let d = p.create_delivery().await;
                    p.advance(&d, &["in_process", "fail"]).await;
                    let claim = claim_on(stack, p, &d, "loss").await;
                    (d, vec!["in_process", "fail"], false, Some(claim))
                }
                2 => {
                    let d = p.delivered(0).await;
                    let claim = claim_on(stack, p, &d, "damage").await;
                    (d, vec!["in_delivery", "success"], false, Some(claim))
                }
                _ => {
                    let d = p.create_delivery().await;
                    let statuses = vec!["in_process", "in_delivery", "success"];
                    p.advance(&d, &statuses).await;
                    (d, statuses, false, None)
                }
            };
            (d.tracking_number, statuses, cancel, claim)
        }
    }))
    .await;
    let mut claims = 0;
    for (tn, statuses, cancel, claim) in &done {
        expect_lifecycle(&mut expected, tn, statuses, *cancel);
        if let Some((id, events)) = claim {
            claims += 1;
            for (t, v) in events {
                expected.insert((id.clone(), t.to_string(), *v));
            }
        }
    }
    eprintln!(
        "load run: {n} lifecycles, {claims} with a claim, {} events expected",
        expected.len()
    );
    reconcile(&p, &r, &expected).await;
}

/// Issue 17: the log is split over 8 keys by resource. Events of several deliveries (spread over
/// the shards) page newest first across the shards, each once, behind the cursor; reading one
/// event is one GetItem on the key its id names, and the list one query per shard.
#[tokio::test]
async fn the_split_event_log_merges_its_shards_and_reads_one_event_in_one_get() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-split").await;
    for _ in 0..8 {
        p.create_delivery().await;
    }
    let all = wait_logged(&p, 8, WAIT).await;
    assert_eq!(all.len(), 8, "{all:?}");
    let ids: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first: ids are time-ordered ULIDs");
    // Pages of three, following the cursor: the same order, each event once.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/events?limit=3".to_string(),
            Some(c) => format!(
                "/events?limit=3&cursor={}",
                blackbox::partner::path_escape(c)
            ),
        };
        let v = p.get(&path).await.expect(200).clone();
        let items = v["items"].as_array().unwrap();
        assert!(items.len() == 3 || v["next_cursor"].is_null(), "{v}");
        paged.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, ids);
    // Round trips from the webhooks function's request lines (a call may also re-read the
    // caller: the smallest of three).
    let log = stack.state_dir().join("logs").join("webhooks.log");
    let trips = |resp: &blackbox::Resp| {
        let id = resp.header("x-request-id").unwrap().to_string();
        let log = log.clone();
        async move {
            for _ in 0..50 {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if let Some(n) = text.lines().find_map(|l| {
                    let v: Value = serde_json::from_str(l).ok()?;
                    (v["fields"]["request_id"] == id.as_str())
                        .then(|| v["fields"]["dynamodb_round_trips"].as_f64())
                        .flatten()
                }) {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("no request line for {id} in {}", log.display())
        }
    };
    let mut get = f64::MAX;
    let mut list = f64::MAX;
    for _ in 0..3 {
        let one = p.get(&format!("/events/{}", ids[3])).await;
        assert_eq!(one.expect(200), &all[3]);
        get = get.min(trips(&one).await);
        let page = p.get("/events?limit=50").await;
        page.expect(200);
        list = list.min(trips(&page).await);
    }
    assert_eq!(get, 1.0, "GET /events/{{id}}: one GetItem");
    assert_eq!(list, 8.0, "GET /events: one query per shard");
}
