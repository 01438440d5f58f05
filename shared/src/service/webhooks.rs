//! Webhook endpoints (scope `control_tower`), routes of the `webhooks` function (the event log
//! and replay: `super::event_log`). Endpoint secrets are generated here, shown once (create, rotate) and
//! stored sealed; URLs are checked by `webhooks::target` (form and DNS) before they are stored.
//!
//! DynamoDB round trips (warm, caller cached): create 1 transaction; list 1 query; get 1 read;
//! patch / rotate 1 read + 1 write; delete 1 transaction; test 1 read + 1 SQS send.

use serde_json::{json, Map, Value};

use super::{App, Reply, CONFLICT_ATTEMPTS};
use crate::auth::{Principal, Scope};
use crate::error::ApiError;
use crate::queue::{DeliveryJob, Queue};
use crate::secrets::WebhookKeys;
use crate::store::{EndpointRecord, StoreError, MAX_ENDPOINTS};
use crate::time_fmt;
use crate::webhooks::event::{self, EventType};
use crate::webhooks::signing;
use crate::webhooks::target::{self, UrlPolicy};

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_SECONDS: i64 = 24 * 3600;
pub const MAX_DESCRIPTION: usize = 500;

/// What the webhook routes need besides the store.
pub struct WebhookDeps {
    pub queue: Queue,
    pub keys: WebhookKeys,
    pub policy: UrlPolicy,
}

/// An endpoint as the API shows it (never its secret).
pub fn endpoint_json(e: &EndpointRecord) -> Value {
    let types: Vec<String> = match &e.event_types {
        Some(t) => t.clone(),
        None => EventType::SUBSCRIBABLE
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
    };
    let mut v = json!({
        "id": e.endpoint_id,
        "url": e.url,
        "event_types": types,
        "description": e.description,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "disabled_at": e.disabled_at,
        "failing_since": e.failing_since,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    });
    if e.previous_secret_sealed.is_some()
        && crate::store::still_valid(e.previous_secret_until.as_deref(), time_fmt::now())
    {
        v["previous_secret_expires_at"] = json!(e.previous_secret_until);
    }
    v
}

