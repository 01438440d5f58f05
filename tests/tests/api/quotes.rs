//! The product catalogue and quotes (contract: "Product catalogue and quotes" and Submit's
//! `quote_id`). The catalogue shows the products operators manage; a quote is the premium Submit
//! accepts, held until `valid_until` whatever the operator changes meanwhile; a quote for another
//! value or product, another partner's or an unknown one is refused naming `quote_id`. An expired
//! quote needs a short validity, so it is tested on a stack of its own
//! (tests/tests/private/quote_expiry.rs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use blackbox::catalogue::stored_quote;
use blackbox::workload::{compressed_attribute, query_delivery};
use blackbox::{
    ahasme_premium, names_field, parse_time, put_product, stack, unique_name, unique_tn, Partner,
    Resp,
};
use serde_json::{json, Value};

use crate::logs::{number, request_line};

const PRODUCT_FIELDS: [&str; 8] = [
    "damage_claim_days",
    "currency",
    "loss_after_days",
    "max_item_value",
    "min_premium",
    "premium_rate_bps",
    "product_code",
    "updated_at",
];

const QUOTE_FIELDS: [&str; 6] = [
    "currency",
    "item_value",
    "premium_amount",
    "product_code",
    "quote_id",
    "valid_until",
];

/// Asserts `v` has exactly `fields`.
fn expect_fields(resp: &Resp, v: &Value, fields: &[&str]) {
    let mut have: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut want = fields.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        resp.fail(&format!("fields {have:?}, expected exactly {want:?}"));
    }
}

/// Asserts an error with `code` whose message starts with `field`.
fn expect_naming(resp: &Resp, status: u16, code: &str, field: &str) {
    let message = resp.expect_error(status, code);
    if !names_field(message, field) {
        resp.fail(&format!("the message must start with `{field}`"));
    }
}

fn time_of(resp: &Resp, v: &Value) -> time::OffsetDateTime {
    v.as_str()
        .and_then(parse_time)
        .unwrap_or_else(|| resp.fail(&format!("{v} is not an RFC 3339 time")))
}

#[tokio::test]
async fn the_catalogue_shows_each_product_with_its_terms_and_claim_terms() {
    let p = Partner::full().await;
    let code = unique_name("cat");
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    put_product(&code, "USD", 1_000_000, 100, 10).await;

    let resp = p.product(&code).await;
    let product = resp.expect(200).clone();
    expect_fields(&resp, &product, &PRODUCT_FIELDS);
    let updated_at = time_of(&resp, &product["updated_at"]);
    assert!(
        updated_at >= before,
        "updated_at is the operator's write: {product}"
    );
    assert_eq!(
        product,
        json!({"product_code": code, "currency": "USD", "max_item_value": 1_000_000,
            "premium_rate_bps": 100, "min_premium": 10, "loss_after_days": 7,
            "damage_claim_days": 14, "updated_at": product["updated_at"]})
    );
    let resp = p.product("ahasme").await;
    let ahasme = resp.expect(200).clone();
    expect_fields(&resp, &ahasme, &PRODUCT_FIELDS);
    assert_eq!(ahasme["currency"], "VND");
    assert_eq!(ahasme["max_item_value"], 30_000_000);
    assert_eq!(ahasme["premium_rate_bps"], 50);
    assert_eq!(ahasme["min_premium"], 5_000);

    // The list holds every product, ordered by code, each as GET one shows it. A container that
    // listed the products less than 60 s ago may not show a new one yet (the product cache).
    let deadline = Instant::now() + Duration::from_secs(75);
    loop {
        let resp = p.products().await;
        let body = resp.expect(200).clone();
        expect_fields(&resp, &body, &["items"]);
        let items = body["items"].as_array().cloned().unwrap_or_default();
        let codes: Vec<&str> = items
            .iter()
            .filter_map(|i| i["product_code"].as_str())
            .collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        assert_eq!(codes, sorted, "ordered by product_code");
        for item in &items {
            expect_fields(&resp, item, &PRODUCT_FIELDS);
        }
        let find = |c: &str| items.iter().find(|i| i["product_code"] == c).cloned();
        assert_eq!(find("ahasme"), Some(ahasme.clone()));
        match find(&code) {
            Some(item) => {
                assert_eq!(item, product);
                break;
            }
            None if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            None => resp.fail(&format!("{code} is not listed within 75 s of its creation")),
        }
    }
}

