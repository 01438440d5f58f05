//! `POST /api/v1/sme-deliveries` (Submit SME Delivery).

use std::collections::BTreeSet;

use blackbox::{
    ahasme_premium, parse_time, put_product, stack, unique_name, unique_tn, Partner, Resp,
};
use serde_json::{json, Value};

const REQUIRED: [&str; 14] = [
    "tracking_number",
    "product_code",
    "customer_name",
    "customer_phone",
    "pickup_address",
    "drop_up_address",
    "type_of_goods",
    "cod_amount",
    "item_value",
    "premium_amount",
    "order_created_time",
    "goods_description",
    "good_quantity",
    "signature",
];

const REQUIRED_STRINGS: [&str; 9] = [
    "tracking_number",
    "product_code",
    "customer_name",
    "customer_phone",
    "pickup_address",
    "drop_up_address",
    "type_of_goods",
    "order_created_time",
    "goods_description",
];

const INTEGERS: [&str; 4] = [
    "cod_amount",
    "item_value",
    "premium_amount",
    "good_quantity",
];

const OPTIONAL_STRINGS: [&str; 6] = [
    "customer_email",
    "sender_name",
    "sender_phone",
    "sender_email",
    "recipient_name",
    "recipient_phone",
];

/// Asserts the stored delivery matches what was submitted.
fn assert_stored_matches(stored: &Value, body: &Value, policy_id: &str, url: &str) {
    let ctx = || format!("stored: {stored}\nsubmitted: {body}");
    for (k, v) in body.as_object().unwrap() {
        if k == "signature" || k == "order_created_time" {
            continue;
        }
        assert_eq!(&stored[k], v, "stored `{k}` differs\n{}", ctx());
    }
    assert_eq!(
        parse_time(stored["order_created_time"].as_str().unwrap_or("")),
        parse_time(body["order_created_time"].as_str().unwrap()),
        "stored order_created_time is not the submitted instant\n{}",
        ctx()
    );
    assert_eq!(stored["delivery_status"], "created", "{}", ctx());
    assert!(
        parse_time(stored["created_at"].as_str().unwrap_or("")).is_some(),
        "created_at is not RFC 3339\n{}",
        ctx()
    );
    let policy = &stored["policy"];
    assert_eq!(policy["policy_id"], policy_id, "{}", ctx());
    assert_eq!(policy["policy_status"], "active", "{}", ctx());
    assert_eq!(
        policy["premium_amount"],
        body["premium_amount"],
        "{}",
        ctx()
    );
    assert_eq!(policy["product_code"], body["product_code"], "{}", ctx());
    assert_eq!(policy["url_certificate"], url, "{}", ctx());
    assert!(policy["cancellation"].is_null(), "{}", ctx());
    assert!(
        parse_time(policy["issued_at"].as_str().unwrap_or("")).is_some(),
        "issued_at is not RFC 3339\n{}",
        ctx()
    );
    assert_eq!(
        stored["tracking_history"],
        json!([]),
        "history of a new delivery\n{}",
        ctx()
    );
}

fn assert_certificate_url(resp: &Resp, url: &str) {
    let prefix = format!("{}/certificates/", stack().base_url);
    let Some(token) = url.strip_prefix(&prefix) else {
        resp.fail(&format!("url_certificate does not start with {prefix}"))
    };
    if token.len() < 16 || token.contains('/') || token.contains('?') {
        resp.fail("url_certificate token is not one unguessable path segment");
    }
}

#[tokio::test]
async fn valid_submission_is_201_and_stored_as_created_with_an_active_policy() {
    let p = Partner::full().await;
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap();
    let resp = p.submit(&body).await;
    let out = resp.expect_success(201).clone();
    let policy_id = out["policy_id"].as_str().expect("policy_id");
    let url = out["url_certificate"].as_str().expect("url_certificate");
    assert!(!policy_id.is_empty());
    assert_certificate_url(&resp, url);

    let stored = p.stored(tn).await;
    assert_stored_matches(&stored, &body, policy_id, url);
    assert_eq!(stored["policy"]["currency"], "VND");
    assert_eq!(stored["policy"]["premium_amount"], 15_000);

    // The same object by policy id.
    let by_policy = p.policy(policy_id).await.expect(200).clone();
    assert_stored_matches(&by_policy, &body, policy_id, url);
}

