//! The store's claim methods (issue 13): one claim item per claim, the claims part of the
//! delivery item, and the transactions that keep the two (and an operator's audit entry)
//! together. Every write is conditional (no read-then-write race decides anything):
//!
//! - filing: the delivery at the version it was read at (so its status, events, open claim and
//!   paid total are those eligibility saw) + the new claim item, absent;
//! - a change of a claim: the claim at the version it was read at; when the status or amounts
//!   change, the delivery's summary too, conditional on the claim still being the delivery's
//!   open claim; a payout adds to the delivery's paid total conditional on it staying within the
//!   insured value.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::claim_records::{ClaimRecord, ClaimSummary};
use super::{
    classify, keys, n, s, to_item, with_keys, AuditRecord, DeliveryRecord, Item, Store, StoreError,
};
use crate::domain::ClaimStatus;

/// Filters of a claim list (one partner's claims, newest first).
#[derive(Debug, Clone, Default)]
pub struct ClaimListQuery {
    pub claim_status: Option<ClaimStatus>,
    pub tracking_number: Option<String>,
    /// Inclusive bounds on `created_at`, as sortable text (`time_fmt::format`).
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub limit: i32,
}

/// What a change of a claim does to its delivery's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryEffect {
    /// A payout: the amount, and the policy's insured value it must stay within (with what
    /// earlier claims were paid).
    pub paid: Option<(u64, u64)>,
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Internal(e.to_string()))
}

fn summary_value(sum: &ClaimSummary) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(sum).map_err(|e| StoreError::Internal(e.to_string()))
}

impl Store {
    /// The claim item as written (keys and list-index attributes included): what the stream carries.
    pub(crate) fn claim_item(c: &ClaimRecord) -> Result<Item, StoreError> {
        let mut item = with_keys(to_item(c)?, keys::claim(&c.partner_id, &c.claim_id));
        let sk = keys::claim_created_sk(&c.created_at, &c.claim_id);
        item.insert(
            keys::CREATED_PK.into(),
            s(keys::claims_by_created_pk(&c.partner_id)),
        );
        item.insert(
            keys::STATUS_PK.into(),
            s(keys::claims_by_status_pk(&c.partner_id, c.claim_status)),
        );
        item.insert(keys::LIST_SK.into(), s(sk));
        Ok(item)
    }

    /// One claim of a partner (strongly consistent), or `None`.
    pub async fn claim(
        &self,
        partner_id: &str,
        claim_id: &str,
    ) -> Result<Option<ClaimRecord>, StoreError> {
        self.get(keys::claim(partner_id, claim_id)).await
    }

