//! The one error type of the partner API and its HTTP mapping.
//!
//! Every handler returns `Result<_, ApiError>`; `crate::http::error_response` turns an
//! `ApiError` into the contract's body in one place. OAuth-shaped errors (token endpoint,
//! `invalid_token`, `insufficient_scope`) have their own body; everything else is
//! `{"status":"error","message","code","request_id"}`.

use crate::auth::Scope;
use crate::domain::{ClaimStatus, DeliveryStatus};

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    /// A field is missing, empty, of the wrong type or out of range. The message starts with the field name.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("product_code {0:?} is not a known product.")]
    UnknownProduct(String),
    #[error("item_value {value} exceeds the product's maximum insured value of {max}.")]
    ItemValueTooHigh { value: u64, max: u64 },
    #[error("premium_amount {given} does not match the product's premium for this item_value; expected {expected}.")]
    PremiumMismatch { given: u64, expected: u64 },
    #[error("cursor is not valid for this request; start again without a cursor.")]
    InvalidCursor,
    #[error("{0}")]
    InvalidToken(String),
    #[error("The access token does not grant the {0} subscription required by this route.")]
    InsufficientScope(Scope),
    #[error("signature does not match this request.")]
    InvalidSignature,
    #[error("{0}")]
    NotFound(String),
    #[error("tracking_number {0} was already submitted with a different body.")]
    DuplicateTrackingNumber(String),
    #[error("delivery_status cannot move from {current} to {requested}; the current status is {current}.")]
    InvalidStatusTransition {
        current: DeliveryStatus,
        requested: DeliveryStatus,
    },
    #[error("The policy of this delivery is cancelled; no more tracking details are accepted.")]
    PolicyCancelled,
    #[error("The delivery cannot be cancelled any more; its current status is {0}.")]
    CancellationNotAllowed(DeliveryStatus),
    // ---- claims (issue 13) ----
    /// The delivery is not (or no longer) eligible for a claim of that type; the message says why.
    #[error("{0}")]
    ClaimNotEligible(String),
    #[error("The policy of this delivery is cancelled; it cannot be claimed on.")]
    ClaimPolicyCancelled,
    #[error("A claim is already open on this policy: claim_id {0}. File again once it is closed, or add documents and notes to it.")]
    ClaimExists(String),
    #[error(
        "claim_status cannot move from {current} to {requested}; the current status is {current}."
    )]
    InvalidClaimTransition {
        current: ClaimStatus,
        requested: ClaimStatus,
    },
    #[error("The claim no longer accepts {what}: its current status is {current} (they are accepted while it is submitted, in_review or information_requested).")]
    ClaimLocked {
        current: ClaimStatus,
        what: &'static str,
    },
    #[error("The claim already has the most {what} it can hold ({max}).")]
    ClaimLimitReached { what: &'static str, max: usize },
    /// Cancel on a policy with an open or a paid claim (code `cancellation_not_allowed`).
    #[error("The policy cannot be cancelled: claim {0} on it is open or was paid.")]
    CancellationClaimed(String),
    // ---- quotes (issue 16) ----
    /// Not a quote of this partner (another partner's quotes are unknown too), or one whose
    /// record expired (`expires_at`, a day after `valid_until`).
    #[error("quote_id {0} is not a quote of yours (or it expired more than a day ago); ask for a new quote.")]
    UnknownQuote(String),
    /// The submission's product or item value is not the quote's.
    #[error("quote_id {quote_id} was quoted for {field} {quoted}, not {given}.")]
    QuoteMismatch {
        quote_id: String,
        field: &'static str,
        quoted: String,
        given: String,
    },
    #[error("quote_id {quote_id} expired at {valid_until}; ask for a new quote.")]
    QuoteExpired {
        quote_id: String,
        valid_until: String,
    },
    #[error("The request body is larger than {0} bytes.")]
    PayloadTooLarge(usize),
    #[error("Content-Type must be application/json.")]
    UnsupportedMediaType,
    /// A dependency (DynamoDB, Secrets Manager) is unavailable or throttling. The detail is logged, not shown.
    #[error("The service is temporarily unavailable; retry later.")]
    Unavailable(String),
    /// A bug. The detail is logged, not shown.
    #[error("Internal error.")]
    Internal(String),

    // ---- webhooks (issue 14) ----
    #[error("A partner has at most {0} webhook endpoints; delete one before creating another.")]
    EndpointLimitReached(u64),
    #[error("The webhook endpoint {0} is disabled; enable it (PATCH enabled=true) first.")]
    EndpointDisabled(String),
    #[error("No enabled webhook endpoint subscribes to {0} events.")]
    NoSubscribedEndpoint(String),
}

