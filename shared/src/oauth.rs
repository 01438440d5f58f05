//! The token endpoint's logic (RFC 6749 client credentials) and its error boundary (§5.2).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::Scopes;
use crate::jwt::{Claims, TOKEN_LIFETIME_SECONDS};
use crate::secrets::SigningKeys;
use crate::store::Store;

#[derive(Debug, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest(String),
    UnsupportedGrantType,
    InvalidScope(String),
    /// Unknown client, wrong secret, revoked client or no credentials: all look the same.
    InvalidClient {
        basic: bool,
    },
    Unavailable(String),
    Internal(String),
}

impl OAuthError {
    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient { .. } => 401,
            OAuthError::Unavailable(_) => 503,
            OAuthError::Internal(_) => 500,
            _ => 400,
        }
    }

    pub fn body(&self) -> Value {
        let (error, description) = match self {
            OAuthError::InvalidRequest(d) => ("invalid_request", d.as_str()),
            OAuthError::UnsupportedGrantType => (
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported.",
            ),
            OAuthError::InvalidScope(d) => ("invalid_scope", d.as_str()),
            OAuthError::InvalidClient { .. } => ("invalid_client", "Client authentication failed."),
            OAuthError::Unavailable(_) => (
                "temporarily_unavailable",
                "The service is temporarily unavailable; retry later.",
            ),
            OAuthError::Internal(_) => ("server_error", "Internal error."),
        };
        json!({"error": error, "error_description": description})
    }

    pub fn log_detail(&self) -> String {
        match self {
            OAuthError::Unavailable(d) | OAuthError::Internal(d) => d.clone(),
            other => other.body()["error"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }
}

impl From<crate::error::ApiError> for OAuthError {
    fn from(e: crate::error::ApiError) -> Self {
        match e {
            crate::error::ApiError::Unavailable(d) => OAuthError::Unavailable(d),
            other => OAuthError::Internal(other.log_detail()),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        crate::error::ApiError::from(e).into()
    }
}

/// How a client secret is stored. Secrets are 256 random bits, so a fast hash is as safe as a
/// slow one here (no dictionary to attack) and keeps the token endpoint fast; the prefix leaves
/// room to change the scheme.
pub fn hash_secret(secret: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// Compare a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// What the token endpoint received, before any check.
#[derive(Debug, Default)]
pub struct TokenRequest {
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The media type of the body (lowercase, parameters removed).
    pub media_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
struct Credentials {
    client_id: String,
    client_secret: String,
    basic: bool,
}

struct Form {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn parse_form(body: &[u8]) -> Result<Form, OAuthError> {
    let mut form = Form {
        grant_type: None,
        scope: None,
        client_id: None,
        client_secret: None,
    };
    for (k, v) in form_urlencoded::parse(body) {
        let slot = match k.as_ref() {
            "grant_type" => &mut form.grant_type,
            "scope" => &mut form.scope,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "Parameter {k} is repeated."
            )));
        }
        *slot = Some(v.into_owned());
    }
    Ok(form)
}

fn parse_basic(header: &str) -> Result<Credentials, OAuthError> {
    let bad = || OAuthError::InvalidClient { basic: true };
    let (scheme, value) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidRequest(
            "The Authorization header must use the Basic scheme.".into(),
        ));
    }
    let decoded = B64.decode(value.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Credentials {
        client_id: decode(id),
        client_secret: decode(secret),
        basic: true,
    })
}

/// The checks that need no storage: body form, grant type, one authentication method.
fn read_request(req: &TokenRequest) -> Result<(Credentials, Option<String>), OAuthError> {
    if req.media_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "The body must be application/x-www-form-urlencoded.".into(),
        ));
    }
    let form = parse_form(&req.body)?;
    let basic = req
        .authorization
        .as_deref()
        .filter(|h| !h.trim().is_empty());
    let in_form = form.client_id.is_some() || form.client_secret.is_some();
    if basic.is_some() && in_form {
        return Err(OAuthError::InvalidRequest(
            "Use one client authentication method: HTTP Basic or client_id/client_secret in the body, not both.".into(),
        ));
    }
    match form.grant_type.as_deref() {
        None | Some("") => {
            return Err(OAuthError::InvalidRequest("grant_type is required.".into()))
        }
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let creds = match basic {
        Some(h) => parse_basic(h)?,
        None => Credentials {
            client_id: form.client_id.unwrap_or_default(),
            client_secret: form.client_secret.unwrap_or_default(),
            basic: false,
        },
    };
    if creds.client_id.is_empty() || creds.client_secret.is_empty() {
        return Err(OAuthError::InvalidClient { basic: creds.basic });
    }
    Ok((creds, form.scope))
}

