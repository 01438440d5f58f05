//! The operator's commands (`opsctl`), each proven through the partner API: what a partner can
//! and cannot do after the command, and what the audit log says about it.

use std::time::{Duration, Instant};

use blackbox::{opsctl_json, opsctl_run, unique_name, unique_tn, Partner, Resp};
use serde_json::{json, Value};

/// How long after a revocation or suspension issued tokens may still work
/// (`shared::service::ACCESS_CACHE_TTL`), plus slack for a loaded machine.
const ACCESS_BOUND: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(5);

fn probe() -> String {
    format!("/sme-deliveries/{}", unique_tn())
}

/// A call that only authentication decides: 404 when the token is accepted, 401 when not.
async fn accepted(p: &Partner, token: &str) -> Result<(), Resp> {
    let resp = p.get_with(&probe(), Some(token)).await;
    if resp.status == 404 {
        resp.expect_error(404, "not_found");
        Ok(())
    } else {
        Err(resp)
    }
}

/// Polls until the token is refused with 401 `invalid_token`; returns how long that took.
async fn until_refused(p: &Partner, token: &str, since: Instant, bound: Duration) -> Duration {
    loop {
        match accepted(p, token).await {
            Ok(()) => {
                if since.elapsed() > bound {
                    panic!(
                        "token still accepted {:?} after the command",
                        since.elapsed()
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(resp) => {
                // The handler answers (the gateway's authorizer cache still allows the token);
                // API Gateway passes a proxy integration's WWW-Authenticate on as
                // x-amzn-Remapped-WWW-Authenticate, so either name is accepted here.
                resp.expect_oauth_error(401, "invalid_token");
                let www = resp
                    .header("www-authenticate")
                    .or(resp.header("x-amzn-remapped-www-authenticate"))
                    .unwrap_or("");
                assert!(www.contains("error=\"invalid_token\""), "{www:?}");
                return since.elapsed();
            }
        }
    }
}

fn with_secret(p: &Partner, secret: &str) -> Partner {
    let mut kit = p.kit_json.clone();
    kit["client_secret"] = json!(secret);
    Partner::from_kit(kit)
}

fn with_key(p: &Partner, key: &str) -> Partner {
    let mut kit = p.kit_json.clone();
    kit["api_token_key"] = json!(key);
    Partner::from_kit(kit)
}

async fn audit_for(target: &str) -> Vec<Value> {
    opsctl_json(&["audit", "list", "--target", target]).await["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn revoke_refuses_new_tokens_at_once_and_issued_tokens_within_the_bound() {
    let p = Partner::full().await;
    let token = p.token().await;
    accepted(&p, &token).await.expect("token works before");
    let id = p.kit.client_id.clone();

    let out = opsctl_json(&["client", "revoke", &id, "--yes", "--reason", "leaked"]).await;
    let revoked_at = Instant::now();
    assert_eq!(out["client"]["status"], "revoked", "{out}");
    p.token_resp(None)
        .await
        .expect_token_error(401, "invalid_client");
    let took = until_refused(&p, &token, revoked_at, ACCESS_BOUND + SLACK).await;
    eprintln!("figure: revoked client's token refused {took:?} after `opsctl client revoke`");

    // Revoking again changes nothing; a revoked client's secret cannot be rotated back to life.
    let again = opsctl_json(&["client", "revoke", &id, "--yes"]).await;
    assert_eq!(again["changed"], false, "{again}");
    let rot = opsctl_run(&["client", "rotate-secret", &id, "--yes"]).await;
    assert!(
        !rot.success && rot.stderr.contains("client create"),
        "{rot:?}"
    );

    // The audit log: who, what, before and after, never a secret.
    let entries = audit_for(&format!("client:{id}")).await;
    let e = entries
        .iter()
        .find(|e| e["action"] == "client.revoke")
        .unwrap_or_else(|| panic!("no client.revoke entry: {entries:?}"));
    assert_eq!(e["actor"], "blackbox", "{e}");
    assert_eq!(e["reason"], "leaked", "{e}");
    assert_eq!(e["before"]["status"], "active", "{e}");
    assert_eq!(e["after"]["status"], "revoked", "{e}");
    assert_eq!(e["partner_id"], p.kit.partner_id.as_str(), "{e}");
    let all = serde_json::to_string(&entries).unwrap();
    assert!(!all.contains(&p.kit.client_secret) && !all.contains("sha256:"));
}

#[tokio::test]
async fn destructive_commands_refuse_without_yes_and_change_nothing() {
    let p = Partner::full().await;
    let id = p.kit.client_id.clone();
    let pid = p.kit.partner_id.clone();
    for args in [
        vec!["client", "revoke", id.as_str()],
        vec!["client", "rotate-secret", id.as_str()],
        vec!["client", "remove-subscription", id.as_str(), "tracking"],
        vec!["partner", "suspend", pid.as_str()],
        vec!["partner", "rotate-key", pid.as_str()],
    ] {
        let out = opsctl_run(&args).await;
        assert!(!out.success, "{args:?} ran without confirmation: {out:?}");
        assert!(out.stderr.contains("--yes"), "{args:?}: {}", out.stderr);
    }
    // --json errors are JSON too.
    let out = opsctl_run(&["client", "revoke", &id, "--json"]).await;
    assert!(out.json()["error"].as_str().unwrap().contains("--yes"));
    // Nothing changed: same secret, same key, every subscription, nothing audited.
    let token = p.token().await;
    let d = p.create_delivery().await;
    p.advance(&d, &["in_process"]).await;
    accepted(&p, &token).await.expect("still accepted");
    let shown = opsctl_json(&["partner", "show", &pid]).await;
    assert_eq!(shown["status"], "active", "{shown}");
    let actions: Vec<&str> = shown["recent_audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["partner.onboard"], "{shown}");
    // Unknown ids say what to do next.
    let out = opsctl_run(&["client", "revoke", "cli_nonexistent", "--yes"]).await;
    assert!(
        !out.success && out.stderr.contains("opsctl partner list"),
        "{out:?}"
    );
}

#[tokio::test]
async fn removed_subscription_is_missing_from_the_next_token_and_the_route_is_403() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    let id = p.kit.client_id.clone();
    let out = opsctl_json(&["client", "remove-subscription", &id, "tracking", "--yes"]).await;
    assert_eq!(
        out["client"]["subscriptions"],
        json!(["insurance", "control_tower"]),
        "{out}"
    );

    let body = p.token_resp(None).await.expect(200).clone();
    assert_eq!(body["scope"], "insurance control_tower", "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let track = p.tracking_body(&d, "in_process", vec![blackbox::event("in_process", 1)]);
    p.post_json_with("/tracking-details", Some(&token), &track)
        .await
        .expect_insufficient_scope();
    p.token_resp(Some("tracking"))
        .await
        .expect_token_error(400, "invalid_scope");

    // Adding it back works from the next token.
    opsctl_json(&["client", "add-subscription", &id, "tracking"]).await;
    let token = p.token_with_scope(Some("tracking")).await;
    p.post_json_with("/tracking-details", Some(&token), &track)
        .await
        .expect_success(200);
    let actions: Vec<String> = audit_for(&format!("client:{id}"))
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["client.add-subscription", "client.remove-subscription"]
    );
    // Removing the last subscription is refused with the way out.
    let out = opsctl_run(&[
        "client",
        "remove-subscription",
        &id,
        "insurance,tracking,control_tower",
        "--yes",
    ])
    .await;
    assert!(!out.success && out.stderr.contains("revoke"), "{out:?}");
}

#[tokio::test]
async fn rotated_secret_replaces_the_old_one_at_once_or_after_the_grace_period() {
    let p = Partner::full().await;
    let id = p.kit.client_id.clone();
    // At once.
    let out = opsctl_json(&["client", "rotate-secret", &id, "--yes"]).await;
    let s1 = out["client_secret"].as_str().unwrap().to_string();
    assert!(out["previous_secret_valid_until"].is_null(), "{out}");
    p.token_resp(None)
        .await
        .expect_token_error(401, "invalid_client");
    let p1 = with_secret(&p, &s1);
    p1.token_resp(None).await.expect(200);

    // With a grace period both work, then only the new one.
    let out = opsctl_json(&["client", "rotate-secret", &id, "--grace", "4s", "--yes"]).await;
    let rotated = Instant::now();
    let p2 = with_secret(&p, out["client_secret"].as_str().unwrap());
    p1.token_resp(None).await.expect(200);
    p2.token_resp(None).await.expect(200);
    tokio::time::sleep(
        Duration::from_secs(4).saturating_sub(rotated.elapsed()) + Duration::from_millis(500),
    )
    .await;
    p1.token_resp(None)
        .await
        .expect_token_error(401, "invalid_client");
    p2.token_resp(None).await.expect(200);
    // The listing shows no secret.
    let listed = opsctl_run(&["partner", "list"]).await;
    assert!(listed.success, "{listed:?}");
    assert!(listed.stdout.contains(&id));
    assert!(!listed.stdout.contains(&s1) && !listed.stdout.contains(&p.kit.api_token_key));
}

#[tokio::test]
async fn suspended_partner_gets_no_tokens_and_its_tokens_stop_until_reactivated() {
    let p = Partner::full().await;
    let pid = p.kit.partner_id.clone();
    // A second client, revoked: reactivation must not bring it back.
    let second = opsctl_json(&["client", "create", "--partner", &pid]).await;
    let second_id = second["client_id"].as_str().unwrap().to_string();
    let mut kit2 = p.kit_json.clone();
    kit2["client_id"] = second["client_id"].clone();
    kit2["client_secret"] = second["client_secret"].clone();
    let p2 = Partner::from_kit(kit2);
    p2.token_resp(None).await.expect(200);
    opsctl_json(&["client", "revoke", &second_id, "--yes"]).await;

    let token = p.token().await;
    accepted(&p, &token).await.expect("accepted before");
    let out = opsctl_json(&["partner", "suspend", &pid, "--yes", "--reason", "unpaid"]).await;
    let suspended = Instant::now();
    assert_eq!(out["partner"]["status"], "suspended", "{out}");
    p.token_resp(None)
        .await
        .expect_token_error(401, "invalid_client");
    let took = until_refused(&p, &token, suspended, ACCESS_BOUND + SLACK).await;
    eprintln!("figure: suspended partner's token refused {took:?} after `opsctl partner suspend`");
    let listed = opsctl_json(&["partner", "list"]).await;
    let me = listed["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["partner_id"] == pid.as_str())
        .cloned()
        .unwrap();
    assert_eq!(me["status"], "suspended");
    let statuses: Vec<&str> = me["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["suspended", "revoked"], "{me}");

    opsctl_json(&["partner", "reactivate", &pid]).await;
    let reactivated = Instant::now();
    // New tokens at once; the API accepts them within the same bound (its cache of the
    // partner's status turns over).
    let fresh = p.token_with_scope(None).await;
    while let Err(resp) = accepted(&p, &fresh).await {
        resp.expect_oauth_error(401, "invalid_token");
        if reactivated.elapsed() > ACCESS_BOUND + SLACK {
            resp.fail("still refused after reactivation");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    p2.token_resp(None)
        .await
        .expect_token_error(401, "invalid_client");
}

#[tokio::test]
async fn api_token_key_rotation_with_overlap_accepts_both_keys_then_only_the_new() {
    let p = Partner::full().await;
    let pid = p.kit.partner_id.clone();
    let overlap = Duration::from_secs(6);
    let out = opsctl_json(&["partner", "rotate-key", &pid, "--overlap", "6s", "--yes"]).await;
    let rotated = Instant::now();
    let new_key = out["api_token_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, p.kit.api_token_key);
    assert!(out["previous_key_valid_until"].is_string(), "{out}");
    let newp = with_key(&p, &new_key);
    // Both keys verify during the overlap (the new one at once, whatever the caches hold).
    newp.create_delivery().await;
    p.create_delivery().await;
    // After the window, only the new one.
    let old_refused = loop {
        let resp = p.submit(&p.submit_body()).await;
        if resp.status == 403 {
            resp.expect_error(403, "invalid_signature");
            break rotated.elapsed();
        }
        resp.expect_success(201);
        if rotated.elapsed() > overlap + ACCESS_BOUND + SLACK {
            panic!(
                "old key still accepted {:?} after rotation",
                rotated.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        old_refused >= overlap - Duration::from_millis(500),
        "{old_refused:?}"
    );
    eprintln!(
        "figure: old api_token_key refused {old_refused:?} after rotation with a 6 s overlap"
    );
    let d = newp.create_delivery().await;
    // Tracking and cancel use the same keys.
    newp.advance(&d, &["in_process"]).await;
    let mut cancel = p.cancel_body(&d);
    p.cancel(&cancel)
        .await
        .expect_error(403, "invalid_signature");
    cancel["signature"] = json!(newp.sign(&d.tracking_number, d.premium));
    newp.cancel(&cancel).await.expect_success(200);
    let shown = opsctl_json(&["partner", "show", &pid]).await;
    assert!(!shown.to_string().contains(&new_key), "{shown}");
}

#[tokio::test]
async fn products_create_update_list_and_policies_keep_their_terms() {
    let p = Partner::full().await;
    let code = unique_name("ops");
    let created = opsctl_json(&[
        "product",
        "create",
        "--code",
        &code,
        "--currency",
        "vnd",
        "--max-item-value",
        "1000000",
        "--premium-rate-bps",
        "100",
        "--min-premium",
        "10",
    ])
    .await;
    assert_eq!(created["currency"], "VND", "{created}");
    let again = opsctl_run(&[
        "product",
        "create",
        "--code",
        &code,
        "--currency",
        "VND",
        "--max-item-value",
        "1",
        "--premium-rate-bps",
        "1",
        "--min-premium",
        "1",
    ])
    .await;
    assert!(
        !again.success && again.stderr.contains("product update"),
        "{again:?}"
    );

    let mut body = p.submit_body_for(&unique_tn(), 500_000, 5_000);
    body["product_code"] = json!(code);
    let sold = p.create_from(body).await;

    let updated = opsctl_json(&[
        "product",
        "update",
        "--code",
        &code,
        "--premium-rate-bps",
        "200",
        "--yes",
    ])
    .await;
    assert_eq!(updated["product"]["premium_rate_bps"], 200, "{updated}");
    assert_eq!(updated["product"]["max_item_value"], 1_000_000, "{updated}");
    let listed = opsctl_json(&["product", "list"]).await;
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["product_code"] == code.as_str() && x["premium_rate_bps"] == 200));

    // The policy sold before keeps the rule it was sold under.
    let stored = p.stored(&sold.tracking_number).await;
    assert_eq!(stored["policy"]["premium_rate_bps"], 100, "{stored}");
    assert_eq!(stored["policy"]["premium_amount"], 5_000, "{stored}");
    // New submissions get the new rule once the product cache (60 s) has turned over.
    p.submit_until_premium_accepted(&code, 500_000, 10_000, Duration::from_secs(75))
        .await;
    let entries = audit_for(&format!("product:{code}")).await;
    let e = &entries[0];
    assert_eq!(e["action"], "product.update");
    assert_eq!(e["before"]["premium_rate_bps"], 100, "{e}");
    assert_eq!(e["after"]["premium_rate_bps"], 200, "{e}");
}

#[tokio::test]
async fn audit_list_filters_by_partner_action_and_time() {
    let before = blackbox::rfc3339(time::OffsetDateTime::now_utc() - time::Duration::seconds(1));
    let p = Partner::full().await;
    let pid = p.kit.partner_id.clone();
    opsctl_json(&[
        "client",
        "create",
        "--partner",
        &pid,
        "--subscriptions",
        "tracking",
    ])
    .await;
    let all = opsctl_json(&["audit", "list", "--partner", &pid]).await;
    let actions: Vec<&str> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["client.create", "partner.onboard"], "{all}");
    let clients = opsctl_json(&["audit", "list", "--partner", &pid, "--action", "client."]).await;
    assert_eq!(clients["entries"].as_array().unwrap().len(), 1, "{clients}");
    let later = opsctl_json(&[
        "audit",
        "list",
        "--partner",
        &pid,
        "--since",
        "2999-01-01T00:00:00Z",
    ])
    .await;
    assert_eq!(later["entries"], json!([]), "{later}");
    let recent = opsctl_json(&[
        "audit",
        "list",
        "--since",
        &before,
        "--partner",
        &pid,
        "--limit",
        "1",
    ])
    .await;
    assert_eq!(recent["entries"][0]["action"], "client.create", "{recent}");
    let bad = opsctl_run(&["audit", "list", "--since", "yesterday"]).await;
    assert!(!bad.success && bad.stderr.contains("RFC 3339"), "{bad:?}");
}
