//! Bearer tokens on `/api/v1`: only valid tokens pass, only in the Authorization header, and
//! scopes decide which routes a token may call.

use blackbox::jwt::{self, RealKey};
use blackbox::{send, unique_tn, Partner, Resp};
use serde_json::{json, Value};

/// A real token, the stack's real signing key, and a probe route that answers 404 to an
/// accepted token (the delivery does not exist) and 401 to a rejected one.
struct Forge {
    p: Partner,
    header: Value,
    claims: Value,
    key: RealKey,
    probe_tn: String,
}

async fn forge() -> Forge {
    let p = Partner::full().await;
    let token = p.token().await;
    let (header, claims) = jwt::decode(&token);
    let kid = header["kid"].as_str().expect("token has a kid").to_string();
    let keys = jwt::real_keys(&p.http).await;
    assert!(!keys.is_empty(), "signing-keys secret has no keys");
    assert_eq!(
        keys[0].kid, kid,
        "tokens must be signed with keys[0], the current key"
    );
    let key = keys.into_iter().next().unwrap();
    Forge {
        p,
        header,
        claims,
        key,
        probe_tn: unique_tn(),
    }
}

impl Forge {
    fn sign(&self, header: &Value, claims: &Value) -> String {
        jwt::sign_eddsa(header, claims, &self.key.pair)
    }

    async fn probe(&self, token: &str) -> Resp {
        self.p
            .get_with(&format!("/sme-deliveries/{}", self.probe_tn), Some(token))
            .await
    }

    async fn assert_accepted(&self, token: &str) {
        self.probe(token).await.expect_error(404, "not_found");
    }

    async fn assert_rejected(&self, token: &str) {
        self.probe(token).await.expect_invalid_token();
    }

    /// Claims with fresh times (valid now) — the control every forgery is compared against.
    fn fresh_claims(&self) -> Value {
        let now = jwt::now();
        let mut c = self.claims.clone();
        c["iat"] = json!(now);
        c["nbf"] = json!(now);
        c["exp"] = json!(now + 3600);
        c["jti"] = json!(ulid::Ulid::new().to_string());
        c
    }

    /// First proves that a token signed like this but with valid claims is accepted, then
    /// that the forged one is rejected.
    async fn assert_claims_rejected(&self, claims: &Value) {
        self.assert_accepted(&self.sign(&self.header, &self.fresh_claims()))
            .await;
        self.assert_rejected(&self.sign(&self.header, claims)).await;
    }
}

#[tokio::test]
async fn a_token_that_expires_while_the_gateway_caches_its_authorization_is_rejected() {
    // API Gateway caches the authorizer's Allow per token for ReauthorizeEvery (300 s); a token
    // that expires inside that window must not live on through the cache.
    let f = forge().await;
    let now = jwt::now();
    let mut c = f.fresh_claims();
    c["exp"] = json!(now + 2);
    let token = f.sign(&f.header, &c);
    f.assert_accepted(&token).await; // authorized and cached now
                                     // Past exp plus the 30 s clock-skew leeway the API allows.
    tokio::time::sleep(std::time::Duration::from_secs(34)).await;
    // Answered by the handler, not the gateway, so the challenge header arrives remapped
    // (x-amzn-Remapped-WWW-Authenticate); the status and body are the contract's.
    f.probe(&token)
        .await
        .expect_oauth_error(401, "invalid_token");
}

#[tokio::test]
async fn token_re_signed_with_the_real_key_and_valid_claims_is_accepted() {
    // The control for every forgery below: our signing helper makes tokens the stack accepts.
    let f = forge().await;
    f.assert_accepted(&f.sign(&f.header, &f.fresh_claims()))
        .await;
}

#[tokio::test]
async fn expired_token_signed_with_the_real_key_is_rejected() {
    let f = forge().await;
    let now = jwt::now();
    let mut c = f.fresh_claims();
    c["iat"] = json!(now - 4200);
    c["nbf"] = json!(now - 4200);
    c["exp"] = json!(now - 600);
    f.assert_claims_rejected(&c).await;
}

#[tokio::test]
async fn token_without_exp_is_rejected() {
    let f = forge().await;
    let mut c = f.fresh_claims();
    c.as_object_mut().unwrap().remove("exp");
    f.assert_claims_rejected(&c).await;
}

#[tokio::test]
async fn not_yet_valid_token_signed_with_the_real_key_is_rejected() {
    let f = forge().await;
    let now = jwt::now();
    let mut c = f.fresh_claims();
    c["iat"] = json!(now);
    c["nbf"] = json!(now + 600);
    c["exp"] = json!(now + 4200);
    f.assert_claims_rejected(&c).await;
}

#[tokio::test]
async fn wrong_issuer_signed_with_the_real_key_is_rejected() {
    let f = forge().await;
    for iss in ["partner-api/staging", "partner-api/production", "evil"] {
        let mut c = f.fresh_claims();
        c["iss"] = json!(iss);
        f.assert_claims_rejected(&c).await;
    }
}