#[tokio::test]
async fn products_not_in_the_catalogue_are_404() {
    let p = Partner::full().await;
    for code in [
        unique_name("ghost"),
        "AHASME".into(),
        "a.b".into(),
        "x".repeat(65),
    ] {
        p.product(&code).await.expect_error(404, "not_found");
    }
}

/// The DynamoDB round trips of each new route, warm, from the request log lines: a catalogue
/// read none (the product cache), a quote one write, a Submit with a quote one read (the quote)
/// and one write. A call that fills a container's caller or product cache makes more (and the
/// caller is re-read at most every 10 s; other tests may warm other containers), so of six
/// sequential calls at least two must make exactly the warm figure, and none more than the
/// cold one (+ the caller's BatchGetItem, + the product's GetItem).
#[tokio::test]
async fn round_trips_of_the_new_routes_when_warm() {
    let p = Partner::full().await;
    // (round trips, read units, write units) of each call.
    let line = |f: &Value| {
        (
            number(f, "dynamodb_round_trips"),
            number(f, "dynamodb_read_units"),
            number(f, "dynamodb_write_units"),
        )
    };
    let judge = |what: &str, counts: &[(f64, f64, f64)], warm: (f64, f64, f64), cold: f64| {
        let at_warm = counts.iter().filter(|c| **c == warm).count();
        assert!(
            at_warm >= 2 && counts.iter().all(|c| c.0 <= cold),
            "{what}: (round trips, RRU, WRU) per call {counts:?}; warm {warm:?}, at most {cold} round trips"
        );
    };
    for path in ["/products", "/products/ahasme"] {
        let mut counts = Vec::new();
        for _ in 0..6 {
            let resp = p.get(path).await;
            resp.expect(200);
            counts.push(line(&request_line("products", &resp).await));
        }
        judge(&format!("GET {path}"), &counts, (0.0, 0.0, 0.0), 2.0);
    }
    let mut counts = Vec::new();
    let mut quote = Value::Null;
    for _ in 0..6 {
        let resp = p.quote_resp("ahasme", 3_000_000).await;
        quote = resp.expect(200).clone();
        counts.push(line(&request_line("products", &resp).await));
    }
    judge("POST /quotes", &counts, (1.0, 0.0, 1.0), 3.0);
    let mut counts = Vec::new();
    for _ in 0..6 {
        let resp = p.submit(&p.submit_body_quoted(&quote)).await;
        resp.expect(201);
        let (round_trips, read_units, _) = line(&request_line("deliveries", &resp).await);
        // Write units depend on the delivery item's size; the round trips and the read are the point.
        counts.push((round_trips, read_units, 0.0));
    }
    judge(
        "POST /sme-deliveries with quote_id",
        &counts,
        (2.0, 1.0, 0.0),
        3.0,
    );
}

