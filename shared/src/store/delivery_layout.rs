//! How a delivery item is stored (issue 17), and how items written before it are still read.
//!
//! | attribute | what |
//! |---|---|
//! | `pk`, `sk` | `DELIVERY#<partner>#<tracking_number>`, `DELIVERY` |
//! | `d` | compressed (`blob.rs`) `{submission, policy, created_at}`: what never changes but by a cancellation |
//! | `delivery_status`, `policy_status`, `updated_at` | plain, so filters and stream consumers read them |
//! | `version` | plain; every write is conditional on it |
//! | `fp` | the submission fingerprint, 32 bytes |
//! | `e` | compressed tracking updates (`EventBatchRecord`s), absent before the first |
//! | `event_ids` | ids of events kept in `EVENTS#<version>` items (overflow, and items before issue 17) |
//! | `last_event_time`, `success_time`, `claims`, `open_claim`, `claims_paid_total` | claims' part (issue 13), plain |
//! | `cpk`, `spk`, `lsk`, `gsi3pk` | list and policy index keys (`keys.rs`); the list indexes project ALL |
//!
//! `DeliveryRecord` is (de)serialised through `StoredDelivery`, so code that reads an item
//! (or a stream image of it) with serde_dynamo keeps using `DeliveryRecord`. An item of the
//! layout before issue 17 (`submission`, `policy`, `fingerprint`, `partner_id`, `created_at`
//! as plain maps and strings) reads into the same record; the store's next write of it
//! rewrites it in this layout (`LEGACY_ATTRIBUTES` are removed), and `opsctl migrate
//! deliveries` rewrites the rest (README "Migrating a deployed table (issue 17)").
//! The record reads an item without `fp`, `version`, `e` or `event_ids` (an empty fingerprint,
//! version 0, no events), should a list index ever project less than ALL.

use serde::{Deserialize, Serialize};

use super::blob;
use super::claim_records::DeliveryClaims;
use super::keys;
use super::records::{DeliveryRecord, EventBatchRecord, PolicyRecord};
use crate::domain::{DeliveryStatus, PolicyStatus, Submission};

/// Compressed events of an item beyond this size make the update that would pass it write its
/// events in an item of their own (`EVENTS#<version>`, in the same transaction), so that the
/// delivery item, which every tracking update rewrites whole, stays small and far below
/// DynamoDB's 400 KB.
pub const INLINE_EVENTS_MAX_BYTES: usize = 4096;

/// Attributes of the layout before issue 17 (besides the index keys in
/// `keys::LEGACY_INDEX_ATTRIBUTES`), removed when the store rewrites such an item.
pub const LEGACY_ATTRIBUTES: [&str; 5] = [
    "submission",
    "policy",
    "fingerprint",
    "partner_id",
    "created_at",
];

/// What `d` holds.
#[derive(Serialize, Deserialize)]
struct DeliveryDoc {
    submission: Submission,
    /// Its `policy_status` is also the plain attribute, which wins (the two are written together).
    policy: PolicyRecord,
    created_at: String,
}

/// The item's attributes, both layouts (keys aside, which the store adds).
#[derive(Serialize, Deserialize)]
pub struct StoredDelivery {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_doc")]
    d: Option<DeliveryDoc>,
    delivery_status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy_status: Option<PolicyStatus>,
    updated_at: String,
    #[serde(default)]
    version: u64,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "fp_ser",
        deserialize_with = "fp_de"
    )]
    fp: Vec<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "opt_batches")]
    e: Vec<EventBatchRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    event_ids: Vec<String>,
    /// Claims' part (issue 13): `last_event_time`, `success_time`, `claims`, `open_claim`,
    /// `claims_paid_total`, each a plain attribute, absent when empty.
    #[serde(flatten)]
    claims: DeliveryClaims,
    // Read only: the partition key (the partner id is in it), and the layout before issue 17.
    #[serde(default, skip_serializing)]
    pk: Option<String>,
    #[serde(default, skip_serializing)]
    partner_id: Option<String>,
    #[serde(default, skip_serializing)]
    submission: Option<Submission>,
    #[serde(default, skip_serializing)]
    policy: Option<PolicyRecord>,
    #[serde(default, skip_serializing)]
    fingerprint: Option<String>,
    #[serde(default, skip_serializing)]
    created_at: Option<String>,
}

impl TryFrom<StoredDelivery> for DeliveryRecord {
    type Error = String;

