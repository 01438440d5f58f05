//! The endpoints API: create (secret once), list, get, patch, delete, the limit of 10 under
//! real concurrency, the URL rule (SSRF refusals), validation naming the field, and another
//! partner's ids being 404.

use blackbox::Partner;
use reqwest::Method;
use serde_json::json;

use crate::{partner, register, stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_created_with_a_secret_shown_once_listed_patched_and_deleted() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-crud").await;
    let created = p
        .post_json(
            "/webhook-endpoints",
            &json!({"url": "http://127.0.0.1:9/hooks", "event_types": ["policy.issued", "claim.paid"], "description": "ops"}),
        )
        .await;
    let v = created.expect(201).clone();
    let id = v["id"].as_str().unwrap().to_string();
    let secret = v["secret"].as_str().unwrap().to_string();
    assert!(id.starts_with("we_"), "{v}");
    assert!(secret.starts_with("whsec_"), "{v}");
    assert_eq!(v["event_types"], json!(["policy.issued", "claim.paid"]));
    assert_eq!(v["enabled"], json!(true));
    // Never again: not in get, list, patch.
    let got = p.get(&format!("/webhook-endpoints/{id}")).await;
    assert!(
        !got.text.contains(&secret) && got.json.get("secret").is_none(),
        "{}",
        got.text
    );
    assert_eq!(got.expect(200)["url"], "http://127.0.0.1:9/hooks");
    let list = p.get("/webhook-endpoints").await;
    assert!(!list.text.contains(&secret));
    assert_eq!(list.expect(200)["items"].as_array().unwrap().len(), 1);
    // Patch: every field, and enabled false / true.
    let patched = p
        .call(Method::PATCH, &format!("/webhook-endpoints/{id}"), Some(&json!({"url": "http://localhost:9/other", "event_types": null, "description": null, "enabled": false})))
        .await;
    let v = patched.expect(200).clone();
    assert_eq!(v["url"], "http://localhost:9/other");
    assert_eq!(
        v["event_types"].as_array().unwrap().len(),
        11,
        "null = every type: {v}"
    );
    assert_eq!(v["description"], json!(null));
    assert_eq!(v["enabled"], json!(false));
    assert!(v["disabled_reason"].is_string(), "{v}");
    let v = p
        .call(
            Method::PATCH,
            &format!("/webhook-endpoints/{id}"),
            Some(&json!({"enabled": true})),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (v["enabled"].clone(), v["disabled_reason"].clone()),
        (json!(true), json!(null))
    );
    p.call(
        Method::PATCH,
        &format!("/webhook-endpoints/{id}"),
        Some(&json!({})),
    )
    .await
    .expect_validation("body");
    p.call(
        Method::PATCH,
        &format!("/webhook-endpoints/{id}"),
        Some(&json!({"enabled": "yes"})),
    )
    .await
    .expect_validation("enabled");
    // Delete; then it is gone.
    p.call(Method::DELETE, &format!("/webhook-endpoints/{id}"), None)
        .await
        .expect(200);
    p.get(&format!("/webhook-endpoints/{id}"))
        .await
        .expect_error(404, "not_found");
    p.call(Method::DELETE, &format!("/webhook-endpoints/{id}"), None)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        p.get("/webhook-endpoints").await.expect(200)["items"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fields_are_named_and_ssrf_targets_are_refused() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-validate").await;
    let create = |body: serde_json::Value| {
        let p = &p;
        async move { p.post_json("/webhook-endpoints", &body).await }
    };
    create(json!({})).await.expect_validation("url");
    create(json!({"url": 5})).await.expect_validation("url");
    create(json!({"url": "http://127.0.0.1:9/x", "event_types": ["nope"]}))
        .await
        .expect_validation("event_types");
    create(json!({"url": "http://127.0.0.1:9/x", "event_types": []}))
        .await
        .expect_validation("event_types");
    create(json!({"url": "http://127.0.0.1:9/x", "description": "x".repeat(501)}))
        .await
        .expect_validation("description");
    // The local rule: exactly http://127.0.0.1:<port> and http://localhost:<port> besides public
    // https hosts; private, loopback, link-local and metadata addresses are refused.
    for url in [
        "http://10.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.1.10/hooks",
        "https://172.16.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hooks",
        "https://[::1]/hooks",
        "https://[fd00:ec2::254]/",
        "http://127.0.0.2:8080/hooks",
        "http://0.0.0.0:8080/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "ftp://127.0.0.1/hooks",
        "https://user:pw@127.0.0.1/hooks",
        "not a url",
    ] {
        let resp = create(json!({"url": url})).await;
        let msg = resp.expect_validation("url").to_string();
        assert!(!msg.is_empty(), "{url}");
    }
    let msg = create(json!({"url": "https://169.254.169.254/"}))
        .await
        .expect_validation("url")
        .to_string();
    assert!(msg.contains("metadata"), "{msg}");
    register(&p, "http://localhost:9/ok", None).await;
    register(&p, "http://127.0.0.1:9/ok", None).await;
    // A PATCH is checked the same way.
    let (id, _) = register(&p, "http://127.0.0.1:9/ok2", None).await;
    p.call(
        Method::PATCH,
        &format!("/webhook-endpoints/{id}"),
        Some(&json!({"url": "http://10.0.0.1/x"})),
    )
    .await
    .expect_validation("url");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_ten_endpoints_even_when_created_at_once() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-limit").await;
    p.token().await;
    let attempts = (0..14).map(|i| {
        let p = &p;
        async move {
            p.post_json(
                "/webhook-endpoints",
                &json!({"url": format!("http://127.0.0.1:9/h{i}")}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let refused: Vec<_> = results.iter().filter(|r| r.status == 409).collect();
    assert_eq!(
        created,
        10,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(refused.len(), 4);
    for r in refused {
        r.expect_error(409, "endpoint_limit_reached");
    }
    let items = p.get("/webhook-endpoints").await.expect(200)["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 10);
    // One deleted: one more fits, and no more.
    let id = items[0]["id"].as_str().unwrap();
    p.call(Method::DELETE, &format!("/webhook-endpoints/{id}"), None)
        .await
        .expect(200);
    register(&p, "http://127.0.0.1:9/again", None).await;
    p.post_json(
        "/webhook-endpoints",
        &json!({"url": "http://127.0.0.1:9/over"}),
    )
    .await
    .expect_error(409, "endpoint_limit_reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_partners_endpoint_and_event_ids_are_404_and_the_scope_is_control_tower() {
    let Some(stack) = stack() else { return };
    let owner = partner(stack, "wh-owner").await;
    let other = partner(stack, "wh-other").await;
    let (id, _) = register(&owner, "http://127.0.0.1:9/x", None).await;
    owner.create_delivery().await;
    let events = crate::wait_logged(&owner, 1, std::time::Duration::from_secs(60)).await;
    let event_id = events[0]["id"].as_str().unwrap().to_string();
    owner.get(&format!("/events/{event_id}")).await.expect(200);
    for (method, path) in [
        (Method::GET, format!("/webhook-endpoints/{id}")),
        (Method::PATCH, format!("/webhook-endpoints/{id}")),
        (Method::DELETE, format!("/webhook-endpoints/{id}")),
        (
            Method::POST,
            format!("/webhook-endpoints/{id}/rotate-secret"),
        ),
        (Method::POST, format!("/webhook-endpoints/{id}/test")),
        (Method::GET, format!("/webhook-endpoints/{id}/deliveries")),
        (Method::GET, format!("/events/{event_id}")),
        (Method::POST, format!("/events/{event_id}/redeliver")),
        (Method::GET, "/webhook-endpoints/we_nope".to_string()),
        (Method::GET, "/events/evt_nope".to_string()),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"enabled": false}));
        other
            .call(method.clone(), &path, body.as_ref())
            .await
            .expect_error(404, "not_found");
    }
    assert_eq!(other.get("/events").await.expect(200)["items"], json!([]));
    // Still the owner's, unchanged.
    assert_eq!(
        owner
            .get(&format!("/webhook-endpoints/{id}"))
            .await
            .expect(200)["enabled"],
        json!(true)
    );
    // Without control_tower: 403.
    let only = Partner::from_kit(
        blackbox::partner::onboard_kit_json_with(
            stack,
            &blackbox::unique_name("wh-scope"),
            &["insurance"],
        )
        .await,
    );
    only.get("/webhook-endpoints")
        .await
        .expect_insufficient_scope();
    only.get("/events").await.expect_insufficient_scope();
}

/// The deployed rule (`WEBHOOK_URL_POLICY=public`, what staging and production apply) on a
/// stack of its own: loopback is refused too, by address and by a name that resolves to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_rule_refuses_loopback_by_address_and_by_name() {
    let Some(stack) =
        blackbox::Stack::start_private_with(&["--function-env", "WEBHOOK_URL_POLICY=public"])
    else {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
        return;
    };
    let p = partner(&stack, "wh-public").await;
    for url in [
        "http://127.0.0.1:9000/hooks",
        "https://127.0.0.1:9000/hooks",
        "http://localhost:9000/hooks",
        "https://localhost:9000/hooks",
        "https://[::1]:9000/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
    ] {
        let resp = p
            .post_json("/webhook-endpoints", &json!({"url": url}))
            .await;
        let msg = resp.expect_validation("url").to_string();
        assert!(!msg.is_empty(), "{url}");
    }
    // A name is judged by what it resolves to.
    let msg = p
        .post_json(
            "/webhook-endpoints",
            &json!({"url": "https://localhost:9000/hooks"}),
        )
        .await
        .expect_validation("url")
        .to_string();
    assert!(
        msg.contains("resolves to") && msg.contains("loopback"),
        "{msg}"
    );
    assert_eq!(
        p.get("/webhook-endpoints").await.expect(200)["items"],
        json!([])
    );
}

/// Operators: `opsctl webhook list --partner`, `deliveries`, `disable` (audited, the reason shown
/// on the endpoint) and `enable`; never a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_disable_and_enable_a_partners_endpoints_without_seeing_secrets() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-ops").await;
    let (r, id, secret) = crate::receiver_for(&p).await;
    p.post_json(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await
        .expect(202);
    r.wait_for(std::time::Duration::from_secs(60), "the ping", |g| {
        !g.is_empty()
    })
    .await;
    let partner_id = p.kit.partner_id.clone();
    let ops = |args: Vec<String>| ops_json(stack, &secret, args);
    let list = ops(vec![
        "webhook".into(),
        "list".into(),
        "--partner".into(),
        partner_id.clone(),
    ])
    .await;
    assert_eq!(list["items"][0]["id"], id.as_str(), "{list}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let d = ops(vec![
            "webhook".into(),
            "deliveries".into(),
            id.clone(),
            "--partner".into(),
            partner_id.clone(),
        ])
        .await;
        if d["items"].as_array().is_some_and(|i| !i.is_empty()) {
            assert_eq!(d["items"][0]["event_type"], "ping");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt listed: {d}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let disabled = ops(vec![
        "webhook".into(),
        "disable".into(),
        id.clone(),
        "--partner".into(),
        partner_id.clone(),
        "--reason".into(),
        "abuse report".into(),
        "--yes".into(),
    ])
    .await;
    assert_eq!(disabled["enabled"], json!(false));
    let shown = p
        .get(&format!("/webhook-endpoints/{id}"))
        .await
        .expect(200)
        .clone();
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("abuse report"),
        "{shown}"
    );
    p.post_json(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await
        .expect_error(409, "endpoint_disabled");
    let audit = ops(vec![
        "audit".into(),
        "list".into(),
        "--partner".into(),
        partner_id.clone(),
        "--action".into(),
        "webhook.".into(),
    ])
    .await;
    assert!(audit.to_string().contains("webhook.disable"), "{audit}");
    ops(vec![
        "webhook".into(),
        "enable".into(),
        id.clone(),
        "--partner".into(),
        partner_id.clone(),
    ])
    .await;
    assert_eq!(
        p.get(&format!("/webhook-endpoints/{id}")).await.expect(200)["enabled"],
        json!(true)
    );
}

async fn ops_json(stack: &blackbox::Stack, secret: &str, args: Vec<String>) -> serde_json::Value {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.push("--json");
    let out = blackbox::opsctl_run_on(stack, &all).await;
    assert!(out.success, "opsctl {args:?}: {}", out.stderr);
    assert!(
        !out.stdout.contains(secret.trim_start_matches("whsec_")),
        "a secret in opsctl's output"
    );
    out.json()
}