#[tokio::test]
async fn a_quote_is_the_premium_submit_accepts_and_writes_nothing_but_itself() {
    let p = Partner::full().await;
    let before = time::OffsetDateTime::now_utc();
    let resp = p.quote_resp("ahasme", 3_000_000).await;
    let q = resp.expect(200).clone();
    let after = time::OffsetDateTime::now_utc();
    expect_fields(&resp, &q, &QUOTE_FIELDS);
    assert_eq!(q["product_code"], "ahasme");
    assert_eq!(q["item_value"], 3_000_000);
    assert_eq!(q["premium_amount"], ahasme_premium(3_000_000));
    assert_eq!(q["currency"], "VND");
    let valid_until = time_of(&resp, &q["valid_until"]);
    let fifteen = time::Duration::minutes(15);
    assert!(
        valid_until >= before + fifteen - time::Duration::milliseconds(1)
            && valid_until <= after + fifteen,
        "valid_until 15 minutes ahead: {q}"
    );

    // One small item written (1 write unit), with the table's TTL attribute a day after
    // valid_until, so that an expired quote is told apart from an unknown one for a day.
    let line = request_line("products", &resp).await;
    assert_eq!(number(&line, "dynamodb_write_units"), 1.0, "{line}");
    let quote_id = q["quote_id"].as_str().unwrap();
    let item = stored_quote(&stack().stack_json(), &p.kit.partner_id, quote_id)
        .await
        .unwrap_or_else(|| panic!("quote {quote_id} is not stored"));
    let expires_at: i64 = item["expires_at"]["N"].as_str().unwrap().parse().unwrap();
    let day = 24 * 3600;
    assert!(
        expires_at > valid_until.unix_timestamp() + day - 1
            && expires_at <= valid_until.unix_timestamp() + day + 1,
        "expires_at {expires_at} for valid_until {valid_until}"
    );
    assert_eq!(item["premium_amount"]["N"], "15000", "{item}");

    // Submit accepts it; the delivery shows the quote it was sold on.
    let body = p.submit_body_quoted(&q);
    let d = p.create_from(body.clone()).await;
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["quote_id"], quote_id, "{stored}");
    assert_eq!(stored["policy"]["premium_amount"], 15_000, "{stored}");
    assert_eq!(stored["policy"]["premium_rate_bps"], 50, "{stored}");
    // The identical body again is a safe retry.
    let out = p.submit(&body).await.expect_success(200).clone();
    assert_eq!(out["policy_id"], d.policy_id.as_str());
    // Without the quote the same body is another body: 409.
    let mut plain = body.clone();
    plain.as_object_mut().unwrap().remove("quote_id");
    p.submit(&plain)
        .await
        .expect_error(409, "duplicate_tracking_number");
    // The quoted premium is what Submit takes without a quote too, and a quote may serve more
    // than one delivery of that product and value until valid_until.
    p.create_from(p.submit_body_for(&unique_tn(), 3_000_000, 15_000))
        .await;
    p.create_from(p.submit_body_quoted(&q)).await;
}

#[tokio::test]
async fn a_quote_holds_its_price_after_the_operator_changes_the_product() {
    let p = Partner::full().await;
    let code = unique_name("quoted");
    put_product(&code, "VND", 1_000_000, 100, 10).await;
    let q = p.quote(&code, 500_000).await;
    assert_eq!(q["premium_amount"], 5_000, "1% of 500000");

    put_product(&code, "VND", 1_000_000, 200, 10).await;
    // Without the quote, Submit pays the new price (once the product cache turns over).
    p.submit_until_premium_accepted(&code, 500_000, 10_000, Duration::from_secs(90))
        .await;
    // With it, the quoted price, and the policy records the terms it was quoted under.
    let d = p.create_from(p.submit_body_quoted(&q)).await;
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["policy"]["premium_amount"], 5_000, "{stored}");
    assert_eq!(stored["policy"]["premium_rate_bps"], 100, "{stored}");
    // The new price with the quote is not the quote's: refused, giving the quoted premium.
    let mut body = p.submit_body_quoted(&q);
    body["premium_amount"] = json!(10_000);
    p.resign(&mut body);
    let resp = p.submit(&body).await;
    let message = resp.expect_error(400, "premium_mismatch");
    assert!(message.contains("5000"), "{message}");
    p.assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;

    // Even a maximum lowered below the quoted item value does not undo the quote.
    put_product(&code, "VND", 100_000, 200, 10).await;
    p.create_from(p.submit_body_quoted(&q)).await;
}

#[tokio::test]
async fn a_quote_for_another_value_or_product_or_of_another_partner_is_400_naming_quote_id() {
    let p = Partner::full().await;
    let other = Partner::full().await;
    let q = p.quote("ahasme", 3_000_000).await;
    let twin = unique_name("twin");
    put_product(&twin, "VND", 30_000_000, 50, 5_000).await;

    // Another item value, priced and signed right for it.
    let mut body = p.submit_body_quoted(&q);
    body["item_value"] = json!(3_000_001);
    body["premium_amount"] = json!(ahasme_premium(3_000_001));
    p.resign(&mut body);
    let resp = p.submit(&body).await;
    expect_naming(&resp, 400, "quote_mismatch", "quote_id");
    assert!(resp.json["message"]
        .as_str()
        .unwrap()
        .contains("item_value"));
    p.assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;

    // Another product with the very same terms.
    let mut body = p.submit_body_quoted(&q);
    body["product_code"] = json!(twin);
    let resp = p.submit(&body).await;
    expect_naming(&resp, 400, "quote_mismatch", "quote_id");
    assert!(resp.json["message"]
        .as_str()
        .unwrap()
        .contains("product_code"));
    p.assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;

    // Another partner's quote is unknown, exactly like one nobody was given.
    let body = other.submit_body_quoted(&q);
    expect_naming(&other.submit(&body).await, 400, "unknown_quote", "quote_id");
    other
        .assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;
    let mut body = p.submit_body_quoted(&q);
    body["quote_id"] = json!("quo_01m88pg6bj7gvrmehq193tgtwg");
    expect_naming(&p.submit(&body).await, 400, "unknown_quote", "quote_id");
    // Not a quote id at all.
    body["quote_id"] = json!("Q-123");
    expect_naming(&p.submit(&body).await, 400, "validation_error", "quote_id");
    p.assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;

    // Its own partner, with the quoted product and value: accepted.
    p.create_from(p.submit_body_quoted(&q)).await;
}

