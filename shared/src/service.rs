//! The partner API's use cases. Handlers parse the request, call one of these, and answer.
//!
//! DynamoDB round trips per call (warm container, caller and product cached; the caller's
//! partner and client are read in one BatchGetItem at most once per `ACCESS_CACHE_TTL`):
//! submit 1 write (a retry: the same failed write returns the existing item);
//! tracking 1 read + 1 write; cancel 1 read + 1 write; get delivery 1 query;
//! get policy 2 queries (index, then the delivery); list 1 query.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::auth::{Principal, Scope};
use crate::cache::TtlCache;
use crate::domain::{
    CancelRequest, DeliveryStatus, PolicyStatus, Product, Submission, TrackingEvent,
    TrackingNumber, TrackingRequest,
};
use crate::error::ApiError;
use crate::secrets::LinkKeys;
use crate::store::{
    ClientRecord, DeliveryRecord, Inserted, ListQuery, PartnerRecord, PolicyRecord, Store,
    StoreError, CLIENT_ACTIVE, CLIENT_REVOKED, PARTNER_ACTIVE,
};
use crate::{signature, time_fmt};

/// How long a warm container trusts what it read of a caller's partner and client (status,
/// signature keys). This bounds how long a revoked client's or a suspended partner's
/// already-issued tokens keep working, and how long before a rotated `api_token_key` is the only
/// one (documented in README "Operating"). One read per client per container per period.
pub const ACCESS_CACHE_TTL: Duration = Duration::from_secs(10);
/// Environment variable overriding `ACCESS_CACHE_TTL` (whole seconds, 0 to 3600).
pub const ACCESS_CACHE_TTL_ENV: &str = "ACCESS_CACHE_TTL_SECONDS";

/// The access cache TTL in effect: `ACCESS_CACHE_TTL_SECONDS` if set and valid, else 10 s.
pub fn access_cache_ttl() -> Duration {
    std::env::var(ACCESS_CACHE_TTL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s <= 3600)
        .map(Duration::from_secs)
        .unwrap_or(ACCESS_CACHE_TTL)
}
/// A signature that does not match re-reads the partner when the cached copy is older than this
/// (so a partner that switches to a just-rotated key is not refused while caches catch up).
pub const SIGNATURE_RELOAD_MIN_AGE: Duration = Duration::from_secs(1);
/// How long products stay cached in a warm container: a product change reaches every container
/// within this time (existing policies keep the terms they were sold under, whatever happens).
pub const PRODUCT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Kept for callers of the former name: the product cache's time to live.
pub const RECORD_CACHE_TTL: Duration = PRODUCT_CACHE_TTL;
/// Attempts of a read-decide-write cycle that lost a race before answering 503.
const CONFLICT_ATTEMPTS: usize = 5;

pub const DEFAULT_LIST_LIMIT: i32 = 50;
pub const MAX_LIST_LIMIT: i32 = 100;

/// What the API knows of a caller beyond its token: its partner and client as stored.
pub struct Caller {
    pub partner: PartnerRecord,
    pub client: ClientRecord,
}

pub struct App {
    pub store: Store,
    pub links: LinkKeys,
    callers: TtlCache<String, Arc<Caller>>,
    products: TtlCache<String, Arc<Product>>,
}

/// A handler's answer: status and JSON body.
pub type Reply = (u16, Value);

impl App {
    pub fn new(store: Store, links: LinkKeys) -> Self {
        App {
            store,
            links,
            callers: TtlCache::new(access_cache_ttl()),
            products: TtlCache::new(PRODUCT_CACHE_TTL),
        }
    }

    async fn load_caller(&self, p: &Principal) -> Result<Arc<Caller>, ApiError> {
        let (partner, client) = self
            .store
            .partner_and_client(&p.partner_id, &p.client_id)
            .await?;
        match (partner, client) {
            (Some(partner), Some(client)) if client.partner_id == partner.partner_id => {
                Ok(Arc::new(Caller { partner, client }))
            }
            _ => Err(ApiError::InvalidToken(
                "The client of this token does not exist.".into(),
            )),
        }
    }

    /// The caller's partner and client, checked: a suspended partner or a revoked client is
    /// refused (401 `invalid_token`) within `ACCESS_CACHE_TTL` of the operator's command.
    async fn caller(&self, p: &Principal) -> Result<Arc<Caller>, ApiError> {
        let caller = self
            .callers
            .get_or_load(&p.client_id, || self.load_caller(p))
            .await?;
        Self::admit(p, &caller)?;
        Ok(caller)
    }

