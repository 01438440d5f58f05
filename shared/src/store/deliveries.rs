//! Deliveries: insert, read, tracking updates, cancellation, the policy index, and the rewrite
//! of items stored before issue 17. The item's layout is in `delivery_layout.rs`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::delivery_layout::{self, INLINE_EVENTS_MAX_BYTES, LEGACY_ATTRIBUTES};
use super::records::{DeliveryRecord, EventBatchRecord};
use super::{classify, from_item, keys, s, to_item, with_keys, Item, Store, StoreError};
use crate::domain::{Cancellation, DeliveryStatus, PolicyStatus, TrackingEvent};

/// Result of inserting a delivery.
#[derive(Debug)]
pub enum Inserted {
    Created,
    /// A delivery with that tracking number already exists for the partner: here it is.
    Exists(Box<DeliveryRecord>),
}

/// Attributes a delivery record owns besides its keys (see `delivery_layout.rs`): a rewrite
/// removes those the new record no longer has.
const OWNED: [&str; 13] = [
    "d",
    "delivery_status",
    "policy_status",
    "updated_at",
    "version",
    "fp",
    "e",
    "event_ids",
    // DeliveryClaims (issue 13)
    "last_event_time",
    "success_time",
    "claims",
    "open_claim",
    "claims_paid_total",
];

fn delivery_key(partner_id: &str, tracking_number: &str) -> (String, String) {
    (
        keys::delivery_pk(partner_id, tracking_number),
        keys::DELIVERY_SK.into(),
    )
}

impl Store {
    /// The delivery item: its attributes and every index key.
    fn delivery_item(rec: &DeliveryRecord) -> Result<Item, StoreError> {
        let mut item = with_keys(
            to_item(rec)?,
            delivery_key(&rec.partner_id, rec.submission.tracking_number.as_str()),
        );
        for (name, value) in delivery_layout::index_keys(rec) {
            item.insert(name.into(), s(value));
        }
        Ok(item)
    }

