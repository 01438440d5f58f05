//! Key material kept in Secrets Manager: the JWT signing keys and the link key.
//!
//! Signing keys secret (JSON): `{"keys":[{"kid","alg":"EdDSA","private_key","public_key","created_at"}]}`;
//! `keys[0]` signs new tokens, every listed key verifies (so tokens signed by the previous key
//! stay valid through a rotation). `private_key` is base64 PKCS#8 DER, `public_key` base64 of the
//! raw 32-byte Ed25519 key.
//!
//! Link key secret (JSON): `{"key":"<base64 of 32 random bytes>"}`; HMAC key for certificate links
//! and list cursors (each use derives its own input domain, see `links`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Keys kept in the signing secret after a rotation: the new one and the previous one.
pub const KEEP_SIGNING_KEYS: usize = 2;

#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_key: String,
    pub created_at: String,
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
        }
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
    /// Put a new key in front (it signs from now on) and keep the previous one for verification.
    pub fn rotate(&mut self) -> &SigningKeyRecord {
        self.keys.insert(0, SigningKeyRecord::generate());
        self.keys.truncate(KEEP_SIGNING_KEYS);
        &self.keys[0]
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
    fn rotation_keeps_current_and_previous() {
        let mut set = SigningKeySet::default();
        let first = set.rotate().kid.clone();
        let second = set.rotate().kid.clone();
        set.rotate();
        assert_eq!(set.keys.len(), 2);
        assert_eq!(set.keys[1].kid, second);
        assert!(set.keys.iter().all(|k| k.kid != first));
    }

    #[test]
    fn debug_hides_key_material() {
        let k = SigningKeyRecord::generate();
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.private_key));
    }
}
