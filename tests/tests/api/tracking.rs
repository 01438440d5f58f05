//! `POST /api/v1/tracking-details` (Insert Tracking Detail).

use blackbox::{at, event, parse_time, unique_tn, Delivery, Partner};
use serde_json::{json, Value};

const STATUSES: [&str; 7] = [
    "created",
    "in_process",
    "in_delivery",
    "success",
    "fail",
    "in_return",
    "returned",
];

/// The contract's transition table.
fn allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    matches!(
        (from, to),
        ("created", "in_process" | "in_delivery" | "success" | "fail")
            | ("in_process", "in_delivery" | "success" | "fail")
            | ("in_delivery", "success" | "fail")
            | ("fail", "in_delivery" | "in_return")
            | ("in_return", "returned")
    )
}

/// Allowed moves that bring a new delivery to `status`.
fn path_to(status: &str) -> &'static [&'static str] {
    match status {
        "created" => &[],
        "in_process" => &["in_process"],
        "in_delivery" => &["in_delivery"],
        "success" => &["success"],
        "fail" => &["fail"],
        "in_return" => &["fail", "in_return"],
        "returned" => &["fail", "in_return", "returned"],
        _ => unreachable!(),
    }
}

fn history(stored: &Value) -> Vec<Value> {
    stored["tracking_history"]
        .as_array()
        .unwrap_or_else(|| panic!("tracking_history is not an array: {stored}"))
        .clone()
}

