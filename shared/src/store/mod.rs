//! The DynamoDB store: every read and write of the table. One method = one round trip
//! (except `delivery_with_history` on a history over 1 MB).

mod claim_records;
mod claims;
pub mod keys;
mod products;
mod quotes;
mod records;
mod webhooks;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use products::{LegacyMigration, ProductRecord};
pub use records::{
    still_valid, AuditRecord, ClientRecord, DeliveryRecord, EventBatchRecord, PartnerRecord,
    PolicyRecord, CLIENT_ACTIVE, CLIENT_REVOKED, CLIENT_SUSPENDED, PARTNER_ACTIVE,
    PARTNER_SUSPENDED,
};

pub use claim_records::{
    ClaimActor, ClaimRecord, ClaimSummary, DeliveryClaims, DocumentRecord, HistoryEntry,
    NoteRecord, OpenClaim,
};
pub use claims::{ClaimListQuery, DeliveryEffect};
pub use webhooks::{AttemptRecord, EndpointRecord, EventRecord, Page, MAX_ENDPOINTS};

use crate::domain::{Cancellation, DeliveryStatus, PolicyStatus, Product, TrackingEvent};
use crate::error::ApiError;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, PartialEq, Eq)]
pub enum StoreError {
    /// A condition failed or a concurrent transaction won: read again and decide again.
    Conflict,
    /// DynamoDB is throttling, failing or unreachable.
    Unavailable(String),
    /// A bug: a request DynamoDB calls invalid, or an item that does not deserialise.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict => {
                ApiError::Unavailable("write conflict persisted after retries".into())
            }
            StoreError::Unavailable(d) => ApiError::Unavailable(d),
            StoreError::Internal(d) => ApiError::Internal(d),
        }
    }
}

/// Classify an SDK error: a service error that says our request is invalid is a bug; anything
/// else (throttling, 5xx, timeouts, connection failures) is the dependency being unavailable.
fn classify<E, R>(op: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let detail = format!("DynamoDB {op}: {}", DisplayErrorContext(&e));
    match e.as_service_error().and_then(|s| s.code()) {
        Some("ValidationException" | "SerializationException") => StoreError::Internal(detail),
        _ => StoreError::Unavailable(detail),
    }
}

fn to_item<T: Serialize>(v: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(v).map_err(|e| StoreError::Internal(format!("serialising item: {e}")))
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Internal(format!("deserialising item: {e}")))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn with_keys(mut item: Item, (pk, sk): (String, String)) -> Item {
    item.insert(keys::PK.into(), s(pk));
    item.insert(keys::SK.into(), s(sk));
    item
}

/// Filters of a delivery list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub delivery_status: Option<DeliveryStatus>,
    pub policy_status: Option<PolicyStatus>,
    /// Inclusive bounds on `created_at`, as sortable text (`time_fmt::format`).
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub limit: i32,
}

/// A page of one of the list indexes (`Store::index_page`).
struct IndexQuery {
    status_pk: Option<String>,
    created_pk: String,
    created_from: Option<String>,
    created_to: Option<String>,
    limit: i32,
    /// A filter expression on the placeholder `:f`, and its value.
    filter: Option<(&'static str, String)>,
}

/// What an operator write expects of the item it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The item must not exist yet.
    Absent,
    /// The item must exist (products, which carry no revision).
    Present,
    /// The item must still be at the revision it was read at.
    Revision(u64),
}

/// One record an operator command writes: a partner, client or product item.
pub struct OperatorWrite {
    pub key: (String, String),
    pub item: Item,
    pub expect: Expect,
}

impl OperatorWrite {
    pub fn partner(rec: &PartnerRecord, expect: Expect) -> Result<Self, StoreError> {
        Ok(OperatorWrite {
            key: keys::partner(&rec.partner_id),
            item: to_item(rec)?,
            expect,
        })
    }

    pub fn client(rec: &ClientRecord, expect: Expect) -> Result<Self, StoreError> {
        Ok(OperatorWrite {
            key: keys::client(&rec.client_id),
            item: to_item(rec)?,
            expect,
        })
    }

