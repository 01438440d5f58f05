//! The event log and replay (scope `control_tower`), routes of the `webhooks` function: the
//! partner's events of the last 30 days, one event, its redelivery, and an endpoint's delivery
//! attempts. The log is written by the events function (`super::events`), the attempts by the
//! sender (`super::sender`); both are split over `keys::EVENT_LOG_SHARDS` keys, which a page
//! fans out over behind one sealed cursor.
//!
//! DynamoDB round trips (warm, caller cached): events list 1 query per shard, side by side;
//! event 1 read; redeliver 1 read + 1 query + 1 SQS send; deliveries 1 read + 1 query per shard.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{App, Reply};
use crate::auth::{Principal, Scope};
use crate::error::ApiError;
use crate::queue::DeliveryJob;
use crate::store::{keys, AttemptRecord, EventRecord, ListPosition};
use crate::time_fmt;
use crate::webhooks::event::{self, EventType, EVENT_RETENTION_SECONDS};

const DEFAULT_LIMIT: i32 = 50;
const MAX_LIMIT: i32 = 100;

fn event_json(e: &EventRecord) -> Value {
    serde_json::from_str(&e.body).unwrap_or_else(|_| json!({"id": e.event_id}))
}

fn attempt_json(a: &AttemptRecord) -> Value {
    json!({
        "event_id": a.event_id,
        "event_type": a.event_type,
        "attempted_at": a.attempted_at,
        "attempt": a.attempt,
        "success": a.success,
        "status_code": a.status_code,
        "error": a.error,
        "duration_ms": a.duration_ms,
    })
}

fn event_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("event {id} was not found."))
}

fn limit_param(params: &HashMap<String, String>) -> Result<i32, ApiError> {
    match params
        .get("limit")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => s
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::validation(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}."),
                )
            }),
    }
}

/// `{"items", "next_cursor"}`, the cursor sealed for the partner and the query's shape.
fn page_reply(
    key: &crate::links::LinkKey,
    p: &Principal,
    shape: &str,
    items: impl Iterator<Item = Value>,
    next: Option<ListPosition>,
) -> Reply {
    let next_cursor = next.map(|k| {
        key.seal_cursor(
            &p.partner_id,
            shape,
            &serde_json::to_string(&k).expect("a position serialises"),
        )
    });
    (
        200,
        json!({"items": items.collect::<Vec<_>>(), "next_cursor": next_cursor}),
    )
}

