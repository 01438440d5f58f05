//! `POST /oauth/token`: client credentials, scopes, RFC 6749 §5.2 errors, the JWT it issues.

use std::collections::BTreeSet;

use blackbox::jwt;
use blackbox::partner::basic;
use blackbox::{send, Partner, Resp};
use serde_json::Value;

/// POSTs to the partner's token URL with optional Authorization and Content-Type headers.
async fn post_token(
    p: &Partner,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Resp {
    let mut rb = p.http.post(&p.kit.token_url).body(body.to_string());
    if let Some(a) = authorization {
        rb = rb.header("Authorization", a);
    }
    if let Some(ct) = content_type {
        rb = rb.header("Content-Type", ct);
    }
    send(
        format!(
            "POST {} auth={authorization:?} ct={content_type:?} body={body}",
            p.kit.token_url
        ),
        rb,
    )
    .await
}

const FORM: &str = "application/x-www-form-urlencoded";

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn scope_set(s: &str) -> BTreeSet<String> {
    s.split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Asserts a 200 token response and returns (access_token, granted scope set).
fn expect_token(resp: &Resp) -> (String, BTreeSet<String>) {
    let body = resp.expect(200);
    resp.expect_no_store();
    resp.expect_json_content_type();
    let Some(token) = body["access_token"].as_str() else {
        resp.fail("no access_token")
    };
    if body["token_type"] != "bearer" {
        resp.fail("token_type is not \"bearer\"");
    }
    if body["expires_in"] != 3600 {
        resp.fail("expires_in is not 3600");
    }
    let Some(scope) = body["scope"].as_str() else {
        resp.fail("no scope string")
    };
    (token.to_string(), scope_set(scope))
}

#[tokio::test]
async fn basic_auth_grants_every_subscription_by_default_with_a_well_formed_jwt() {
    let p = Partner::demo().await;
    let resp = p.token_resp(None).await;
    let (token, scope) = expect_token(&resp);
    let subs: BTreeSet<String> = p.kit.subscriptions.iter().cloned().collect();
    assert_eq!(
        scope, subs,
        "default scope must be all the kit's subscriptions"
    );

    let (header, claims) = jwt::decode(&token);
    assert_eq!(header["alg"], "EdDSA", "JWT header: {header}");
    assert!(
        header["kid"].as_str().is_some_and(|k| !k.is_empty()),
        "JWT header has no kid: {header}"
    );
    assert_eq!(claims["iss"], "partner-api/local", "claims: {claims}");
    let aud_ok = claims["aud"] == "partner-api"
        || claims["aud"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "partner-api"));
    assert!(aud_ok, "aud is not partner-api: {claims}");
    assert_eq!(claims["sub"], p.kit.client_id.as_str(), "claims: {claims}");
    assert_eq!(
        claims["partner_id"],
        p.kit.partner_id.as_str(),
        "claims: {claims}"
    );
    assert_eq!(
        scope_set(claims["scope"].as_str().unwrap_or("")),
        subs,
        "scope claim: {claims}"
    );
    let iat = claims["iat"].as_i64().expect("iat is an integer");
    let nbf = claims["nbf"].as_i64().expect("nbf is an integer");
    let exp = claims["exp"].as_i64().expect("exp is an integer");
    assert!((iat - jwt::now()).abs() < 300, "iat is not now: {claims}");
    assert!(nbf <= iat + 1, "nbf after iat: {claims}");
    assert_eq!(exp - iat, 3600, "exp must be iat + 3600: {claims}");
    let jti = claims["jti"].as_str().expect("jti is a string");
    assert!(!jti.is_empty());

    // A second token is a different token (its own jti).
    let (token2, _) = expect_token(&p.token_resp(None).await);
    let (_, claims2) = jwt::decode(&token2);
    assert_ne!(claims2["jti"], claims["jti"], "two tokens share a jti");

    // And it works on an /api/v1 route.
    let probe = p.get_with("/sme-deliveries/NO-SUCH-TN", Some(&token)).await;
    assert_ne!(probe.status, 401, "fresh token rejected: {}", probe.text);
}

#[tokio::test]
async fn form_body_credentials_are_accepted() {
    let p = Partner::demo().await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &p.kit.client_id),
        ("client_secret", &p.kit.client_secret),
    ]);
    let resp = post_token(&p, None, Some(FORM), &body).await;
    let (token, _) = expect_token(&resp);
    let (_, claims) = jwt::decode(&token);
    assert_eq!(claims["sub"], p.kit.client_id.as_str());
}