/// Tries every target status from `from` on fresh deliveries; collects every mismatch.
async fn check_transitions_from(from: &str) {
    let p = Partner::full().await;
    let mut failures = Vec::new();
    for to in STATUSES {
        let d = p.create_delivery().await;
        p.advance(&d, path_to(from)).await;
        let before = p.stored(&d.tracking_number).await;
        assert_eq!(before["delivery_status"], from);
        let h0 = history(&before).len();
        let body = p.tracking_body(&d, to, vec![event(to, 500), event(to, 501)]);
        let resp = p.track(&body).await;
        let after = p.stored(&d.tracking_number).await;
        let h1 = history(&after).len();
        if allowed(from, to) {
            if resp.status != 200 || resp.json["status"] != "success" {
                failures.push(format!(
                    "{from} -> {to}: expected 200 success, got {} {}",
                    resp.status, resp.text
                ));
            }
            if after["delivery_status"] != to {
                failures.push(format!(
                    "{from} -> {to}: delivery_status is {} after an allowed move",
                    after["delivery_status"]
                ));
            }
            if h1 != h0 + 2 {
                failures.push(format!(
                    "{from} -> {to}: history grew from {h0} to {h1}, expected +2"
                ));
            }
        } else {
            let msg = resp.json["message"].as_str().unwrap_or("");
            if resp.status != 409 || resp.json["code"] != "invalid_status_transition" {
                failures.push(format!(
                    "{from} -> {to}: expected 409 invalid_status_transition, got {} {}",
                    resp.status, resp.text
                ));
            } else {
                resp.expect_error(409, "invalid_status_transition");
                if !msg.contains(from) {
                    failures.push(format!(
                        "{from} -> {to}: message does not name the current status: {msg}"
                    ));
                }
            }
            if after["delivery_status"] != from {
                failures.push(format!(
                    "{from} -> {to}: refused move changed delivery_status to {}",
                    after["delivery_status"]
                ));
            }
            if h1 != h0 {
                failures.push(format!(
                    "{from} -> {to}: refused move stored events ({h0} -> {h1})"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn transitions_from_created() {
    check_transitions_from("created").await;
}

#[tokio::test]
async fn transitions_from_in_process() {
    check_transitions_from("in_process").await;
}

#[tokio::test]
async fn transitions_from_in_delivery() {
    check_transitions_from("in_delivery").await;
}

#[tokio::test]
async fn transitions_from_success_which_is_final() {
    check_transitions_from("success").await;
}

#[tokio::test]
async fn transitions_from_fail() {
    check_transitions_from("fail").await;
}

#[tokio::test]
async fn transitions_from_in_return() {
    check_transitions_from("in_return").await;
}

#[tokio::test]
async fn transitions_from_returned_which_is_final() {
    check_transitions_from("returned").await;
}

#[tokio::test]
async fn a_partner_tracks_a_delivery_to_success() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for (i, status) in ["in_process", "in_delivery", "success"].iter().enumerate() {
        let resp = p
            .track(&p.tracking_body(&d, status, vec![event(status, i as u32)]))
            .await;
        resp.expect_success(200);
        assert_eq!(
            p.stored(&d.tracking_number).await["delivery_status"],
            *status
        );
    }
    let stored = p.stored(&d.tracking_number).await;
    let h = history(&stored);
    assert_eq!(h.len(), 3);
    let statuses: Vec<&str> = h
        .iter()
        .map(|e| e["tracking_status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["in_process", "in_delivery", "success"]);
    assert_eq!(stored["policy"]["policy_status"], "active");
}

#[tokio::test]
async fn every_event_field_is_stored_as_sent_and_image_url_is_never_fetched() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    // image_url points at a listener of ours: nothing may connect to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let image_url = format!("http://{}/parcel.jpg", listener.local_addr().unwrap());
    let ev = json!({
        "tracking_time": "2024-05-01T08:00:00.123Z",
        "tracking_status": "picked_up",
        "contact_phone_number": "0901112223",
        "contact_email": "driver@example.com",
        "handler_name": "Phạm Văn D",
        "end_address": "12 Lê Lợi, Quận 3",
        "start_address": "Kho Quận 1",
        "tracking_desctiption": "Đã lấy hàng",
        "order_id": "ORD-778899",
        "vehicle_type": "motorbike",
        "vehicle_number": "59X1-123.45",
        "image_url": image_url,
    });
    p.track(&p.tracking_body(&d, "in_process", vec![ev.clone()]))
        .await
        .expect_success(200);
    let stored = p.stored(&d.tracking_number).await;
    let h = history(&stored);
    assert_eq!(h.len(), 1, "{stored}");
    for (k, v) in ev.as_object().unwrap() {
        if k == "tracking_time" {
            assert_eq!(
                parse_time(h[0][k].as_str().unwrap_or("")),
                parse_time(v.as_str().unwrap()),
                "tracking_time: {}",
                h[0]
            );
        } else {
            assert_eq!(&h[0][k], v, "event field `{k}`: {}", h[0]);
        }
    }
    let fetched =
        tokio::time::timeout(std::time::Duration::from_millis(500), listener.accept()).await;
    assert!(fetched.is_err(), "the stack fetched image_url");
}

#[tokio::test]
async fn tracking_description_is_accepted_as_an_alias() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let ev = json!({
        "tracking_time": at(1),
        "tracking_status": "picked_up",
        "tracking_description": "spelled correctly",
    });
    p.track(&p.tracking_body(&d, "in_process", vec![ev]))
        .await
        .expect_success(200);
    let h = history(&p.stored(&d.tracking_number).await);
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0]["tracking_desctiption"], "spelled correctly",
        "the alias must be stored under the contract's name: {}",
        h[0]
    );
}

#[tokio::test]
async fn resending_stored_events_adds_nothing() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let first = p.tracking_body(&d, "in_process", vec![event("a", 1), event("b", 2)]);
    p.track(&first).await.expect_success(200);
    assert_eq!(history(&p.stored(&d.tracking_number).await).len(), 2);
    // The same request again (a retry).
    p.track(&first).await.expect_success(200);
    assert_eq!(history(&p.stored(&d.tracking_number).await).len(), 2);
    // One old event, one new.
    p.track(&p.tracking_body(&d, "in_process", vec![event("b", 2), event("c", 3)]))
        .await
        .expect_success(200);
    assert_eq!(history(&p.stored(&d.tracking_number).await).len(), 3);
    // An old event with the next status.
    p.track(&p.tracking_body(&d, "in_delivery", vec![event("a", 1)]))
        .await
        .expect_success(200);
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(history(&stored).len(), 3, "{stored}");
    assert_eq!(stored["delivery_status"], "in_delivery");
}

#[tokio::test]
async fn the_same_instant_in_another_notation_is_the_same_event() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let first = event("a", 1); // 2024-05-01T08:01:00.000Z
    p.track(&p.tracking_body(&d, "in_process", vec![first.clone()]))
        .await
        .expect_success(200);
    let mut again = first.clone();
    again["tracking_time"] = json!("2024-05-01T15:01:00+07:00");
    p.track(&p.tracking_body(&d, "in_process", vec![again]))
        .await
        .expect_success(200);
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(history(&stored).len(), 1, "{stored}");
}

#[tokio::test]
async fn same_time_with_different_content_is_a_new_event() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    p.track(&p.tracking_body(&d, "in_process", vec![event("a", 1)]))
        .await
        .expect_success(200);
    let mut other = event("a", 1);
    other["tracking_desctiption"] = json!("a different description");
    p.track(&p.tracking_body(&d, "in_process", vec![other]))
        .await
        .expect_success(200);
    let mut other_status = event("b", 1);
    other_status["tracking_desctiption"] = event("a", 1)["tracking_desctiption"].clone();
    p.track(&p.tracking_body(&d, "in_process", vec![other_status]))
        .await
        .expect_success(200);
    assert_eq!(history(&p.stored(&d.tracking_number).await).len(), 3);
}

