//! Access tokens: EdDSA (Ed25519) JWTs with a `kid`, the algorithm pinned on both sides.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Scopes};
use crate::keys::{SigningKeyRecord, SigningKeySet};

pub const AUDIENCE: &str = "partner-api";
pub const TOKEN_LIFETIME_SECONDS: i64 = 3600;
/// Clock skew tolerated on `exp`/`nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The issuer names the environment, so a token of one environment never works in another.
pub fn issuer(environment: &str) -> String {
    format!("partner-api/{environment}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The client id.
    pub sub: String,
    pub partner_id: String,
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

impl Claims {
    pub fn new(
        environment: &str,
        client_id: &str,
        partner_id: &str,
        scopes: &Scopes,
        now: i64,
    ) -> Self {
        Claims {
            iss: issuer(environment),
            aud: AUDIENCE.into(),
            sub: client_id.into(),
            partner_id: partner_id.into(),
            scope: scopes.to_string(),
            iat: now,
            nbf: now,
            exp: now + TOKEN_LIFETIME_SECONDS,
            jti: ulid::Ulid::new().to_string(),
        }
    }

    pub fn principal(&self) -> Result<Principal, String> {
        Ok(Principal {
            partner_id: self.partner_id.clone(),
            client_id: self.sub.clone(),
            scopes: Scopes::parse(&self.scope).map_err(|w| format!("unknown scope {w}"))?,
        })
    }
}

/// Signs with one key.
pub struct Signer {
    kid: String,
    key: EncodingKey,
}

impl Signer {
    pub fn new(record: &SigningKeyRecord) -> Result<Self, String> {
        Ok(Signer {
            kid: record.kid.clone(),
            key: EncodingKey::from_ed_der(&record.private_der()?),
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| format!("signing failed: {e}"))
    }
}

/// Verifies with every key of a set, chosen by `kid`.
pub struct Verifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The token names a key this verifier does not have (it may have been rotated in since the keys were read).
    UnknownKid,
    Invalid(String),
}

impl Verifier {
    pub fn new(set: &SigningKeySet, environment: &str) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for k in &set.keys {
            if k.alg != "EdDSA" {
                return Err(format!("key {} has unsupported alg {}", k.kid, k.alg));
            }
            keys.insert(k.kid.clone(), DecodingKey::from_ed_der(&k.public_raw()?));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[issuer(environment)]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(Verifier { keys, validation })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Invalid(format!("malformed token: {e}")))?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Invalid("unexpected algorithm".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| VerifyError::Invalid("token has no kid".into()))?;
        let key = self.keys.get(&kid).ok_or(VerifyError::UnknownKid)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| VerifyError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
    use base64::Engine;

    fn setup() -> (SigningKeySet, Signer, Verifier) {
        let mut set = SigningKeySet::default();
        set.rotate();
        let signer = Signer::new(set.current().unwrap()).unwrap();
        let verifier = Verifier::new(&set, "test").unwrap();
        (set, signer, verifier)
    }

    fn now() -> i64 {
        crate::time_fmt::now().unix_timestamp()
    }

    fn claims() -> Claims {
        Claims::new(
            "test",
            "cli_1",
            "ptn_1",
            &Scopes::parse("insurance tracking").unwrap(),
            now(),
        )
    }

    #[test]
    fn round_trip() {
        let (_, s, v) = setup();
        let c = claims();
        assert_eq!(v.verify(&s.sign(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn previous_key_still_verifies_after_rotation() {
        let (mut set, old_signer, _) = setup();
        let token = old_signer.sign(&claims()).unwrap();
        set.rotate();
        let v = Verifier::new(&set, "test").unwrap();
        assert!(v.verify(&token).is_ok());
        // Once the old key's tokens have all expired, it drops out.
        set.prune(now() + TOKEN_LIFETIME_SECONDS + LEEWAY_SECONDS as i64 + 1);
        let v = Verifier::new(&set, "test").unwrap();
        assert_eq!(v.verify(&token).unwrap_err(), VerifyError::UnknownKid);
    }

    #[test]
    fn rejects_expired_future_foreign_and_forged() {
        let (_, s, v) = setup();
        let mut c = claims();
        c.exp = now() - 120;
        assert!(v.verify(&s.sign(&c).unwrap()).is_err(), "expired");
        let mut c = claims();
        c.nbf = now() + 600;
        assert!(v.verify(&s.sign(&c).unwrap()).is_err(), "not yet valid");
        let mut c = claims();
        c.iss = issuer("production");
        assert!(v.verify(&s.sign(&c).unwrap()).is_err(), "other environment");
        let mut c = claims();
        c.aud = "other".into();
        assert!(v.verify(&s.sign(&c).unwrap()).is_err(), "audience");

        // alg none: header and claims only.
        let good = s.sign(&claims()).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let none_header = B64U.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(v.verify(&format!("{none_header}.{}.", parts[1])).is_err());
        // Tampered claims with the original signature.
        let mut c = claims();
        c.partner_id = "ptn_other".into();
        let forged = B64U.encode(serde_json::to_vec(&c).unwrap());
        assert!(v
            .verify(&format!("{}.{forged}.{}", parts[0], parts[2]))
            .is_err());
        // Signed by another key under the same kid.
        let mut other = SigningKeySet::default();
        other.rotate();
        other.keys[0].kid = s.kid.clone();
        let evil = Signer::new(other.current().unwrap()).unwrap();
        assert!(v.verify(&evil.sign(&claims()).unwrap()).is_err());
    }
}