#[tokio::test]
async fn each_policy_gets_its_own_id_and_certificate_url() {
    let p = Partner::demo().await;
    let a = p.create_delivery().await;
    let b = p.create_delivery().await;
    assert_ne!(a.policy_id, b.policy_id);
    assert_ne!(a.url_certificate, b.url_certificate);
}

#[tokio::test]
async fn identical_retry_is_200_with_the_same_policy() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for _ in 0..2 {
        let resp = p.submit(&d.body).await;
        let out = resp.expect_success(200);
        assert_eq!(out["policy_id"], d.policy_id.as_str(), "{}", resp.text);
        assert_eq!(
            out["url_certificate"],
            d.url_certificate.as_str(),
            "{}",
            resp.text
        );
    }
    let list = p.list(&[]).await;
    let items = list.expect(200)["items"].as_array().cloned().unwrap();
    assert_eq!(items.len(), 1, "retries created deliveries: {}", list.text);
}

#[tokio::test]
async fn same_tracking_number_with_a_different_body_is_409_and_keeps_the_original() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let mut changes: Vec<(&str, Value)> = vec![
        ("customer_name", json!("Someone Else")),
        ("cod_amount", json!(1)),
        ("good_quantity", json!(3)),
        ("recipient_phone", json!("0900000000")),
    ];
    // A different premium needs a different item value and signature.
    changes.push(("item_value", json!(4_000_000)));
    for (field, value) in changes {
        let mut body = d.body.clone();
        body[field] = value.clone();
        if field == "item_value" {
            body["premium_amount"] = json!(ahasme_premium(4_000_000));
        }
        p.resign(&mut body);
        p.submit(&body)
            .await
            .expect_error(409, "duplicate_tracking_number");
    }
    // Dropping an optional field is a different body too.
    let mut body = d.body.clone();
    body.as_object_mut().unwrap().remove("customer_email");
    p.submit(&body)
        .await
        .expect_error(409, "duplicate_tracking_number");

    let stored = p.stored(&d.tracking_number).await;
    assert_stored_matches(&stored, &d.body, &d.policy_id, &d.url_certificate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_identical_submissions_make_exactly_one_policy() {
    let p = std::sync::Arc::new(Partner::full().await);
    p.token().await;
    let body = std::sync::Arc::new(p.submit_body());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let p = p.clone();
        let body = body.clone();
        set.spawn(async move { p.submit_retrying(&body).await });
    }
    let mut created = 0;
    let mut retried = 0;
    let mut policies = BTreeSet::new();
    let mut urls = BTreeSet::new();
    while let Some(resp) = set.join_next().await {
        let resp = resp.expect("task panicked");
        match resp.status {
            201 => created += 1,
            200 => retried += 1,
            _ => resp.fail("concurrent identical submit must be 201 or 200"),
        }
        resp.expect_success(resp.status);
        policies.insert(resp.json["policy_id"].as_str().unwrap_or("").to_string());
        urls.insert(
            resp.json["url_certificate"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    assert_eq!(
        (created, retried),
        (1, 63),
        "exactly one 201 and 63 200s expected"
    );
    assert_eq!(policies.len(), 1, "policy ids: {policies:?}");
    assert_eq!(urls.len(), 1, "certificate urls: {urls:?}");

    let list = p.list(&[]).await;
    let items = list.expect(200)["items"].as_array().cloned().unwrap();
    assert_eq!(items.len(), 1, "deliveries stored: {}", list.text);
    let stored = p.stored(body["tracking_number"].as_str().unwrap()).await;
    assert_eq!(
        stored["policy"]["policy_id"].as_str(),
        policies.iter().next().map(String::as_str)
    );
}

#[tokio::test]
async fn two_partners_may_use_the_same_tracking_number() {
    let a = Partner::full().await;
    let b = Partner::full().await;
    let tn = unique_tn();
    let da = a
        .create_from(a.submit_body_for(&tn, 3_000_000, 15_000))
        .await;
    let mut body_b = b.submit_body_for(&tn, 5_000_000, 25_000);
    body_b["customer_name"] = json!("Partner B's customer");
    let db = b.create_from(body_b).await;
    assert_ne!(da.policy_id, db.policy_id);
    let sa = a.stored(&tn).await;
    let sb = b.stored(&tn).await;
    assert_eq!(sa["policy"]["policy_id"], da.policy_id.as_str());
    assert_eq!(sb["policy"]["policy_id"], db.policy_id.as_str());
    assert_eq!(sb["customer_name"], "Partner B's customer");
    assert_eq!(sa["customer_name"], da.body["customer_name"]);
}

#[tokio::test]
async fn optional_fields_may_be_omitted_and_unknown_fields_are_ignored() {
    let p = Partner::full().await;
    let mut body = p.submit_body();
    for f in OPTIONAL_STRINGS {
        body.as_object_mut().unwrap().remove(f);
    }
    let d = p.create_from(body.clone()).await;
    let stored = p.stored(&d.tracking_number).await;
    assert_stored_matches(&stored, &body, &d.policy_id, &d.url_certificate);

    let mut body = p.submit_body();
    body["unknown_field"] = json!({"nested": [1, 2, 3]});
    body["another"] = json!("x");
    p.create_from(body).await;
}

#[tokio::test]
async fn missing_required_field_is_400_naming_it_and_nothing_is_stored() {
    let p = Partner::full().await;
    for field in REQUIRED.into_iter().filter(|f| *f != "signature") {
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        body.as_object_mut().unwrap().remove(field);
        p.submit(&body).await.expect_validation(field);
        p.assert_not_stored(&tn).await;
    }
}

#[tokio::test]
async fn missing_or_empty_signature_is_403_invalid_signature() {
    // The contract's signature section: "A missing or wrong signature is 403 with code
    // invalid_signature" (more specific than the general "missing required field is 400").
    let p = Partner::full().await;
    for empty in [false, true] {
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        if empty {
            body["signature"] = json!("");
        } else {
            body.as_object_mut().unwrap().remove("signature");
        }
        let resp = p.submit(&body).await;
        if resp.status != 403 {
            resp.fail(&format!(
                "signature {}: expected 403",
                if empty { "empty" } else { "missing" }
            ));
        }
        resp.expect_error(403, "invalid_signature");
        p.assert_not_stored(&tn).await;
    }
}

#[tokio::test]
async fn null_required_field_is_400_naming_it() {
    let p = Partner::full().await;
    for field in REQUIRED {
        if field == "signature" {
            continue;
        }
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        body[field] = Value::Null;
        p.submit(&body).await.expect_validation(field);
        p.assert_not_stored(&tn).await;
    }
}

#[tokio::test]
async fn empty_required_string_is_400_naming_it() {
    let p = Partner::full().await;
    for field in REQUIRED_STRINGS {
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        body[field] = json!("");
        p.resign(&mut body);
        p.submit(&body).await.expect_validation(field);
        if field != "tracking_number" {
            p.assert_not_stored(&tn).await;
        }
    }
}

#[tokio::test]
async fn wrong_type_is_400_naming_the_field() {
    let p = Partner::full().await;
    let mut cases: Vec<(&str, Value)> = Vec::new();
    for f in REQUIRED_STRINGS {
        cases.push((f, json!(12345)));
        cases.push((f, json!(["a"])));
    }
    for f in OPTIONAL_STRINGS {
        cases.push((f, json!(5)));
        cases.push((f, json!({"a": 1})));
    }
    for f in INTEGERS {
        cases.push((f, json!("15000")));
        cases.push((f, json!(1.5)));
        cases.push((f, json!(true)));
        cases.push((f, json!(99_999_999_999_999_999_999.0_f64)));
    }
    cases.push((
        "item_value",
        serde_json::from_str("99999999999999999999999").unwrap(),
    ));
    for (field, value) in cases {
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        body[field] = value.clone();
        let resp = p.submit(&body).await;
        if !(resp.status == 400
            && resp.json["code"] == "validation_error"
            && blackbox::names_field(resp.json["message"].as_str().unwrap_or(""), field))
        {
            resp.fail(&format!(
                "`{field}` = {value}: expected 400 validation_error naming {field}"
            ));
        }
        resp.expect_validation(field);
        if field != "tracking_number" {
            p.assert_not_stored(&tn).await;
        }
    }
}

#[tokio::test]
async fn out_of_range_integers_are_400_naming_the_field() {
    let p = Partner::full().await;
    for (field, value) in [
        ("cod_amount", -1),
        ("item_value", 0),
        ("item_value", -3_000_000),
        ("premium_amount", 0),
        ("premium_amount", -15_000),
        ("good_quantity", 0),
        ("good_quantity", -1),
    ] {
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        body[field] = json!(value);
        p.resign(&mut body);
        let resp = p.submit(&body).await;
        if resp.status != 400 {
            resp.fail(&format!("{field} = {value} must be rejected"));
        }
        resp.expect_validation(field);
        p.assert_not_stored(&tn).await;
    }
}

#[tokio::test]
async fn range_boundaries_are_accepted() {
    let p = Partner::full().await;
    let mut body = p.submit_body();
    body["cod_amount"] = json!(0);
    body["good_quantity"] = json!(1);
    let d = p.create_from(body).await;
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["cod_amount"], 0);
    assert_eq!(stored["good_quantity"], 1);
}

#[tokio::test]
async fn tracking_number_format_is_enforced() {
    let p = Partner::full().await;
    let long64: String = format!("BB{}", "x".repeat(62));
    let long65: String = format!("BB{}", "y".repeat(63));
    for bad in [
        long65.as_str(),
        "has space",
        "slash/inside",
        "hash#",
        "percent%41",
        "ümlaut",
        "plus+",
        "colon:",
        "comma,",
        " leading",
    ] {
        let mut body = p.submit_body();
        body["tracking_number"] = json!(bad);
        p.resign(&mut body);
        let resp = p.submit(&body).await;
        if resp.status != 400 {
            resp.fail(&format!("tracking_number {bad:?} must be rejected"));
        }
        resp.expect_validation("tracking_number");
    }
    let suffix = ulid::Ulid::new().to_string();
    for good in [
        format!("{}{}", &long64[..38], suffix),
        format!("a.b_c-D.{suffix}"),
        format!("0{suffix}"),
    ] {
        assert!(good.len() <= 64);
        let body = p.submit_body_for(&good, 3_000_000, 15_000);
        let d = p.create_from(body).await;
        let stored = p.stored(&d.tracking_number).await;
        assert_eq!(stored["tracking_number"], good.as_str());
    }
    // Exactly 64 characters.
    let tn64 = format!("{}{}", "Z".repeat(64 - suffix.len()), suffix);
    assert_eq!(tn64.len(), 64);
    p.create_from(p.submit_body_for(&tn64, 3_000_000, 15_000))
        .await;
    // One character: tracking numbers are unique per partner, so a fresh partner.
    let fresh = Partner::full().await;
    fresh
        .create_from(fresh.submit_body_for("7", 3_000_000, 15_000))
        .await;
}

#[tokio::test]
async fn order_created_time_must_be_rfc3339() {
    let p = Partner::full().await;
    for bad in [
        json!("2022-04-06 06:05:00"),
        json!("2022-04-06"),
        json!("06/04/2022 06:05"),
        json!("yesterday"),
        json!("2022-13-01T00:00:00Z"),
        json!("2022-04-06T06:05:00"),
        json!(1_649_225_100),
    ] {
        let mut body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        body["order_created_time"] = bad.clone();
        let resp = p.submit(&body).await;
        if resp.status != 400 {
            resp.fail(&format!("order_created_time {bad} must be rejected"));
        }
        resp.expect_validation("order_created_time");
        p.assert_not_stored(&tn).await;
    }
    for good in ["2022-04-06T06:05:00.528Z", "2022-04-06T13:05:00+07:00"] {
        let mut body = p.submit_body();
        body["order_created_time"] = json!(good);
        p.create_from(body).await;
    }
}

#[tokio::test]
async fn body_that_is_not_a_json_object_is_400_invalid_json() {
    let p = Partner::full().await;
    for raw in [
        "not json",
        "{",
        "{\"tracking_number\": }",
        "[1, 2]",
        "\"a string\"",
        "42",
        "null",
        "",
    ] {
        let resp = p
            .post_raw("/sme-deliveries", Some("application/json"), raw.into())
            .await;
        if resp.status != 400 || resp.json["code"] != "invalid_json" {
            resp.fail(&format!("body {raw:?}: expected 400 invalid_json"));
        }
        resp.expect_error(400, "invalid_json");
    }
}

#[tokio::test]
async fn content_type_other_than_json_is_415() {
    let p = Partner::full().await;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        None,
    ] {
        let body = p.submit_body();
        let tn = body["tracking_number"].as_str().unwrap().to_string();
        let resp = p
            .post_raw("/sme-deliveries", ct, serde_json::to_vec(&body).unwrap())
            .await;
        if resp.status != 415 {
            resp.fail(&format!("Content-Type {ct:?}: expected 415"));
        }
        resp.expect_error(415, "unsupported_media_type");
        p.assert_not_stored(&tn).await;
    }
    for ct in [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
    ] {
        let body = p.submit_body();
        let resp = p
            .post_raw(
                "/sme-deliveries",
                Some(ct),
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        if resp.status != 201 {
            resp.fail(&format!("Content-Type {ct:?} must be accepted"));
        }
    }
}

/// A valid submit body padded (with an unknown field) to exactly `size` bytes.
fn padded(p: &Partner, size: usize) -> (String, Vec<u8>) {
    let mut body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    body["padding"] = json!("");
    let base = serde_json::to_vec(&body).unwrap().len();
    body["padding"] = json!("x".repeat(size - base));
    let bytes = serde_json::to_vec(&body).unwrap();
    assert_eq!(bytes.len(), size);
    (tn, bytes)
}

#[tokio::test]
async fn body_over_64_kib_is_413_and_64_kib_is_accepted() {
    let p = Partner::full().await;
    let (tn, big) = padded(&p, 64 * 1024 + 1);
    p.post_raw("/sme-deliveries", Some("application/json"), big)
        .await
        .expect_error(413, "payload_too_large");
    p.assert_not_stored(&tn).await;
    let (_, huge) = padded(&p, 1024 * 1024);
    p.post_raw("/sme-deliveries", Some("application/json"), huge)
        .await
        .expect_error(413, "payload_too_large");

    let (tn, exact) = padded(&p, 64 * 1024);
    p.post_raw("/sme-deliveries", Some("application/json"), exact)
        .await
        .expect_success(201);
    p.stored(&tn).await;
}

#[tokio::test]
async fn unknown_product_is_400() {
    let p = Partner::full().await;
    let mut body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    body["product_code"] = json!(unique_name("noproduct"));
    p.submit(&body).await.expect_error(400, "unknown_product");
    p.assert_not_stored(&tn).await;
}

#[tokio::test]
async fn item_value_above_the_product_maximum_is_400() {
    let p = Partner::full().await;
    let tn = unique_tn();
    let body = p.submit_body_for(&tn, 30_000_001, ahasme_premium(30_000_001));
    p.submit(&body)
        .await
        .expect_error(400, "item_value_too_high");
    p.assert_not_stored(&tn).await;
    // The maximum itself is insured.
    let body = p.submit_body_for(&unique_tn(), 30_000_000, 150_000);
    p.create_from(body).await;
}

#[tokio::test]
async fn premium_that_differs_from_the_rule_is_400_with_the_expected_premium() {
    let p = Partner::full().await;
    // (item_value, wrong premium, expected premium)
    for (item_value, wrong, expected) in [
        (3_000_000, 14_999, 15_000),
        (3_000_000, 15_001, 15_000),
        (100_000, 500, 5_000),     // minimum premium applies
        (1_000_001, 5_000, 5_001), // rounded up
        (30_000_000, 15_000, 150_000),
    ] {
        let tn = unique_tn();
        let body = p.submit_body_for(&tn, item_value, wrong);
        let resp = p.submit(&body).await;
        let msg = resp.expect_error(400, "premium_mismatch");
        let digits: Vec<String> = msg
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !digits.contains(&expected.to_string()) {
            resp.fail(&format!(
                "premium_mismatch message must state the expected premium {expected}"
            ));
        }
        p.assert_not_stored(&tn).await;
        // And the expected premium is accepted.
        p.create_from(p.submit_body_for(&unique_tn(), item_value, expected))
            .await;
    }
}

#[tokio::test]
async fn premium_rule_and_currency_come_from_the_product() {
    let p = Partner::full().await;
    let code = unique_name("prod");
    put_product(&code, "USD", 1_000_000, 100, 10).await;
    // 1% of 500_000 = 5_000; minimum 10; max 1_000_000.
    let tn = unique_tn();
    let mut body = p.submit_body_for(&tn, 500_000, 5_000);
    body["product_code"] = json!(code);
    let d = p.create_from(body).await;
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["policy"]["currency"], "USD");
    assert_eq!(stored["policy"]["product_code"], code.as_str());
    assert_eq!(stored["policy"]["premium_amount"], 5_000);

    // Minimum premium of this product.
    let mut body = p.submit_body_for(&unique_tn(), 500, 10);
    body["product_code"] = json!(code);
    p.create_from(body).await;

    // Over this product's maximum (but under ahasme's).
    let mut body = p.submit_body_for(&unique_tn(), 1_000_001, 10_001);
    body["product_code"] = json!(code);
    p.submit(&body)
        .await
        .expect_error(400, "item_value_too_high");
}

#[tokio::test]
async fn wrong_signature_is_403_and_nothing_is_stored() {
    let p = Partner::full().await;
    let other = Partner::demo().await;
    let base = p.submit_body();
    let tn = base["tracking_number"].as_str().unwrap().to_string();
    let good = base["signature"].as_str().unwrap().to_string();
    let wrong = [
        "0".repeat(32),
        good.chars().rev().collect::<String>(),
        other.sign(&tn, 15_000),           // another partner's key
        p.sign(&tn, 15_001),               // another premium
        p.sign(&format!("{tn}x"), 15_000), // another tracking number
        blackbox::signature(&p.kit.client_secret, &tn, 15_000), // the client secret as key
        format!("{good}00"),
        good[..31].to_string(),
    ];
    for sig in wrong {
        let mut body = base.clone();
        body["signature"] = json!(sig);
        let resp = p.submit(&body).await;
        if resp.status != 403 {
            resp.fail(&format!("signature {sig:?} must be rejected"));
        }
        resp.expect_error(403, "invalid_signature");
    }
    p.assert_not_stored(&tn).await;
    // The right one works.
    p.create_from(base).await;
}

#[tokio::test]
async fn an_updated_product_rule_applies_to_new_submissions() {
    // Warm functions may cache products for a while (shared::service::RECORD_CACHE_TTL, 60 s);
    // the update must take effect within that, so poll for up to 90 s.
    let p = Partner::full().await;
    let code = unique_name("prod");
    put_product(&code, "VND", 1_000_000, 100, 10).await;
    let mut body = p.submit_body_for(&unique_tn(), 500_000, 5_000);
    body["product_code"] = json!(code);
    let sold = p.create_from(body).await;

    put_product(&code, "VND", 1_000_000, 200, 10).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    // The new rule: 2% of 500_000 = 10_000.
    p.submit_until_premium_accepted(&code, 500_000, 10_000, std::time::Duration::from_secs(90))
        .await;
    // Each warm function instance keeps its own cache, so the old rule may still be accepted by
    // another instance until its cache expires: poll until the old premium is refused too.
    loop {
        let mut body = p.submit_body_for(&unique_tn(), 500_000, 5_000);
        body["product_code"] = json!(code);
        let resp = p.submit(&body).await;
        if resp.status == 201 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            continue;
        }
        let msg = resp.expect_error(400, "premium_mismatch").to_string();
        assert!(msg.contains("10000"), "expected premium 10000 in: {msg}");
        break;
    }

    // A retry of the submission sold under the old rule is still a safe retry: same policy.
    let retry = p.submit(&sold.body).await;
    let out = retry.expect_success(200);
    assert_eq!(out["policy_id"], sold.policy_id.as_str(), "{out}");
    assert_eq!(
        out["url_certificate"],
        sold.url_certificate.as_str(),
        "{out}"
    );
    // And the policy keeps the premium it was sold with.
    let stored = p.stored(&sold.tracking_number).await;
    assert_eq!(stored["policy"]["premium_amount"], 5_000, "{stored}");
}
