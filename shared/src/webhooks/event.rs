//! Events: what the partner receives and what the event log keeps.
//!
//! An event is derived from one committed change of a resource item, read from the table's
//! DynamoDB Stream (NEW_AND_OLD_IMAGES). Its id is deterministic: `evt_` + a ULID whose time is
//! the change's `updated_at` (ms) and whose 80 random bits are a hash of (partner, resource kind,
//! resource id, version, event type), so a stream record processed twice derives the same id, and
//! the event log's conditional Put keeps exactly one.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::domain::PolicyStatus;
use crate::store::{keys, ClaimRecord, DeliveryRecord};

/// `api_version` of every event body.
pub const API_VERSION: &str = "v1";
/// Prefix of event ids.
pub const EVENT_ID_PREFIX: &str = "evt_";
/// How long the event log keeps an event (contract: the last 30 days).
pub const EVENT_RETENTION_SECONDS: i64 = 30 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "policy.issued")]
    PolicyIssued,
    #[serde(rename = "policy.cancelled")]
    PolicyCancelled,
    #[serde(rename = "delivery.status_changed")]
    DeliveryStatusChanged,
    #[serde(rename = "claim.submitted")]
    ClaimSubmitted,
    #[serde(rename = "claim.in_review")]
    ClaimInReview,
    #[serde(rename = "claim.information_requested")]
    ClaimInformationRequested,
    #[serde(rename = "claim.approved")]
    ClaimApproved,
    #[serde(rename = "claim.rejected")]
    ClaimRejected,
    #[serde(rename = "claim.paid")]
    ClaimPaid,
    #[serde(rename = "claim.withdrawn")]
    ClaimWithdrawn,
    #[serde(rename = "claim.updated")]
    ClaimUpdated,
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// Every type an endpoint can subscribe to (`ping` is sent on request, to one endpoint).
    pub const SUBSCRIBABLE: [EventType; 11] = [
        EventType::PolicyIssued,
        EventType::PolicyCancelled,
        EventType::DeliveryStatusChanged,
        EventType::ClaimSubmitted,
        EventType::ClaimInReview,
        EventType::ClaimInformationRequested,
        EventType::ClaimApproved,
        EventType::ClaimRejected,
        EventType::ClaimPaid,
        EventType::ClaimWithdrawn,
        EventType::ClaimUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PolicyIssued => "policy.issued",
            EventType::PolicyCancelled => "policy.cancelled",
            EventType::DeliveryStatusChanged => "delivery.status_changed",
            EventType::ClaimSubmitted => "claim.submitted",
            EventType::ClaimInReview => "claim.in_review",
            EventType::ClaimInformationRequested => "claim.information_requested",
            EventType::ClaimApproved => "claim.approved",
            EventType::ClaimRejected => "claim.rejected",
            EventType::ClaimPaid => "claim.paid",
            EventType::ClaimWithdrawn => "claim.withdrawn",
            EventType::ClaimUpdated => "claim.updated",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([EventType::Ping])
            .find(|t| t.as_str() == s)
    }

    /// `claim.<status>` for a claim that moved to `status` (`None` for `submitted` and unknown ones:
    /// `claim.submitted` is the claim's creation).
    pub fn of_claim_status(status: &str) -> Option<EventType> {
        match status {
            "submitted" => None,
            s => Self::parse(&format!("claim.{s}"))
                .filter(|t| !matches!(t, EventType::ClaimSubmitted | EventType::ClaimUpdated)),
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The deterministic id of the event of type `t` for version `version` of a resource. It
/// carries the resource's event log shard (`keys::event_id_shard` reads it back).
pub fn event_id(
    at_ms: u64,
    partner_id: &str,
    resource_kind: &str,
    resource_id: &str,
    version: u64,
    t: EventType,
) -> String {
    let digest = Sha256::new()
        .chain_update(partner_id.as_bytes())
        .chain_update([0])
        .chain_update(resource_kind.as_bytes())
        .chain_update([0])
        .chain_update(resource_id.as_bytes())
        .chain_update([0])
        .chain_update(version.to_string().as_bytes())
        .chain_update([0])
        .chain_update(t.as_str().as_bytes())
        .finalize();
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    // The top bits of the random part name the event log shard of the resource (issue 17:
    // `keys::event_log_shard`), so the id leads to its key.
    let shard = keys::event_log_shard(resource_kind, resource_id);
    let keep = 0xFFu8 >> keys::EVENT_SHARD_BITS;
    random[6] = (random[6] & keep) | (shard << (8 - keys::EVENT_SHARD_BITS));
    let ulid = ulid::Ulid::from_parts(at_ms, u128::from_be_bytes(random));
    format!("{EVENT_ID_PREFIX}{ulid}")
}

/// A random event id at `at_ms` (a `ping`, which is no change of any resource).
pub fn random_event_id(at_ms: u64) -> String {
    let r: [u8; 16] = crate::keys::random_bytes();
    format!(
        "{EVENT_ID_PREFIX}{}",
        ulid::Ulid::from_parts(at_ms, u128::from_be_bytes(r))
    )
}

/// The smallest and largest event ids of events created from `from_ms` to `to_ms` (inclusive).
pub fn id_bounds(from_ms: u64, to_ms: u64) -> (String, String) {
    (
        format!("{EVENT_ID_PREFIX}{}", ulid::Ulid::from_parts(from_ms, 0)),
        format!(
            "{EVENT_ID_PREFIX}{}",
            ulid::Ulid::from_parts(to_ms, u128::MAX)
        ),
    )
}

/// A plausible event id (`evt_` + 26 Crockford base32 characters); anything else cannot exist.
pub fn is_event_id(s: &str) -> bool {
    s.strip_prefix(EVENT_ID_PREFIX)
        .is_some_and(|u| u.len() == 26 && ulid::Ulid::from_string(u).is_ok())
}

/// One event: its envelope fields and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub event_type: EventType,
    /// RFC 3339: the time of the change (the resource's `updated_at`).
    pub created_at: String,
    pub partner_id: String,
    /// `delivery` or `claim` (`endpoint` for a ping).
    pub resource_kind: &'static str,
    pub resource_id: String,
    pub version: u64,
    pub data: Value,
}

impl Event {
    /// The body sent and kept: `{"id","type","created_at","api_version","data"}`. serde_json's
    /// maps are ordered, so the same event always serialises to the same bytes.
    pub fn body(&self) -> String {
        json!({
            "id": self.id,
            "type": self.event_type.as_str(),
            "created_at": self.created_at,
            "api_version": API_VERSION,
            "data": self.data,
        })
        .to_string()
    }
}

fn ms_of(rfc3339: &str) -> u64 {
    crate::time_fmt::parse(rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64)
        .unwrap_or(0)
}

/// Which resource changed, at which version and when: what an event's id, time and envelope
/// come from.
struct Change<'a> {
    partner_id: &'a str,
    /// `delivery` or `claim`.
    kind: &'static str,
    /// The tracking number of a delivery, the claim id of a claim.
    id: &'a str,
    version: u64,
    /// The change's time (the resource's `updated_at`).
    updated_at: &'a str,
}

