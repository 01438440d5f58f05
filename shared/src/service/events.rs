//! The events function's use case: from the table's stream to the event log and the delivery
//! queue.
//!
//! For each stream record (a committed change of a resource item) the events are derived
//! (`webhooks::event`), each is Put into the partner's event log on the condition that it is not
//! there yet (a record processed again adds nothing: exactly one event per change), then one
//! delivery job per subscribed, enabled endpoint is queued. A record whose events are logged but
//! whose jobs could not be queued is reported failed, so it is processed again: the conditional
//! Put finds its events and the jobs are queued then (delivery is at least once).
//!
//! Two items are resources: the delivery item (sk `DELIVERY`: `policy.*` and
//! `delivery.status_changed`) and the claim item (sk `CLAIM`: `claim.*`, one event per change).
//! A claim change also bumps the delivery item's version (its claims summary) without moving
//! its statuses: that record derives nothing, the claim item's record is the event.
//!
//! The answer is the partial batch response of a stream source: the sequence number of the first
//! record that failed, from which Lambda (or devstack) retries.

use std::collections::HashMap;

use serde_dynamo::Item;

use super::{claim_json, delivery_json};
use crate::error::ApiError;
use crate::faults::Faults;
use crate::queue::{DeliveryJob, Queue};
use crate::secrets::LinkKeys;
use crate::store::{keys, ClaimRecord, DeliveryRecord, EndpointRecord, EventRecord, Store};
use crate::webhooks::event::{self, Event, EVENT_RETENTION_SECONDS};

/// One record of the stream, as the function received it.
#[derive(Debug, Clone, Default)]
pub struct StreamChange {
    pub sequence_number: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    pub old_image: Item,
    pub new_image: Item,
}

pub struct EventsProcessor {
    pub store: Store,
    pub links: LinkKeys,
    pub queue: Queue,
    /// The API's public base URL (`url_certificate` in event data).
    pub base_url: String,
}

fn sk_of(image: &Item) -> Option<String> {
    match image.get(keys::SK)? {
        serde_dynamo::AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    }
}

/// The event of a change of a claim item (a pure function of the record: the claim item holds
/// everything `GET /api/v1/claims/{claim_id}` shows, but for `uploaded`, which is S3's). Its
/// images are read as the store's `ClaimRecord`.
pub fn claim_change_events(change: &StreamChange) -> Result<Vec<Event>, ApiError> {
    let read = |image: &Item| -> Result<ClaimRecord, ApiError> {
        serde_dynamo::from_item(image.clone())
            .map_err(|e| ApiError::Internal(format!("a claim image does not read: {e}")))
    };
    let old = if change.old_image.is_empty() {
        None
    } else {
        Some(read(&change.old_image)?)
    };
    Ok(claim_record_events(old.as_ref(), &read(&change.new_image)?))
}

/// The event of a change of a claim from `old` (`None`: its creation) to `new`: `data` is
/// `claim_json(new, None)` (documents without `uploaded`). The OpenAPI examples of the claim
/// events are checked against it (`tools/apidoc/tests/webhook_events.rs`).
pub fn claim_record_events(old: Option<&ClaimRecord>, new: &ClaimRecord) -> Vec<Event> {
    event::claim_events(old, new, &claim_json(new, None))
}

impl EventsProcessor {
    /// The events of one change (none for items that are not resources, and for removals).
    pub async fn derive(&self, change: &StreamChange) -> Result<Vec<Event>, ApiError> {
        if change.event_name == "REMOVE" || change.new_image.is_empty() {
            return Ok(Vec::new());
        }
        match sk_of(&change.new_image).as_deref() {
            Some(keys::DELIVERY_SK) => {
                let new: DeliveryRecord = serde_dynamo::from_item(change.new_image.clone())
                    .map_err(|e| {
                        ApiError::Internal(format!("a delivery image does not read: {e}"))
                    })?;
                let old: Option<DeliveryRecord> = if change.old_image.is_empty() {
                    None
                } else {
                    Some(
                        serde_dynamo::from_item(change.old_image.clone()).map_err(|e| {
                            ApiError::Internal(format!("a delivery image does not read: {e}"))
                        })?,
                    )
                };
                let key = self.links.get().await?;
                let url = format!(
                    "{}/certificates/{}",
                    self.base_url,
                    key.certificate_token(&new.partner_id, &new.policy.policy_id)
                );
                let view = delivery_json(&new, None, &url);
                Ok(event::delivery_events(old.as_ref(), &new, &view))
            }
            Some(keys::CLAIM_SK) => claim_change_events(change),
            _ => Ok(Vec::new()),
        }
    }