#[tokio::test]
async fn wrong_audience_signed_with_the_real_key_is_rejected() {
    let f = forge().await;
    for aud in [json!("other-api"), json!(["other-api"])] {
        let mut c = f.fresh_claims();
        c["aud"] = aud;
        f.assert_claims_rejected(&c).await;
    }
}

#[tokio::test]
async fn token_signed_by_another_key_with_the_real_kid_is_rejected() {
    let f = forge().await;
    f.assert_accepted(&f.sign(&f.header, &f.fresh_claims()))
        .await;
    let other = jwt::fresh_key();
    let token = jwt::sign_eddsa(&f.header, &f.fresh_claims(), &other);
    f.assert_rejected(&token).await;
}

#[tokio::test]
async fn token_with_an_unknown_kid_is_rejected() {
    let f = forge().await;
    let mut h = f.header.clone();
    h["kid"] = json!("no-such-kid");
    f.assert_accepted(&f.sign(&f.header, &f.fresh_claims()))
        .await;
    let other = jwt::fresh_key();
    f.assert_rejected(&jwt::sign_eddsa(&h, &f.fresh_claims(), &other))
        .await;
}

#[tokio::test]
async fn alg_none_token_is_rejected() {
    let f = forge().await;
    let claims = f.fresh_claims();
    let real = f.sign(&f.header, &claims);
    f.assert_accepted(&real).await;
    let real_sig = real.rsplit('.').next().unwrap().to_string();
    for alg in ["none", "None", "NONE"] {
        let mut h = f.header.clone();
        h["alg"] = json!(alg);
        let unsigned = jwt::unsigned(&h, &claims);
        f.assert_rejected(&unsigned).await;
        // alg none, but carrying a real signature of the original header.
        f.assert_rejected(&format!("{unsigned}{real_sig}")).await;
    }
}

#[tokio::test]
async fn hs256_token_keyed_with_the_public_key_is_rejected() {
    // The algorithm-confusion attack: HMAC keyed with the (public) verification key.
    let f = forge().await;
    let claims = f.fresh_claims();
    f.assert_accepted(&f.sign(&f.header, &claims)).await;
    let mut h = f.header.clone();
    h["alg"] = json!("HS256");
    for secret in [f.key.public.as_slice(), f.key.public_b64.as_bytes()] {
        f.assert_rejected(&jwt::sign_hs256(&h, &claims, secret))
            .await;
    }
}

#[tokio::test]
async fn tampered_claims_under_the_original_signature_are_rejected() {
    let f = forge().await;
    let other = Partner::demo().await;
    let token = f.p.token().await;
    f.assert_accepted(&token).await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut c = f.claims.clone();
    c["partner_id"] = json!(other.kit.partner_id);
    let tampered = format!("{}.{}.{}", parts[0], jwt::b64url_json(&c), parts[2]);
    f.assert_rejected(&tampered).await;
    let mut c = f.claims.clone();
    c["scope"] = json!("insurance tracking control_tower");
    c["exp"] = json!(jwt::now() + 999_999);
    let tampered = format!("{}.{}.{}", parts[0], jwt::b64url_json(&c), parts[2]);
    f.assert_rejected(&tampered).await;
}

#[tokio::test]
async fn garbage_bearer_values_are_rejected() {
    let p = Partner::full().await;
    let real = p.token().await;
    let url = p.url(&format!("/sme-deliveries/{}", unique_tn()));
    for auth in [
        "Bearer garbage".to_string(),
        "Bearer a.b.c".to_string(),
        "Bearer ".to_string(),
        "Bearer".to_string(),
        real.clone(),                                  // no scheme
        format!("Basic {real}"),                       // wrong scheme
        format!("Bearer {real}x"),                     // one byte more
        format!("Bearer {}", &real[..real.len() - 2]), // truncated signature
    ] {
        let resp = send(
            format!("GET {url} Authorization: {auth}"),
            p.http.get(&url).header("Authorization", auth.clone()),
        )
        .await;
        resp.expect_invalid_token();
    }
}

#[tokio::test]
async fn token_in_the_query_string_is_rejected() {
    let p = Partner::full().await;
    let token = p.token().await;
    let tn = unique_tn();
    // Accepted in the header...
    p.get_with(&format!("/sme-deliveries/{tn}"), Some(&token))
        .await
        .expect_error(404, "not_found");
    // ...never in the query string.
    p.get_with(&format!("/sme-deliveries/{tn}?access_token={token}"), None)
        .await
        .expect_invalid_token();
    p.get_with(&format!("/sme-deliveries?access_token={token}"), None)
        .await
        .expect_invalid_token();
}

#[tokio::test]
async fn token_in_the_body_is_rejected_and_nothing_is_stored() {
    let p = Partner::full().await;
    let token = p.token().await;
    let mut body = p.submit_body();
    body["access_token"] = json!(token);
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    p.post_json_with("/sme-deliveries", None, &body)
        .await
        .expect_invalid_token();
    p.assert_not_stored(&tn).await;
}

