//! The domain: types that can only hold valid values, and the rules of the contract.

mod cancel;
pub mod claim;
mod product;
mod quote;
mod status;
mod submission;
mod tracking;
mod tracking_number;

pub use cancel::{CancelRequest, Cancellation};
pub use claim::{ClaimStatus, ClaimTerms, ClaimType};
pub use product::{PremiumRule, Product, ProductCode};
pub use quote::{Quote, QuoteId, QuoteRequest, QUOTE_RECORD_RETENTION};
pub use status::{DeliveryStatus, PolicyStatus};
pub use submission::Submission;
pub use tracking::{TrackingEvent, TrackingRequest, MAX_EVENTS_PER_REQUEST};
pub use tracking_number::TrackingNumber;

/// The `signature` field of a write call. The contract makes a missing or malformed signature a
/// signature failure (403 `invalid_signature`), not a validation error.
pub(crate) fn signature(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, crate::ApiError> {
    match body.get("signature") {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() && s.len() <= 128 => {
            Ok(s.clone())
        }
        _ => Err(crate::ApiError::InvalidSignature),
    }
}

/// Longest free-text field (addresses, descriptions, reasons).
pub const MAX_TEXT: usize = 1000;
/// Longest name-like field (names, types, handler, vehicle, ids).
pub const MAX_NAME: usize = 255;
/// Longest URL.
pub const MAX_URL: usize = 2048;