impl Change<'_> {
    /// The event of type `t` of this change: `data` is `view` plus `version` and, for a status
    /// change, `previous_status`.
    fn event(&self, t: EventType, previous_status: Option<&str>, view: &Value) -> Event {
        let mut data = view.clone();
        if let Some(o) = data.as_object_mut() {
            o.insert("version".into(), json!(self.version));
            if let Some(p) = previous_status {
                o.insert("previous_status".into(), json!(p));
            }
        }
        Event {
            id: event_id(
                ms_of(self.updated_at),
                self.partner_id,
                self.kind,
                self.id,
                self.version,
                t,
            ),
            event_type: t,
            created_at: self.updated_at.to_string(),
            partner_id: self.partner_id.to_string(),
            resource_kind: self.kind,
            resource_id: self.id.to_string(),
            version: self.version,
            data,
        }
    }
}

/// The events of one change of a delivery item (`old` is `None` for its creation). `view` is the
/// delivery as the control tower returns it (without the tracking history: the item does not
/// hold it); each event's `data` is that view plus `version` and, for a status change,
/// `previous_status`. A change that moves neither the policy nor the delivery status (new
/// tracking events in the same status, a claims summary) is no event.
pub fn delivery_events(
    old: Option<&DeliveryRecord>,
    new: &DeliveryRecord,
    view: &Value,
) -> Vec<Event> {
    if old.is_some_and(|o| o.version >= new.version) {
        return Vec::new();
    }
    let mut types: Vec<(EventType, Option<&str>)> = Vec::new();
    match old {
        None => types.push((EventType::PolicyIssued, None)),
        Some(o) => {
            if new.policy.policy_status == PolicyStatus::Cancelled
                && o.policy.policy_status != PolicyStatus::Cancelled
            {
                types.push((EventType::PolicyCancelled, None));
            }
            if new.delivery_status != o.delivery_status {
                types.push((
                    EventType::DeliveryStatusChanged,
                    Some(o.delivery_status.as_str()),
                ));
            }
        }
    }
    let change = Change {
        partner_id: &new.partner_id,
        kind: "delivery",
        id: new.submission.tracking_number.as_str(),
        version: new.version,
        updated_at: &new.updated_at,
    };
    types
        .into_iter()
        .map(|(t, previous)| change.event(t, previous, view))
        .collect()
}