#[tokio::test]
async fn form_content_type_with_charset_is_accepted() {
    let p = Partner::demo().await;
    let resp = post_token(
        &p,
        Some(&p.basic_auth_header()),
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        "grant_type=client_credentials",
    )
    .await;
    expect_token(&resp);
}

#[tokio::test]
async fn requested_scope_subset_is_granted_and_only_it() {
    let p = Partner::full().await;
    let (token, scope) = expect_token(&p.token_resp(Some("tracking")).await);
    assert_eq!(scope, scope_set("tracking"));
    let (_, claims) = jwt::decode(&token);
    assert_eq!(claims["scope"], "tracking");

    let (token, scope) = expect_token(&p.token_resp(Some("control_tower insurance")).await);
    assert_eq!(scope, scope_set("insurance control_tower"));
    let (_, claims) = jwt::decode(&token);
    assert_eq!(
        scope_set(claims["scope"].as_str().unwrap_or("")),
        scope_set("insurance control_tower")
    );
}

#[tokio::test]
async fn onboarded_partner_default_scope_is_its_subscriptions() {
    let p = Partner::onboard(&["insurance", "tracking"]).await;
    let (_, scope) = expect_token(&p.token_resp(None).await);
    assert_eq!(scope, scope_set("insurance tracking"));
}

#[tokio::test]
async fn scope_beyond_subscriptions_is_invalid_scope() {
    let p = Partner::onboard(&["insurance", "tracking"]).await;
    for scope in [
        "control_tower",
        "insurance control_tower",
        "admin",
        "insurance tracking control_tower",
    ] {
        p.token_resp(Some(scope))
            .await
            .expect_token_error(400, "invalid_scope");
    }
}

#[tokio::test]
async fn both_client_auth_methods_at_once_is_invalid_request() {
    let p = Partner::demo().await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &p.kit.client_id),
        ("client_secret", &p.kit.client_secret),
    ]);
    post_token(&p, Some(&p.basic_auth_header()), Some(FORM), &body)
        .await
        .expect_token_error(400, "invalid_request");
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let p = Partner::demo().await;
    for body in ["", "scope=insurance"] {
        post_token(&p, Some(&p.basic_auth_header()), Some(FORM), body)
            .await
            .expect_token_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn other_grant_types_are_unsupported_grant_type() {
    let p = Partner::demo().await;
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "client_credential",
    ] {
        let body = form(&[("grant_type", grant)]);
        post_token(&p, Some(&p.basic_auth_header()), Some(FORM), &body)
            .await
            .expect_token_error(400, "unsupported_grant_type");
    }
}

#[tokio::test]
async fn body_that_is_not_form_urlencoded_is_invalid_request() {
    let p = Partner::demo().await;
    let json_body = r#"{"grant_type":"client_credentials"}"#;
    post_token(
        &p,
        Some(&p.basic_auth_header()),
        Some("application/json"),
        json_body,
    )
    .await
    .expect_token_error(400, "invalid_request");
    post_token(
        &p,
        Some(&p.basic_auth_header()),
        Some("text/plain"),
        "grant_type=client_credentials",
    )
    .await
    .expect_token_error(400, "invalid_request");
    post_token(
        &p,
        Some(&p.basic_auth_header()),
        None,
        "grant_type=client_credentials",
    )
    .await
    .expect_token_error(400, "invalid_request");
}