#[tokio::test]
async fn missing_authorization_is_rejected_on_every_api_route() {
    let p = Partner::full().await;
    let d = p.create_delivery().await;
    for path in [
        format!("/sme-deliveries/{}", d.tracking_number),
        format!("/policies/{}", d.policy_id),
        "/sme-deliveries".to_string(),
    ] {
        p.get_with(&path, None).await.expect_invalid_token();
    }
    let submit = p.submit_body();
    p.post_json_with("/sme-deliveries", None, &submit)
        .await
        .expect_invalid_token();
    p.post_json_with(
        "/tracking-details",
        None,
        &p.tracking_body(&d, "in_process", vec![blackbox::event("in_process", 1)]),
    )
    .await
    .expect_invalid_token();
    p.post_json_with("/sme-deliveries/cancel", None, &p.cancel_body(&d))
        .await
        .expect_invalid_token();
    // Nothing changed.
    p.assert_not_stored(submit["tracking_number"].as_str().unwrap())
        .await;
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["delivery_status"], "created");
    assert_eq!(stored["policy"]["policy_status"], "active");
}

#[tokio::test]
async fn tracking_scoped_token_cannot_submit_or_cancel() {
    let p = Partner::full().await;
    let tracking_only = p.token_with_scope(Some("tracking")).await;
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    p.post_json_with("/sme-deliveries", Some(&tracking_only), &body)
        .await
        .expect_insufficient_scope();
    p.assert_not_stored(&tn).await;

    let d = p.create_delivery().await;
    p.post_json_with(
        "/sme-deliveries/cancel",
        Some(&tracking_only),
        &p.cancel_body(&d),
    )
    .await
    .expect_insufficient_scope();
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["policy"]["policy_status"], "active");

    // The same token may insert tracking details.
    p.post_json_with(
        "/tracking-details",
        Some(&tracking_only),
        &p.tracking_body(&d, "in_process", vec![blackbox::event("in_process", 1)]),
    )
    .await
    .expect_success(200);
}

#[tokio::test]
async fn insurance_scoped_token_cannot_track_or_read() {
    let p = Partner::full().await;
    let insurance_only = p.token_with_scope(Some("insurance")).await;
    // It may submit.
    let body = p.submit_body();
    let resp = p
        .post_json_with("/sme-deliveries", Some(&insurance_only), &body)
        .await;
    resp.expect_success(201);
    let d = blackbox::Delivery {
        tracking_number: body["tracking_number"].as_str().unwrap().to_string(),
        policy_id: resp.json["policy_id"].as_str().unwrap().to_string(),
        url_certificate: resp.json["url_certificate"].as_str().unwrap().to_string(),
        premium: 15_000,
        body: body.clone(),
    };
    p.post_json_with(
        "/tracking-details",
        Some(&insurance_only),
        &p.tracking_body(&d, "in_process", vec![blackbox::event("in_process", 1)]),
    )
    .await
    .expect_insufficient_scope();
    for path in [
        format!("/sme-deliveries/{}", d.tracking_number),
        format!("/policies/{}", d.policy_id),
        "/sme-deliveries".to_string(),
    ] {
        p.get_with(&path, Some(&insurance_only))
            .await
            .expect_insufficient_scope();
    }
    let stored = p.stored(&d.tracking_number).await;
    assert_eq!(stored["delivery_status"], "created");
    assert_eq!(stored["tracking_history"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn control_tower_scoped_token_cannot_write() {
    let p = Partner::full().await;
    let reader = p.token_with_scope(Some("control_tower")).await;
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    p.post_json_with("/sme-deliveries", Some(&reader), &body)
        .await
        .expect_insufficient_scope();
    p.assert_not_stored(&tn).await;
    let d = p.create_delivery().await;
    p.post_json_with(
        "/tracking-details",
        Some(&reader),
        &p.tracking_body(&d, "in_process", vec![blackbox::event("in_process", 1)]),
    )
    .await
    .expect_insufficient_scope();
    p.get_with(
        &format!("/sme-deliveries/{}", d.tracking_number),
        Some(&reader),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn partner_subscribed_only_to_tracking_cannot_submit() {
    let p = Partner::onboard(&["tracking"]).await;
    let body = p.submit_body();
    p.submit(&body).await.expect_insufficient_scope();
}

#[tokio::test]
async fn token_of_another_environment_is_rejected() {
    // What staging would issue: its own key and kid, its own issuer, the same client and partner.
    let f = forge().await;
    let staging_key = jwt::fresh_key();
    let mut header = f.header.clone();
    header["kid"] = json!("staging-key-1");
    let mut c = f.fresh_claims();
    c["iss"] = json!("partner-api/staging");
    f.assert_rejected(&jwt::sign_eddsa(&header, &c, &staging_key))
        .await;
    // Even if staging's key id happened to equal this environment's.
    f.assert_rejected(&jwt::sign_eddsa(&f.header, &c, &staging_key))
        .await;
}

// A revoked client: tests/tests/api/ops.rs, revoke_refuses_new_tokens_at_once_and_issued_tokens_within_the_bound.
