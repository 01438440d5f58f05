//! Deliveries stored before issue 17 (plain maps, `by-created`/`by-status` index keys, one
//! `EVENTS#<version>` item per tracking update): they keep working through every route, and
//! `opsctl migrate deliveries` rewrites them into the current layout without changing what any
//! route answers (README "Migrating a deployed table (issue 17)").

use blackbox::workload::{dynamodb, query_delivery};
use blackbox::{event, opsctl_json, send, stack, unique_tn, Delivery, Partner};
use serde_json::{json, Map, Value};

/// A JSON value as a DynamoDB attribute value.
fn attr(v: &Value) -> Value {
    match v {
        Value::Null => json!({"NULL": true}),
        Value::Bool(b) => json!({ "BOOL": b }),
        Value::Number(n) => json!({"N": n.to_string()}),
        Value::String(s) => json!({ "S": s }),
        Value::Array(a) => json!({"L": a.iter().map(attr).collect::<Vec<_>>()}),
        Value::Object(o) => {
            json!({"M": o.iter().map(|(k, v)| (k.clone(), attr(v))).collect::<Map<_, _>>()})
        }
    }
}

fn item(fields: Value) -> Value {
    json!(fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), attr(v)))
        .collect::<Map<_, _>>())
}

/// Writes a delivery as the release before issue 17 did: `in_process` with one stored tracking
/// update (its events in an `EVENTS#0000000002` item), or `created` without one.
async fn legacy_delivery(p: &Partner, tracked: bool) -> (Delivery, Vec<Value>) {
    let st = stack().stack_json();
    let tn = unique_tn();
    let pid = p.kit.partner_id.clone();
    let policy_id = format!(
        "pol_legacy{}",
        tn.to_ascii_lowercase().replace(['-', '.'], "")
    );
    let mut body = p.submit_body_for(&tn, 3_000_000, 15_000);
    let submission = {
        let mut s = body.as_object().unwrap().clone();
        s.remove("signature");
        Value::Object(s)
    };
    let created = "2024-05-01T07:31:00.000Z";
    let events = if tracked {
        vec![event("picked_up", 1)]
    } else {
        vec![]
    };
    let ids: Vec<String> = events
        .iter()
        .map(|e| {
            serde_json::from_value::<shared::domain::TrackingEvent>(e.clone())
                .unwrap()
                .id()
        })
        .collect();
    let status = if tracked { "in_process" } else { "created" };
    let pk = format!("DELIVERY#{pid}#{tn}");
    let delivery = item(json!({
        "pk": pk, "sk": "DELIVERY",
        "partner_id": pid,
        "submission": submission,
        "fingerprint": "0".repeat(64),
        "policy": {
            "policy_id": policy_id, "policy_status": "active", "premium_amount": 15000,
            "currency": "VND", "product_code": "ahasme", "premium_rate_bps": 50,
            "min_premium": 10000, "max_item_value": 50000000, "issued_at": created,
        },
        "delivery_status": status,
        "created_at": created,
        "updated_at": if tracked { "2024-05-01T08:02:00.000Z" } else { created },
        "version": if tracked { 2 } else { 1 },
        "event_ids": ids,
        "gsi1pk": format!("PARTNER#{pid}"),
        "gsi1sk": format!("{created}#{tn}"),
        "gsi2pk": format!("PARTNER#{pid}#STATUS#{status}"),
        "gsi2sk": format!("{created}#{tn}"),
        "gsi3pk": format!("POLICY#{policy_id}"),
    }));
    let table = st["table_name"].clone();
    dynamodb(
        &st,
        "PutItem",
        &json!({"TableName": table, "Item": delivery}),
    )
    .await;
    if tracked {
        let batch = item(json!({
            "pk": pk, "sk": "EVENTS#0000000002",
            "events": events, "delivery_status": "in_process",
            "received_at": "2024-05-01T08:02:00.000Z",
        }));
        dynamodb(&st, "PutItem", &json!({"TableName": table, "Item": batch})).await;
    }
    body["signature"] = json!(p.sign(&tn, 15_000));
    (
        Delivery {
            tracking_number: tn,
            policy_id,
            url_certificate: String::new(),
            premium: 15_000,
            body,
        },
        events,
    )
}

async fn delivery_item(p: &Partner, tn: &str) -> Value {
    query_delivery(&stack().stack_json(), &p.kit.partner_id, tn)
        .await
        .into_iter()
        .find(|i| i["sk"]["S"] == "DELIVERY")
        .expect("the delivery item")
}

