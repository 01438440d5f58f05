//! Races: concurrent calls on one tracking number end in a state the state machine allows, with
//! every accepted event stored exactly once and nothing of a refused call stored. (Concurrent
//! identical submissions are in `submit.rs`.)

use std::sync::Arc;

use blackbox::workload::{query_delivery, stored_batches};
use blackbox::{event, stack, Delivery, Partner, Resp};
use serde_json::{json, Value};

/// The contract's state machine (`allowed` in tracking.rs, restated for the stored batches).
fn allowed(from: &str, to: &str) -> bool {
    const ORDER: [&str; 4] = ["created", "in_process", "in_delivery", "success"];
    let idx = |s: &str| ORDER.iter().position(|o| *o == s);
    from == to
        || matches!((idx(from), idx(to)), (Some(a), Some(b)) if b > a)
        || matches!(
            (from, to),
            ("created" | "in_process" | "in_delivery", "fail")
                | ("fail", "in_delivery" | "in_return")
                | ("in_return", "returned")
        )
}

/// The stored event batches of a delivery, in the order they were written (by version):
/// `(delivery_status, event descriptions)`. (Since issue 17 they are kept inside the delivery
/// item, compressed; `stored_batches` reads them wherever they are.)
async fn batches(p: &Partner, tn: &str) -> Vec<(String, Vec<String>)> {
    let items = query_delivery(&stack().stack_json(), &p.kit.partner_id, tn).await;
    stored_batches(&items)
        .into_iter()
        .map(|b| {
            let events = b
                .events
                .iter()
                .map(|e| e["tracking_desctiption"].as_str().unwrap_or("").to_string())
                .collect();
            (b.delivery_status, events)
        })
        .collect()
}

async fn concurrently(p: &Arc<Partner>, calls: Vec<(&'static str, Value)>) -> Vec<(Value, Resp)> {
    let mut set = tokio::task::JoinSet::new();
    for (route, body) in calls {
        let p = p.clone();
        set.spawn(async move {
            let resp = p.post_json(route, &body).await;
            (body, resp)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("call panicked"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_different_submissions_of_one_tracking_number_make_one_policy() {
    let p = Arc::new(Partner::full().await);
    p.token().await;
    let tn = blackbox::unique_tn();
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let mut b = p.submit_body_for(&tn, 3_000_000, 15_000);
            b["customer_name"] = json!(format!("Customer {i}"));
            ("/sme-deliveries", b)
        })
        .collect();
    let results = concurrently(&p, calls).await;
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.status == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one 201");
    for (_, r) in &results {
        if r.status != 201 {
            r.expect_error(409, "duplicate_tracking_number");
        }
    }
    let (body, resp) = winners[0];
    let stored = p.stored(&tn).await;
    assert_eq!(stored["policy"]["policy_id"], resp.json["policy_id"]);
    assert_eq!(stored["customer_name"], body["customer_name"]);
    let items = query_delivery(&stack().stack_json(), &p.kit.partner_id, &tn).await;
    assert_eq!(items.len(), 1, "one delivery item: {items:?}");
}

/// From `created`, every status is a legal move alone; sent at once, the accepted ones must
/// form a legal sequence in the order they were stored, each event stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tracking_updates_store_a_legal_sequence_with_each_accepted_event_once() {
    let p = Arc::new(Partner::full().await);
    p.token().await;
    for round in 0..3 {
        let d = p.create_delivery().await;
        let statuses = [
            "in_process",
            "in_delivery",
            "success",
            "fail",
            "in_delivery",
            "in_process",
        ];
        let calls: Vec<_> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut ev = event(s, i as u32);
                ev["tracking_desctiption"] = json!(format!("race {round} call {i} {s}"));
                ("/tracking-details", p.tracking_body(&d, s, vec![ev]))
            })
            .collect();
        let results = concurrently(&p, calls).await;
        let mut accepted = Vec::new();
        for (body, r) in &results {
            match r.status {
                200 => accepted.push(body["tracking_detail"][0]["tracking_desctiption"].clone()),
                409 => {
                    r.expect_error(409, "invalid_status_transition");
                }
                _ => r.fail("a concurrent tracking update is 200 or 409"),
            }
        }
        assert!(!accepted.is_empty(), "at least one update wins");
        let stored_batches = batches(&p, &d.tracking_number).await;
        let mut from = "created".to_string();
        for (status, _) in &stored_batches {
            assert!(
                allowed(&from, status),
                "stored sequence {stored_batches:?} has an illegal move {from} -> {status}"
            );
            from = status.clone();
        }
        let stored = p.stored(&d.tracking_number).await;
        assert_eq!(
            stored["delivery_status"],
            json!(from),
            "status = last batch"
        );
        let mut stored_events: Vec<Value> = stored["tracking_history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["tracking_desctiption"].clone())
            .collect();
        stored_events.sort_by_key(|v| v.to_string());
        accepted.sort_by_key(|v| v.to_string());
        assert_eq!(
            stored_events, accepted,
            "exactly the accepted events, once each"
        );
    }
}

/// A cancel racing a move to `in_delivery`: exactly one wins, and the loser's answer says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_racing_a_move_to_in_delivery_has_exactly_one_winner() {
    let p = Arc::new(Partner::full().await);
    p.token().await;
    for _ in 0..4 {
        let d: Delivery = p.create_delivery().await;
        p.advance(&d, &["in_process"]).await;
        let results = concurrently(
            &p,
            vec![
                ("/sme-deliveries/cancel", p.cancel_body(&d)),
                (
                    "/tracking-details",
                    p.tracking_body(&d, "in_delivery", vec![event("out", 200)]),
                ),
            ],
        )
        .await;
        let cancel = results
            .iter()
            .find(|(b, _)| b.get("policy_id").is_some())
            .unwrap();
        let track = results
            .iter()
            .find(|(b, _)| b.get("policy_id").is_none())
            .unwrap();
        let stored = p.stored(&d.tracking_number).await;
        let history = stored["tracking_history"].as_array().unwrap().len();
        match (cancel.1.status, track.1.status) {
            (200, 409) => {
                track.1.expect_error(409, "policy_cancelled");
                assert_eq!(stored["delivery_status"], "in_process");
                assert_eq!(stored["policy"]["policy_status"], "cancelled");
                assert_eq!(history, 1, "the refused event is not stored: {stored}");
            }
            (409, 200) => {
                cancel.1.expect_error(409, "cancellation_not_allowed");
                assert_eq!(stored["delivery_status"], "in_delivery");
                assert_eq!(stored["policy"]["policy_status"], "active");
                assert_eq!(history, 2, "{stored}");
            }
            (c, t) => panic!("cancel {c} and in_delivery {t}: exactly one must win\n{stored}"),
        }
    }
}