    /// Processes a batch in order; returns the sequence number of the first record that failed
    /// (`None`: all done).
    pub async fn process_changes(&self, changes: &[StreamChange]) -> Option<String> {
        let faults = Faults::load("events");
        let mut first_failed: Option<usize> = None;
        let fail = |i: usize, first: &mut Option<usize>| {
            *first = Some(first.map_or(i, |f| f.min(i)));
        };
        // 1. Derive, and log every event (conditional Puts, concurrently).
        let mut derived: Vec<(usize, Event)> = Vec::new();
        // What the fault tests match on; built only when a fault is set (never when deployed).
        let content = |c: &StreamChange| format!("{:?}", c.new_image);
        for (i, c) in changes.iter().enumerate() {
            if faults.active() && faults.fails(&content(c)) {
                tracing::warn!(sequence_number = %c.sequence_number, "fault injection: record failed");
                fail(i, &mut first_failed);
                break;
            }
            match self.derive(c).await {
                Ok(events) => derived.extend(events.into_iter().map(|e| (i, e))),
                Err(e) => {
                    tracing::error!(sequence_number = %c.sequence_number, error = %e.log_detail(), "deriving events failed");
                    fail(i, &mut first_failed);
                    break;
                }
            }
        }
        let now = crate::time_fmt::now().unix_timestamp();
        let puts = derived.iter().map(|(i, e)| async move {
            let rec = EventRecord {
                event_id: e.id.clone(),
                partner_id: e.partner_id.clone(),
                event_type: e.event_type.as_str().to_string(),
                created_at: e.created_at.clone(),
                resource_kind: e.resource_kind.to_string(),
                resource_id: e.resource_id.clone(),
                version: e.version,
                body: e.body(),
                expires_at: now + EVENT_RETENTION_SECONDS,
            };
            (*i, self.store.put_event(&rec).await, rec)
        });
        let mut logged: Vec<(usize, EventRecord)> = Vec::new();
        for (i, result, rec) in futures_util::future::join_all(puts).await {
            match result {
                Ok(new) => {
                    tracing::info!(event_id = %rec.event_id, event_type = %rec.event_type, partner_id = %rec.partner_id, new, "event logged");
                    logged.push((i, rec));
                }
                Err(e) => {
                    tracing::error!(event_id = %rec.event_id, error = ?e, "logging the event failed");
                    fail(i, &mut first_failed);
                }
            }
        }
        // 2. The jobs of the records before the first failure, for the subscribed endpoints.
        let cut = first_failed.unwrap_or(usize::MAX);
        let mut endpoints: HashMap<String, Vec<EndpointRecord>> = HashMap::new();
        let mut jobs: Vec<(usize, DeliveryJob)> = Vec::new();
        for (i, rec) in logged.into_iter().filter(|(i, _)| *i < cut) {
            if !endpoints.contains_key(&rec.partner_id) {
                match self.store.endpoints(&rec.partner_id).await {
                    Ok(list) => {
                        endpoints.insert(rec.partner_id.clone(), list);
                    }
                    Err(e) => {
                        tracing::error!(partner_id = %rec.partner_id, error = ?e, "reading the endpoints failed");
                        fail(i, &mut first_failed);
                        break;
                    }
                }
            }
            for ep in endpoints[&rec.partner_id]
                .iter()
                .filter(|e| e.enabled && e.subscribes(&rec.event_type))
            {
                jobs.push((
                    i,
                    DeliveryJob {
                        partner_id: rec.partner_id.clone(),
                        endpoint_id: ep.endpoint_id.clone(),
                        event_id: rec.event_id.clone(),
                        event_type: rec.event_type.clone(),
                        body: rec.body.clone(),
                    },
                ));
            }
        }
        let cut = first_failed.unwrap_or(usize::MAX);
        jobs.retain(|(i, _)| *i < cut);
        // 3. Queue them, in record order, ten at a time.
        for chunk in jobs.chunks(10) {
            let batch: Vec<DeliveryJob> = chunk.iter().map(|(_, j)| j.clone()).collect();
            if let Err(e) = self.queue.send(&batch).await {
                tracing::error!(error = %e.log_detail(), "queueing deliveries failed");
                fail(chunk[0].0, &mut first_failed);
                break;
            }
        }
        // The mid-batch crash of the fault tests: after the records before it are done.
        if faults.active() {
            for c in changes.iter().take(first_failed.unwrap_or(changes.len())) {
                faults.crash_at(&content(c));
            }
        }
        first_failed.map(|i| changes[i].sequence_number.clone())
    }
}

#[cfg(test)]
mod claim_tests;
