//! `POST /api/v1/sme-deliveries/cancel` (Cancel SME Delivery Order).

use blackbox::{event, parse_time, unique_tn, Partner, Resp};
use serde_json::{json, Value};

const ECHOED: [&str; 5] = [
    "tracking_number",
    "policy_id",
    "canceled_by",
    "cancellation_time",
    "cancellation_reason",
];

/// Asserts the 200 body echoes the cancellation `expected` (a cancel request body).
fn assert_cancel_body(resp: &Resp, expected: &Value) {
    let out = resp.expect_success(200);
    for k in ECHOED {
        let same = if k == "cancellation_time" {
            parse_time(out[k].as_str().unwrap_or(""))
                == parse_time(expected[k].as_str().unwrap_or("-"))
                && out[k].is_string()
        } else {
            out[k] == expected[k]
        };
        if !same {
            resp.fail(&format!("`{k}` must be {}", expected[k]));
        }
    }
}

/// Asserts the stored policy is cancelled with `expected`'s cancellation.
async fn assert_cancelled(p: &Partner, expected: &Value) {
    let tn = expected["tracking_number"].as_str().unwrap();
    for stored in [
        p.stored(tn).await,
        p.policy(expected["policy_id"].as_str().unwrap())
            .await
            .expect(200)
            .clone(),
    ] {
        let policy = &stored["policy"];
        assert_eq!(policy["policy_status"], "cancelled", "{stored}");
        let c = &policy["cancellation"];
        assert_eq!(c["canceled_by"], expected["canceled_by"], "{stored}");
        assert_eq!(
            c["cancellation_reason"], expected["cancellation_reason"],
            "{stored}"
        );
        assert_eq!(
            parse_time(c["cancellation_time"].as_str().unwrap_or("")),
            parse_time(expected["cancellation_time"].as_str().unwrap()),
            "{stored}"
        );
    }
}

#[tokio::test]
async fn cancelling_a_created_delivery_is_200_and_cancels_the_policy() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let body = p.cancel_body(&d);
    let resp = p.cancel(&body).await;
    assert_cancel_body(&resp, &body);
    assert_cancelled(&p, &body).await;
}

#[tokio::test]
async fn cancelling_an_in_process_delivery_is_allowed() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    p.advance(&d, &["in_process"]).await;
    let body = p.cancel_body(&d);
    assert_cancel_body(&p.cancel(&body).await, &body);
    assert_cancelled(&p, &body).await;
}

#[tokio::test]
async fn cancelling_after_in_process_is_409_cancellation_not_allowed() {
    let p = Partner::full().await;
    for path in [
        &["in_delivery"][..],
        &["success"],
        &["fail"],
        &["fail", "in_return"],
        &["fail", "in_return", "returned"],
        &["in_process", "in_delivery"],
    ] {
        let d = p.create_delivery().await;
        p.advance(&d, path).await;
        let resp = p.cancel(&p.cancel_body(&d)).await;
        if resp.status != 409 {
            resp.fail(&format!("cancel after {path:?} must be refused"));
        }
        resp.expect_error(409, "cancellation_not_allowed");
        let stored = p.stored(&d.tracking_number).await;
        assert_eq!(stored["policy"]["policy_status"], "active", "{stored}");
        assert!(stored["policy"]["cancellation"].is_null(), "{stored}");
    }
}

#[tokio::test]
async fn repeated_cancel_returns_the_first_cancellation() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let first = p.cancel_body(&d);
    assert_cancel_body(&p.cancel(&first).await, &first);
    // The identical request again.
    assert_cancel_body(&p.cancel(&first).await, &first);
    // A different second cancellation: still the first one.
    let mut second = first.clone();
    second["canceled_by"] = json!("someone.else@partner.example");
    second["cancellation_reason"] = json!("Changed my mind");
    second["cancellation_time"] = json!("2024-05-02T10:00:00.000Z");
    assert_cancel_body(&p.cancel(&second).await, &first);
    assert_cancelled(&p, &first).await;
}

#[tokio::test]
async fn policy_id_of_another_delivery_is_404() {
    let p = Partner::full().await;
    let a = p.create_delivery().await;
    let b = p.create_delivery().await;
    let mut body = p.cancel_body(&a);
    body["policy_id"] = json!(b.policy_id);
    p.cancel(&body).await.expect_error(404, "not_found");
    body["policy_id"] = json!("no-such-policy");
    p.cancel(&body).await.expect_error(404, "not_found");
    for d in [&a, &b] {
        let stored = p.stored(&d.tracking_number).await;
        assert_eq!(stored["policy"]["policy_status"], "active", "{stored}");
    }
}