    fn try_from(s: StoredDelivery) -> Result<Self, String> {
        // An item that still has the layout before issue 17 is read from it, even when it
        // also carries this layout's attributes (written by `opsctl migrate deliveries
        // --keep-old-layout` while the release before issue 17 still runs and writes the old
        // attributes only): the old attributes are the ones kept current then.
        let (submission, policy, created_at, fingerprint) = match (s.submission, s.d) {
            (Some(submission), _) => (
                submission,
                s.policy.ok_or("a delivery item without its policy")?,
                s.created_at.ok_or("a delivery item without created_at")?,
                s.fingerprint.unwrap_or_default(),
            ),
            (None, Some(doc)) => {
                let mut policy = doc.policy;
                if let Some(status) = s.policy_status {
                    policy.policy_status = status;
                }
                (doc.submission, policy, doc.created_at, hex::encode(&s.fp))
            }
            (None, None) => return Err("a delivery item without its submission".into()),
        };
        let partner_id = match s.partner_id {
            Some(p) => p,
            None => {
                s.pk.as_deref()
                    .and_then(keys::parse_delivery_pk)
                    .map(|(p, _)| p)
                    .ok_or("a delivery item without its partition key")?
            }
        };
        Ok(DeliveryRecord {
            partner_id,
            submission,
            fingerprint,
            policy,
            delivery_status: s.delivery_status,
            created_at,
            updated_at: s.updated_at,
            version: s.version,
            batches: s.e,
            event_ids: s.event_ids,
            claims: s.claims,
        })
    }
}

impl From<DeliveryRecord> for StoredDelivery {
    fn from(r: DeliveryRecord) -> Self {
        StoredDelivery {
            policy_status: Some(r.policy.policy_status),
            d: Some(DeliveryDoc {
                submission: r.submission,
                policy: r.policy,
                created_at: r.created_at,
            }),
            delivery_status: r.delivery_status,
            updated_at: r.updated_at,
            version: r.version,
            // A fingerprint is 64 hex digits; anything else (none is written) is kept as text.
            fp: hex::decode(&r.fingerprint).unwrap_or_else(|_| r.fingerprint.into_bytes()),
            e: r.batches,
            event_ids: r.event_ids,
            claims: r.claims,
            pk: None,
            partner_id: None,
            submission: None,
            policy: None,
            fingerprint: None,
            created_at: None,
        }
    }
}

fn fp_ser<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    blob::serialize_bytes(v, s)
}

fn fp_de<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    blob::deserialize_bytes(d)
}

