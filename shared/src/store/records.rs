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
}

impl std::fmt::Debug for PartnerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerRecord")
            .field("partner_id", &self.partner_id)
            .field("name", &self.name)
            .field("status", &self.status)
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
}

/// A delivery and its policy: one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Ids of the tracking events stored so far (`TrackingEvent::id`).
    #[serde(default)]
    pub event_ids: Vec<String>,
}

/// The events accepted by one tracking update.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatchRecord {
    pub events: Vec<TrackingEvent>,
    pub delivery_status: DeliveryStatus,
    pub received_at: String,
}
