//! Signing-key rotation without downtime: after a new key is put in front of the secret, tokens
//! signed by it are accepted by the (warm) authorizer, and tokens signed by the previous key
//! stay valid.

use std::time::{Duration, Instant};

use blackbox::jwt;
use blackbox::{unique_tn, Partner, Stack};
use serde_json::json;

#[tokio::test]
async fn a_rotated_key_is_accepted_and_the_previous_keys_tokens_stay_valid() {
    let Some(st) = Stack::start_private() else {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
        return;
    };
    let p = Partner::from_kit(st.demo_kit_json());
    let probe_path = format!("/sme-deliveries/{}", unique_tn());
    let old_token = p.token().await;
    // Accepted (the delivery does not exist: 404 from the handler, not 401).
    p.get_with(&probe_path, Some(&old_token))
        .await
        .expect_error(404, "not_found");

    let (header, claims) = jwt::decode(&old_token);
    let mut secret = jwt::signing_keys_secret(&p.http, &st).await;
    let old_kid = secret["keys"][0]["kid"].clone();
    assert_eq!(header["kid"], old_kid);
    let new_kid = format!("rot-{}", ulid::Ulid::new().to_string().to_lowercase());
    let (record, pair) = jwt::new_key_record(&new_kid);
    let keys = secret["keys"].as_array_mut().unwrap();
    keys.insert(0, record);
    jwt::put_signing_keys_secret(&p.http, &st, &secret).await;

    // A token signed with the new key, as the token function signs once it picks up the
    // rotation. Each attempt is a new token (new jti), so no cached authorizer result is reused.
    let mut new_header = header.clone();
    new_header["kid"] = json!(new_kid);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut c = claims.clone();
        let now = jwt::now();
        c["iat"] = json!(now);
        c["nbf"] = json!(now);
        c["exp"] = json!(now + 3600);
        c["jti"] = json!(ulid::Ulid::new().to_string());
        let token = jwt::sign_eddsa(&new_header, &c, &pair);
        let resp = p.get_with(&probe_path, Some(&token)).await;
        if resp.status == 404 {
            resp.expect_error(404, "not_found");
            break;
        }
        resp.expect_invalid_token();
        if Instant::now() > deadline {
            resp.fail("a token signed by the rotated-in key is still refused after 40 s");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // The previous key's token is still valid.
    p.get_with(&probe_path, Some(&old_token))
        .await
        .expect_error(404, "not_found");
    // And the new kid does not accept another key's signature.
    let mut c = claims.clone();
    c["jti"] = json!(ulid::Ulid::new().to_string());
    let forged = jwt::sign_eddsa(&new_header, &c, &jwt::fresh_key());
    p.get_with(&probe_path, Some(&forged))
        .await
        .expect_invalid_token();
}
