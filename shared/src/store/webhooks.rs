//! The webhook items: a partner's endpoints (and their counter), the event log, and the delivery
//! attempts. Key layout in `keys.rs`; README and docs/architecture.md describe the items.

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::lists::{fan_out, ShardPage};
use super::{
    classify, from_item, keys, n, s, to_item, with_keys, Item, ListPosition, Store, StoreError,
};

/// At most this many endpoints per partner (contract).
pub const MAX_ENDPOINTS: u64 = 10;

/// A partner's webhook endpoint. Its secret (and, for 24 h after a rotation, the previous one)
/// is sealed (`webhooks::sealing`), never stored or shown in clear after creation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub endpoint_id: String,
    pub partner_id: String,
    pub url: String,
    /// The subscribed types; `None`: every type, present and future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    pub secret_sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<String>,
    /// Since when every attempt has failed (absent after a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Incremented by every change; writes are conditional on it.
    pub revision: u64,
}

impl std::fmt::Debug for EndpointRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRecord")
            .field("endpoint_id", &self.endpoint_id)
            .field("partner_id", &self.partner_id)
            .field("enabled", &self.enabled)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl EndpointRecord {
    /// Whether the endpoint receives events of type `t` (`ping` always).
    pub fn subscribes(&self, t: &str) -> bool {
        t == "ping"
            || self
                .event_types
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|x| x == t))
    }

    /// The associated data that binds a sealed secret to this endpoint.
    pub fn sealing_context(&self) -> String {
        format!("{}/{}", self.partner_id, self.endpoint_id)
    }
}

/// One event in the partner's event log (kept 30 days: `expires_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event_id: String,
    pub partner_id: String,
    pub event_type: String,
    pub created_at: String,
    pub resource_kind: String,
    pub resource_id: String,
    pub version: u64,
    /// The event body exactly as sent (JSON text).
    pub body: String,
    /// Unix seconds; DynamoDB's TTL deletes the item some time after.
    pub expires_at: i64,
}

/// One attempt to deliver an event to an endpoint (kept 30 days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub endpoint_id: String,
    pub partner_id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempted_at: String,
    /// 1 for the first attempt of a queued delivery, then 2, 3, ...
    pub attempt: u32,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
    pub expires_at: i64,
}

/// A page of a sharded list (`lists::fan_out`): items and where the next page starts.
pub type Page<T> = (Vec<T>, Option<ListPosition>);

/// The table key `(pk, sk)` as a query's start key.
fn table_key(pk: String, sk: String) -> Item {
    [(keys::PK.to_string(), s(pk)), (keys::SK.to_string(), s(sk))].into()
}

/// The outcome of a conditional write: `Ok(None)` when its condition failed.
fn conditional<T, E, R>(op: &str, out: Result<T, SdkError<E, R>>) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match out {
        Ok(o) => Ok(Some(o)),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(e) => Err(classify(op, e)),
    }
}

/// Items of a sharded list, read into records, and its next position.
fn page<T: serde::de::DeserializeOwned>(
    items: Vec<Item>,
    next: Option<ListPosition>,
) -> Result<Page<T>, StoreError> {
    let items = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok((items, next))
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Internal(e.to_string()))
}

impl Store {
    // ---- endpoints ----------------------------------------------------------------------

    fn endpoint_item(rec: &EndpointRecord) -> Result<Item, StoreError> {
        Ok(with_keys(
            to_item(rec)?,
            keys::endpoint(&rec.partner_id, &rec.endpoint_id),
        ))
    }

