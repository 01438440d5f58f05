//! Standard Webhooks 1.0 signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` keyed with the
//! secret's decoded bytes over `<webhook-id>.<webhook-timestamp>.<body>`; during a secret
//! rotation, one signature per secret, space-separated.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a new secret (the contract allows 24 to 64).
pub const SECRET_BYTES: usize = 32;
/// How far a receiver should let `webhook-timestamp` be from its clock (the specification's
/// reference libraries use 5 minutes).
pub const TIMESTAMP_TOLERANCE_SECONDS: i64 = 300;

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = crate::keys::random_bytes();
    format!("{SECRET_PREFIX}{}", B64.encode(bytes))
}

/// The key bytes of a `whsec_` secret (24 to 64 bytes), or `None`.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let b = B64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    (24..=64).contains(&b.len()).then_some(b)
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// `v1,<base64>` for one key.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        B64.encode(mac(key, msg_id, timestamp, body).finalize().into_bytes())
    )
}

/// The `webhook-signature` header value: one signature per key, space-separated.
pub fn signature_header(keys: &[Vec<u8>], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| sign(k, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a receiver does (the README's verification code, in Rust): the timestamp is within the
/// tolerance of `now`, and one of the header's `v1` signatures is the HMAC of this secret
/// (compared in constant time).
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> bool {
    let Some(key) = secret_key(secret) else {
        return false;
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECONDS {
        return false;
    }
    signatures.split(' ').any(|s| {
        s.strip_prefix("v1,")
            .and_then(|b| B64.decode(b).ok())
            .is_some_and(|tag| mac(&key, msg_id, ts, body).verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the README and the OpenAPI document (also checked against the PyPI
    /// `standardwebhooks` package by the black-box tests).
    pub const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    pub const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    pub const VECTOR_TIMESTAMP: i64 = 1614265330;
    pub const VECTOR_BODY: &str = r#"{"test": 2432232314}"#;
    /// The Standard Webhooks specification's own example signature for these inputs.
    pub const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_specifications_test_vector() {
        let key = secret_key(VECTOR_SECRET).unwrap();
        assert_eq!(
            sign(&key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY.as_bytes()),
            VECTOR_SIGNATURE
        );
        assert!(verify(
            VECTOR_SECRET,
            VECTOR_ID,
            &VECTOR_TIMESTAMP.to_string(),
            VECTOR_SIGNATURE,
            VECTOR_BODY.as_bytes(),
            VECTOR_TIMESTAMP + 10
        ));
    }

    #[test]
    fn rotation_signs_with_both_and_either_verifies() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(SECRET_PREFIX) && a != b);
        let keys = vec![secret_key(&a).unwrap(), secret_key(&b).unwrap()];
        let header = signature_header(&keys, "evt_1", 100, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&a, "evt_1", "100", &header, b"{}", 100));
        assert!(verify(&b, "evt_1", "100", &header, b"{}", 100));
        assert!(!verify(&new_secret(), "evt_1", "100", &header, b"{}", 100));
    }

    #[test]
    fn tampered_bodies_and_old_timestamps_are_refused() {
        let s = new_secret();
        let key = secret_key(&s).unwrap();
        let sig = sign(&key, "evt_1", 1000, b"{\"a\":1}");
        assert!(verify(&s, "evt_1", "1000", &sig, b"{\"a\":1}", 1000));
        assert!(!verify(&s, "evt_1", "1000", &sig, b"{\"a\":2}", 1000));
        assert!(!verify(&s, "evt_2", "1000", &sig, b"{\"a\":1}", 1000));
        assert!(!verify(&s, "evt_1", "1000", &sig, b"{\"a\":1}", 1000 + 301));
        assert!(!verify(&s, "evt_1", "1001", &sig, b"{\"a\":1}", 1000));
    }

    #[test]
    fn secrets_are_24_to_64_bytes_of_base64() {
        assert!(secret_key(&new_secret()).is_some_and(|k| k.len() == 32));
        assert!(secret_key("whsec_").is_none());
        assert!(secret_key(&format!("whsec_{}", B64.encode([0u8; 23]))).is_none());
        assert!(secret_key(&format!("whsec_{}", B64.encode([0u8; 65]))).is_none());
        assert!(secret_key(&B64.encode([0u8; 32])).is_none());
    }
}
