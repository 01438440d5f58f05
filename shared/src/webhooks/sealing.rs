//! Endpoint secrets at rest: AES-256-GCM (aws-lc-rs) under the webhook key, a 32-byte key kept in
//! its own Secrets Manager secret (`WEBHOOK_KEY_SECRET_ID`, filled by `opsctl keys init`). The
//! endpoint's partner and id are the associated data, so a sealed secret copied onto another
//! endpoint does not open. Form: `v1.<base64(nonce || ciphertext || tag)>`.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

const VERSION: &str = "v1.";

#[derive(Clone)]
pub struct SealingKey(Vec<u8>);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() != 32 {
            return Err("the webhook key must be 32 bytes".into());
        }
        Ok(SealingKey(bytes))
    }

    fn key(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte AES key"))
    }

    pub fn seal(&self, aad: &str, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = crate::keys::random_bytes();
        let mut buf = plaintext.as_bytes().to_vec();
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seals");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!("{VERSION}{}", B64.encode(out))
    }

    pub fn open(&self, aad: &str, sealed: &str) -> Option<String> {
        let raw = B64.decode(sealed.strip_prefix(VERSION)?).ok()?;
        if raw.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let mut buf = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self
            .key()
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key_and_endpoint() {
        let k = SealingKey::new(vec![7; 32]).unwrap();
        let sealed = k.seal("p1/we_1", "whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(
            sealed,
            k.seal("p1/we_1", "whsec_abc"),
            "a fresh nonce each time"
        );
        assert_eq!(k.open("p1/we_1", &sealed).as_deref(), Some("whsec_abc"));
        assert_eq!(k.open("p1/we_2", &sealed), None);
        assert_eq!(
            SealingKey::new(vec![8; 32])
                .unwrap()
                .open("p1/we_1", &sealed),
            None
        );
        assert_eq!(k.open("p1/we_1", "v1.AAAA"), None);
        assert!(SealingKey::new(vec![1; 16]).is_err());
        assert_eq!(format!("{k:?}"), "SealingKey(..)");
    }
}
