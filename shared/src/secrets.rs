//! Reading the key secrets from Secrets Manager, cached in the process.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use serde::de::DeserializeOwned;

use crate::cache::Lazy;
use crate::error::ApiError;
use crate::jwt::{Signer, Verifier, VerifyError};
use crate::keys::{LinkKeyRecord, SigningKeySet};
use crate::links::LinkKey;

/// Read a JSON secret.
pub async fn read_json<T: DeserializeOwned>(
    client: &Client,
    secret_id: &str,
) -> Result<T, ApiError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            ApiError::Unavailable(format!(
                "reading secret {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| ApiError::Internal(format!("secret {secret_id} has no string value")))?;
    serde_json::from_str(text).map_err(|_| {
        ApiError::Internal(format!(
            "secret {secret_id} is not in the expected JSON form"
        ))
    })
}

/// How long the token function keeps the signing keys before re-reading the secret: a rotation
/// reaches it within this time (the new key signs from its activation time, or from the next
/// re-read if that is later).
pub const SIGNER_TTL: Duration = Duration::from_secs(60);
/// How long verification keys are kept at most (a removed key stops verifying within this time).
pub const VERIFIER_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` re-reads the keys at most this often.
pub const UNKNOWN_KID_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// The signing keys, lazily read and cached: signer for the token function, verifier for the authorizer.
pub struct SigningKeys {
    client: Client,
    secret_id: String,
    environment: String,
    signer: Lazy<Vec<(i64, Arc<Signer>)>>,
    verifier: Lazy<Verifier>,
}

impl SigningKeys {
    pub fn new(client: Client, secret_id: String, environment: String) -> Self {
        SigningKeys {
            client,
            secret_id,
            environment,
            signer: Lazy::new(SIGNER_TTL),
            verifier: Lazy::new(VERIFIER_TTL),
        }
    }

    async fn read(&self) -> Result<SigningKeySet, ApiError> {
        read_json::<SigningKeySet>(&self.client, &self.secret_id).await
    }

    /// The signer of the key active now (a rotated-in key starts signing at its activation time).
    pub async fn signer(&self) -> Result<Arc<Signer>, ApiError> {
        let signers = self
            .signer
            .get(|| async {
                let set = self.read().await?;
                if set.keys.is_empty() {
                    return Err(ApiError::Internal(
                        "the signing key secret holds no key; run `opsctl keys init`".into(),
                    ));
                }
                set.keys
                    .iter()
                    .map(|k| Ok((k.activation(), Arc::new(Signer::new(k)?))))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(ApiError::Internal)
            })
            .await?;
        let now = crate::time_fmt::now().unix_timestamp();
        signers
            .iter()
            .find(|(at, _)| *at <= now)
            .or(signers.last())
            .map(|(_, s)| s.clone())
            .ok_or_else(|| ApiError::Internal("no signing key".into()))
    }

    async fn verifier(&self) -> Result<Arc<Verifier>, ApiError> {
        self.verifier
            .get(|| async {
                let set = self.read().await?;
                Verifier::new(&set, &self.environment).map_err(ApiError::Internal)
            })
            .await
    }

    /// Read the verification keys now (the authorizer's init), so invocations verify without a network call.
    pub async fn preload_verifier(&self) -> Result<(), ApiError> {
        self.verifier().await.map(|_| ())
    }

    /// Verify a token. Warm: no network call. A token naming a key not yet known re-reads the
    /// secret once (rate-limited), which is how a rotation reaches a warm authorizer.
    pub async fn verify(&self, token: &str) -> Result<crate::jwt::Claims, VerifyOutcome> {
        let v = self.verifier().await.map_err(VerifyOutcome::Unavailable)?;
        match v.verify(token) {
            Ok(c) => Ok(c),
            Err(VerifyError::Invalid(why)) => Err(VerifyOutcome::Invalid(why)),
            Err(VerifyError::UnknownKid) => {
                if !self
                    .verifier
                    .invalidate_if_older_than(UNKNOWN_KID_RELOAD_INTERVAL)
                {
                    return Err(VerifyOutcome::Invalid("unknown kid".into()));
                }
                let v = self.verifier().await.map_err(VerifyOutcome::Unavailable)?;
                v.verify(token)
                    .map_err(|e| VerifyOutcome::Invalid(format!("{e:?}")))
            }
        }
    }
}

#[derive(Debug)]
pub enum VerifyOutcome {
    /// The token is not acceptable (401).
    Invalid(String),
    /// The keys could not be read.
    Unavailable(ApiError),
}

/// The link key (certificate links, cursors), lazily read once per container.
pub struct LinkKeys {
    client: Client,
    secret_id: String,
    key: Lazy<LinkKey>,
}

impl LinkKeys {
    pub fn new(client: Client, secret_id: String) -> Self {
        LinkKeys {
            client,
            secret_id,
            key: Lazy::new(Duration::from_secs(24 * 3600)),
        }
    }

    pub async fn get(&self) -> Result<Arc<LinkKey>, ApiError> {
        self.key
            .get(|| async {
                let rec = read_json::<LinkKeyRecord>(&self.client, &self.secret_id).await?;
                Ok(LinkKey::new(rec.bytes().map_err(ApiError::Internal)?))
            })
            .await
    }
}

/// The key that seals webhook endpoint secrets (`webhooks::sealing`), lazily read once per
/// container. Its secret holds `{"key": "<base64 of 32 bytes>"}` (the link key's form).
pub struct WebhookKeys {
    client: Client,
    secret_id: String,
    key: Lazy<crate::webhooks::sealing::SealingKey>,
}

impl WebhookKeys {
    pub fn new(client: Client, secret_id: String) -> Self {
        WebhookKeys {
            client,
            secret_id,
            key: Lazy::new(Duration::from_secs(24 * 3600)),
        }
    }

    pub async fn get(&self) -> Result<Arc<crate::webhooks::sealing::SealingKey>, ApiError> {
        self.key
            .get(|| async {
                let rec = read_json::<LinkKeyRecord>(&self.client, &self.secret_id).await?;
                let bytes = rec.bytes().map_err(ApiError::Internal)?;
                crate::webhooks::sealing::SealingKey::new(bytes[..32].to_vec())
                    .map_err(ApiError::Internal)
            })
            .await
    }
}