mod opt_doc {
    use super::DeliveryDoc;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<DeliveryDoc>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(doc) => crate::store::blob::attr::serialize(doc, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DeliveryDoc>, D::Error> {
        crate::store::blob::attr::deserialize(d).map(Some)
    }
}

mod opt_batches {
    use crate::store::records::EventBatchRecord;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[EventBatchRecord], s: S) -> Result<S::Ok, S::Error> {
        crate::store::blob::attr::serialize(&v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EventBatchRecord>, D::Error> {
        crate::store::blob::attr::deserialize(d)
    }
}

/// The index key attributes of a delivery: both list indexes (sharded) and `by-policy`.
pub fn index_keys(rec: &DeliveryRecord) -> [(&'static str, String); 4] {
    let tn = rec.submission.tracking_number.as_str();
    let shard = keys::list_shard(tn);
    [
        (
            keys::CREATED_PK,
            keys::by_created_pk(&rec.partner_id, shard),
        ),
        (
            keys::STATUS_PK,
            keys::by_status_pk(&rec.partner_id, rec.delivery_status, shard),
        ),
        (keys::LIST_SK, keys::list_sk(&rec.created_at, tn)),
        (keys::POLICY_PK, keys::by_policy_pk(&rec.policy.policy_id)),
    ]
}

/// The encoded size of a delivery's inline events (what `INLINE_EVENTS_MAX_BYTES` bounds).
pub fn inline_events_bytes(batches: &[EventBatchRecord]) -> usize {
    if batches.is_empty() {
        0
    } else {
        blob::encode(batches).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TrackingEvent;
    use crate::store::Item;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn record() -> DeliveryRecord {
        let body = serde_json::json!({
            "tracking_number": "SPX0001", "product_code": "ahasme", "customer_name": "Nguyễn Văn A",
            "customer_phone": "0901234567", "pickup_address": "1 Nguyễn Huệ, Quận 1, TP.HCM",
            "drop_up_address": "12 Lê Lợi, Quận 3, TP.HCM", "type_of_goods": "electronics",
            "cod_amount": 250000, "item_value": 3000000, "premium_amount": 15000,
            "customer_email": "a@example.com", "sender_name": "Shop ABC", "sender_phone": "0281234567",
            "sender_email": "shop@example.com", "recipient_name": "Lê Thị C", "recipient_phone": "0907654321",
            "signature": "s", "order_created_time": "2024-05-01T07:30:00.528Z",
            "goods_description": "Điện thoại di động", "good_quantity": 2
        });
        let (submission, _) = Submission::parse(body.as_object().unwrap()).unwrap();
        DeliveryRecord {
            partner_id: "ptn_1".into(),
            fingerprint: submission.fingerprint(),
            submission,
            policy: PolicyRecord {
                policy_id: "pol_01jabc".into(),
                policy_status: PolicyStatus::Active,
                premium_amount: 15000,
                currency: "VND".into(),
                product_code: "ahasme".into(),
                premium_rate_bps: 50,
                min_premium: 10000,
                max_item_value: 50_000_000,
                issued_at: "2026-12-01T00:00:00.000Z".into(),
                cancellation: None,
                cancelled_at: None,
                loss_after_days: 7,
                damage_claim_days: 14,
            },
            delivery_status: DeliveryStatus::InProcess,
            created_at: "2026-12-01T00:00:00.000Z".into(),
            updated_at: "2026-12-01T00:01:00.000Z".into(),
            version: 3,
            batches: vec![EventBatchRecord {
                version: 2,
                delivery_status: DeliveryStatus::InProcess,
                events: vec![TrackingEvent {
                    tracking_time: "2026-12-01T00:00:30.000Z".into(),
                    tracking_status: Some("picked".into()),
                    contact_phone_number: None,
                    contact_email: None,
                    handler_name: None,
                    end_address: None,
                    start_address: None,
                    tracking_desctiption: Some("picked up".into()),
                    order_id: None,
                    vehicle_type: None,
                    vehicle_number: None,
                    image_url: None,
                }],
                received_at: None,
            }],
            event_ids: vec![],
            claims: DeliveryClaims::default(),
        }
    }

    fn with_pk(mut item: Item, rec: &DeliveryRecord) -> Item {
        item.insert(
            keys::PK.into(),
            AttributeValue::S(keys::delivery_pk(
                &rec.partner_id,
                rec.submission.tracking_number.as_str(),
            )),
        );
        item
    }

    #[test]
    fn a_record_round_trips_through_the_item() {
        let rec = record();
        let item: Item = serde_dynamo::to_item(&rec).unwrap();
        let names: std::collections::BTreeSet<&str> = item.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "d",
                "delivery_status",
                "e",
                "fp",
                "policy_status",
                "updated_at",
                "version"
            ]
            .into()
        );
        assert!(matches!(item["d"], AttributeValue::B(_)));
        assert_eq!(item["fp"].as_b().unwrap().as_ref().len(), 32);
        let back: DeliveryRecord = serde_dynamo::from_item(with_pk(item, &rec)).unwrap();
        assert_eq!(back, rec);
    }

    /// The events function reads stream images (JSON, binary attributes in base64, as Lambda
    /// delivers them) through `DeliveryRecord`: the compact layout and the one before issue 17.
    #[test]
    fn stream_images_of_both_layouts_read_into_the_record_and_make_the_events() {
        use crate::webhooks::event::{delivery_events, EventType};
        let rec = record();
        let image = |item: Item| -> serde_dynamo::Item {
            // The SDK's item -> Lambda's stream JSON -> the image the events function gets.
            let lambda = serde_dynamo::Item::from(item);
            let json = serde_json::to_string(&lambda).unwrap();
            serde_json::from_str(&json).unwrap()
        };
        let old_item = with_pk(serde_dynamo::to_item(&rec).unwrap(), &rec);
        let mut next = rec.clone();
        next.version += 1;
        next.delivery_status = DeliveryStatus::InDelivery;
        next.updated_at = "2026-12-01T00:02:00.000Z".into();
        let new_item = with_pk(serde_dynamo::to_item(&next).unwrap(), &next);
        let json = serde_json::to_string(&serde_dynamo::Item::from(old_item.clone())).unwrap();
        assert!(
            json.contains(r#""d":{"B":""#),
            "binary attributes as base64: {json}"
        );
        let old: DeliveryRecord = serde_dynamo::from_item(image(old_item)).unwrap();
        let new: DeliveryRecord = serde_dynamo::from_item(image(new_item)).unwrap();
        assert_eq!((&old, &new), (&rec, &next));
        let events = delivery_events(Some(&old), &new, &serde_json::json!({}));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, EventType::DeliveryStatusChanged);
        assert_eq!(events[0].data["previous_status"], "in_process");
        // An item of the layout before issue 17, as its stream image.
        let legacy: Item = serde_dynamo::to_item(serde_json::json!({
            "pk": keys::delivery_pk(&rec.partner_id, rec.submission.tracking_number.as_str()),
            "sk": "DELIVERY", "partner_id": rec.partner_id, "submission": rec.submission,
            "fingerprint": rec.fingerprint, "policy": rec.policy, "delivery_status": "in_process",
            "created_at": rec.created_at, "updated_at": rec.updated_at, "version": 3,
        }))
        .unwrap();
        let legacy: DeliveryRecord = serde_dynamo::from_item(image(legacy)).unwrap();
        assert_eq!(legacy.submission, rec.submission);
        assert_eq!(
            delivery_events(None, &legacy, &serde_json::json!({}))[0].event_type,
            EventType::PolicyIssued
        );
    }

    #[test]
    fn the_plain_policy_status_wins() {
        let rec = record();
        let mut item: Item = serde_dynamo::to_item(&rec).unwrap();
        item.insert(
            "policy_status".into(),
            AttributeValue::S("cancelled".into()),
        );
        let back: DeliveryRecord = serde_dynamo::from_item(with_pk(item, &rec)).unwrap();
        assert_eq!(back.policy.policy_status, PolicyStatus::Cancelled);
    }

    #[test]
    fn an_item_of_the_layout_before_issue_17_reads_into_the_same_record() {
        let rec = record();
        let legacy = serde_json::json!({
            "partner_id": rec.partner_id,
            "submission": rec.submission,
            "fingerprint": rec.fingerprint,
            "policy": rec.policy,
            "delivery_status": "in_process",
            "created_at": rec.created_at,
            "updated_at": rec.updated_at,
            "version": 3,
            "event_ids": ["abc"],
            "gsi1pk": "PARTNER#ptn_1",
        });
        let item: Item = serde_dynamo::to_item(legacy).unwrap();
        let back: DeliveryRecord = serde_dynamo::from_item(item).unwrap();
        assert_eq!(
            back,
            DeliveryRecord {
                batches: vec![],
                event_ids: vec!["abc".into()],
                ..rec
            }
        );
    }

    #[test]
    fn an_item_in_both_layouts_is_read_from_the_old_attributes() {
        // What `opsctl migrate deliveries --keep-old-layout` leaves, after which the release
        // before issue 17 cancelled the policy (it writes the old attributes only).
        let rec = record();
        let mut item: Item = serde_dynamo::to_item(&rec).unwrap();
        let mut cancelled = rec.policy.clone();
        cancelled.policy_status = PolicyStatus::Cancelled;
        for (k, v) in [
            ("submission", serde_json::json!(rec.submission)),
            ("policy", serde_json::json!(cancelled)),
            ("fingerprint", serde_json::json!(rec.fingerprint)),
            ("partner_id", serde_json::json!(rec.partner_id)),
            ("created_at", serde_json::json!(rec.created_at)),
        ] {
            item.insert(k.into(), serde_dynamo::to_attribute_value(v).unwrap());
        }
        let back: DeliveryRecord = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.policy.policy_status, PolicyStatus::Cancelled);
    }

    #[test]
    fn a_list_index_copy_reads_without_the_unprojected_attributes() {
        let rec = record();
        let mut item: Item = serde_dynamo::to_item(&rec).unwrap();
        for a in ["fp", "e", "version", "event_ids"] {
            item.remove(a);
        }
        let back: DeliveryRecord = serde_dynamo::from_item(with_pk(item, &rec)).unwrap();
        assert_eq!(back.submission, rec.submission);
        assert_eq!(back.policy, rec.policy);
        assert!(back.fingerprint.is_empty() && back.batches.is_empty() && back.version == 0);
    }

    #[test]
    fn a_delivery_with_five_updates_stays_under_1_kb() {
        let mut rec = record();
        let b = rec.batches[0].clone();
        for v in 3..7 {
            let mut next = b.clone();
            next.version = v;
            next.events[0].tracking_time = format!("2026-12-01T00:0{v}:30.000Z");
            rec.batches.push(next);
        }
        let mut item: Item = serde_dynamo::to_item(&rec).unwrap();
        for (k, v) in index_keys(&rec) {
            item.insert(k.into(), AttributeValue::S(v));
        }
        let item = with_pk(item, &rec);
        let size: usize = item
            .iter()
            .map(|(k, v)| {
                k.len()
                    + match v {
                        AttributeValue::S(s) => s.len(),
                        AttributeValue::B(b) => b.as_ref().len(),
                        AttributeValue::N(n) => n.len(),
                        _ => 8,
                    }
            })
            .sum::<usize>()
            + 10; // sk
        assert!(size < 1024, "{size} bytes");
    }
}