    /// File a claim on a delivery read at `delivery.version`: the delivery's summary, open claim
    /// and version, and the new claim item, in one transaction. `Conflict` when the delivery
    /// changed since it was read (another filing, a tracking update, a cancellation).
    pub async fn file_claim(
        &self,
        delivery: &DeliveryRecord,
        claim: &ClaimRecord,
    ) -> Result<(), StoreError> {
        let tn = delivery.submission.tracking_number.as_str();
        let open = serde_dynamo::to_attribute_value(super::claim_records::OpenClaim {
            claim_id: claim.claim_id.clone(),
            fingerprint: claim.fingerprint.clone(),
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(keys::PK, s(keys::delivery_pk(&delivery.partner_id, tn)))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .condition_expression("version = :v")
            .expression_attribute_names("#claims", "claims")
            .expression_attribute_values(":open", open)
            .expression_attribute_values(":v", n(delivery.version))
            .expression_attribute_values(":nv", n(delivery.version + 1));
        update = if delivery.claims.claims.is_empty() {
            let whole = HashMap::from([(claim.claim_id.clone(), summary_value(&claim.summary())?)]);
            update
                .update_expression("SET #claims = :claims, open_claim = :open, version = :nv")
                .expression_attribute_values(":claims", AttributeValue::M(whole))
        } else {
            update
                .update_expression("SET #claims.#cid = :sum, open_claim = :open, version = :nv")
                .expression_attribute_names("#cid", &claim.claim_id)
                .expression_attribute_values(":sum", summary_value(&claim.summary())?)
        };
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::claim_item(claim)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        self.transact(vec![
            TransactWriteItem::builder()
                .update(build(update.build())?)
                .build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await
    }

    /// Replace a claim read at `old.version` by `new` (its next version). With `effect`, the
    /// delivery's summary of the claim is updated in the same transaction (and, when `new` is
    /// final, the delivery's open claim is cleared); with `audit`, the operator's audit entry is
    /// written with it. `Conflict` when the claim changed since it was read, or when it is no
    /// longer the delivery's open claim, or when a payout would take the policy's paid total
    /// over its insured value.
    pub async fn update_claim(
        &self,
        old: &ClaimRecord,
        new: &ClaimRecord,
        effect: Option<DeliveryEffect>,
        audit: Option<&AuditRecord>,
    ) -> Result<(), StoreError> {
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::claim_item(new)?))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(old.version))
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(effect) = effect {
            let tn = new.request.tracking_number.as_str();
            let mut set = vec!["#claims.#cid = :sum", "version = version + :one"];
            let mut condition = "open_claim.claim_id = :cid".to_string();
            let mut update = Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(keys::delivery_pk(&new.partner_id, tn)))
                .key(keys::SK, s(keys::DELIVERY_SK))
                .expression_attribute_names("#claims", "claims")
                .expression_attribute_names("#cid", &new.claim_id)
                .expression_attribute_values(":sum", summary_value(&new.summary())?)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cid", s(&new.claim_id));
            if let Some((amount, item_value)) = effect.paid {
                let room = item_value.checked_sub(amount).ok_or(StoreError::Conflict)?;
                set.push("claims_paid_total = if_not_exists(claims_paid_total, :zero) + :paid");
                condition.push_str(
                    " AND (attribute_not_exists(claims_paid_total) OR claims_paid_total <= :room)",
                );
                update = update
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":paid", n(amount))
                    .expression_attribute_values(":room", n(room));
            }
            let mut expression = format!("SET {}", set.join(", "));
            if new.claim_status.is_final() {
                expression.push_str(" REMOVE open_claim");
            }
            let update = build(
                update
                    .update_expression(expression)
                    .condition_expression(condition)
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        if let Some(audit) = audit {
            let put = build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(with_keys(
                        to_item(audit)?,
                        keys::audit(&audit.at, &audit.audit_id),
                    )))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if items.len() == 1 {
            // A note or a document: the claim item alone, one conditional PutItem (cheaper and
            // quicker than a one-item transaction).
            return self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::claim_item(new)?))
                .condition_expression("version = :v")
                .expression_attribute_values(":v", n(old.version))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(x) if x.is_conditional_check_failed_exception() => StoreError::Conflict,
                    _ => classify("PutItem", e),
                });
        }
        self.transact(items).await
    }

    /// A page of a partner's claims, newest first, from an index (never a scan). `start` and
    /// the returned key are the index's LastEvaluatedKey (string attributes). A tracking number
    /// filter is applied to the page read (a page may then hold fewer than `limit` claims; the
    /// cursor goes on).
    pub async fn list_claims(
        &self,
        partner_id: &str,
        q: &ClaimListQuery,
        start: Option<HashMap<String, String>>,
    ) -> Result<(Vec<ClaimRecord>, Option<HashMap<String, String>>), StoreError> {
        self.index_page(
            super::IndexQuery {
                status_pk: q
                    .claim_status
                    .map(|st| keys::claims_by_status_pk(partner_id, st)),
                created_pk: keys::claims_by_created_pk(partner_id),
                created_from: q.created_from.clone(),
                created_to: q.created_to.clone(),
                limit: q.limit,
                filter: q
                    .tracking_number
                    .clone()
                    .map(|tn| ("tracking_number = :f", tn)),
            },
            start,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::claim_records::DeliveryClaims;

    #[test]
    fn the_delivery_claims_part_round_trips_through_an_item_and_is_absent_when_empty() {
        let empty = DeliveryClaims::default();
        let item: Item = serde_dynamo::to_item(&empty).unwrap();
        assert!(item.is_empty(), "{item:?}");
        let mut full = DeliveryClaims {
            last_event_time: Some("2026-11-01T00:00:00.000Z".into()),
            claims_paid_total: 5,
            ..Default::default()
        };
        full.claims.insert(
            "clm_1".into(),
            ClaimSummary {
                claim_id: "clm_1".into(),
                claim_type: crate::domain::ClaimType::Loss,
                claim_status: ClaimStatus::Paid,
                claimed_amount: 10,
                approved_amount: Some(5),
                paid_amount: Some(5),
                created_at: "2026-11-02T00:00:00.000Z".into(),
            },
        );
        let item: Item = serde_dynamo::to_item(&full).unwrap();
        let back: DeliveryClaims = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, full);
    }
}
