//! DynamoDB faults injected between the functions and DynamoDB Local.

use std::sync::Arc;
use std::time::Duration;

use blackbox::workload::{query_delivery, reconcile, run, stored_batches};
use blackbox::{event, Partner, Resp};
use serde_json::Value;

use crate::{env_usize, fault_counts, is_503_with_retry_after, set_faults, take_turn};

/// Retries a call on 503 + Retry-After (faults off by then), as a partner would.
async fn until_not_503<F, Fut>(mut f: F) -> Resp
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Resp>,
{
    for _ in 0..10 {
        let r = f().await;
        if r.status != 503 {
            return r;
        }
        assert!(
            is_503_with_retry_after(&r),
            "503 without Retry-After: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("still 503 with faults off");
}

/// Faults injected since the spec was last set; then faults off.
async fn faults_off(stack: &blackbox::Stack) -> u64 {
    let n = fault_counts(stack, "dynamodb").await["counts"]["since_spec"]
        .as_u64()
        .unwrap_or(0);
    set_faults(stack, "dynamodb", "off").await;
    n
}

fn injected(counts: &Value) -> u64 {
    counts["counts"]["injected"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// A write that DynamoDB applied but whose answer never reached the function (the connection
/// was reset after the write): the SDK's retry, or the partner's, must end in the one result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_applied_but_whose_answer_was_lost_ends_in_one_consistent_result() {
    let Some((_turn, fs)) = take_turn().await else {
        return;
    };
    let stack = &fs.stack;
    let info = stack.stack_json();
    set_faults(stack, "dynamodb", "off").await;
    let p = Partner::from_kit(blackbox::partner::onboard_kit_json_on(stack, "lost-answer").await);
    // Warm caches (partner, product, link key) so the one lost answer is the write's.
    let warm = p.create_delivery().await;
    p.track(&p.tracking_body(&warm, "in_process", vec![event("warm", 0)]))
        .await
        .expect_success(200);

    // Submit: the PutItem lands, its answer is lost once.
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    set_faults(stack, "dynamodb", "lost=1,only=PutItem,max=1").await;
    let resp = until_not_503(|| p.submit(&body)).await;
    assert_eq!(faults_off(stack).await, 1, "one answer lost");
    if resp.status != 201 && resp.status != 200 {
        resp.fail("a submit whose write landed must end in success");
    }
    let policy_id = resp.json["policy_id"].as_str().unwrap().to_string();
    let stored = p.stored(&tn).await;
    assert_eq!(stored["policy"]["policy_id"], policy_id.as_str());
    let again = p.submit(&body).await;
    again.expect_success(200);
    assert_eq!(again.json["policy_id"], policy_id.as_str());
    let items = query_delivery(&info, &p.kit.partner_id, &tn).await;
    assert_eq!(items.len(), 1, "one delivery item, no events: {items:?}");

    // Tracking with events: the write lands, its answer is lost once. (Since issue 17 a
    // tracking update is one UpdateItem, its events inside the delivery item.)
    let d = blackbox::Delivery {
        tracking_number: tn.clone(),
        policy_id: policy_id.clone(),
        url_certificate: String::new(),
        premium: body["premium_amount"].as_i64().unwrap(),
        body: body.clone(),
    };
    let track = p.tracking_body(&d, "in_process", vec![event("picked_up", 1)]);
    set_faults(stack, "dynamodb", "lost=1,only=UpdateItem,max=1").await;
    let resp = until_not_503(|| p.track(&track)).await;
    assert_eq!(faults_off(stack).await, 1, "one answer lost");
    resp.expect_success(200);
    p.track(&track).await.expect_success(200);
    let stored = p.stored(&tn).await;
    assert_eq!(stored["delivery_status"], "in_process");
    assert_eq!(
        stored["tracking_history"].as_array().map(Vec::len),
        Some(1),
        "the event is stored once: {stored}"
    );
    let items = query_delivery(&info, &p.kit.partner_id, &tn).await;
    assert_eq!(
        stored_batches(&items).len(),
        1,
        "one stored event batch: {items:?}"
    );

    // Cancel: the UpdateItem lands, its answer is lost once.
    let cancel = p.cancel_body(&d);
    set_faults(stack, "dynamodb", "lost=1,only=UpdateItem,max=1").await;
    let resp = until_not_503(|| p.cancel(&cancel)).await;
    assert_eq!(faults_off(stack).await, 1, "one answer lost");
    resp.expect_success(200);
    assert_eq!(
        resp.json["cancellation_reason"],
        cancel["cancellation_reason"]
    );
    let stored = p.stored(&tn).await;
    assert_eq!(stored["policy"]["policy_status"], "cancelled");
    assert_eq!(
        stored["policy"]["cancellation"]["canceled_by"],
        cancel["canceled_by"]
    );

    // The same three with every answer lost (the SDK gives up): 503, and the partner's retry
    // (faults gone) still ends in exactly one result.
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    set_faults(stack, "dynamodb", "lost=1,only=PutItem").await;
    let first = p.submit(&body).await;
    set_faults(stack, "dynamodb", "off").await;
    assert!(
        is_503_with_retry_after(&first),
        "every answer lost: 503 with Retry-After, got {first:?}"
    );
    let resp = p.submit(&body).await;
    resp.expect_success(200);
    assert_eq!(
        p.stored(&tn).await["policy"]["policy_id"],
        resp.json["policy_id"]
    );
}

/// A mixed workload under throttling, 500s, 503s, timeouts, resets and lost answers: every
/// answer is the contract's answer or 503 with Retry-After, and after the faults stop, every
/// answer is reconciled with what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_dynamodb_faults_every_call_succeeds_or_is_503_and_nothing_is_lost_or_doubled() {
    let Some((_turn, fs)) = take_turn().await else {
        return;
    };
    let stack = &fs.stack;
    set_faults(stack, "dynamodb", "off").await;
    let lifecycles = env_usize("FAULT_DELIVERIES", 48);
    let p = Arc::new(Partner::from_kit(
        blackbox::partner::onboard_kit_json_on(stack, "faults").await,
    ));
    p.token().await;
    let spec = "throttle=0.08,500=0.04,503=0.04,timeout=0.01,reset=0.04,lost=0.04,slow=0.02,seed=8";
    let before = set_faults(stack, "dynamodb", spec).await;
    let result = run(p.clone(), lifecycles, 8, Duration::from_millis(300)).await;
    let after = set_faults(stack, "dynamodb", "off").await;
    let injected_now = injected(&after) - injected(&before);
    let requests_now = after["counts"]["requests"].as_u64().unwrap_or(0)
        - before["counts"]["requests"].as_u64().unwrap_or(0);
    eprintln!("FAULT RUN ({spec}): {}", result.report());
    eprintln!(
        "FAULT RUN: {injected_now} faults injected into {requests_now} DynamoDB requests; proxy counts {}",
        fault_counts(stack, "dynamodb").await["counts"]
    );
    let rec = reconcile(&p, &stack.stack_json(), &result.expected).await;
    eprintln!(
        "FAULT RUN reconciliation: {} deliveries checked; lost {}, duplicated {}, mismatched {}",
        rec.checked,
        rec.lost.len(),
        rec.duplicated.len(),
        rec.mismatched.len()
    );
    assert!(injected_now > 0, "the run must have met faults");
    assert!(
        result.tally.unexpected.is_empty(),
        "{:#?}",
        result.tally.unexpected
    );
    assert_eq!(result.tally.other_5xx(), 0, "{}", result.report());
    assert_eq!(result.tally.gave_up, 0, "{}", result.report());
    assert_eq!(result.expected.len(), lifecycles);
    assert!(rec.is_clean(), "{rec:#?}");
}
