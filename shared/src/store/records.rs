//! What is stored: records serialised with serde_dynamo; key attributes are added by `Store`.

use serde::{Deserialize, Serialize};

use crate::domain::{Cancellation, DeliveryStatus, PolicyStatus, Submission, TrackingEvent};

#[derive(Clone, Serialize, Deserialize)]
pub struct PartnerRecord {
    pub partner_id: String,
    pub name: String,
    pub status: String,
    /// The key of the request signature (needed in clear to compute MD5; the table is encrypted at rest).
    pub api_token_key: String,
    pub created_at: String,
    /// The key replaced by the last rotation, still accepted until `previous_api_token_key_until`
    /// (the rotation's overlap window, so the partner can switch without failed calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_api_token_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_api_token_key_until: Option<String>,
    /// Incremented by every operator change; operator writes are conditional on it.
    #[serde(default)]
    pub revision: u64,
}

/// Partner status values (`PartnerRecord::status`).
pub const PARTNER_ACTIVE: &str = "active";
pub const PARTNER_SUSPENDED: &str = "suspended";
/// Client status values (`ClientRecord::status`). `suspended` follows the partner's suspension
/// (so the token endpoint decides on the client item alone); `revoked` is final.
pub const CLIENT_ACTIVE: &str = "active";
pub const CLIENT_SUSPENDED: &str = "suspended";
pub const CLIENT_REVOKED: &str = "revoked";

impl PartnerRecord {
    /// The signature keys accepted at `now`: the current one and, inside the overlap window, the previous one.
    pub fn signature_keys(&self, now: time::OffsetDateTime) -> Vec<&str> {
        let mut keys = vec![self.api_token_key.as_str()];
        if let Some(prev) = &self.previous_api_token_key {
            if still_valid(self.previous_api_token_key_until.as_deref(), now) {
                keys.push(prev);
            }
        }
        keys
    }
}

/// True when `until` (RFC 3339) is after `now`.
pub fn still_valid(until: Option<&str>, now: time::OffsetDateTime) -> bool {
    until
        .and_then(crate::time_fmt::parse)
        .is_some_and(|u| now < u)
}

impl std::fmt::Debug for PartnerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerRecord")
            .field("partner_id", &self.partner_id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: String,
    pub partner_id: String,
    /// `sha256:<hex>` of the client secret (see `crate::oauth::hash_secret`).
    pub secret_hash: String,
    pub subscriptions: Vec<String>,
    pub status: String,
    pub created_at: String,
    /// The hash of the secret replaced by the last rotation, accepted until `previous_secret_until`
    /// (the rotation's grace period; absent when the old secret stopped at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<String>,
    /// Incremented by every operator change; operator writes are conditional on it.
    #[serde(default)]
    pub revision: u64,
}

/// The policy sold with a delivery. It keeps the premium rule it was sold under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub policy_id: String,
    pub policy_status: PolicyStatus,
    pub premium_amount: u64,
    pub currency: String,
    pub product_code: String,
    pub premium_rate_bps: u32,
    pub min_premium: u64,
    pub max_item_value: u64,
    pub issued_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
    /// The product's claim terms at sale, kept by the policy (policies sold before products
    /// had claim terms read as the defaults, 7 and 14 days).
    #[serde(default = "default_loss_after_days")]
    pub loss_after_days: u32,
    #[serde(default = "default_damage_claim_days")]
    pub damage_claim_days: u32,
}

fn default_loss_after_days() -> u32 {
    crate::domain::claim::DEFAULT_LOSS_AFTER_DAYS
}

fn default_damage_claim_days() -> u32 {
    crate::domain::claim::DEFAULT_DAMAGE_CLAIM_DAYS
}

/// A delivery and its policy: one item (layout: `delivery_layout.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "super::delivery_layout::StoredDelivery",
    into = "super::delivery_layout::StoredDelivery"
)]
pub struct DeliveryRecord {
    pub partner_id: String,
    pub submission: Submission,
    /// `Submission::fingerprint` of the body that created it (tells a retry from a different body).
    pub fingerprint: String,
    pub policy: PolicyRecord,
    pub delivery_status: DeliveryStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Incremented by every change; writes are conditional on the version they read.
    pub version: u64,
    /// The tracking updates whose events are kept inside the delivery item, in version order.
    pub batches: Vec<EventBatchRecord>,
    /// Ids (`TrackingEvent::id`) of the events kept in items of their own under the delivery's
    /// partition (`EVENTS#<version>`): those of an update that would have made the item's
    /// events outgrow `INLINE_EVENTS_MAX_BYTES`, and every event stored before issue 17.
    pub event_ids: Vec<String>,
    /// What claims need, kept on the delivery so that filing is 1 read + 1 write (issue 13);
    /// plain attributes of the item (`delivery_layout.rs`).
    pub claims: super::claim_records::DeliveryClaims,
}

impl DeliveryRecord {
    /// The ids of every event stored for this delivery (inside the item and beside it).
    pub fn stored_event_ids(&self) -> std::collections::HashSet<String> {
        self.batches
            .iter()
            .flat_map(|b| b.events.iter().map(TrackingEvent::id))
            .chain(self.event_ids.iter().cloned())
            .collect()
    }
}

/// The events accepted by one tracking update: inside the delivery item (`DeliveryRecord::batches`)
/// or, past the inline limit, an item of its own (`EVENTS#<version>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBatchRecord {
    /// The delivery version the update produced (items written before issue 17 carry it in
    /// their sort key only).
    #[serde(default)]
    pub version: u64,
    pub delivery_status: DeliveryStatus,
    pub events: Vec<TrackingEvent>,
    /// Written before issue 17 only: nothing read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
}

/// One operator action in the audit log. `before` and `after` are JSON views of what changed,
/// built without secrets (no client secret, hash or `api_token_key`; see `opsctl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub audit_id: String,
    /// When (`time_fmt::format`).
    pub at: String,
    /// Who: the operator's AWS identity or the name given to `opsctl --actor`.
    pub actor: String,
    /// What: the command, e.g. `client.revoke`.
    pub action: String,
    /// The object acted on: `partner:<id>`, `client:<id>`, `product:<code>`, `signing-keys`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// JSON text of the object before and after the action (absent for a creation / a deletion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