#[tokio::test]
async fn quotes_refuse_unknown_products_values_over_the_maximum_and_bad_bodies() {
    let p = Partner::full().await;
    let ghost = unique_name("ghost");
    // Unknown product: 404 on the catalogue, 400 on a quote.
    p.product(&ghost).await.expect_error(404, "not_found");
    expect_naming(
        &p.quote_resp(&ghost, 1_000).await,
        400,
        "unknown_product",
        "product_code",
    );
    // Over the product's maximum: 400 naming item_value; at the maximum: quoted.
    expect_naming(
        &p.quote_resp("ahasme", 30_000_001).await,
        400,
        "item_value_too_high",
        "item_value",
    );
    assert_eq!(
        p.quote("ahasme", 30_000_000).await["premium_amount"],
        ahasme_premium(30_000_000)
    );
    // Each field named.
    for (body, field) in [
        (json!({"item_value": 1_000}), "product_code"),
        (
            json!({"product_code": "", "item_value": 1_000}),
            "product_code",
        ),
        (json!({"product_code": "ahasme"}), "item_value"),
        (
            json!({"product_code": "ahasme", "item_value": 0}),
            "item_value",
        ),
        (
            json!({"product_code": "ahasme", "item_value": "1000"}),
            "item_value",
        ),
        (
            json!({"product_code": "ahasme", "item_value": 1.5}),
            "item_value",
        ),
    ] {
        expect_naming(
            &p.post_json("/quotes", &body).await,
            400,
            "validation_error",
            field,
        );
    }
    p.expect_body_framing_refused(
        "/quotes",
        &json!({"product_code": "ahasme", "item_value": 1_000}),
    )
    .await;
}

#[tokio::test]
async fn the_catalogue_and_quotes_need_the_insurance_subscription() {
    let p = Partner::full().await;
    let tracking_only = p.token_with_scope(Some("tracking control_tower")).await;
    for path in ["/products", "/products/ahasme"] {
        p.get_with(path, Some(&tracking_only))
            .await
            .expect_insufficient_scope();
    }
    p.post_json_with(
        "/quotes",
        Some(&tracking_only),
        &json!({"product_code": "ahasme", "item_value": 1_000}),
    )
    .await
    .expect_insufficient_scope();
}

/// The race guarantee holds with a quote: concurrent identical submissions carrying it make one
/// policy (one 201, the others 200 with it), and one delivery item is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_submissions_with_a_quote_make_one_policy() {
    let p = Arc::new(Partner::full().await);
    p.token().await;
    let q = p.quote("ahasme", 2_000_000).await;
    let body = p.submit_body_quoted(&q);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (p, body) = (p.clone(), body.clone());
        calls.spawn(async move { p.submit(&body).await });
    }
    let mut created = 0;
    let mut policies = std::collections::BTreeSet::new();
    while let Some(r) = calls.join_next().await {
        let r = r.expect("call task");
        match r.status {
            201 => created += 1,
            200 => {}
            _ => r.fail("expected 201 or 200"),
        }
        policies.insert(r.expect_success(r.status)["policy_id"].to_string());
    }
    assert_eq!(created, 1, "exactly one 201");
    assert_eq!(policies.len(), 1, "one policy: {policies:?}");
    let tn = body["tracking_number"].as_str().unwrap();
    let items = query_delivery(&stack().stack_json(), &p.kit.partner_id, tn).await;
    assert_eq!(items.len(), 1, "one delivery item: {items:?}");
    // The submission is stored compressed inside the delivery item (issue 17).
    let doc = compressed_attribute(&items[0], "d").expect("the delivery's d attribute");
    assert_eq!(doc["submission"]["quote_id"], q["quote_id"]);
}
