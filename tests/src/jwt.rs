//! Reading and forging JWTs, with the stack's real signing key fetched from the local
//! Secrets Manager (moto does not check request signatures).

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use crate::http::{send, Resp};
use crate::stack::{stack, Stack};

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_json(v: &Value) -> String {
    b64url(&serde_json::to_vec(v).unwrap())
}

/// Header and claims of a compact JWT (the signature is not checked).
pub fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    let part = |s: &str| -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .unwrap_or_else(|e| panic!("JWT part is not base64url ({e}): {s}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT part is not JSON ({e}): {s}"))
    };
    (part(parts[0]), part(parts[1]))
}

/// Signs `header.claims` with an Ed25519 key pair.
pub fn sign_eddsa(header: &Value, claims: &Value, key: &Ed25519KeyPair) -> String {
    let input = format!("{}.{}", b64url_json(header), b64url_json(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64url(sig.as_ref()))
}

/// Signs `header.claims` with HMAC-SHA256 under `secret`.
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64url_json(header), b64url_json(claims));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(tag.as_ref()))
}

/// `header.claims.` with an empty signature.
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", b64url_json(header), b64url_json(claims))
}

/// One signing key from the signing-keys secret.
pub struct RealKey {
    pub kid: String,
    pub pair: Ed25519KeyPair,
    /// Raw 32-byte public key.
    pub public: Vec<u8>,
    /// The `public_key` field as stored (base64).
    pub public_b64: String,
}

/// Calls the stack's local Secrets Manager (moto does not check request signatures).
pub async fn secrets_manager(
    http: &reqwest::Client,
    st: &Stack,
    action: &str,
    body: &Value,
) -> Resp {
    let info = st.stack_json();
    let endpoint = info["secretsmanager_endpoint"]
        .as_str()
        .unwrap_or_else(|| panic!("stack.json has no secretsmanager_endpoint: {info}"));
    let region = info["region"].as_str().unwrap_or("us-east-1");
    send(
        format!("POST {endpoint} {action}"),
        http.post(endpoint)
            .header("X-Amz-Target", format!("secretsmanager.{action}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=test/20240101/{region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"
                ),
            )
            .body(body.to_string()),
    )
    .await
}

/// The signing-keys secret id of a stack.
pub fn signing_keys_secret_id(st: &Stack) -> String {
    let info = st.stack_json();
    info["signing_keys_secret_id"]
        .as_str()
        .unwrap_or_else(|| panic!("stack.json has no signing_keys_secret_id: {info}"))
        .to_string()
}

/// The signing-keys secret as stored (`{"keys":[...]}`).
pub async fn signing_keys_secret(http: &reqwest::Client, st: &Stack) -> Value {
    let resp = secrets_manager(
        http,
        st,
        "GetSecretValue",
        &json!({ "SecretId": signing_keys_secret_id(st) }),
    )
    .await;
    if resp.status != 200 {
        resp.fail("GetSecretValue on the local Secrets Manager failed");
    }
    serde_json::from_str(resp.json["SecretString"].as_str().unwrap_or(""))
        .unwrap_or_else(|e| resp.fail(&format!("SecretString is not JSON: {e}")))
}

/// Replaces the signing-keys secret (a rotation done by hand).
pub async fn put_signing_keys_secret(http: &reqwest::Client, st: &Stack, secret: &Value) {
    let resp = secrets_manager(
        http,
        st,
        "PutSecretValue",
        &json!({ "SecretId": signing_keys_secret_id(st), "SecretString": secret.to_string() }),
    )
    .await;
    if resp.status != 200 {
        resp.fail("PutSecretValue on the local Secrets Manager failed");
    }
}

/// A new signing-key record in the secret's format, and its key pair.
pub fn new_key_record(kid: &str) -> (Value, Ed25519KeyPair) {
    let pair = fresh_key();
    let pkcs8 = pair.to_pkcs8().expect("PKCS#8 of a fresh key");
    let record = json!({
        "kid": kid,
        "alg": "EdDSA",
        "private_key": STANDARD.encode(pkcs8.as_ref()),
        "public_key": STANDARD.encode(pair.public_key().as_ref()),
        "created_at": crate::partner::rfc3339(time::OffsetDateTime::now_utc()),
    });
    (record, pair)
}

/// The shared stack's signing keys (keys[0] is the current one).
pub async fn real_keys(http: &reqwest::Client) -> Vec<RealKey> {
    real_keys_of(http, stack()).await
}

/// A stack's signing keys, read from its local Secrets Manager.
pub async fn real_keys_of(http: &reqwest::Client, st: &Stack) -> Vec<RealKey> {
    let secret = signing_keys_secret(http, st).await;
    let keys = secret["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("signing-keys secret has no `keys` array"));
    keys.iter()
        .map(|k| {
            let kid = k["kid"].as_str().expect("key has a kid").to_string();
            assert_eq!(k["alg"], "EdDSA", "signing key {kid} is not EdDSA");
            let der = STANDARD
                .decode(k["private_key"].as_str().expect("key has private_key"))
                .expect("private_key is base64");
            let pair = Ed25519KeyPair::from_pkcs8(&der)
                .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der))
                .expect("private_key is an Ed25519 PKCS#8 document");
            let public_b64 = k["public_key"]
                .as_str()
                .expect("key has public_key")
                .to_string();
            let public = STANDARD.decode(&public_b64).expect("public_key is base64");
            assert_eq!(
                public.as_slice(),
                pair.public_key().as_ref(),
                "public_key of {kid} does not match its private key"
            );
            RealKey {
                kid,
                pair,
                public,
                public_b64,
            }
        })
        .collect()
}

/// A fresh Ed25519 key pair nobody else knows.
pub fn fresh_key() -> Ed25519KeyPair {
    Ed25519KeyPair::generate().expect("generating an Ed25519 key")
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
