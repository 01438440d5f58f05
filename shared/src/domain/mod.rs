//! The domain: types that can only hold valid values, and the rules of the contract.

mod cancel;
mod product;
mod status;
mod submission;
mod tracking;
mod tracking_number;

pub use cancel::{CancelRequest, Cancellation};
pub use product::{PremiumRule, Product, ProductCode};
pub use status::{DeliveryStatus, PolicyStatus};
pub use submission::Submission;
pub use tracking::{TrackingEvent, TrackingRequest, MAX_EVENTS_PER_REQUEST};
pub use tracking_number::TrackingNumber;

/// Longest free-text field (addresses, descriptions, reasons).
pub const MAX_TEXT: usize = 1000;
/// Longest name-like field (names, types, handler, vehicle, ids).
pub const MAX_NAME: usize = 255;
/// Longest URL.
pub const MAX_URL: usize = 2048;