    /// A webhook endpoint (operators disable or enable it; `revision` guards the write).
    pub fn endpoint(e: &EndpointRecord, expect: Expect) -> Result<Self, StoreError> {
        Ok(OperatorWrite {
            key: keys::endpoint(&e.partner_id, &e.endpoint_id),
            item: to_item(e)?,
            expect,
        })
    }

    /// A product, stamped with the time of the write (its catalogue `updated_at`).
    pub fn product(p: &Product, expect: Expect) -> Result<Self, StoreError> {
        let rec = ProductRecord {
            product: p.clone(),
            updated_at: crate::time_fmt::format(crate::time_fmt::now()),
        };
        Ok(OperatorWrite {
            key: keys::product(p.product_code.as_str()),
            item: to_item(&rec)?,
            expect,
        })
    }
}

/// Filters of the audit log listing.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Inclusive time bounds (`time_fmt::format` text).
    pub since: Option<String>,
    pub until: Option<String>,
    pub partner_id: Option<String>,
    pub actor: Option<String>,
    /// An action (`client.revoke`) or a prefix ending in `.` (`client.`).
    pub action: Option<String>,
    pub target: Option<String>,
    pub limit: usize,
}

/// Result of inserting a delivery.
#[derive(Debug)]
pub enum Inserted {
    Created,
    /// A delivery with that tracking number already exists for the partner: here it is.
    Exists(Box<DeliveryRecord>),
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get<T: DeserializeOwned>(
        &self,
        key: (String, String),
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, s(key.0))
            .key(keys::SK, s(key.1))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    // ---- partners, clients (products: products.rs) -------------------------------------------------

    pub async fn client_record(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.get(keys::client(client_id)).await
    }

    pub async fn partner(&self, partner_id: &str) -> Result<Option<PartnerRecord>, StoreError> {
        self.get(keys::partner(partner_id)).await
    }

