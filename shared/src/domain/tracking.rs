use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{DeliveryStatus, TrackingNumber, MAX_NAME, MAX_TEXT, MAX_URL};
use crate::error::ApiError;
use crate::validate::Fields;

pub const MAX_EVENTS_PER_REQUEST: usize = 100;

/// One tracking event as the partner sent it (validated; unknown fields dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEvent {
    pub tracking_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_address: Option<String>,
    /// The source document's spelling; `tracking_description` is accepted as an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_desctiption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_number: Option<String>,
    /// Stored as text, never fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

impl TrackingEvent {
    fn parse(f: &Fields) -> Result<Self, ApiError> {
        let description = match f.opt_string("tracking_desctiption", MAX_TEXT)? {
            Some(d) => Some(d),
            None => f.opt_string("tracking_description", MAX_TEXT)?,
        };
        Ok(TrackingEvent {
            tracking_time: f.timestamp("tracking_time")?.0,
            tracking_status: f.opt_string("tracking_status", MAX_NAME)?,
            contact_phone_number: f.opt_string("contact_phone_number", 32)?,
            contact_email: f.opt_string("contact_email", 254)?,
            handler_name: f.opt_string("handler_name", MAX_NAME)?,
            end_address: f.opt_string("end_address", MAX_TEXT)?,
            start_address: f.opt_string("start_address", MAX_TEXT)?,
            tracking_desctiption: description,
            order_id: f.opt_string("order_id", MAX_NAME)?,
            vehicle_type: f.opt_string("vehicle_type", MAX_NAME)?,
            vehicle_number: f.opt_string("vehicle_number", MAX_NAME)?,
            image_url: f.opt_string("image_url", MAX_URL)?,
        })
    }

    /// Identity of an event: same time (as an instant, whatever its notation), status and
    /// content = same id, so a resent event is stored once.
    pub fn id(&self) -> String {
        let mut same_notation = self.clone();
        same_notation.tracking_time = self.instant().unix_timestamp_nanos().to_string();
        let canonical = serde_json::to_vec(&same_notation).expect("event serialises");
        hex::encode(&Sha256::digest(&canonical)[..16])
    }

    /// The instant of `tracking_time` (validated at parse time).
    pub fn instant(&self) -> OffsetDateTime {
        crate::time_fmt::parse(&self.tracking_time).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// A validated Insert Tracking Detail body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingRequest {
    pub tracking_number: TrackingNumber,
    pub delivery_status: DeliveryStatus,
    /// Distinct events of the request, in the order sent.
    pub events: Vec<TrackingEvent>,
    pub signature: String,
}

impl TrackingRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let tracking_number = TrackingNumber::parse(&f.required_string("tracking_number", 64)?)?;
        let status = f.required_string("delivery_status", 32)?;
        let delivery_status = DeliveryStatus::parse(&status).ok_or_else(|| {
            ApiError::validation(
                "delivery_status",
                "must be one of created, in_process, in_delivery, success, fail, in_return, returned.",
            )
        })?;
        let raw = f.array("tracking_detail")?;
        if raw.is_empty() || raw.len() > MAX_EVENTS_PER_REQUEST {
            return Err(ApiError::validation(
                "tracking_detail",
                format!("must hold 1 to {MAX_EVENTS_PER_REQUEST} events."),
            ));
        }
        let mut events: Vec<TrackingEvent> = Vec::with_capacity(raw.len());
        for (i, v) in raw.iter().enumerate() {
            let name = format!("tracking_detail[{i}]");
            let obj = v
                .as_object()
                .ok_or_else(|| ApiError::validation(&name, "must be an object."))?;
            let e = TrackingEvent::parse(&Fields::nested(obj, name))?;
            if !events.iter().any(|x| x.id() == e.id()) {
                events.push(e);
            }
        }
        let signature = super::signature(body)?;
        Ok(TrackingRequest {
            tracking_number,
            delivery_status,
            events,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(events: Value) -> Value {
        json!({"tracking_number": "T1", "delivery_status": "in_process", "tracking_detail": events, "signature": "s"})
    }

    #[test]
    fn alias_and_dedup_within_request() {
        let b = body(json!([
            {"tracking_time": "2022-04-06T06:05:00Z", "tracking_description": "at hub"},
            {"tracking_time": "2022-04-06T06:05:00Z", "tracking_desctiption": "at hub"}
        ]));
        let r = TrackingRequest::parse(b.as_object().unwrap()).unwrap();
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].tracking_desctiption.as_deref(), Some("at hub"));
    }

    #[test]
    fn event_errors_name_the_index() {
        let b = body(json!([{"tracking_time": "2022-04-06T06:05:00Z"}, {"tracking_status": "x"}]));
        let e = TrackingRequest::parse(b.as_object().unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "tracking_detail[1].tracking_time is required."
        );
    }

    #[test]
    fn event_count_bounds() {
        let e = TrackingRequest::parse(body(json!([])).as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("tracking_detail "));
        let many: Vec<Value> = (0..101)
            .map(
                |i| json!({"tracking_time": format!("2022-04-06T06:{:02}:{:02}Z", i / 60, i % 60)}),
            )
            .collect();
        let e = TrackingRequest::parse(body(json!(many)).as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("tracking_detail "));
    }

    #[test]
    fn unknown_status_is_named() {
        let mut b = body(json!([{"tracking_time": "2022-04-06T06:05:00Z"}]));
        b["delivery_status"] = json!("delivered");
        let e = TrackingRequest::parse(b.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("delivery_status "));
    }

    #[test]
    fn event_id_depends_on_content() {
        let a = TrackingEvent {
            tracking_time: "2022-04-06T06:05:00Z".into(),
            tracking_status: None,
            contact_phone_number: None,
            contact_email: None,
            handler_name: None,
            end_address: None,
            start_address: None,
            tracking_desctiption: None,
            order_id: None,
            vehicle_type: None,
            vehicle_number: None,
            image_url: None,
        };
        let mut b = a.clone();
        assert_eq!(a.id(), b.id());
        b.tracking_status = Some("x".into());
        assert_ne!(a.id(), b.id());
        let mut c = a.clone();
        c.tracking_time = "2022-04-06T13:05:00.000+07:00".into();
        assert_eq!(
            a.id(),
            c.id(),
            "the same instant in another notation is the same event"
        );
    }
}