fn ms(t: time::OffsetDateTime) -> u64 {
    (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64
}

impl App {
    /// `GET /api/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=&cursor=`: the attempts,
    /// newest first.
    pub async fn list_endpoint_attempts(
        &self,
        p: &Principal,
        id: &str,
        params: &HashMap<String, String>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let limit = limit_param(params)?;
        self.caller(p).await?;
        let rec = self.own_endpoint(p, id).await?;
        let key = self.links.get().await?;
        let shape = format!("attempts|{}", rec.endpoint_id);
        // An attempt's sort key is `<attempted_at>#<nonce>`.
        let start = self.open_page_cursor(&key, p, &shape, params, |sk| sk.contains('#'))?;
        let now = time_fmt::now().unix_timestamp();
        let (items, next) = self
            .store
            .list_attempts(&p.partner_id, &rec.endpoint_id, now, limit, &start)
            .await?;
        Ok(page_reply(
            &key,
            p,
            &shape,
            items.iter().map(attempt_json),
            next,
        ))
    }

    /// Where a page of a list over the event log's shards starts: the position the sealed
    /// `cursor` holds (400 `invalid_cursor` if it was altered, sealed for another partner or
    /// other filters, or is of the layout before the log was split), or the first page.
    fn open_page_cursor(
        &self,
        key: &crate::links::LinkKey,
        p: &Principal,
        shape: &str,
        params: &HashMap<String, String>,
        sk_ok: impl Fn(&str) -> bool,
    ) -> Result<ListPosition, ApiError> {
        match params.get("cursor").filter(|c| !c.is_empty()) {
            None => Ok(ListPosition::start_of(keys::EVENT_LOG_SHARDS)),
            Some(c) => key
                .open_cursor(&p.partner_id, shape, c)
                .and_then(|payload| serde_json::from_str::<ListPosition>(&payload).ok())
                .filter(|pos| pos.is_valid_for(keys::EVENT_LOG_SHARDS, sk_ok))
                .ok_or(ApiError::InvalidCursor),
        }
    }

    /// `GET /api/v1/events?type=&created_from=&created_to=&limit=&cursor=`: the last 30 days,
    /// newest first.
    pub async fn list_logged_events(
        &self,
        p: &Principal,
        params: &HashMap<String, String>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        let get = |k: &str| params.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
        let event_type = get("type")
            .map(|t| {
                EventType::parse(t)
                    .filter(|t| *t != EventType::Ping)
                    .map(|t| t.as_str())
                    .ok_or_else(|| ApiError::validation("type", "must be one of the event types (see GET /api/v1/openapi.json, webhooks)."))
            })
            .transpose()?;
        let time = |k: &str| {
            get(k)
                .map(|s| {
                    time_fmt::parse(s).ok_or_else(|| {
                        ApiError::validation(
                            k,
                            "must be an RFC 3339 timestamp such as 2022-04-06T06:05:00.528Z.",
                        )
                    })
                })
                .transpose()
        };
        let now = time_fmt::now();
        let from =
            time("created_from")?.unwrap_or(now - time::Duration::seconds(EVENT_RETENTION_SECONDS));
        let to = time("created_to")?;
        if to.is_some_and(|t| from > t) {
            return Err(ApiError::validation(
                "created_from",
                "must not be after created_to.",
            ));
        }
        let limit = limit_param(params)?;
        self.caller(p).await?;
        let (lo, hi) = event::id_bounds(ms(from), to.map(ms).unwrap_or((1u64 << 48) - 1));
        let key = self.links.get().await?;
        // Bound to the filters as given (the default lower bound moves with the clock).
        let shape = format!(
            "events|{}|{}|{}",
            event_type.unwrap_or(""),
            get("created_from").unwrap_or(""),
            get("created_to").unwrap_or("")
        );
        let start = self.open_page_cursor(&key, p, &shape, params, event::is_event_id)?;
        let (items, next) = self
            .store
            .list_events(
                &p.partner_id,
                &lo,
                &hi,
                event_type,
                now.unix_timestamp(),
                limit,
                &start,
            )
            .await?;
        Ok(page_reply(
            &key,
            p,
            &shape,
            items.iter().map(event_json),
            next,
        ))
    }

    async fn own_event(&self, p: &Principal, id: &str) -> Result<EventRecord, ApiError> {
        if !event::is_event_id(id) {
            return Err(event_not_found(id));
        }
        self.store
            .logged_event(&p.partner_id, id, time_fmt::now().unix_timestamp())
            .await?
            .ok_or_else(|| event_not_found(id))
    }

    /// `GET /api/v1/events/{event_id}`.
    pub async fn get_logged_event(&self, p: &Principal, id: &str) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        self.caller(p).await?;
        Ok((200, event_json(&self.own_event(p, id).await?)))
    }

    /// `POST /api/v1/events/{event_id}/redeliver`: the event again, to every enabled endpoint of
    /// the partner that subscribes to its type (same id and body).
    pub async fn redeliver(&self, p: &Principal, id: &str) -> Result<Reply, ApiError> {
        p.require(Scope::ControlTower)?;
        self.caller(p).await?;
        let ev = self.own_event(p, id).await?;
        let jobs: Vec<DeliveryJob> = self
            .store
            .endpoints(&p.partner_id)
            .await?
            .into_iter()
            .filter(|e| e.enabled && e.subscribes(&ev.event_type))
            .map(|e| DeliveryJob {
                partner_id: p.partner_id.clone(),
                endpoint_id: e.endpoint_id,
                event_id: ev.event_id.clone(),
                event_type: ev.event_type.clone(),
                body: ev.body.clone(),
            })
            .collect();
        if jobs.is_empty() {
            return Err(ApiError::NoSubscribedEndpoint(ev.event_type));
        }
        self.webhook_deps()?.queue.send(&jobs).await?;
        let ids: Vec<&str> = jobs.iter().map(|j| j.endpoint_id.as_str()).collect();
        Ok((
            202,
            json!({"status": "success", "message": "The event is on its way again to the endpoints listed.", "event_id": ev.event_id, "endpoint_ids": ids}),
        ))
    }
}