#[tokio::test]
async fn unknown_tracking_number_is_404() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let tn = unique_tn();
    let mut body = p.cancel_body(&d);
    body["tracking_number"] = json!(tn);
    body["signature"] = json!(p.sign(&tn, d.premium));
    p.cancel(&body).await.expect_error(404, "not_found");
    assert_eq!(
        p.stored(&d.tracking_number).await["policy"]["policy_status"],
        "active"
    );
}

#[tokio::test]
async fn another_partners_delivery_is_404_like_an_unknown_one() {
    let a = Partner::full().await;
    let b = Partner::full().await;
    let d = a.create_delivery().await;
    let theirs = b.cancel(&b.cancel_body(&d)).await;
    let theirs_msg = theirs
        .expect_error(404, "not_found")
        .replace(&d.tracking_number, "<tn>")
        .replace(&d.policy_id, "<policy>");
    let tn = unique_tn();
    let mut unknown = b.cancel_body(&d);
    unknown["tracking_number"] = json!(tn);
    unknown["policy_id"] = json!(format!("POL-{}", ulid::Ulid::new()));
    unknown["signature"] = json!(b.sign(&tn, d.premium));
    let none = b.cancel(&unknown).await;
    let none_msg = none
        .expect_error(404, "not_found")
        .replace(&tn, "<tn>")
        .replace(unknown["policy_id"].as_str().unwrap(), "<policy>");
    assert_eq!(theirs_msg, none_msg);
    assert_eq!(
        a.stored(&d.tracking_number).await["policy"]["policy_status"],
        "active"
    );
}

#[tokio::test]
async fn wrong_signature_is_403_and_the_policy_stays_active() {
    let p = Partner::full().await;
    let other = Partner::demo().await;
    let d = p
        .create_from(p.submit_body_for(&unique_tn(), 5_000_000, 25_000))
        .await;
    for sig in [
        p.sign(&d.tracking_number, 15_000),
        other.sign(&d.tracking_number, 25_000),
        "0".repeat(32),
    ] {
        let mut body = p.cancel_body(&d);
        body["signature"] = json!(sig);
        let resp = p.cancel(&body).await;
        if resp.status != 403 {
            resp.fail(&format!("signature {sig:?} must be refused"));
        }
        resp.expect_error(403, "invalid_signature");
    }
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["policy"]["policy_status"], "active");
    assert!(stored["policy"]["cancellation"].is_null());
}

#[tokio::test]
async fn missing_empty_or_mistyped_fields_are_400_naming_them() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for field in [
        "tracking_number",
        "policy_id",
        "canceled_by",
        "cancellation_reason",
        "cancellation_time",
    ] {
        for bad in [None, Some(json!("")), Some(json!(12)), Some(Value::Null)] {
            let mut body = p.cancel_body(&d);
            match &bad {
                Some(v) => body[field] = v.clone(),
                None => {
                    body.as_object_mut().unwrap().remove(field);
                }
            }
            let resp = p.cancel(&body).await;
            if resp.status != 400 {
                resp.fail(&format!("{field} = {bad:?} must be refused"));
            }
            resp.expect_validation(field);
        }
    }
    for bad in ["2024-05-01 09:15:00", "tomorrow", "2024-05-01T09:15:00"] {
        let mut body = p.cancel_body(&d);
        body["cancellation_time"] = json!(bad);
        p.cancel(&body).await.expect_validation("cancellation_time");
    }
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["policy"]["policy_status"], "active");
    // Unknown fields are ignored.
    let mut body = p.cancel_body(&d);
    body["refund"] = json!({"amount": 1});
    assert_cancel_body(&p.cancel(&body).await, &p.cancel_body(&d));
}

#[tokio::test]
async fn cancel_body_rules_415_413_and_invalid_json() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    p.expect_body_framing_refused("/sme-deliveries/cancel", &p.cancel_body(&d))
        .await;
    assert_eq!(
        p.stored(&d.tracking_number).await["policy"]["policy_status"],
        "active"
    );
}

#[tokio::test]
async fn a_cancelled_delivery_accepts_no_tracking_but_can_still_be_read() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    p.advance(&d, &["in_process"]).await;
    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
    p.track(&p.tracking_body(&d, "in_delivery", vec![event("x", 9)]))
        .await
        .expect_error(409, "policy_cancelled");
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["delivery_status"], "in_process");
    assert_eq!(stored["tracking_history"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn missing_or_empty_signature_is_403_invalid_signature() {
    // The contract: "A missing or wrong signature is 403 with code invalid_signature".
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for empty in [false, true] {
        let mut body = p.cancel_body(&d);
        if empty {
            body["signature"] = json!("");
        } else {
            body.as_object_mut().unwrap().remove("signature");
        }
        let resp = p.cancel(&body).await;
        if resp.status != 403 {
            resp.fail(&format!(
                "signature {}: expected 403",
                if empty { "empty" } else { "missing" }
            ));
        }
        resp.expect_error(403, "invalid_signature");
    }
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["policy"]["policy_status"], "active");
}