/// `we_` + a ULID in lower case.
fn new_endpoint_id() -> String {
    format!("we_{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

fn plausible_endpoint_id(id: &str) -> bool {
    id.strip_prefix("we_")
        .is_some_and(|u| u.len() == 26 && u.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn endpoint_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("webhook endpoint {id} was not found."))
}

/// `event_types`: a non-empty list of subscribable types (duplicates dropped).
fn parse_event_types(v: &Value) -> Result<Option<Vec<String>>, ApiError> {
    let bad = || {
        ApiError::validation(
            "event_types",
            format!(
                "must be a non-empty list of event types, each one of: {}.",
                EventType::SUBSCRIBABLE
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::Array(items) if !items.is_empty() => {
            let mut out: Vec<String> = Vec::new();
            for item in items {
                let t = item
                    .as_str()
                    .and_then(EventType::parse)
                    .filter(|t| *t != EventType::Ping)
                    .ok_or_else(bad)?;
                if !out.iter().any(|x| x == t.as_str()) {
                    out.push(t.as_str().to_string());
                }
            }
            Ok(Some(out))
        }
        _ => Err(bad()),
    }
}

fn parse_description(v: &Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= MAX_DESCRIPTION => {
            Ok((!s.trim().is_empty()).then(|| s.clone()))
        }
        Value::String(_) => Err(ApiError::validation(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters."),
        )),
        _ => Err(ApiError::validation("description", "must be a string.")),
    }
}

impl App {
    pub(super) fn webhook_deps(&self) -> Result<&WebhookDeps, ApiError> {
        self.webhooks
            .as_ref()
            .ok_or_else(|| ApiError::Internal("this function has no webhook configuration".into()))
    }

    /// The URL checked by the environment's rule (form, then DNS): 400 naming `url`.
    async fn checked_url(&self, v: Option<&Value>) -> Result<String, ApiError> {
        let policy = self.webhook_deps()?.policy;
        let text = match v {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ApiError::validation("url", "is required."))
            }
            Some(_) => return Err(ApiError::validation("url", "must be a string.")),
        };
        target::check(&text, policy)
            .await
            .map_err(|why| ApiError::validation("url", why))?;
        Ok(text)
    }

    /// The caller's endpoint, or 404 (another partner's id included).
    pub(super) async fn own_endpoint(
        &self,
        p: &Principal,
        id: &str,
    ) -> Result<EndpointRecord, ApiError> {
        if !plausible_endpoint_id(id) {
            return Err(endpoint_not_found(id));
        }
        self.store
            .endpoint(&p.partner_id, id)
            .await?
            .ok_or_else(|| endpoint_not_found(id))
    }

    /// `POST /api/v1/webhook-endpoints`: 201 with the endpoint and its secret (shown only here).
    pub async fn create_endpoint(
        &self,
        p: &Principal,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let url = self.checked_url(body.get("url")).await?;
        let event_types = parse_event_types(body.get("event_types").unwrap_or(&Value::Null))?;
        let description = parse_description(body.get("description").unwrap_or(&Value::Null))?;
        self.caller(p).await?;
        let deps = self.webhook_deps()?;
        let key = deps.keys.get().await?;
        let now = time_fmt::format(time_fmt::now());
        let secret = signing::new_secret();
        let mut rec = EndpointRecord {
            endpoint_id: new_endpoint_id(),
            partner_id: p.partner_id.clone(),
            url,
            event_types,
            description,
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            secret_sealed: String::new(),
            previous_secret_sealed: None,
            previous_secret_until: None,
            failing_since: None,
            created_at: now.clone(),
            updated_at: now,
            revision: 1,
        };
        rec.secret_sealed = key.seal(&rec.sealing_context(), &secret);
        match self.store.create_endpoint(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(ApiError::EndpointLimitReached(MAX_ENDPOINTS)),
            Err(e) => return Err(e.into()),
        }
        let mut v = endpoint_json(&rec);
        v["secret"] = json!(secret);
        Ok((201, v))
    }

    /// `GET /api/v1/webhook-endpoints`.
    pub async fn list_endpoints(&self, p: &Principal) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        self.caller(p).await?;
        let items: Vec<Value> = self
            .store
            .endpoints(&p.partner_id)
            .await?
            .iter()
            .map(endpoint_json)
            .collect();
        Ok((200, json!({"items": items, "next_cursor": null})))
    }

    /// `GET /api/v1/webhook-endpoints/{endpoint_id}`.
    pub async fn get_endpoint(&self, p: &Principal, id: &str) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        self.caller(p).await?;
        Ok((200, endpoint_json(&self.own_endpoint(p, id).await?)))
    }

    /// Read, change and write back an endpoint, conditional on its revision (retried on a race).
    async fn change_endpoint<F>(
        &self,
        p: &Principal,
        id: &str,
        mut change: F,
    ) -> Result<EndpointRecord, ApiError>
    where
        F: FnMut(&mut EndpointRecord, &str) -> Result<(), ApiError>,
    {
        for _ in 0..CONFLICT_ATTEMPTS {
            let mut rec = self.own_endpoint(p, id).await?;
            let now = time_fmt::format(time_fmt::now());
            change(&mut rec, &now)?;
            rec.updated_at = now;
            rec.revision += 1;
            match self.store.replace_endpoint(&rec).await {
                Ok(()) => return Ok(rec),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// `PATCH /api/v1/webhook-endpoints/{endpoint_id}`: `url`, `event_types`, `description`,
    /// `enabled`. Enabling a disabled endpoint clears its reason; it receives new events from then.
    pub async fn update_endpoint(
        &self,
        p: &Principal,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        const FIELDS: [&str; 4] = ["url", "event_types", "description", "enabled"];
        if !FIELDS.iter().any(|f| body.contains_key(*f)) {
            return Err(ApiError::validation(
                "body",
                "must contain at least one of url, event_types, description, enabled.",
            ));
        }
        let url = match body.get("url") {
            None => None,
            v => Some(self.checked_url(v).await?),
        };
        let event_types = match body.get("event_types") {
            None => None,
            Some(v) => Some(parse_event_types(v)?),
        };
        let description = match body.get("description") {
            None => None,
            Some(v) => Some(parse_description(v)?),
        };
        let enabled = match body.get("enabled") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(ApiError::validation("enabled", "must be true or false.")),
        };
        self.caller(p).await?;
        let rec = self
            .change_endpoint(p, id, |rec, now| {
                if let Some(u) = &url {
                    rec.url = u.clone();
                }
                if let Some(t) = &event_types {
                    rec.event_types = t.clone();
                }
                if let Some(d) = &description {
                    rec.description = d.clone();
                }
                match enabled {
                    Some(true) if !rec.enabled => {
                        rec.enabled = true;
                        rec.disabled_reason = None;
                        rec.disabled_at = None;
                        rec.failing_since = None;
                    }
                    Some(false) if rec.enabled => {
                        rec.enabled = false;
                        rec.disabled_reason = Some("Disabled by the partner.".into());
                        rec.disabled_at = Some(now.to_string());
                    }
                    _ => {}
                }
                Ok(())
            })
            .await?;
        Ok((200, endpoint_json(&rec)))
    }

    /// `DELETE /api/v1/webhook-endpoints/{endpoint_id}`.
    pub async fn delete_endpoint(&self, p: &Principal, id: &str) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        if !plausible_endpoint_id(id) {
            return Err(endpoint_not_found(id));
        }
        self.caller(p).await?;
        match self.store.delete_endpoint(&p.partner_id, id).await {
            Ok(()) => Ok((
                200,
                json!({"status": "success", "message": "The webhook endpoint is deleted; it receives no more events.", "id": id}),
            )),
            Err(StoreError::Conflict) => Err(endpoint_not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /api/v1/webhook-endpoints/{endpoint_id}/rotate-secret`: a new secret, shown once;
    /// the previous one keeps signing beside it for 24 hours.
    pub async fn rotate_endpoint_secret(&self, p: &Principal, id: &str) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        self.caller(p).await?;
        let key = self.webhook_deps()?.keys.get().await?;
        let secret = signing::new_secret();
        let until =
            time_fmt::format(time_fmt::now() + time::Duration::seconds(ROTATION_OVERLAP_SECONDS));
        let rec = self
            .change_endpoint(p, id, |rec, _| {
                rec.previous_secret_sealed = Some(rec.secret_sealed.clone());
                rec.previous_secret_until = Some(until.clone());
                rec.secret_sealed = key.seal(&rec.sealing_context(), &secret);
                Ok(())
            })
            .await?;
        let mut v = endpoint_json(&rec);
        v["secret"] = json!(secret);
        Ok((200, v))
    }

    /// `POST /api/v1/webhook-endpoints/{endpoint_id}/test`: queue a `ping` to this endpoint.
    pub async fn test_endpoint(&self, p: &Principal, id: &str) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        self.caller(p).await?;
        let rec = self.own_endpoint(p, id).await?;
        if !rec.enabled {
            return Err(ApiError::EndpointDisabled(rec.endpoint_id));
        }
        let ping = event::ping(&p.partner_id, &rec.endpoint_id);
        let job = DeliveryJob {
            partner_id: p.partner_id.clone(),
            endpoint_id: rec.endpoint_id.clone(),
            event_id: ping.id.clone(),
            event_type: ping.event_type.as_str().into(),
            body: ping.body(),
        };
        self.webhook_deps()?.queue.send(&[job]).await?;
        Ok((
            202,
            json!({"status": "success", "message": "A ping event is on its way to the endpoint; see its deliveries for the outcome.", "event_id": ping.id, "endpoint_id": rec.endpoint_id}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_checked_and_named() {
        assert_eq!(parse_event_types(&Value::Null).unwrap(), None);
        assert_eq!(
            parse_event_types(&json!(["policy.issued", "policy.issued", "claim.paid"])).unwrap(),
            Some(vec!["policy.issued".to_string(), "claim.paid".to_string()])
        );
        for bad in [
            json!([]),
            json!(["ping"]),
            json!(["nope"]),
            json!("policy.issued"),
            json!([1]),
        ] {
            assert!(
                parse_event_types(&bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("event_types "),
                "{bad}"
            );
        }
    }

    #[test]
    fn descriptions_and_ids() {
        assert_eq!(parse_description(&json!("  ")).unwrap(), None);
        assert!(parse_description(&json!("x".repeat(501))).is_err());
        assert!(parse_description(&json!(5)).is_err());
        assert!(plausible_endpoint_id(&new_endpoint_id()));
        assert!(!plausible_endpoint_id("we_x"));
        assert!(!plausible_endpoint_id("../we_01"));
    }

    #[test]
    fn the_view_never_holds_a_secret() {
        let e = EndpointRecord {
            endpoint_id: "we_1".into(),
            partner_id: "p".into(),
            url: "https://x.example".into(),
            event_types: None,
            description: None,
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            secret_sealed: "v1.SEALED".into(),
            previous_secret_sealed: Some("v1.OLD".into()),
            previous_secret_until: Some(time_fmt::format(
                time_fmt::now() + time::Duration::hours(1),
            )),
            failing_since: None,
            created_at: "t".into(),
            updated_at: "t".into(),
            revision: 1,
        };
        let v = endpoint_json(&e);
        let text = v.to_string();
        assert!(!text.contains("SEALED") && !text.contains("OLD"));
        assert_eq!(
            v["event_types"].as_array().unwrap().len(),
            EventType::SUBSCRIBABLE.len()
        );
        assert!(v["previous_secret_expires_at"].is_string());
    }
}