fn listed(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["tracking_number"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn deliveries_stored_before_issue_17_keep_working_and_are_migrated_in_place() {
    let p = Partner::full().await;
    let (tracked, old_events) = legacy_delivery(&p, true).await;
    let (quiet, _) = legacy_delivery(&p, false).await;

    // Read as before, events from their own item.
    let before = p.stored(&tracked.tracking_number).await;
    assert_eq!(before["delivery_status"], "in_process", "{before}");
    assert_eq!(before["tracking_history"], json!(old_events), "{before}");
    let by_policy = p.policy(&tracked.policy_id).await.expect(200).clone();
    assert_eq!(
        by_policy["tracking_number"],
        tracked.tracking_number.as_str()
    );

    // A tracking update on it: the stored event again (deduplicated) and a new one. The item
    // is rewritten in the current layout, its old events staying where they are.
    let new_event = event("in_delivery", 30);
    let body = p.tracking_body(
        &tracked,
        "in_delivery",
        vec![old_events[0].clone(), new_event.clone()],
    );
    let r = p.track(&body).await.expect_success(200).clone();
    assert!(
        r["message"].as_str().unwrap().contains("1 new event"),
        "{r}"
    );
    let after = p.stored(&tracked.tracking_number).await;
    assert_eq!(
        after["tracking_history"],
        json!([old_events[0], new_event]),
        "{after}"
    );
    let raw = delivery_item(&p, &tracked.tracking_number).await;
    for gone in ["submission", "policy", "gsi1pk", "gsi2pk", "fingerprint"] {
        assert!(
            raw.get(gone).is_none(),
            "{gone} left on a rewritten item: {raw}"
        );
    }
    assert!(raw["d"]["B"].is_string(), "{raw}");

    // The untouched one is not in the list indexes yet.
    assert!(!listed(&p.list(&[]).await.expect(200).clone()).contains(&quiet.tracking_number));
    let quiet_before = p.stored(&quiet.tracking_number).await;

    // Step 3 of the migration: the current layout beside the old one.
    let out = opsctl_json(&["migrate", "deliveries", "--keep-old-layout", "--yes"]).await;
    assert!(out["rewritten"].as_u64().unwrap() >= 1, "{out}");
    let raw = delivery_item(&p, &quiet.tracking_number).await;
    assert!(
        raw.get("submission").is_some() && raw["d"]["B"].is_string(),
        "{raw}"
    );
    assert_eq!(p.stored(&quiet.tracking_number).await, quiet_before);
    let list = p.list(&[]).await.expect(200).clone();
    assert!(listed(&list).contains(&quiet.tracking_number), "{list}");
    assert!(listed(&list).contains(&tracked.tracking_number), "{list}");
    let created = p
        .list(&[("delivery_status", "created")])
        .await
        .expect(200)
        .clone();
    assert_eq!(listed(&created), vec![quiet.tracking_number.clone()]);

    // Step 4: the old layout goes; what the routes answer does not change.
    let out = opsctl_json(&["migrate", "deliveries", "--yes"]).await;
    assert!(out["rewritten"].as_u64().unwrap() >= 1, "{out}");
    let raw = delivery_item(&p, &quiet.tracking_number).await;
    for gone in [
        "submission",
        "policy",
        "gsi1pk",
        "gsi2pk",
        "partner_id",
        "created_at",
    ] {
        assert!(
            raw.get(gone).is_none(),
            "{gone} left after the migration: {raw}"
        );
    }
    assert_eq!(p.stored(&quiet.tracking_number).await, quiet_before);
    // Nothing of the old layout is left (only this test writes such items).
    let again = opsctl_json(&["migrate", "deliveries", "--dry-run"]).await;
    assert_eq!(again["found"], 0, "{again}");

    // Every route still works on both: cancel, certificate.
    let c = p
        .cancel(&p.cancel_body(&quiet))
        .await
        .expect_success(200)
        .clone();
    assert_eq!(c["policy_id"], quiet.policy_id.as_str());
    let url = p.stored(&quiet.tracking_number).await["policy"]["url_certificate"]
        .as_str()
        .unwrap()
        .to_string();
    let cert = send("certificate".into(), blackbox::client().get(&url)).await;
    assert_eq!(cert.status, 200, "{}", cert.text);
    assert!(cert.text.contains(&quiet.policy_id));
}
