//! The credentials kit: what devstack writes for the demo partner and what
//! `opsctl partner onboard --json` prints.

use std::collections::BTreeSet;

use blackbox::{onboard_kit_json, stack, unique_name, Partner, KIT_KEYS};
use serde_json::Value;

fn assert_kit_shape(kit: &Value, subscriptions: Option<&[&str]>) {
    let obj = kit.as_object().expect("kit is a JSON object");
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = KIT_KEYS.into_iter().collect();
    assert_eq!(keys, want, "kit keys: {kit}");
    for k in KIT_KEYS {
        if k == "subscriptions" {
            assert!(kit[k].is_array(), "subscriptions is not an array: {kit}");
        } else {
            assert!(
                kit[k].as_str().is_some_and(|s| !s.is_empty()),
                "{k} is not a non-empty string: {kit}"
            );
        }
    }
    let base = &stack().base_url;
    assert_eq!(
        kit["token_url"],
        format!("{base}/oauth/token"),
        "kit: {kit}"
    );
    assert_eq!(kit["api_base_url"], format!("{base}/api/v1"), "kit: {kit}");
    assert_eq!(
        kit["developer_portal_url"],
        format!("{base}/docs"),
        "kit: {kit}"
    );
    assert_ne!(
        kit["client_secret"], kit["api_token_key"],
        "api_token_key must be separate from the client secret"
    );
    if let Some(subs) = subscriptions {
        let got: BTreeSet<&str> = kit["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let want: BTreeSet<&str> = subs.iter().copied().collect();
        assert_eq!(got, want, "kit subscriptions: {kit}");
    }
}

#[tokio::test]
async fn demo_kit_has_exactly_the_contract_keys_and_works() {
    let kit = stack().demo_kit_json();
    assert_kit_shape(&kit, None);
    let p = Partner::demo().await;
    assert!(!p.kit.subscriptions.is_empty());
    p.token().await;
    // The link works: the portal, without credentials.
    let page = blackbox::client()
        .get(kit["developer_portal_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn onboarded_kit_has_exactly_the_contract_keys_and_works() {
    let kit = onboard_kit_json(&unique_name("kit"), &["insurance", "tracking"]).await;
    assert_kit_shape(&kit, Some(&["insurance", "tracking"]));
    let other = onboard_kit_json(&unique_name("kit"), &["control_tower"]).await;
    assert_kit_shape(&other, Some(&["control_tower"]));
    for k in ["partner_id", "client_id", "client_secret", "api_token_key"] {
        assert_ne!(kit[k], other[k], "two partners share {k}");
    }
}