/// The event of one change of a claim item (`old` is `None` for its creation): exactly one per
/// committed change. Creation is `claim.submitted`; a status move is `claim.<new status>` with
/// `previous_status`, whatever else the same write changed (a partner's note that answers an
/// information request is ONE event, `claim.in_review`, whose `data.notes` holds the note);
/// any other change (a note, a document added) is `claim.updated`. `view` is the claim as
/// `GET /api/v1/claims/{claim_id}` returns it, built from the item alone (so its documents
/// carry no `uploaded`: that is S3's state at read time, not part of the change). A record that
/// does not raise the version (nothing committed) is no event.
pub fn claim_events(old: Option<&ClaimRecord>, new: &ClaimRecord, view: &Value) -> Vec<Event> {
    let (t, previous) = match old {
        Some(o) if o.version >= new.version => return Vec::new(),
        None => (EventType::ClaimSubmitted, None),
        Some(o) if o.claim_status != new.claim_status => (
            EventType::of_claim_status(new.claim_status.as_str())
                .unwrap_or(EventType::ClaimUpdated),
            Some(o.claim_status.as_str()),
        ),
        Some(_) => (EventType::ClaimUpdated, None),
    };
    let change = Change {
        partner_id: &new.partner_id,
        kind: "claim",
        id: &new.claim_id,
        version: new.version,
        updated_at: &new.updated_at,
    };
    vec![change.event(t, previous, view)]
}

/// The `ping` sent by `POST /webhook-endpoints/{id}/test`.
pub fn ping(partner_id: &str, endpoint_id: &str) -> Event {
    let now = crate::time_fmt::now();
    let at_ms = (now.unix_timestamp_nanos() / 1_000_000) as u64;
    Event {
        id: random_event_id(at_ms),
        event_type: EventType::Ping,
        created_at: crate::time_fmt::format(now),
        partner_id: partner_id.to_string(),
        resource_kind: "endpoint",
        resource_id: endpoint_id.to_string(),
        version: 0,
        data: json!({"endpoint_id": endpoint_id, "message": "This is a test event sent on request."}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_deterministic_time_sorted_and_distinct_per_type_and_version() {
        let a = event_id(
            1_700_000_000_000,
            "p",
            "delivery",
            "T1",
            2,
            EventType::PolicyCancelled,
        );
        assert_eq!(
            a,
            event_id(
                1_700_000_000_000,
                "p",
                "delivery",
                "T1",
                2,
                EventType::PolicyCancelled
            )
        );
        assert!(is_event_id(&a), "{a}");
        assert_ne!(
            a,
            event_id(
                1_700_000_000_000,
                "p",
                "delivery",
                "T1",
                3,
                EventType::PolicyCancelled
            )
        );
        assert_ne!(
            a,
            event_id(
                1_700_000_000_000,
                "p",
                "delivery",
                "T1",
                2,
                EventType::DeliveryStatusChanged
            )
        );
        assert_ne!(
            a,
            event_id(
                1_700_000_000_000,
                "q",
                "delivery",
                "T1",
                2,
                EventType::PolicyCancelled
            )
        );
        let later = event_id(
            1_700_000_000_001,
            "a",
            "delivery",
            "T0",
            1,
            EventType::PolicyIssued,
        );
        assert!(later > a, "ids sort by time");
        let (lo, hi) = id_bounds(1_700_000_000_000, 1_700_000_000_000);
        assert!(lo <= a && a <= hi);
        assert!(!is_event_id("evt_x"));
        // The id carries the resource's log shard; the hash bits around it stay distinct.
        for tn in ["T0", "T1", "T2", "SPX0001", "x"] {
            let id = event_id(1, "p", "delivery", tn, 1, EventType::PolicyIssued);
            assert_eq!(
                keys::event_id_shard(&id),
                Some(keys::event_log_shard("delivery", tn)),
                "{id}"
            );
        }
        assert_eq!(keys::event_id_shard("pol_01HZZZZZZZZZZZZZZZZZZZZZZZ"), None);
        assert!(!is_event_id("pol_01HZZZZZZZZZZZZZZZZZZZZZZZ"));
    }

    #[test]
    fn event_types_round_trip_and_claim_statuses_map() {
        for t in EventType::SUBSCRIBABLE.into_iter().chain([EventType::Ping]) {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(
            EventType::of_claim_status("approved"),
            Some(EventType::ClaimApproved)
        );
        assert_eq!(
            EventType::of_claim_status("information_requested"),
            Some(EventType::ClaimInformationRequested)
        );
        assert_eq!(EventType::of_claim_status("submitted"), None);
        assert_eq!(EventType::of_claim_status("updated"), None);
        assert_eq!(EventType::parse("claim.nope"), None);
    }
}
