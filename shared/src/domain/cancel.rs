use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{TrackingNumber, MAX_NAME, MAX_TEXT};
use crate::error::ApiError;
use crate::validate::Fields;

/// A validated Cancel SME Delivery Order body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub tracking_number: TrackingNumber,
    pub policy_id: String,
    pub cancellation: Cancellation,
    pub signature: String,
}

/// What is stored, and returned by every later cancel of the same policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub canceled_by: String,
    pub cancellation_reason: String,
    pub cancellation_time: String,
}

impl CancelRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        Ok(CancelRequest {
            tracking_number: TrackingNumber::parse(&f.required_string("tracking_number", 64)?)?,
            policy_id: f.required_string("policy_id", 64)?,
            cancellation: Cancellation {
                canceled_by: f.required_string("canceled_by", MAX_NAME)?,
                cancellation_reason: f.required_string("cancellation_reason", MAX_TEXT)?,
                cancellation_time: f.timestamp("cancellation_time")?.0,
            },
            signature: super::signature(body)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_is_required_and_named() {
        let full = json!({"tracking_number": "T1", "policy_id": "pol_1", "canceled_by": "cs", "cancellation_reason": "asked", "cancellation_time": "2022-04-06T06:05:00.528Z", "signature": "s"});
        assert!(CancelRequest::parse(full.as_object().unwrap()).is_ok());
        for field in [
            "tracking_number",
            "policy_id",
            "canceled_by",
            "cancellation_reason",
            "cancellation_time",
        ] {
            let mut b = full.clone();
            b.as_object_mut().unwrap().remove(field);
            let e = CancelRequest::parse(b.as_object().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }
}
