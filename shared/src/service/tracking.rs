//! API #2 Insert Tracking Detail (scope `tracking`).

use serde_json::{json, Map, Value};

use super::{App, Reply, CONFLICT_ATTEMPTS};
use crate::auth::{Principal, Scope};
use crate::domain::{DeliveryStatus, PolicyStatus, TrackingEvent, TrackingRequest};
use crate::error::ApiError;
use crate::store::StoreError;
use crate::time_fmt;

impl App {
    /// API #2 Insert Tracking Detail.
    pub async fn track(&self, p: &Principal, body: &Map<String, Value>) -> Result<Reply, ApiError> {
        p.require(Scope::Tracking)?;
        let req = TrackingRequest::parse(body)?;
        let caller = self.caller(p).await?;
        let tn = req.tracking_number.as_str();
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = self.delivery_for(p, tn).await?;
            self.check_signature(
                p,
                &caller,
                tn,
                current.policy.premium_amount,
                &req.signature,
            )
            .await?;
            if current.policy.policy_status == PolicyStatus::Cancelled {
                return Err(ApiError::PolicyCancelled);
            }
            if !current.delivery_status.can_move_to(req.delivery_status) {
                return Err(ApiError::InvalidStatusTransition {
                    current: current.delivery_status,
                    requested: req.delivery_status,
                });
            }
            let stored = current.stored_event_ids();
            let new_events: Vec<TrackingEvent> = req
                .events
                .iter()
                .filter(|e| !stored.contains(&e.id()))
                .cloned()
                .collect();
            let added = new_events.len();
            if added == 0 && current.delivery_status == req.delivery_status {
                return Ok(tracking_reply(tn, req.delivery_status, 0));
            }
            let now = time_fmt::format(time_fmt::now());
            match self
                .store
                .record_tracking(&current, req.delivery_status, &new_events, &now)
                .await
            {
                Ok(()) => return Ok(tracking_reply(tn, req.delivery_status, added)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }
}

pub fn tracking_reply(tn: &str, status: DeliveryStatus, added: usize) -> Reply {
    (
        200,
        json!({"status": "success", "message": format!("Tracking detail recorded for {tn}: status {status}, {added} new event(s).")}),
    )
}