    fn admit(p: &Principal, caller: &Caller) -> Result<(), ApiError> {
        if caller.partner.partner_id != p.partner_id {
            return Err(ApiError::InvalidToken(
                "The client of this token does not exist.".into(),
            ));
        }
        if caller.partner.status != PARTNER_ACTIVE {
            return Err(ApiError::InvalidToken(
                "The partner of this token is suspended; contact the operator.".into(),
            ));
        }
        match caller.client.status.as_str() {
            CLIENT_ACTIVE => Ok(()),
            CLIENT_REVOKED => Err(ApiError::InvalidToken(
                "The client of this token is revoked.".into(),
            )),
            _ => Err(ApiError::InvalidToken(
                "The client of this token is not active.".into(),
            )),
        }
    }

    /// Check a request signature against the partner's keys (two during a rotation's overlap).
    /// A mismatch re-reads the partner once if the cached copy is not brand new.
    async fn check_signature(
        &self,
        p: &Principal,
        caller: &Arc<Caller>,
        tracking_number: &str,
        premium: u64,
        given: &str,
    ) -> Result<(), ApiError> {
        let ok = |c: &Caller| {
            signature::verify(
                c.partner.signature_keys(time_fmt::now()),
                tracking_number,
                premium,
                given,
            )
        };
        if ok(caller) {
            return Ok(());
        }
        if self
            .callers
            .age(&p.client_id)
            .is_some_and(|age| age >= SIGNATURE_RELOAD_MIN_AGE)
        {
            let fresh = self.load_caller(p).await?;
            self.callers.put(p.client_id.clone(), fresh.clone());
            Self::admit(p, &fresh)?;
            if ok(&fresh) {
                return Ok(());
            }
        }
        Err(ApiError::InvalidSignature)
    }

    async fn product(&self, code: &str) -> Result<Arc<Product>, ApiError> {
        self.products
            .get_or_load(&code.to_string(), || async {
                self.store
                    .product(code)
                    .await?
                    .map(Arc::new)
                    .ok_or_else(|| ApiError::UnknownProduct(code.to_string()))
            })
            .await
    }

    async fn certificate_url(
        &self,
        base_url: &str,
        partner_id: &str,
        policy_id: &str,
    ) -> Result<String, ApiError> {
        let key = self.links.get().await?;
        Ok(format!(
            "{base_url}/certificates/{}",
            key.certificate_token(partner_id, policy_id)
        ))
    }