    /// Insert a new delivery unless the partner already has that tracking number. One round
    /// trip either way: a failed condition returns the existing item.
    pub async fn insert_delivery(&self, rec: &DeliveryRecord) -> Result<Inserted, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::delivery_item(rec)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Inserted::Created),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    match c.item.clone() {
                        Some(item) => Ok(Inserted::Exists(Box::new(from_item(item)?))),
                        None => Err(StoreError::Conflict),
                    }
                }
                _ => Err(classify("PutItem", e)),
            },
        }
    }

    pub async fn delivery(
        &self,
        partner_id: &str,
        tracking_number: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.get(delivery_key(partner_id, tracking_number)).await
    }

    /// The delivery and its tracking history (ordered by `tracking_time`; events of the same
    /// instant in the order they were accepted), in one query: the delivery item holds its
    /// events, and the partition holds the `EVENTS#<version>` items of any overflow.
    pub async fn delivery_with_history(
        &self,
        partner_id: &str,
        tracking_number: &str,
    ) -> Result<Option<(DeliveryRecord, Vec<TrackingEvent>)>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::delivery_pk(partner_id, tracking_number)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("Query", e))?;
        let mut delivery: Option<DeliveryRecord> = None;
        let mut batches: Vec<EventBatchRecord> = Vec::new();
        for item in items {
            let sk = item
                .get(keys::SK)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sk == keys::DELIVERY_SK {
                delivery = Some(from_item::<DeliveryRecord>(item)?);
            } else if let Some(version) = sk.strip_prefix(keys::EVENTS_SK_PREFIX) {
                let mut batch = from_item::<EventBatchRecord>(item)?;
                if batch.version == 0 {
                    batch.version = version.parse().unwrap_or(0);
                }
                batches.push(batch);
            }
        }
        let Some(delivery) = delivery else {
            return Ok(None);
        };
        batches.extend(delivery.batches.iter().cloned());
        batches.sort_by_key(|b| b.version);
        let mut events: Vec<TrackingEvent> = batches.into_iter().flat_map(|b| b.events).collect();
        // Stable sort: events of the same instant keep the order they were accepted in.
        events.sort_by_key(|e| e.instant());
        Ok(Some((delivery, events)))
    }

    /// Write `new` over the delivery item read at version `read_version`, as one UpdateItem
    /// conditional on that version: every attribute the record owns is set (the same bytes
    /// where nothing changed; DynamoDB bills the item's size either way), the ones it no longer
    /// has and those of the layout before issue 17 are removed (kept with `keep_old_layout`),
    /// and attributes it does not own are left alone.
    fn rewrite(
        &self,
        read_version: u64,
        new: &DeliveryRecord,
        keep_old_layout: bool,
    ) -> Result<Update, StoreError> {
        let mut item = Self::delivery_item(new)?;
        let key: Item = [keys::PK, keys::SK]
            .iter()
            .filter_map(|k| item.remove_entry(*k))
            .collect();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut values: Item = Item::new();
        let mut set = Vec::new();
        let mut sorted: Vec<(String, AttributeValue)> = item.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (name, value)) in sorted.into_iter().enumerate() {
            set.push(format!("#a{i} = :a{i}"));
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), value);
        }
        let mut remove = Vec::new();
        let kept: Vec<String> = names.values().cloned().collect();
        let old_layout: &[&str] = if keep_old_layout {
            &[]
        } else {
            &[
                LEGACY_ATTRIBUTES.as_slice(),
                keys::LEGACY_INDEX_ATTRIBUTES.as_slice(),
            ]
            .concat()
        };
        for (i, name) in OWNED
            .iter()
            .chain(old_layout.iter())
            .filter(|n| !kept.iter().any(|k| k == *n))
            .enumerate()
        {
            remove.push(format!("#r{i}"));
            names.insert(format!("#r{i}"), name.to_string());
        }
        values.insert(":read".into(), AttributeValue::N(read_version.to_string()));
        names.insert("#version".into(), "version".into());
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression("#version = :read")
            .set_expression_attribute_names(Some(names.into_iter().collect()))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))
    }

    /// One conditional UpdateItem; `Conflict` if the condition failed.
    async fn update(&self, u: Update) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(u.table_name)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(x) if x.is_conditional_check_failed_exception() => StoreError::Conflict,
                _ => classify("UpdateItem", e),
            })
    }

    /// Apply a tracking update read at `old.version`: the new status and the new events
    /// (already deduplicated against `old.stored_event_ids()`), atomically. The events go
    /// inside the delivery item, in one conditional UpdateItem; an update that would make the
    /// item's compressed events outgrow `INLINE_EVENTS_MAX_BYTES` writes its events in an
    /// `EVENTS#<version>` item instead, in one transaction with the delivery (their ids go into
    /// `event_ids`). `Conflict` if the delivery changed since it was read.
    pub async fn record_tracking(
        &self,
        old: &DeliveryRecord,
        status: DeliveryStatus,
        new_events: &[TrackingEvent],
        now: &str,
    ) -> Result<(), StoreError> {
        let mut new = old.clone();
        new.delivery_status = status;
        new.updated_at = now.to_string();
        new.version = old.version + 1;
        // What claims' eligibility reads (issue 13): the latest event time, and when the
        // delivery became `success`.
        let (last_event_time, success_time) = claim_times(old, status, new_events);
        if last_event_time.is_some() {
            new.claims.last_event_time = last_event_time;
        }
        if success_time.is_some() {
            new.claims.success_time = success_time;
        }
        let mut overflow = None;
        if !new_events.is_empty() {
            new.batches.push(EventBatchRecord {
                version: new.version,
                delivery_status: status,
                events: new_events.to_vec(),
                received_at: None,
            });
            if delivery_layout::inline_events_bytes(&new.batches) > INLINE_EVENTS_MAX_BYTES {
                overflow = new.batches.pop();
                new.event_ids
                    .extend(new_events.iter().map(TrackingEvent::id));
            }
        }
        let update = self.rewrite(old.version, &new, false)?;
        let Some(batch) = overflow else {
            return self.update(update).await;
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_keys(
                to_item(&batch)?,
                (
                    keys::delivery_pk(&old.partner_id, old.submission.tracking_number.as_str()),
                    keys::events_sk(new.version),
                ),
            )))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.transact(vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await
    }

    /// Cancel the policy of a delivery read at `old.version`.
    pub async fn cancel_policy(
        &self,
        old: &DeliveryRecord,
        c: &Cancellation,
        now: &str,
    ) -> Result<(), StoreError> {
        let mut new = old.clone();
        new.policy.policy_status = PolicyStatus::Cancelled;
        new.policy.cancellation = Some(c.clone());
        new.policy.cancelled_at = Some(now.to_string());
        new.updated_at = now.to_string();
        new.version = old.version + 1;
        self.update(self.rewrite(old.version, &new, false)?).await
    }

    /// Rewrite a delivery item in the current layout, its content and version unchanged (no
    /// event follows: nothing of the delivery changed); with `keep_old_layout`, add the current
    /// layout's attributes and index keys beside the old ones, which the release before issue
    /// 17 keeps reading and writing. `Conflict` if it changed since `rec` was read. For
    /// `opsctl migrate deliveries` (README "Migrating a deployed table (issue 17)").
    pub async fn rewrite_delivery(
        &self,
        rec: &DeliveryRecord,
        keep_old_layout: bool,
    ) -> Result<(), StoreError> {
        self.update(self.rewrite(rec.version, rec, keep_old_layout)?)
            .await
    }

    /// One page of a parallel Scan (`segment` of `segments`) for delivery items that still
    /// carry the layout before issue 17 (`only_without_new`: and none of the current one yet).
    /// Operators' migration only: never on a request path.
    pub async fn old_layout_deliveries(
        &self,
        segment: i32,
        segments: i32,
        only_without_new: bool,
        start: Option<Item>,
    ) -> Result<(Vec<DeliveryRecord>, Option<Item>), StoreError> {
        let mut filter =
            "sk = :d AND (attribute_exists(submission) OR attribute_exists(gsi1pk))".to_string();
        if only_without_new {
            filter.push_str(" AND attribute_not_exists(d)");
        }
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment)
            .total_segments(segments)
            .filter_expression(filter)
            .expression_attribute_values(":d", s(keys::DELIVERY_SK))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Scan", e))?;
        let records = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        Ok((records, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    /// The delivery partition key of a policy id, if the policy belongs to `partner_id`.
    pub async fn policy_delivery_pk(
        &self,
        partner_id: &str,
        policy_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let prefix = keys::delivery_pk_prefix(partner_id);
        Ok(self
            .policy_delivery_pks(policy_id)
            .await?
            .into_iter()
            .find(|pk| pk.starts_with(&prefix)))
    }

    /// The delivery partition keys the `by-policy` index holds for a policy id, whatever the
    /// partner (one for an issued policy). One query of a KEYS_ONLY index: no policy data.
    pub async fn policy_delivery_pks(&self, policy_id: &str) -> Result<Vec<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::BY_POLICY)
            .key_condition_expression("gsi3pk = :p")
            .expression_attribute_values(":p", s(keys::by_policy_pk(policy_id)))
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| i.get(keys::PK).and_then(|v| v.as_s().ok()))
            .cloned()
            .collect())
    }
}

/// The delivery's new `last_event_time` and `success_time` after a tracking update (`None`:
/// unchanged). `success_time` is set once, by the update that moves the delivery to `success`:
/// its latest event's time (or the time of the update, when all its events were stored before).
fn claim_times(
    old: &DeliveryRecord,
    status: DeliveryStatus,
    new_events: &[TrackingEvent],
) -> (Option<String>, Option<String>) {
    let newest = new_events.iter().map(|e| e.instant()).max();
    let stored = old
        .claims
        .last_event_time
        .as_deref()
        .and_then(crate::time_fmt::parse);
    let last = newest.filter(|n| stored.is_none_or(|s| *n > s));
    let becomes_success = status == DeliveryStatus::Success
        && old.delivery_status != DeliveryStatus::Success
        && old.claims.success_time.is_none();
    let success = becomes_success.then(|| newest.unwrap_or_else(crate::time_fmt::now));
    (
        last.map(crate::time_fmt::format),
        success.map(crate::time_fmt::format),
    )
}