#[tokio::test]
async fn history_is_ordered_by_tracking_time() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    p.track(&p.tracking_body(
        &d,
        "in_process",
        vec![event("t30", 30), event("t10", 10), event("t20", 20)],
    ))
    .await
    .expect_success(200);
    p.track(&p.tracking_body(&d, "in_delivery", vec![event("t25", 25), event("t5", 5)]))
        .await
        .expect_success(200);
    let h = history(&p.stored(&d.tracking_number).await);
    let order: Vec<&str> = h
        .iter()
        .map(|e| e["tracking_status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(order, ["t5", "t10", "t20", "t25", "t30"]);
}

#[tokio::test]
async fn history_is_ordered_by_instant_across_utc_offsets() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    // 10:00+07:00 is 03:00Z, before 04:00Z although it sorts after it as text.
    let late = json!({"tracking_time": "2024-05-01T04:00:00Z", "tracking_status": "late"});
    let early = json!({"tracking_time": "2024-05-01T10:00:00+07:00", "tracking_status": "early"});
    p.track(&p.tracking_body(&d, "in_process", vec![late, early]))
        .await
        .expect_success(200);
    let h = history(&p.stored(&d.tracking_number).await);
    let order: Vec<&str> = h
        .iter()
        .map(|e| e["tracking_status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(order, ["early", "late"]);
}

/// Posts a body that must be refused with 400 naming `field`, then checks nothing changed.
async fn expect_refused(p: &Partner, d: &Delivery, body: &Value, field: &str) {
    let before = p.stored(&d.tracking_number).await;
    let resp = p.track(body).await;
    if resp.status != 400 {
        resp.fail(&format!("expected 400 naming {field} for {body}"));
    }
    resp.expect_validation(field);
    let after = p.stored(&d.tracking_number).await;
    assert_eq!(before["delivery_status"], after["delivery_status"]);
    assert_eq!(history(&before).len(), history(&after).len());
}

#[tokio::test]
async fn tracking_detail_must_hold_1_to_100_events() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let mut body = p.tracking_body(&d, "in_process", vec![]);
    expect_refused(&p, &d, &body, "tracking_detail").await;
    let many: Vec<Value> = (0..101).map(|i| event("e", i)).collect();
    body["tracking_detail"] = json!(many);
    expect_refused(&p, &d, &body, "tracking_detail").await;
    for bad in [json!({"tracking_time": at(1)}), json!("x"), Value::Null] {
        body["tracking_detail"] = bad;
        expect_refused(&p, &d, &body, "tracking_detail").await;
    }
    body.as_object_mut().unwrap().remove("tracking_detail");
    expect_refused(&p, &d, &body, "tracking_detail").await;

    let hundred: Vec<Value> = (0..100).map(|i| event("e", i)).collect();
    p.track(&p.tracking_body(&d, "in_process", hundred))
        .await
        .expect_success(200);
    assert_eq!(history(&p.stored(&d.tracking_number).await).len(), 100);
}

#[tokio::test]
async fn each_event_needs_an_rfc3339_tracking_time_named_by_index() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let mut missing = event("x", 1);
    missing.as_object_mut().unwrap().remove("tracking_time");
    let body = p.tracking_body(&d, "in_process", vec![missing]);
    expect_refused(&p, &d, &body, "tracking_detail[0].tracking_time").await;

    for bad in [
        json!("2024-05-01 08:00:00"),
        json!("not a time"),
        json!(""),
        json!(1_714_550_400),
        Value::Null,
    ] {
        let mut ev = event("x", 3);
        ev["tracking_time"] = bad;
        let body = p.tracking_body(&d, "in_process", vec![event("a", 1), event("b", 2), ev]);
        expect_refused(&p, &d, &body, "tracking_detail[2].tracking_time").await;
    }
}

