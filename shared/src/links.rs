//! Unguessable, verifiable tokens: certificate links and list cursors (HMAC-SHA256 with the link key).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of MAC kept in a certificate link (128 bits).
const CERT_MAC_BYTES: usize = 16;

#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        LinkKey(bytes)
    }

    fn mac(&self, domain: &str, parts: &[&str]) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(domain.as_bytes());
        for p in parts {
            m.update(&[0]);
            m.update(p.as_bytes());
        }
        m
    }

    /// `<policy_id>.<hex MAC>`: the token in a certificate URL. The MAC binds the partner too, so a
    /// link cannot be re-pointed at another partner's policy.
    pub fn certificate_token(&self, partner_id: &str, policy_id: &str) -> String {
        let tag = self
            .mac("certificate", &[partner_id, policy_id])
            .finalize()
            .into_bytes();
        format!("{policy_id}.{}", hex::encode(&tag[..CERT_MAC_BYTES]))
    }

    /// The policy id a certificate token names, if its form is right (the MAC is checked by
    /// `verify_certificate_token` once the policy's partner is known).
    pub fn certificate_policy_id(token: &str) -> Option<&str> {
        let (policy_id, tag) = token.split_once('.')?;
        (tag.len() == CERT_MAC_BYTES * 2 && !policy_id.is_empty()).then_some(policy_id)
    }

    pub fn verify_certificate_token(&self, partner_id: &str, token: &str) -> bool {
        let Some((policy_id, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        tag.len() == CERT_MAC_BYTES
            && self
                .mac("certificate", &[partner_id, policy_id])
                .verify_truncated_left(&tag)
                .is_ok()
    }

    /// Seal a cursor payload for one partner and one query shape.
    pub fn seal_cursor(&self, partner_id: &str, query: &str, payload: &str) -> String {
        let tag = self
            .mac("cursor", &[partner_id, query, payload])
            .finalize()
            .into_bytes();
        format!("{}.{}", B64U.encode(payload), B64U.encode(tag))
    }

    /// Open a cursor; `None` if it was altered, or sealed for another partner or another query.
    pub fn open_cursor(&self, partner_id: &str, query: &str, cursor: &str) -> Option<String> {
        let (payload, tag) = cursor.split_once('.')?;
        let payload = String::from_utf8(B64U.decode(payload).ok()?).ok()?;
        let tag = B64U.decode(tag).ok()?;
        self.mac("cursor", &[partner_id, query, &payload])
            .verify_slice(&tag)
            .ok()?;
        Some(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkKey {
        LinkKey::new(vec![7; 32])
    }

    #[test]
    fn certificate_tokens_verify_only_for_their_partner_and_policy() {
        let k = key();
        let t = k.certificate_token("ptn_a", "pol_1");
        assert!(k.verify_certificate_token("ptn_a", &t));
        assert_eq!(LinkKey::certificate_policy_id(&t), Some("pol_1"));
        assert!(!k.verify_certificate_token("ptn_b", &t));
        let moved = t.replacen("pol_1", "pol_2", 1);
        assert!(!k.verify_certificate_token("ptn_a", &moved));
        assert!(!k.verify_certificate_token("ptn_a", &t[..t.len() - 1]));
        assert!(!LinkKey::new(vec![8; 32]).verify_certificate_token("ptn_a", &t));
    }

    #[test]
    fn cursors_are_tamper_proof_and_bound() {
        let k = key();
        let c = k.seal_cursor("ptn_a", "q1", r#"{"x":1}"#);
        assert_eq!(
            k.open_cursor("ptn_a", "q1", &c).as_deref(),
            Some(r#"{"x":1}"#)
        );
        assert!(k.open_cursor("ptn_b", "q1", &c).is_none());
        assert!(k.open_cursor("ptn_a", "q2", &c).is_none());
        let (p, t) = c.split_once('.').unwrap();
        let other = B64U.encode(r#"{"x":2}"#);
        assert!(k
            .open_cursor("ptn_a", "q1", &format!("{other}.{t}"))
            .is_none());
        assert!(k.open_cursor("ptn_a", "q1", p).is_none());
        assert!(k.open_cursor("ptn_a", "q1", "garbage").is_none());
    }
}
