//! Key material kept in Secrets Manager: the JWT signing keys and the link key.
//!
//! Signing keys secret (JSON): `{"keys":[{"kid","alg":"EdDSA","private_key","public_key","created_at"}]}`;
//! Newest first; the first key whose `activates_at` (optional) has passed signs new tokens, every
//! listed key verifies. A rotation (`opsctl keys rotate`) puts a new key in front that activates
//! `SIGNING_KEY_ACTIVATION_DELAY` later, so every authorizer can know it before the first token
//! it signs arrives, and keeps each earlier key until the last token it signed has expired. `private_key` is base64 PKCS#8 DER, `public_key` base64 of the
//! raw 32-byte Ed25519 key.
//!
//! Link key secret (JSON): `{"key":"<base64 of 32 random bytes>"}`; HMAC key for certificate links
//! and list cursors (each use derives its own input domain, see `links`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// How long after a rotation the new key starts signing: longer than the authorizer's
/// unknown-`kid` reload interval (`secrets::UNKNOWN_KID_RELOAD_INTERVAL`), so no authorizer
/// refuses a token of the new key.
pub const SIGNING_KEY_ACTIVATION_DELAY_SECONDS: i64 = 15;

#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_key: String,
    pub created_at: String,
    /// When the key starts signing (`time_fmt::format`); absent: as soon as it is in front.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activates_at: Option<String>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SigningKeySet {
    pub keys: Vec<SigningKeyRecord>,
}

impl SigningKeyRecord {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key generation");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("fresh PKCS#8 parses");
        let now = crate::time_fmt::now();
        SigningKeyRecord {
            kid: format!(
                "k{}-{}",
                now.unix_timestamp(),
                &hex::encode(random_bytes::<4>())
            ),
            alg: "EdDSA".into(),
            private_key: B64.encode(pkcs8.as_ref()),
            public_key: B64.encode(pair.public_key().as_ref()),
            created_at: crate::time_fmt::format(now),
            activates_at: None,
        }
    }

    /// When this key starts (or started) signing, in Unix seconds.
    pub fn activation(&self) -> i64 {
        self.activates_at
            .as_deref()
            .or(Some(self.created_at.as_str()))
            .and_then(crate::time_fmt::parse)
            .map(|t| t.unix_timestamp())
            .unwrap_or(i64::MIN)
    }

    pub fn private_der(&self) -> Result<Vec<u8>, String> {
        B64.decode(&self.private_key)
            .map_err(|_| format!("key {} has a malformed private_key", self.kid))
    }

    pub fn public_raw(&self) -> Result<Vec<u8>, String> {
        B64.decode(&self.public_key)
            .map_err(|_| format!("key {} has a malformed public_key", self.kid))
    }
}

impl SigningKeySet {
    /// Put a new key in front that signs from now on (first key of a new secret).
    pub fn rotate(&mut self) -> &SigningKeyRecord {
        self.keys.insert(0, SigningKeyRecord::generate());
        &self.keys[0]
    }

    /// A rotation: a new key in front that starts signing `delay_seconds` from `now`; keys whose
    /// tokens have all expired are dropped (see `prune`).
    pub fn rotate_at(&mut self, now: i64, delay_seconds: i64) -> &SigningKeyRecord {
        let mut key = SigningKeyRecord::generate();
        let at = time::OffsetDateTime::from_unix_timestamp(now + delay_seconds)
            .unwrap_or_else(|_| crate::time_fmt::now());
        key.activates_at = Some(crate::time_fmt::format(at));
        self.keys.insert(0, key);
        self.prune(now);
        &self.keys[0]
    }

    /// Drop keys no valid token can name: a key stops signing when the key before it activates,
    /// and its last token expires `TOKEN_LIFETIME_SECONDS` (+ leeway) after that.
    pub fn prune(&mut self, now: i64) {
        let keep_for = crate::jwt::TOKEN_LIFETIME_SECONDS + crate::jwt::LEEWAY_SECONDS as i64;
        let mut kept = 1.min(self.keys.len());
        for i in 1..self.keys.len() {
            let retired_at = self.keys[i - 1].activation();
            if retired_at.saturating_add(keep_for) < now {
                break;
            }
            kept = i + 1;
        }
        self.keys.truncate(kept);
    }

    /// The key that signs at `now`: the newest one already active.
    pub fn signing_key(&self, now: i64) -> Option<&SigningKeyRecord> {
        self.keys
            .iter()
            .find(|k| k.activation() <= now)
            .or(self.keys.last())
    }

    pub fn current(&self) -> Option<&SigningKeyRecord> {
        self.keys.first()
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct LinkKeyRecord {
    pub key: String,
}

impl LinkKeyRecord {
    pub fn generate() -> Self {
        LinkKeyRecord {
            key: B64.encode(random_bytes::<32>()),
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        match B64.decode(&self.key) {
            Ok(b) if b.len() >= 32 => Ok(b),
            _ => Err("the link key secret must hold at least 32 bytes of base64".into()),
        }
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).expect("system random");
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_activates_later_and_keeps_keys_until_their_tokens_expire() {
        let mut set = SigningKeySet::default();
        set.rotate();
        let first = set.keys[0].kid.clone();
        let now = crate::time_fmt::now().unix_timestamp();
        let second = set.rotate_at(now, 15).kid.clone();
        // The first key signs until the second activates.
        assert_eq!(set.signing_key(now).unwrap().kid, first);
        assert_eq!(set.signing_key(now + 16).unwrap().kid, second);
        // A second rotation within the hour keeps all three: the first key's tokens are valid.
        let third = set.rotate_at(now + 60, 15).kid.clone();
        assert_eq!(set.keys.len(), 3);
        assert_eq!(set.keys[0].kid, third);
        // Once the first key's last token has expired, it is dropped.
        set.prune(now + 15 + 3600 + 31);
        assert_eq!(set.keys.len(), 2);
        assert!(set.keys.iter().all(|k| k.kid != first));
        // Round trip through JSON keeps the activation time.
        let text = serde_json::to_string(&set).unwrap();
        let back: SigningKeySet = serde_json::from_str(&text).unwrap();
        assert_eq!(back.signing_key(now + 100).unwrap().kid, third);
    }

    #[test]
    fn debug_hides_key_material() {
        let k = SigningKeyRecord::generate();
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.private_key));
    }
}
