//! The partner API's use cases, one module per group: `deliveries` (submit, cancel), `tracking`,
//! `control_tower` (reads and lists). Handlers parse the request, call one of these, and answer.
//! This module holds what they share: the `App`, the caller cache and its checks, the request
//! signature check, the product cache and the certificate link.
//!
//! DynamoDB round trips per call (warm container, caller and product cached; the caller's
//! partner and client are read in one BatchGetItem at most once per `ACCESS_CACHE_TTL`):
//! submit 1 write (a retry: the same failed write returns the existing item);
//! tracking 1 read + 1 write; cancel 1 read + 1 write; get delivery 1 query;
//! get policy 2 queries (index, then the delivery); list 1 query per list shard, side by side.
//! Claims (`claims`): file 1 read + 1 write (a transaction); document, note, withdraw 1 read +
//! 1 write; get claim 1 read (+ 1 S3 ListObjectsV2 when it has documents); list 1 query.
//! Catalogue and quotes (`products`): list products 0 (cached) or 1 query; get product 0 (cached)
//! or 1 read; quote 1 write (+ 1 read when its product is not cached); submit with `quote_id`
//! 1 read (the quote) + 1 write.

mod claims;
mod control_tower;
mod deliveries;
mod event_log;
pub mod events;
mod products;
pub mod sender;
mod tracking;
mod webhooks;

pub use claims::{claim_json, claim_list_item_json, claims_summary_json};
pub use control_tower::{delivery_json, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
pub use deliveries::cancel_reply;
pub use products::{
    catalogue_json, product_json, quote_validity, QUOTE_VALIDITY, QUOTE_VALIDITY_ENV,
    QUOTE_VALIDITY_MIN_DEPLOYED,
};
pub use tracking::tracking_reply;
pub use webhooks::{endpoint_json, WebhookDeps};

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::auth::Principal;
use crate::cache::{Lazy, TtlCache};
use crate::error::ApiError;
use crate::secrets::LinkKeys;
use crate::store::{
    ClientRecord, DeliveryRecord, PartnerRecord, ProductRecord, Store, CLIENT_ACTIVE,
    CLIENT_REVOKED, PARTNER_ACTIVE,
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

/// What the API knows of a caller beyond its token: its partner and client as stored.
pub struct Caller {
    pub partner: PartnerRecord,
    pub client: ClientRecord,
}

pub struct App {
    pub store: Store,
    pub links: LinkKeys,
    /// The claims bucket (only the claims function has one; `with_documents`).
    documents: Option<crate::documents::Documents>,
    callers: TtlCache<String, Arc<Caller>>,
    /// What the webhook routes need besides the store (`with_webhooks`).
    webhooks: Option<WebhookDeps>,
    products: TtlCache<String, Arc<ProductRecord>>,
    /// Every product, for the catalogue (`PRODUCT_CACHE_TTL`, like each product's entry).
    catalogue: Lazy<Vec<ProductRecord>>,
    /// How long a quote is valid (`quote_validity()`, read once per container).
    quote_validity: Duration,
}

/// A handler's answer: status and JSON body.
pub type Reply = (u16, Value);

impl App {
    pub fn new(store: Store, links: LinkKeys) -> Self {
        App {
            store,
            links,
            documents: None,
            callers: TtlCache::new(access_cache_ttl()),
            products: TtlCache::new(PRODUCT_CACHE_TTL),
            webhooks: None,
            catalogue: Lazy::new(PRODUCT_CACHE_TTL),
            quote_validity: quote_validity(),
        }
    }

    pub fn with_webhooks(mut self, deps: WebhookDeps) -> Self {
        self.webhooks = Some(deps);
        self
    }

    /// The application with the claims bucket (the claims function).
    pub fn with_documents(mut self, documents: crate::documents::Documents) -> Self {
        self.documents = Some(documents);
        self
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

    /// A product (cached `PRODUCT_CACHE_TTL`), or `unknown_product`.
    async fn product(&self, code: &str) -> Result<Arc<ProductRecord>, ApiError> {
        self.products
            .get_or_load(&code.to_string(), || async {
                self.store
                    .product_record(code)
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

    /// The caller's delivery with that tracking number, or 404.
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
}

/// The start key a list's `cursor` parameter holds (`None` without one): 400 `invalid_cursor`
/// when it was altered, or sealed for another partner or other filters (`shape`).
fn open_list_cursor(
    key: &crate::links::LinkKey,
    partner_id: &str,
    shape: &str,
    params: &std::collections::HashMap<String, String>,
) -> Result<Option<std::collections::HashMap<String, String>>, ApiError> {
    match params.get("cursor").filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => {
            let payload = key
                .open_cursor(partner_id, shape, c)
                .ok_or(ApiError::InvalidCursor)?;
            serde_json::from_str(&payload)
                .map(Some)
                .map_err(|_| ApiError::InvalidCursor)
        }
    }
}

/// The `next_cursor` of a page: its last key, sealed for the partner and the filters.
fn seal_list_cursor(
    key: &crate::links::LinkKey,
    partner_id: &str,
    shape: &str,
    next: Option<std::collections::HashMap<String, String>>,
) -> Option<String> {
    next.map(|k| {
        key.seal_cursor(
            partner_id,
            shape,
            &serde_json::to_string(&k).expect("map serialises"),
        )
    })
}

fn not_found_tracking(tracking_number: &str) -> ApiError {
    ApiError::NotFound(format!("tracking_number {tracking_number} was not found."))
}