/// A successful token response body.
pub fn token_body(access_token: &str, scopes: &Scopes) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "scope": scopes.to_string(),
    })
}

/// Authenticate the client and issue a token. One DynamoDB read (the client item); the
/// signing key comes from the cached secret.
pub async fn issue(
    store: &Store,
    keys: &SigningKeys,
    environment: &str,
    req: &TokenRequest,
) -> Result<(Value, String), OAuthError> {
    let (creds, scope) = read_request(req)?;
    let client = store.client_record(&creds.client_id).await?;
    // An unknown client costs the same comparison as a known one.
    let stored_hash = client
        .as_ref()
        .map(|c| c.secret_hash.as_str())
        .unwrap_or("sha256:0000000000000000000000000000000000000000000000000000000000000000");
    let secret_ok = secret_matches(&creds.client_secret, stored_hash);
    // Inside a rotation's grace period the previous secret works too (same cost either way).
    let previous_hash = client
        .as_ref()
        .and_then(|c| c.previous_secret_hash.as_deref())
        .unwrap_or("sha256:-");
    let previous_ok = secret_matches(&creds.client_secret, previous_hash)
        && client.as_ref().is_some_and(|c| {
            crate::store::still_valid(c.previous_secret_until.as_deref(), crate::time_fmt::now())
        });
    let client = match client {
        // A suspended partner's clients are `suspended`, a revoked client `revoked`: no token.
        Some(c) if (secret_ok || previous_ok) && c.status == crate::store::CLIENT_ACTIVE => c,
        _ => return Err(OAuthError::InvalidClient { basic: creds.basic }),
    };
    let subscriptions = Scopes::parse(&client.subscriptions.join(" ")).map_err(|w| {
        OAuthError::Internal(format!(
            "client {} has unknown subscription {w}",
            client.client_id
        ))
    })?;
    let granted = match scope.as_deref().map(str::trim) {
        None | Some("") => subscriptions.clone(),
        Some(s) => {
            let asked = Scopes::parse(s)
                .map_err(|w| OAuthError::InvalidScope(format!("Unknown scope {w}.")))?;
            if !asked.is_subset(&subscriptions) {
                return Err(OAuthError::InvalidScope(
                    "The requested scope exceeds the client's subscriptions.".into(),
                ));
            }
            asked
        }
    };
    if granted.is_empty() {
        return Err(OAuthError::InvalidScope(
            "The client has no subscription.".into(),
        ));
    }
    let signer = keys.signer().await?;
    let now = crate::time_fmt::now().unix_timestamp();
    let claims = Claims::new(
        environment,
        &client.client_id,
        &client.partner_id,
        &granted,
        now,
    );
    let token = signer.sign(&claims).map_err(OAuthError::Internal)?;
    Ok((token_body(&token, &granted), client.partner_id))
}