#[tokio::test]
async fn malformed_event_is_400_naming_it() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let body = p.tracking_body(&d, "in_process", vec![json!("just a string")]);
    expect_refused(&p, &d, &body, "tracking_detail[0]").await;
    let body = p.tracking_body(&d, "in_process", vec![event("a", 1), json!(42)]);
    expect_refused(&p, &d, &body, "tracking_detail[1]").await;
    for field in [
        "tracking_status",
        "contact_phone_number",
        "contact_email",
        "handler_name",
        "end_address",
        "start_address",
        "tracking_desctiption",
        "order_id",
        "vehicle_type",
        "vehicle_number",
        "image_url",
    ] {
        let mut ev = event("a", 1);
        ev[field] = json!(7);
        let body = p.tracking_body(&d, "in_process", vec![ev]);
        expect_refused(&p, &d, &body, &format!("tracking_detail[0].{field}")).await;
    }
}

#[tokio::test]
async fn delivery_status_must_be_one_of_the_seven() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for bad in [
        json!("delivered"),
        json!("SUCCESS"),
        json!("In_Process"),
        json!(""),
        json!(3),
        Value::Null,
    ] {
        let mut body = p.tracking_body(&d, "in_process", vec![event("a", 1)]);
        body["delivery_status"] = bad;
        expect_refused(&p, &d, &body, "delivery_status").await;
    }
    let mut body = p.tracking_body(&d, "in_process", vec![event("a", 1)]);
    body.as_object_mut().unwrap().remove("delivery_status");
    expect_refused(&p, &d, &body, "delivery_status").await;
}

#[tokio::test]
async fn tracking_number_is_required() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for bad in [Some(json!("")), Some(json!(17)), Some(Value::Null), None] {
        let mut body = p.tracking_body(&d, "in_process", vec![event("a", 1)]);
        match bad {
            Some(v) => body["tracking_number"] = v,
            None => {
                body.as_object_mut().unwrap().remove("tracking_number");
            }
        }
        expect_refused(&p, &d, &body, "tracking_number").await;
    }
}

#[tokio::test]
async fn signature_uses_the_policys_premium_and_a_wrong_one_is_403() {
    let p = Partner::full().await;
    // Premium 25,000 (not the default 15,000) so a constant premium would not pass.
    let d = p
        .create_from(p.submit_body_for(&unique_tn(), 5_000_000, 25_000))
        .await;
    let other = Partner::demo().await;
    let good = p.tracking_body(&d, "in_process", vec![event("a", 1)]);
    for sig in [
        p.sign(&d.tracking_number, 15_000),
        p.sign(&d.tracking_number, 0),
        p.sign(&d.tracking_number, 5_000_000),
        other.sign(&d.tracking_number, 25_000),
        "0".repeat(32),
    ] {
        let mut body = good.clone();
        body["signature"] = json!(sig);
        let resp = p.track(&body).await;
        if resp.status != 403 {
            resp.fail(&format!("signature {sig:?} must be refused"));
        }
        resp.expect_error(403, "invalid_signature");
    }
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["delivery_status"], "created");
    assert!(history(&stored).is_empty());
    p.track(&good).await.expect_success(200);
    assert_eq!(
        p.stored(&d.tracking_number).await["delivery_status"],
        "in_process"
    );
}

#[tokio::test]
async fn unknown_tracking_number_is_404() {
    let p = Partner::full().await;
    let tn = unique_tn();
    let body = json!({
        "tracking_number": tn,
        "delivery_status": "in_process",
        "tracking_detail": [event("a", 1)],
        "signature": p.sign(&tn, 15_000),
    });
    p.track(&body).await.expect_error(404, "not_found");
}

#[tokio::test]
async fn another_partners_tracking_number_is_404_like_an_unknown_one() {
    let a = Partner::full().await;
    let b = Partner::full().await;
    let d = a.create_delivery().await;
    // B signs correctly with its own key and A's premium.
    let body = b.tracking_body(&d, "in_process", vec![event("a", 1)]);
    let theirs = b.track(&body).await;
    let theirs_msg = theirs
        .expect_error(404, "not_found")
        .replace(&d.tracking_number, "<tn>");
    let tn = unique_tn();
    let mut unknown = body.clone();
    unknown["tracking_number"] = json!(tn);
    unknown["signature"] = json!(b.sign(&tn, 15_000));
    let none = b.track(&unknown).await;
    let none_msg = none.expect_error(404, "not_found").replace(&tn, "<tn>");
    assert_eq!(
        theirs_msg, none_msg,
        "another partner's delivery must look unknown"
    );
    // And A's delivery is untouched.
    let stored = a.stored(&d.tracking_number).await;
    assert_eq!(stored["delivery_status"], "created");
    assert!(history(&stored).is_empty());
}

