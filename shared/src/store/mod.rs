//! The DynamoDB store: every read and write of the table. One method = one round trip
//! (except `delivery_with_history` on a history over 1 MB, and `list_deliveries`: one query per
//! list shard, side by side). Deliveries: `deliveries.rs` (item layout: `delivery_layout.rs`),
//! lists: `lists.rs`.

mod blob;
mod claim_records;
mod claims;
mod deliveries;
mod delivery_layout;
pub mod keys;
mod lists;
mod products;
mod quotes;
mod records;
mod webhooks;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use blob::decode_json as decode_compressed_attribute;
pub use deliveries::Inserted;
pub use delivery_layout::INLINE_EVENTS_MAX_BYTES;
use lists::created_range;
pub use lists::{shard_limit, ListPosition, ListQuery};
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

use crate::domain::Product;
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

    /// One page of a list index, newest first, one key (claims; a partner's deliveries are split
    /// over shards: `lists.rs`): `list-status` under `status_pk` when given, else `list-created`
    /// under `created_pk`; both sorted by `<created_at>#<id>`, so the created range is a key
    /// condition. `filter` (an expression on `:f`) applies to the page read.
    async fn index_page<T: DeserializeOwned>(
        &self,
        q: IndexQuery,
        start: Option<HashMap<String, String>>,
    ) -> Result<(Vec<T>, Option<HashMap<String, String>>), StoreError> {
        let (index, pk_attr, sk_attr, pk) = match q.status_pk {
            Some(pk) => (keys::BY_STATUS, keys::STATUS_PK, keys::LIST_SK, pk),
            None => (
                keys::BY_CREATED,
                keys::CREATED_PK,
                keys::LIST_SK,
                q.created_pk,
            ),
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
        req = created_range(req, &mut cond, sk_attr, &q.created_from, &q.created_to);
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