    /// Create a partner and its first client in one transaction; neither may exist yet.
    pub async fn create_partner(
        &self,
        partner: &PartnerRecord,
        client: &ClientRecord,
    ) -> Result<(), StoreError> {
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| StoreError::Internal(e.to_string()))
        };
        self.client
            .transact_write_items()
            .transact_items(put(with_keys(
                to_item(partner)?,
                keys::partner(&partner.partner_id),
            ))?)
            .transact_items(put(with_keys(
                to_item(client)?,
                keys::client(&client.client_id),
            ))?)
            .send()
            .await
            .map_err(|e| match e.as_service_error().and_then(|s| s.code()) {
                Some("TransactionCanceledException") => StoreError::Conflict,
                _ => classify("TransactWriteItems", e),
            })?;
        Ok(())
    }

    /// A partner and one of its clients, in one round trip (strongly consistent).
    pub async fn partner_and_client(
        &self,
        partner_id: &str,
        client_id: &str,
    ) -> Result<(Option<PartnerRecord>, Option<ClientRecord>), StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let key = |(pk, sk): (String, String)| -> Item {
            HashMap::from([(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))])
        };
        let request = KeysAndAttributes::builder()
            .keys(key(keys::partner(partner_id)))
            .keys(key(keys::client(client_id)))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut pending = HashMap::from([(self.table.clone(), request)]);
        let (mut partner, mut client) = (None, None);
        // Unprocessed keys (throttling) are asked again, a bounded number of times.
        for _ in 0..3 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                let sk = item.get(keys::SK).and_then(|v| v.as_s().ok()).cloned();
                match sk.as_deref() {
                    Some(keys::PARTNER_SK) => partner = Some(from_item(item)?),
                    Some(keys::CLIENT_SK) => client = Some(from_item(item)?),
                    _ => {}
                }
            }
            pending = out.unprocessed_keys.unwrap_or_default();
            if pending.values().all(|k| k.keys().is_empty()) {
                return Ok((partner, client));
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem left keys unprocessed".into(),
        ))
    }

    /// Every item whose partition key starts with `prefix` and whose sort key is `sk`
    /// (operators' listings of partners, clients and products: small, so a filtered scan).
    async fn scan_kind<T: DeserializeOwned>(
        &self,
        prefix: &str,
        sk: &str,
    ) -> Result<Vec<T>, StoreError> {
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(pk, :p) AND sk = :sk")
            .expression_attribute_values(":p", s(prefix))
            .expression_attribute_values(":sk", s(sk))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify("Scan", e))?;
        pages.into_iter().map(from_item).collect()
    }

    pub async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        self.scan_kind(keys::PARTNER_PREFIX, keys::PARTNER_SK).await
    }

    pub async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        self.scan_kind(keys::CLIENT_PREFIX, keys::CLIENT_SK).await
    }

    /// Apply an operator command atomically: every write (each conditional on the revision it
    /// was read at) and its audit entry, or nothing. `Conflict` when a record changed meanwhile.
    pub async fn operator_write(
        &self,
        writes: Vec<OperatorWrite>,
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(writes.len() + 1);
        for w in writes {
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(with_keys(w.item, w.key)));
            put = match w.expect {
                Expect::Absent => put.condition_expression("attribute_not_exists(pk)"),
                Expect::Present => put.condition_expression("attribute_exists(pk)"),
                Expect::Revision(0) => put
                    .condition_expression(
                        "attribute_exists(pk) AND (attribute_not_exists(revision) OR revision = :r)",
                    )
                    .expression_attribute_values(":r", n(0)),
                Expect::Revision(r) => put
                    .condition_expression("revision = :r")
                    .expression_attribute_values(":r", n(r)),
            };
            items.push(
                TransactWriteItem::builder()
                    .put(
                        put.build()
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    )
                    .build(),
            );
        }
        items.push(self.audit_put(audit)?);
        self.transact(items).await
    }

    /// The put of an audit entry, for the transaction of the change it records.
    fn audit_put(&self, audit: &AuditRecord) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_keys(
                to_item(audit)?,
                keys::audit(&audit.at, &audit.audit_id),
            )))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Audit entries, newest first, filtered.
    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let (lo, hi) = keys::audit_range(
            q.since.as_deref().unwrap_or("0"),
            q.until.as_deref().unwrap_or("9"),
        );
        let mut filters = Vec::new();
        let mut values: Item = HashMap::from([
            (":pk".to_string(), s(keys::AUDIT_PK)),
            (":lo".to_string(), s(lo)),
            (":hi".to_string(), s(hi)),
        ]);
        if let Some(v) = &q.partner_id {
            filters.push("partner_id = :partner");
            values.insert(":partner".into(), s(v.clone()));
        }
        if let Some(v) = &q.actor {
            filters.push("actor = :actor");
            values.insert(":actor".into(), s(v.clone()));
        }
        if let Some(v) = &q.action {
            if v.ends_with('.') {
                filters.push("begins_with(#action, :action)");
            } else {
                filters.push("#action = :action");
            }
            values.insert(":action".into(), s(v.clone()));
        }
        if let Some(v) = &q.target {
            filters.push("target = :target");
            values.insert(":target".into(), s(v.clone()));
        }
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if !filters.is_empty() {
                req = req.filter_expression(filters.join(" AND "));
                if q.action.is_some() {
                    req = req.expression_attribute_names("#action", "action");
                }
            }
            let page = req.send().await.map_err(|e| classify("Query", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(item)?);
                if out.len() >= q.limit {
                    return Ok(out);
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    // ---- deliveries ----------------------------------------------------------------------

    fn delivery_item(rec: &DeliveryRecord) -> Result<Item, StoreError> {
        let tn = rec.submission.tracking_number.as_str();
        let mut item = with_keys(
            to_item(rec)?,
            (
                keys::delivery_pk(&rec.partner_id, tn),
                keys::DELIVERY_SK.into(),
            ),
        );
        let created = keys::created_sk(&rec.created_at, tn);
        item.insert("gsi1pk".into(), s(keys::by_created_pk(&rec.partner_id)));
        item.insert("gsi1sk".into(), s(created.clone()));
        item.insert(
            "gsi2pk".into(),
            s(keys::by_status_pk(&rec.partner_id, rec.delivery_status)),
        );
        item.insert("gsi2sk".into(), s(created));
        item.insert(
            "gsi3pk".into(),
            s(keys::by_policy_pk(&rec.policy.policy_id)),
        );
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
        self.get((
            keys::delivery_pk(partner_id, tracking_number),
            keys::DELIVERY_SK.into(),
        ))
        .await
    }

    /// The delivery and its tracking history (ordered by `tracking_time`), in one query.
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
        let mut delivery = None;
        let mut events: Vec<TrackingEvent> = Vec::new();
        for item in items {
            let sk = item
                .get(keys::SK)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if sk == keys::DELIVERY_SK {
                delivery = Some(from_item::<DeliveryRecord>(item)?);
            } else if sk.starts_with(keys::EVENTS_SK_PREFIX) {
                events.extend(from_item::<EventBatchRecord>(item)?.events);
            }
        }
        // Stable sort: events of the same instant keep the order they were accepted in.
        events.sort_by_key(|e| e.instant());
        Ok(delivery.map(|d| (d, events)))
    }

    /// Apply a tracking update read at `old.version`: the new status and the new events
    /// (already deduplicated against `old.event_ids`), atomically. `Conflict` if the delivery
    /// changed since it was read.
    pub async fn record_tracking(
        &self,
        old: &DeliveryRecord,
        status: DeliveryStatus,
        new_events: &[TrackingEvent],
        now: &str,
    ) -> Result<(), StoreError> {
        let tn = old.submission.tracking_number.as_str();
        let pk = keys::delivery_pk(&old.partner_id, tn);
        let version = old.version + 1;
        let ids: Vec<AttributeValue> = new_events.iter().map(|e| s(e.id())).collect();
        // What claims' eligibility reads (issue 13): the latest event time, and when the
        // delivery became `success`.
        let (last_event_time, success_time) = claim_times(old, status, new_events);
        let mut expression = "SET delivery_status = :st, gsi2pk = :g2, updated_at = :now, version = :nv, event_ids = list_append(if_not_exists(event_ids, :empty), :ids)".to_string();
        let mut times = Vec::new();
        if let Some(t) = last_event_time {
            expression.push_str(", last_event_time = :let");
            times.push((":let", t));
        }
        if let Some(t) = success_time {
            expression.push_str(", success_time = :sut");
            times.push((":sut", t));
        }
        let mut update = Update::builder();
        for (name, t) in times {
            update = update.expression_attribute_values(name, s(t));
        }
        let update = update
            .table_name(&self.table)
            .key(keys::PK, s(pk.clone()))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression(expression)
            .condition_expression("version = :v")
            .expression_attribute_values(":st", s(status.as_str()))
            .expression_attribute_values(":g2", s(keys::by_status_pk(&old.partner_id, status)))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":nv", n(version))
            .expression_attribute_values(":v", n(old.version))
            .expression_attribute_values(":ids", AttributeValue::L(ids))
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        if new_events.is_empty() {
            let u = update;
            return self
                .client
                .update_item()
                .table_name(u.table_name)
                .set_key(Some(u.key))
                .update_expression(u.update_expression)
                .set_condition_expression(u.condition_expression)
                .set_expression_attribute_values(u.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| match e.as_service_error() {
                    Some(x) if x.is_conditional_check_failed_exception() => StoreError::Conflict,
                    _ => classify("UpdateItem", e),
                });
        }
        let batch = EventBatchRecord {
            events: new_events.to_vec(),
            delivery_status: status,
            received_at: now.to_string(),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(with_keys(
                to_item(&batch)?,
                (pk, keys::events_sk(version)),
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

    /// Cancel the policy of a delivery read at `old.version` (the condition also keeps a claim
    /// filed meanwhile from being overtaken: filing bumps the version).
    pub async fn cancel_policy(
        &self,
        old: &DeliveryRecord,
        c: &Cancellation,
        now: &str,
    ) -> Result<(), StoreError> {
        let tn = old.submission.tracking_number.as_str();
        let cancellation =
            serde_dynamo::to_attribute_value(c).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(keys::delivery_pk(&old.partner_id, tn)))
            .key(keys::SK, s(keys::DELIVERY_SK))
            .update_expression(
                "SET policy.policy_status = :cancelled, policy.cancellation = :c, policy.cancelled_at = :now, updated_at = :now, version = :nv",
            )
            .condition_expression("version = :v")
            .expression_attribute_values(":cancelled", s(PolicyStatus::Cancelled.as_str()))
            .expression_attribute_values(":c", cancellation)
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":nv", n(old.version + 1))
            .expression_attribute_values(":v", n(old.version))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(x) if x.is_conditional_check_failed_exception() => StoreError::Conflict,
                _ => classify("UpdateItem", e),
            })?;
        Ok(())
    }

    pub(crate) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
                match e.as_service_error() {
                    Some(E::TransactionCanceledException(t)) => {
                        let reasons: Vec<&str> = t
                            .cancellation_reasons()
                            .iter()
                            .filter_map(|r| r.code())
                            .collect();
                        if reasons.iter().all(|c| {
                            matches!(
                                *c,
                                "None" | "ConditionalCheckFailed" | "TransactionConflict"
                            )
                        }) {
                            StoreError::Conflict
                        } else {
                            StoreError::Unavailable(format!("transaction cancelled: {reasons:?}"))
                        }
                    }
                    _ => classify("TransactWriteItems", e),
                }
            })
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

    /// A page of a partner's deliveries, newest first, from an index (never a scan).
    /// `start` and the returned key are the index's LastEvaluatedKey (string attributes).
    pub async fn list_deliveries(
        &self,
        partner_id: &str,
        q: &ListQuery,
        start: Option<HashMap<String, String>>,
    ) -> Result<(Vec<DeliveryRecord>, Option<HashMap<String, String>>), StoreError> {
        self.index_page(
            IndexQuery {
                status_pk: q
                    .delivery_status
                    .map(|st| keys::by_status_pk(partner_id, st)),
                created_pk: keys::by_created_pk(partner_id),
                created_from: q.created_from.clone(),
                created_to: q.created_to.clone(),
                limit: q.limit,
                filter: q
                    .policy_status
                    .map(|ps| ("policy.policy_status = :f", ps.as_str().to_string())),
            },
            start,
        )
        .await
    }

    /// One page of a list index, newest first: `by-status` under `status_pk` when given, else
    /// `by-created` under `created_pk`; both sorted by `<created_at>#<id>`, so the created range
    /// is a key condition. `filter` (an expression on `:f`) applies to the page read.
    async fn index_page<T: DeserializeOwned>(
        &self,
        q: IndexQuery,
        start: Option<HashMap<String, String>>,
    ) -> Result<(Vec<T>, Option<HashMap<String, String>>), StoreError> {
        let (index, pk_attr, sk_attr, pk) = match q.status_pk {
            Some(pk) => (keys::BY_STATUS, "gsi2pk", "gsi2sk", pk),
            None => (keys::BY_CREATED, "gsi1pk", "gsi1sk", q.created_pk),
        };
        let mut cond = format!("{pk_attr} = :pk");
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .scan_index_forward(false)
            .limit(q.limit)
            .expression_attribute_values(":pk", s(pk));
        match (&q.created_from, &q.created_to) {
            (Some(from), Some(to)) => {
                cond.push_str(&format!(" AND {sk_attr} BETWEEN :from AND :to"));
                req = req
                    .expression_attribute_values(":from", s(from.clone()))
                    .expression_attribute_values(":to", s(format!("{to}~")));
            }
            (Some(from), None) => {
                cond.push_str(&format!(" AND {sk_attr} >= :from"));
                req = req.expression_attribute_values(":from", s(from.clone()));
            }
            (None, Some(to)) => {
                cond.push_str(&format!(" AND {sk_attr} <= :to"));
                req = req.expression_attribute_values(":to", s(format!("{to}~")));
            }
            (None, None) => {}
        }
        if let Some((expression, value)) = q.filter {
            req = req
                .filter_expression(expression)
                .expression_attribute_values(":f", s(value));
        }
        if let Some(start) = start {
            req = req
                .set_exclusive_start_key(Some(start.into_iter().map(|(k, v)| (k, s(v))).collect()));
        }
        let out = req
            .key_condition_expression(cond)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let next = out.last_evaluated_key.map(|k| {
            k.into_iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|v| (k, v.clone())))
                .collect()
        });
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        Ok((items, next))
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