impl ApiError {
    pub fn validation(field: &str, problem: impl std::fmt::Display) -> Self {
        ApiError::Validation(format!("{field} {problem}"))
    }

    pub fn status(&self) -> u16 {
        use ApiError::*;
        match self {
            Validation(_)
            | InvalidJson(_)
            | UnknownProduct(_)
            | ItemValueTooHigh { .. }
            | PremiumMismatch { .. }
            | InvalidCursor
            | UnknownQuote(_)
            | QuoteMismatch { .. } => 400,
            InvalidToken(_) => 401,
            InsufficientScope(_) | InvalidSignature => 403,
            NotFound(_) => 404,
            DuplicateTrackingNumber(_)
            | InvalidStatusTransition { .. }
            | PolicyCancelled
            | CancellationNotAllowed(_)
            | ClaimNotEligible(_)
            | ClaimPolicyCancelled
            | ClaimExists(_)
            | InvalidClaimTransition { .. }
            | ClaimLocked { .. }
            | ClaimLimitReached { .. }
            | CancellationClaimed(_)
            | QuoteExpired { .. } => 409,
            PayloadTooLarge(_) => 413,
            UnsupportedMediaType => 415,
            Internal(_) => 500,
            Unavailable(_) => 503,
            EndpointLimitReached(_) | EndpointDisabled(_) | NoSubscribedEndpoint(_) => 409,
        }
    }

    /// The stable machine code of the error body.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            Validation(_) => "validation_error",
            InvalidJson(_) => "invalid_json",
            UnknownProduct(_) => "unknown_product",
            ItemValueTooHigh { .. } => "item_value_too_high",
            PremiumMismatch { .. } => "premium_mismatch",
            InvalidCursor => "invalid_cursor",
            InvalidToken(_) => "invalid_token",
            InsufficientScope(_) => "insufficient_scope",
            InvalidSignature => "invalid_signature",
            NotFound(_) => "not_found",
            DuplicateTrackingNumber(_) => "duplicate_tracking_number",
            InvalidStatusTransition { .. } => "invalid_status_transition",
            PolicyCancelled => "policy_cancelled",
            CancellationNotAllowed(_) | CancellationClaimed(_) => "cancellation_not_allowed",
            ClaimNotEligible(_) => "claim_not_eligible",
            ClaimPolicyCancelled => "policy_cancelled",
            ClaimExists(_) => "claim_exists",
            InvalidClaimTransition { .. } => "invalid_claim_transition",
            ClaimLocked { .. } => "claim_locked",
            ClaimLimitReached { .. } => "claim_limit_reached",
            UnknownQuote(_) => "unknown_quote",
            QuoteMismatch { .. } => "quote_mismatch",
            QuoteExpired { .. } => "quote_expired",
            PayloadTooLarge(_) => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            Unavailable(_) => "service_unavailable",
            Internal(_) => "internal_error",
            EndpointLimitReached(_) => "endpoint_limit_reached",
            EndpointDisabled(_) => "endpoint_disabled",
            NoSubscribedEndpoint(_) => "no_subscribed_endpoint",
        }
    }

    /// OAuth 2.0 bearer-token errors (RFC 6750) keep the OAuth body shape.
    pub fn is_oauth(&self) -> bool {
        matches!(
            self,
            ApiError::InvalidToken(_) | ApiError::InsufficientScope(_)
        )
    }

    /// What may be logged about the error (detail of dependency failures and bugs included).
    pub fn log_detail(&self) -> String {
        match self {
            ApiError::Unavailable(d) | ApiError::Internal(d) => d.clone(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_error_names_the_current_status() {
        let e = ApiError::InvalidStatusTransition {
            current: DeliveryStatus::Success,
            requested: DeliveryStatus::InDelivery,
        };
        assert_eq!(e.status(), 409);
        assert!(e.to_string().contains("current status is success"));
    }

    #[test]
    fn dependency_detail_is_not_in_the_message() {
        let e = ApiError::Unavailable("ThrottlingException on table x".into());
        assert!(!e.to_string().contains("Throttling"));
        assert_eq!(e.status(), 503);
        assert!(e.log_detail().contains("Throttling"));
    }

    #[test]
    fn premium_mismatch_gives_the_expected_premium() {
        let e = ApiError::PremiumMismatch {
            given: 1,
            expected: 15000,
        };
        assert!(e.to_string().contains("expected 15000"));
    }
}