#[tokio::test]
async fn repeated_form_parameter_is_invalid_request() {
    let p = Partner::demo().await;
    for body in [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=insurance&scope=tracking",
    ] {
        post_token(&p, Some(&p.basic_auth_header()), Some(FORM), body)
            .await
            .expect_token_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn no_client_credentials_is_invalid_client() {
    let p = Partner::demo().await;
    post_token(&p, None, Some(FORM), "grant_type=client_credentials")
        .await
        .expect_token_error(401, "invalid_client");
}

/// The name under which the token function's `WWW-Authenticate` reaches a client. API Gateway
/// REST renames that header in Lambda proxy responses to `x-amzn-Remapped-WWW-Authenticate`
/// (devstack copies this). Until the token route's integration is changed so the gateway itself
/// sets the challenge (a known deviation from RFC 6749 §5.2, tracked in the closing note of the
/// working-spine issue), the test pins what the partner actually receives.
const CHALLENGE_HEADER: &str = "x-amzn-remapped-www-authenticate";

/// 401 invalid_client with the `Basic` challenge.
fn expect_basic_challenge(resp: &Resp) -> Value {
    let body = resp.expect_token_error(401, "invalid_client").clone();
    let www = resp
        .header("www-authenticate")
        .or_else(|| resp.header(CHALLENGE_HEADER))
        .unwrap_or("");
    if !www.to_ascii_lowercase().starts_with("basic") {
        resp.fail("401 after Basic auth must carry the Basic challenge");
    }
    body
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_are_the_same_invalid_client_with_basic() {
    let p = Partner::demo().await;
    let wrong_secret = post_token(
        &p,
        Some(&basic(&p.kit.client_id, "not-the-secret")),
        Some(FORM),
        "grant_type=client_credentials",
    )
    .await;
    let unknown_client = post_token(
        &p,
        Some(&basic("no-such-client-id", &p.kit.client_secret)),
        Some(FORM),
        "grant_type=client_credentials",
    )
    .await;
    let a = expect_basic_challenge(&wrong_secret);
    let b = expect_basic_challenge(&unknown_client);
    assert_eq!(
        a, b,
        "wrong secret and unknown client must be indistinguishable"
    );
    assert_eq!(
        wrong_secret.header(CHALLENGE_HEADER),
        unknown_client.header(CHALLENGE_HEADER)
    );
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_are_the_same_invalid_client_with_form() {
    let p = Partner::demo().await;
    let wrong_secret = post_token(
        &p,
        None,
        Some(FORM),
        &form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &p.kit.client_id),
            ("client_secret", "not-the-secret"),
        ]),
    )
    .await;
    let unknown_client = post_token(
        &p,
        None,
        Some(FORM),
        &form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "no-such-client-id"),
            ("client_secret", &p.kit.client_secret),
        ]),
    )
    .await;
    let a = wrong_secret
        .expect_token_error(401, "invalid_client")
        .clone();
    let b = unknown_client
        .expect_token_error(401, "invalid_client")
        .clone();
    assert_eq!(
        a, b,
        "wrong secret and unknown client must be indistinguishable"
    );
}

#[tokio::test]
async fn another_partners_secret_does_not_authenticate() {
    let a = Partner::demo().await;
    let b = Partner::onboard(&["tracking"]).await;
    let resp = post_token(
        &a,
        Some(&basic(&a.kit.client_id, &b.kit.client_secret)),
        Some(FORM),
        "grant_type=client_credentials",
    )
    .await;
    expect_basic_challenge(&resp);
}

#[tokio::test]
async fn token_endpoint_responses_carry_a_request_id() {
    let p = Partner::demo().await;
    let ok = p.token_resp(None).await;
    ok.expect(200);
    let bad = post_token(&p, None, Some(FORM), "grant_type=client_credentials").await;
    bad.expect(401);
    assert_ne!(
        ok.request_id(),
        bad.request_id(),
        "two requests share a request id"
    );
}