    /// API #1 Submit SME Delivery.
    pub async fn submit(
        &self,
        p: &Principal,
        body: &Map<String, Value>,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        let (submission, sig) = Submission::parse(body)?;
        let caller = self.caller(p).await?;
        self.check_signature(
            p,
            &caller,
            submission.tracking_number.as_str(),
            submission.premium_amount,
            &sig,
        )
        .await?;
        let fingerprint = submission.fingerprint();
        let checked = match self.product(submission.product_code.as_str()).await {
            Ok(product) => product
                .check(submission.item_value, submission.premium_amount)
                .map(|()| product),
            Err(e) => Err(e),
        };
        let product = match checked {
            Ok(product) => product,
            Err(
                e @ (ApiError::UnknownProduct(_)
                | ApiError::ItemValueTooHigh { .. }
                | ApiError::PremiumMismatch { .. }),
            ) => {
                // A retry of a submission accepted under earlier product terms is still a safe retry.
                let tn = submission.tracking_number.as_str();
                return match self.store.delivery(&p.partner_id, tn).await? {
                    Some(existing) if existing.fingerprint == fingerprint => {
                        self.retried(p, &existing, base_url).await
                    }
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };

        let now = time_fmt::format(time_fmt::now());
        let record = DeliveryRecord {
            partner_id: p.partner_id.clone(),
            fingerprint: fingerprint.clone(),
            policy: PolicyRecord {
                policy_id: format!("pol_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
                policy_status: PolicyStatus::Active,
                premium_amount: submission.premium_amount,
                currency: product.currency.clone(),
                product_code: product.product_code.as_str().to_string(),
                premium_rate_bps: product.rule.premium_rate_bps,
                min_premium: product.rule.min_premium,
                max_item_value: product.max_item_value,
                issued_at: now.clone(),
                cancellation: None,
                cancelled_at: None,
            },
            submission,
            delivery_status: DeliveryStatus::Created,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
            event_ids: vec![],
        };
        // Make sure the certificate link can be produced before anything is written.
        let url = self
            .certificate_url(base_url, &p.partner_id, &record.policy.policy_id)
            .await?;
        match self.store.insert_delivery(&record).await? {
            Inserted::Created => Ok((
                201,
                json!({"status": "success", "message": "The delivery is insured.", "policy_id": record.policy.policy_id, "url_certificate": url}),
            )),
            Inserted::Exists(existing) if existing.fingerprint == fingerprint => {
                self.retried(p, &existing, base_url).await
            }
            Inserted::Exists(existing) => Err(ApiError::DuplicateTrackingNumber(
                existing.submission.tracking_number.to_string(),
            )),
        }
    }

    /// The answer to a safe retry of a submit: the same policy.
    async fn retried(
        &self,
        p: &Principal,
        existing: &DeliveryRecord,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        let url = self
            .certificate_url(base_url, &p.partner_id, &existing.policy.policy_id)
            .await?;
        Ok((
            200,
            json!({"status": "success", "message": "The delivery was already insured with this body; same policy returned.", "policy_id": existing.policy.policy_id, "url_certificate": url}),
        ))
    }

    async fn delivery_for(
        &self,
        p: &Principal,
        tracking_number: &str,
    ) -> Result<DeliveryRecord, ApiError> {
        self.store
            .delivery(&p.partner_id, tracking_number)
            .await?
            .ok_or_else(|| not_found_tracking(tracking_number))
    }

    /// API #2 Insert Tracking Detail.
    pub async fn track(&self, p: &Principal, body: &Map<String, Value>) -> Result<Reply, ApiError> {
        p.require(Scope::Tracking)?;
        let req = TrackingRequest::parse(body)?;
        let caller = self.caller(p).await?;
        let tn = req.tracking_number.as_str();
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = self.delivery_for(p, tn).await?;
            self.check_signature(
                p,
                &caller,
                tn,
                current.policy.premium_amount,
                &req.signature,
            )
            .await?;
            if current.policy.policy_status == PolicyStatus::Cancelled {
                return Err(ApiError::PolicyCancelled);
            }
            if !current.delivery_status.can_move_to(req.delivery_status) {
                return Err(ApiError::InvalidStatusTransition {
                    current: current.delivery_status,
                    requested: req.delivery_status,
                });
            }
            let new_events: Vec<TrackingEvent> = req
                .events
                .iter()
                .filter(|e| !current.event_ids.contains(&e.id()))
                .cloned()
                .collect();
            let added = new_events.len();
            if added == 0 && current.delivery_status == req.delivery_status {
                return Ok(tracking_reply(tn, req.delivery_status, 0));
            }
            let now = time_fmt::format(time_fmt::now());
            match self
                .store
                .record_tracking(&current, req.delivery_status, &new_events, &now)
                .await
            {
                Ok(()) => return Ok(tracking_reply(tn, req.delivery_status, added)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// API #3 Cancel SME Delivery Order.
    pub async fn cancel(
        &self,
        p: &Principal,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        let req = CancelRequest::parse(body)?;
        let caller = self.caller(p).await?;
        let tn = req.tracking_number.as_str();
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = self.delivery_for(p, tn).await?;
            if current.policy.policy_id != req.policy_id {
                return Err(ApiError::NotFound(format!(
                    "policy_id {} does not belong to tracking_number {tn}.",
                    req.policy_id
                )));
            }
            self.check_signature(
                p,
                &caller,
                tn,
                current.policy.premium_amount,
                &req.signature,
            )
            .await?;
            if let Some(first) = &current.policy.cancellation {
                return Ok(cancel_reply(
                    &current,
                    first,
                    "The policy was already cancelled; the first cancellation is returned.",
                ));
            }
            if !current.delivery_status.allows_cancellation() {
                return Err(ApiError::CancellationNotAllowed(current.delivery_status));
            }
            let now = time_fmt::format(time_fmt::now());
            match self
                .store
                .cancel_policy(&current, &req.cancellation, &now)
                .await
            {
                Ok(()) => {
                    return Ok(cancel_reply(
                        &current,
                        &req.cancellation,
                        "The policy is cancelled.",
                    ))
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// `GET /api/v1/sme-deliveries/{tracking_number}`.
    pub async fn get_delivery(
        &self,
        p: &Principal,
        tracking_number: &str,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        // A malformed tracking number cannot exist: 404 without a storage round trip.
        TrackingNumber::parse(tracking_number).map_err(|_| not_found_tracking(tracking_number))?;
        self.caller(p).await?;
        let (rec, history) = self
            .store
            .delivery_with_history(&p.partner_id, tracking_number)
            .await?
            .ok_or_else(|| not_found_tracking(tracking_number))?;
        let url = self
            .certificate_url(base_url, &p.partner_id, &rec.policy.policy_id)
            .await?;
        Ok((200, delivery_json(&rec, Some(&history), &url)))
    }

    /// `GET /api/v1/policies/{policy_id}`.
    pub async fn get_policy(
        &self,
        p: &Principal,
        policy_id: &str,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let not_found = || ApiError::NotFound(format!("policy_id {policy_id} was not found."));
        let plausible = !policy_id.is_empty()
            && policy_id.len() <= 64
            && policy_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plausible {
            return Err(not_found());
        }
        self.caller(p).await?;
        let pk = self
            .store
            .policy_delivery_pk(&p.partner_id, policy_id)
            .await?
            .ok_or_else(not_found)?;
        let tn = crate::store::keys::parse_delivery_pk(&pk)
            .map(|(_, t)| t)
            .ok_or_else(not_found)?;
        let (rec, history) = self
            .store
            .delivery_with_history(&p.partner_id, &tn)
            .await?
            .filter(|(r, _)| r.policy.policy_id == policy_id)
            .ok_or_else(not_found)?;
        let url = self
            .certificate_url(base_url, &p.partner_id, &rec.policy.policy_id)
            .await?;
        Ok((200, delivery_json(&rec, Some(&history), &url)))
    }

    /// `GET /api/v1/sme-deliveries?delivery_status=&policy_status=&created_from=&created_to=&limit=&cursor=`.
    pub async fn list(
        &self,
        p: &Principal,
        params: &HashMap<String, String>,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let q = parse_list_query(params)?;
        self.caller(p).await?;
        let shape = query_shape(&q);
        let key = self.links.get().await?;
        let start = match params.get("cursor").filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => {
                let payload = key
                    .open_cursor(&p.partner_id, &shape, c)
                    .ok_or(ApiError::InvalidCursor)?;
                Some(
                    serde_json::from_str::<HashMap<String, String>>(&payload)
                        .map_err(|_| ApiError::InvalidCursor)?,
                )
            }
        };
        let (items, next) = self.store.list_deliveries(&p.partner_id, &q, start).await?;
        let mut out = Vec::with_capacity(items.len());
        for rec in &items {
            let url = format!(
                "{base_url}/certificates/{}",
                key.certificate_token(&p.partner_id, &rec.policy.policy_id)
            );
            out.push(delivery_json(rec, None, &url));
        }
        let next_cursor = next.map(|k| {
            key.seal_cursor(
                &p.partner_id,
                &shape,
                &serde_json::to_string(&k).expect("map serialises"),
            )
        });
        Ok((200, json!({"items": out, "next_cursor": next_cursor})))
    }
}

fn not_found_tracking(tracking_number: &str) -> ApiError {
    ApiError::NotFound(format!("tracking_number {tracking_number} was not found."))
}

pub fn tracking_reply(tn: &str, status: DeliveryStatus, added: usize) -> Reply {
    (
        200,
        json!({"status": "success", "message": format!("Tracking detail recorded for {tn}: status {status}, {added} new event(s).")}),
    )
}

pub fn cancel_reply(rec: &DeliveryRecord, c: &crate::domain::Cancellation, message: &str) -> Reply {
    (
        200,
        json!({
            "status": "success",
            "message": message,
            "tracking_number": rec.submission.tracking_number,
            "policy_id": rec.policy.policy_id,
            "canceled_by": c.canceled_by,
            "cancellation_time": c.cancellation_time,
            "cancellation_reason": c.cancellation_reason,
        }),
    )
}

/// The control tower's view of a delivery and its policy.
pub fn delivery_json(
    rec: &DeliveryRecord,
    history: Option<&[TrackingEvent]>,
    url_certificate: &str,
) -> Value {
    let mut v = serde_json::to_value(&rec.submission).expect("submission serialises");
    let o = v.as_object_mut().expect("submission is an object");
    o.insert("delivery_status".into(), json!(rec.delivery_status));
    o.insert("created_at".into(), json!(rec.created_at));
    o.insert("updated_at".into(), json!(rec.updated_at));
    let pol = &rec.policy;
    o.insert(
        "policy".into(),
        json!({
            "policy_id": pol.policy_id,
            "policy_status": pol.policy_status,
            "premium_amount": pol.premium_amount,
            "currency": pol.currency,
            "product_code": pol.product_code,
            "premium_rate_bps": pol.premium_rate_bps,
            "min_premium": pol.min_premium,
            "issued_at": pol.issued_at,
            "url_certificate": url_certificate,
            "cancellation": pol.cancellation,
            "cancelled_at": pol.cancelled_at,
        }),
    );
    if let Some(h) = history {
        o.insert("tracking_history".into(), json!(h));
    }
    v
}

fn parse_list_query(params: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let get = |k: &str| params.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let delivery_status = get("delivery_status")
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::validation("delivery_status", "must be one of created, in_process, in_delivery, success, fail, in_return, returned.")
            })
        })
        .transpose()?;
    let policy_status = get("policy_status")
        .map(|s| {
            PolicyStatus::parse(s).ok_or_else(|| {
                ApiError::validation("policy_status", "must be active or cancelled.")
            })
        })
        .transpose()?;
    let time = |k: &str| {
        get(k)
            .map(|s| {
                time_fmt::parse(s).map(time_fmt::format).ok_or_else(|| {
                    ApiError::validation(
                        k,
                        "must be an RFC 3339 timestamp such as 2022-04-06T06:05:00.528Z.",
                    )
                })
            })
            .transpose()
    };
    let created_from = time("created_from")?;
    let created_to = time("created_to")?;
    if let (Some(f), Some(t)) = (&created_from, &created_to) {
        if f > t {
            return Err(ApiError::validation(
                "created_from",
                "must not be after created_to.",
            ));
        }
    }
    let limit = match get("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(s) => s
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::validation(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIST_LIMIT}."),
                )
            })?,
    };
    Ok(ListQuery {
        delivery_status,
        policy_status,
        created_from,
        created_to,
        limit,
    })
}

/// What a cursor is bound to besides the partner: the filters (not the page size).
fn query_shape(q: &ListQuery) -> String {
    format!(
        "{}|{}|{}|{}",
        q.delivery_status.map(|s| s.as_str()).unwrap_or(""),
        q.policy_status.map(|s| s.as_str()).unwrap_or(""),
        q.created_from.as_deref().unwrap_or(""),
        q.created_to.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_query_defaults_and_limits() {
        let q = parse_list_query(&params(&[])).unwrap();
        assert_eq!(q.limit, 50);
        for bad in ["0", "101", "x", "1.5"] {
            let e = parse_list_query(&params(&[("limit", bad)])).unwrap_err();
            assert!(e.to_string().starts_with("limit "), "{bad}");
        }
        assert_eq!(
            parse_list_query(&params(&[("limit", "100")]))
                .unwrap()
                .limit,
            100
        );
    }

    #[test]
    fn list_query_filters_are_checked_and_named() {
        assert!(parse_list_query(&params(&[("delivery_status", "lost")]))
            .unwrap_err()
            .to_string()
            .starts_with("delivery_status"));
        assert!(parse_list_query(&params(&[("policy_status", "x")]))
            .unwrap_err()
            .to_string()
            .starts_with("policy_status"));
        assert!(parse_list_query(&params(&[("created_from", "today")]))
            .unwrap_err()
            .to_string()
            .starts_with("created_from"));
        let q =
            parse_list_query(&params(&[("created_from", "2022-04-06T13:00:00+07:00")])).unwrap();
        assert_eq!(q.created_from.as_deref(), Some("2022-04-06T06:00:00.000Z"));
        assert!(parse_list_query(&params(&[
            ("created_from", "2022-04-07T00:00:00Z"),
            ("created_to", "2022-04-06T00:00:00Z")
        ]))
        .is_err());
    }

    #[test]
    fn cursor_shape_depends_on_filters_not_limit() {
        let a = parse_list_query(&params(&[("limit", "5")])).unwrap();
        let b = parse_list_query(&params(&[("limit", "7")])).unwrap();
        let c = parse_list_query(&params(&[("delivery_status", "created")])).unwrap();
        assert_eq!(query_shape(&a), query_shape(&b));
        assert_ne!(query_shape(&a), query_shape(&c));
    }
}