/// The token endpoint's response: `Cache-Control: no-store` always, `WWW-Authenticate: Basic`
/// on a 401 after Basic authentication, `Retry-After` on a 503. Logs the outcome (never secrets).
pub fn respond(
    meta: &crate::http::RequestMeta,
    result: Result<(Value, String), OAuthError>,
) -> lambda_http::Response<lambda_http::Body> {
    let latency_ms = meta.elapsed_ms();
    let dynamodb_round_trips = crate::metrics::dynamodb_round_trips();
    let dynamodb_ms = crate::metrics::dynamodb_ms();
    let dynamodb_read_units = crate::metrics::dynamodb_read_units();
    let dynamodb_write_units = crate::metrics::dynamodb_write_units();
    let secretsmanager_round_trips = crate::metrics::secretsmanager_round_trips();
    let (status, body) = match &result {
        Ok((body, partner_id)) => {
            tracing::info!(request_id = %meta.request_id, route = %meta.route(), partner_id = %partner_id, status = 200, latency_ms, dynamodb_ms, dynamodb_round_trips, dynamodb_read_units, dynamodb_write_units, secretsmanager_round_trips, "token issued");
            (200, body.clone())
        }
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(request_id = %meta.request_id, route = %meta.route(), status = e.status(), detail = %e.log_detail(), latency_ms, dynamodb_ms, dynamodb_round_trips, dynamodb_read_units, dynamodb_write_units, secretsmanager_round_trips, "token request failed");
            } else {
                tracing::info!(request_id = %meta.request_id, route = %meta.route(), status = e.status(), error = %e.log_detail(), latency_ms, dynamodb_ms, dynamodb_round_trips, dynamodb_read_units, dynamodb_write_units, secretsmanager_round_trips, "token request rejected");
            }
            (e.status(), e.body())
        }
    };
    let mut resp = crate::http::json_response(status, &body, &meta.request_id);
    let h = resp.headers_mut();
    h.insert("cache-control", "no-store".parse().expect("header"));
    h.insert("pragma", "no-cache".parse().expect("header"));
    match result {
        Err(OAuthError::InvalidClient { basic: true }) => {
            h.insert(
                "www-authenticate",
                r#"Basic realm="partner-api", charset="UTF-8""#
                    .parse()
                    .expect("header"),
            );
        }
        Err(OAuthError::Unavailable(_)) => {
            h.insert("retry-after", crate::error::RETRY_AFTER_SECONDS.into());
        }
        _ => {}
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>, body: &str) -> TokenRequest {
        TokenRequest {
            authorization: auth.map(str::to_string),
            media_type: Some("application/x-www-form-urlencoded".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", B64.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_and_form_credentials() {
        let (c, scope) = read_request(&req(
            Some(&basic("cli_1", "s3cr:t")),
            "grant_type=client_credentials&scope=tracking",
        ))
        .unwrap();
        assert_eq!(
            c,
            Credentials {
                client_id: "cli_1".into(),
                client_secret: "s3cr:t".into(),
                basic: true
            }
        );
        assert_eq!(scope.as_deref(), Some("tracking"));
        let (c, _) = read_request(&req(
            None,
            "grant_type=client_credentials&client_id=a&client_secret=b",
        ))
        .unwrap();
        assert!(!c.basic);
    }

    #[test]
    fn request_errors() {
        let both = req(
            Some(&basic("a", "b")),
            "grant_type=client_credentials&client_id=a&client_secret=b",
        );
        assert!(matches!(
            read_request(&both),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            read_request(&req(Some(&basic("a", "b")), "")),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert_eq!(
            read_request(&req(Some(&basic("a", "b")), "grant_type=password")).unwrap_err(),
            OAuthError::UnsupportedGrantType
        );
        assert!(matches!(
            read_request(&req(
                None,
                "grant_type=client_credentials&grant_type=client_credentials"
            )),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert_eq!(
            read_request(&req(None, "grant_type=client_credentials")).unwrap_err(),
            OAuthError::InvalidClient { basic: false }
        );
        assert_eq!(
            read_request(&req(Some("Basic !!!"), "grant_type=client_credentials")).unwrap_err(),
            OAuthError::InvalidClient { basic: true }
        );
        let mut json = req(None, "{}");
        json.media_type = Some("application/json".into());
        assert!(matches!(
            read_request(&json),
            Err(OAuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn secrets_are_stored_hashed_and_compared() {
        let h = hash_secret("cs_abc");
        assert!(!h.contains("cs_abc"));
        assert!(secret_matches("cs_abc", &h));
        assert!(!secret_matches("cs_abd", &h));
    }

    #[test]
    fn error_bodies_follow_rfc6749() {
        let e = OAuthError::InvalidClient { basic: true };
        assert_eq!(e.status(), 401);
        assert_eq!(e.body()["error"], "invalid_client");
        assert_eq!(OAuthError::InvalidScope("x".into()).status(), 400);
    }
}