#[tokio::test]
async fn tracking_a_cancelled_policy_is_409_and_stores_nothing() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
    for status in ["created", "in_process", "in_delivery"] {
        p.track(&p.tracking_body(&d, status, vec![event(status, 1)]))
            .await
            .expect_error(409, "policy_cancelled");
    }
    let stored = p.stored(&d.tracking_number).await;
    assert!(history(&stored).is_empty(), "{stored}");
    assert_eq!(stored["delivery_status"], "created");
}

#[tokio::test]
async fn tracking_body_rules_415_413_and_invalid_json() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let body = p.tracking_body(&d, "in_process", vec![event("a", 1)]);
    p.expect_body_framing_refused("/tracking-details", &body)
        .await;
    let stored = p.stored(&d.tracking_number).await;
    assert!(history(&stored).is_empty());
    // Unknown fields are ignored.
    let mut extra = body.clone();
    extra["unknown"] = json!(true);
    extra["tracking_detail"][0]["unknown_event_field"] = json!("x");
    p.track(&extra).await.expect_success(200);
}

#[tokio::test]
async fn missing_or_empty_signature_is_403_invalid_signature() {
    // The contract: "A missing or wrong signature is 403 with code invalid_signature".
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for empty in [false, true] {
        let mut body = p.tracking_body(&d, "in_process", vec![event("a", 1)]);
        if empty {
            body["signature"] = json!("");
        } else {
            body.as_object_mut().unwrap().remove("signature");
        }
        let resp = p.track(&body).await;
        if resp.status != 403 {
            resp.fail(&format!(
                "signature {}: expected 403",
                if empty { "empty" } else { "missing" }
            ));
        }
        resp.expect_error(403, "invalid_signature");
    }
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["delivery_status"], "created");
    assert!(history(&stored).is_empty());
}

/// Events that would make a delivery's compressed events pass the inline limit (issue 17:
/// `INLINE_EVENTS_MAX_BYTES`, 4 KB) go to an item of their own; every event is still stored
/// once, the history is ordered across both places, and resending any of them adds nothing.
#[tokio::test]
async fn events_past_the_inline_limit_overflow_and_stay_ordered_and_deduplicated() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    // Descriptions that do not compress (random text), so a request of 100 overflows.
    let batch = |minutes: std::ops::Range<u32>| -> Vec<Value> {
        minutes
            .map(|m| {
                let mut e = event("in_process", m);
                e["tracking_desctiption"] = json!(format!(
                    "{}{}{}",
                    ulid::Ulid::new(),
                    ulid::Ulid::new(),
                    ulid::Ulid::new()
                ));
                e
            })
            .collect()
    };
    let requests = [
        batch(0..10),
        batch(200..210),
        batch(20..120),
        batch(300..305),
    ];
    for events in &requests {
        let body = p.tracking_body(&d, "in_process", events.clone());
        p.track(&body).await.expect_success(200);
    }
    let items = blackbox::workload::query_delivery(
        &blackbox::stack().stack_json(),
        &p.kit.partner_id,
        &d.tracking_number,
    )
    .await;
    let own: Vec<&str> = items
        .iter()
        .filter_map(|i| i["sk"]["S"].as_str())
        .filter(|sk| sk.starts_with("EVENTS#"))
        .collect();
    assert_eq!(own, ["EVENTS#0000000004"], "the third request overflowed");
    let stored = p.stored(&d.tracking_number).await;
    let got: Vec<String> = history(&stored)
        .iter()
        .map(|e| e["tracking_time"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<(u32, String)> = requests
        .iter()
        .flatten()
        .map(|e| {
            let t = e["tracking_time"].as_str().unwrap().to_string();
            (parse_time(&t).unwrap().unix_timestamp() as u32, t)
        })
        .collect();
    want.sort();
    assert_eq!(got, want.into_iter().map(|(_, t)| t).collect::<Vec<_>>());
    // Resending an inline request and the overflowed one: nothing new.
    for events in [&requests[0], &requests[2]] {
        let body = p.tracking_body(&d, "in_process", events.clone());
        let r = p.track(&body).await.expect_success(200).clone();
        assert!(
            r["message"].as_str().unwrap().contains(" 0 new event"),
            "{r}"
        );
    }
    assert_eq!(history(&p.stored(&d.tracking_number).await).len(), 125);
}