    /// Create an endpoint unless the partner has `MAX_ENDPOINTS` already: the counter and the
    /// endpoint in one transaction, so concurrent creations cannot pass the limit. `Conflict`:
    /// the limit is reached.
    pub async fn create_endpoint(&self, rec: &EndpointRecord) -> Result<(), StoreError> {
        let (cpk, csk) = keys::endpoint_count(&rec.partner_id);
        let count = build(
            Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(cpk))
                .key(keys::SK, s(csk))
                .update_expression("SET endpoints = if_not_exists(endpoints, :zero) + :one")
                .condition_expression("attribute_not_exists(endpoints) OR endpoints < :max")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(MAX_ENDPOINTS))
                .build(),
        )?;
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::endpoint_item(rec)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        self.transact(vec![
            TransactWriteItem::builder().update(count).build(),
            TransactWriteItem::builder().put(put).build(),
        ])
        .await
    }

    /// A partner's endpoints (at most `MAX_ENDPOINTS`: one page), oldest first.
    pub async fn endpoints(&self, partner_id: &str) -> Result<Vec<EndpointRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", s(keys::webhooks_pk(partner_id)))
            .expression_attribute_values(":p", s(keys::ENDPOINT_SK_PREFIX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let mut v: Vec<EndpointRecord> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(v)
    }

    pub async fn endpoint(
        &self,
        partner_id: &str,
        endpoint_id: &str,
    ) -> Result<Option<EndpointRecord>, StoreError> {
        self.get(keys::endpoint(partner_id, endpoint_id)).await
    }

    /// Replace an endpoint read at revision `next.revision - 1`. `Conflict`: it changed or is gone.
    pub async fn replace_endpoint(&self, next: &EndpointRecord) -> Result<(), StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::endpoint_item(next)?))
            .condition_expression("revision = :r")
            .expression_attribute_values(":r", n(next.revision.saturating_sub(1)))
            .send()
            .await;
        conditional("PutItem", out)?
            .map(|_| ())
            .ok_or(StoreError::Conflict)
    }

    /// Delete an endpoint and count it out, in one transaction. `Conflict`: it was already gone.
    pub async fn delete_endpoint(
        &self,
        partner_id: &str,
        endpoint_id: &str,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::endpoint(partner_id, endpoint_id);
        let (cpk, csk) = keys::endpoint_count(partner_id);
        let delete = build(
            Delete::builder()
                .table_name(&self.table)
                .key(keys::PK, s(pk))
                .key(keys::SK, s(sk))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        let count = build(
            Update::builder()
                .table_name(&self.table)
                .key(keys::PK, s(cpk))
                .key(keys::SK, s(csk))
                .update_expression("SET endpoints = endpoints - :one")
                .condition_expression("endpoints > :zero")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        self.transact(vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(count).build(),
        ])
        .await
    }

    /// A failed attempt: the endpoint is failing since `now` unless it already was; returns the
    /// endpoint as it is now (`None` if it was deleted meanwhile).
    pub async fn mark_endpoint_failing(
        &self,
        partner_id: &str,
        endpoint_id: &str,
        now: &str,
    ) -> Result<Option<EndpointRecord>, StoreError> {
        let (pk, sk) = keys::endpoint(partner_id, endpoint_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("SET failing_since = if_not_exists(failing_since, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        conditional("UpdateItem", out)?
            .and_then(|o| o.attributes)
            .map(from_item)
            .transpose()
    }

    /// A successful attempt ends the failing streak.
    pub async fn mark_endpoint_ok(
        &self,
        partner_id: &str,
        endpoint_id: &str,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::endpoint(partner_id, endpoint_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression("REMOVE failing_since")
            .condition_expression("attribute_exists(failing_since)")
            .send()
            .await;
        conditional("UpdateItem", out).map(|_| ())
    }

    /// Disable an enabled endpoint, saying why. `Ok(false)`: it was not enabled (or is gone).
    pub async fn disable_endpoint(
        &self,
        partner_id: &str,
        endpoint_id: &str,
        reason: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::endpoint(partner_id, endpoint_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(keys::PK, s(pk))
            .key(keys::SK, s(sk))
            .update_expression(
                "SET enabled = :f, disabled_reason = :why, disabled_at = :now, updated_at = :now, revision = revision + :one",
            )
            .condition_expression("enabled = :t")
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":why", s(reason))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        Ok(conditional("UpdateItem", out)?.is_some())
    }

    // ---- the event log ---------------------------------------------------------------------

    /// Put an event unless it is already there: `Ok(true)` written now, `Ok(false)` it was
    /// (a stream record processed again). This is what makes the log exactly-once. The key is
    /// the shard the event id carries (`keys.rs`, "event log").
    pub async fn put_event(&self, rec: &EventRecord) -> Result<bool, StoreError> {
        let key = keys::event(&rec.partner_id, &rec.event_id)
            .ok_or_else(|| StoreError::Internal(format!("{} is no event id", rec.event_id)))?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_keys(to_item(rec)?, key)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(conditional("PutItem", out)?.is_some())
    }

    /// One event of the partner's log (`None` once expired, even before TTL deletes it): one
    /// GetItem, on the shard the id carries.
    pub async fn logged_event(
        &self,
        partner_id: &str,
        event_id: &str,
        now_unix: i64,
    ) -> Result<Option<EventRecord>, StoreError> {
        let Some(key) = keys::event(partner_id, event_id) else {
            return Ok(None);
        };
        Ok(self
            .get::<EventRecord>(key)
            .await?
            .filter(|e| e.expires_at > now_unix))
    }

    /// A page of the partner's events between two event ids (inclusive), newest first, of one
    /// type if given; expired events are left out. One query per log shard, side by side,
    /// merged (`lists::fan_out`).
    #[allow(clippy::too_many_arguments)]
    pub async fn list_events(
        &self,
        partner_id: &str,
        lowest_id: &str,
        highest_id: &str,
        event_type: Option<&str>,
        now_unix: i64,
        limit: i32,
        from: &ListPosition,
    ) -> Result<Page<EventRecord>, StoreError> {
        self.sharded_page(from, limit, event_type.is_some(), |shard| {
            let pk = keys::events_pk(partner_id, shard);
            let req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":lo", s(lowest_id))
                .expression_attribute_values(":hi", s(highest_id))
                .expression_attribute_values(":now", n(now_unix.max(0) as u64));
            let req = match event_type {
                Some(t) => req
                    .filter_expression("expires_at > :now AND event_type = :t")
                    .expression_attribute_values(":t", s(t)),
                None => req.filter_expression("expires_at > :now"),
            };
            (pk, req)
        })
        .await
    }

    /// A page of a list over `EVENT_LOG_SHARDS` keys of the table, newest first:
    /// `query(shard)` is one shard's query (and its partition key) without order, limit or
    /// start, which `lists::fan_out` sets; it runs one per shard side by side and merges them.
    async fn sharded_page<T: serde::de::DeserializeOwned>(
        &self,
        from: &ListPosition,
        limit: i32,
        filtered: bool,
        query: impl Fn(u8) -> (String, QueryFluentBuilder),
    ) -> Result<Page<T>, StoreError> {
        let (items, next) = fan_out(
            from,
            limit.max(1) as usize,
            filtered,
            keys::EVENT_LOG_SHARDS,
            |shard, after, limit| {
                let (pk, req) = query(shard);
                let req = req
                    .scan_index_forward(false)
                    .limit(limit)
                    .set_exclusive_start_key(after.map(|sk| table_key(pk, sk)));
                async move {
                    let out = req.send().await.map_err(|e| classify("Query", e))?;
                    ShardPage::of(out.items, out.last_evaluated_key, keys::SK)
                }
            },
        )
        .await?;
        page(items, next)
    }

    // ---- delivery attempts ---------------------------------------------------------------------

    /// Record an attempt, on the shard its event id carries (`keys::attempts_pk`).
    pub async fn put_attempt(&self, rec: &AttemptRecord) -> Result<(), StoreError> {
        let nonce = hex::encode(crate::keys::random_bytes::<4>());
        let shard = keys::event_id_shard(&rec.event_id).unwrap_or(0);
        let key = keys::attempt(
            &rec.partner_id,
            &rec.endpoint_id,
            shard,
            &rec.attempted_at,
            &nonce,
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_keys(to_item(rec)?, key)))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// A page of the attempts to one endpoint, newest first: one query per shard, side by
    /// side, merged (`lists::fan_out`).
    pub async fn list_attempts(
        &self,
        partner_id: &str,
        endpoint_id: &str,
        now_unix: i64,
        limit: i32,
        from: &ListPosition,
    ) -> Result<Page<AttemptRecord>, StoreError> {
        self.sharded_page(from, limit, false, |shard| {
            let pk = keys::attempts_pk(partner_id, endpoint_id, shard);
            let req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("expires_at > :now")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":now", n(now_unix.max(0) as u64));
            (pk, req)
        })
        .await
    }
}
