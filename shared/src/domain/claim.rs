//! Claims: the pure rules of the contract's section "Claims" (types, the status machine,
//! eligibility, the claimed-amount limit) and the validated request bodies. No I/O here; the
//! service (`service::claims`) reads the delivery and the claim, asks these rules, and writes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::{DeliveryStatus, PolicyStatus, TrackingNumber, MAX_NAME};
use crate::error::ApiError;
use crate::validate::Fields;

/// Longest claim description, note and reason (characters).
pub const MAX_CLAIM_TEXT: usize = 2000;
/// Longest message an operator gives with a move (characters).
pub const MAX_OPERATOR_MESSAGE: usize = 1000;
/// Documents per claim.
pub const MAX_DOCUMENTS: usize = 20;
/// Notes per claim: the claim is one DynamoDB item (at most 400 KB), and every change of it is
/// billed by its size, so the conversation it holds is bounded.
pub const MAX_NOTES: usize = 20;
/// History entries per claim (operator moves included): the same bound, for the same reason.
pub const MAX_HISTORY: usize = 60;
/// Largest document, bytes (10 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 10 * 1024 * 1024;
/// How far an `incident_time` may be in the future, or before the policy's issue, for the
/// partner's clock (and for times sent at a coarser precision than the server's).
pub const CLOCK_SKEW: Duration = Duration::seconds(300);
/// The claim terms of policies sold before products had them.
pub const DEFAULT_LOSS_AFTER_DAYS: u32 = 7;
pub const DEFAULT_DAMAGE_CLAIM_DAYS: u32 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimType {
    Loss,
    Damage,
}

impl ClaimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimType::Loss => "loss",
            ClaimType::Damage => "damage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "loss" => Some(ClaimType::Loss),
            "damage" => Some(ClaimType::Damage),
            _ => None,
        }
    }
}

impl fmt::Display for ClaimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claim status machine of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Submitted,
    InReview,
    InformationRequested,
    Approved,
    Rejected,
    Withdrawn,
    Paid,
}

impl ClaimStatus {
    pub const ALL: [ClaimStatus; 7] = [
        ClaimStatus::Submitted,
        ClaimStatus::InReview,
        ClaimStatus::InformationRequested,
        ClaimStatus::Approved,
        ClaimStatus::Rejected,
        ClaimStatus::Withdrawn,
        ClaimStatus::Paid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Submitted => "submitted",
            ClaimStatus::InReview => "in_review",
            ClaimStatus::InformationRequested => "information_requested",
            ClaimStatus::Approved => "approved",
            ClaimStatus::Rejected => "rejected",
            ClaimStatus::Withdrawn => "withdrawn",
            ClaimStatus::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// `rejected`, `withdrawn` and `paid` are final; every other status is open.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ClaimStatus::Rejected | ClaimStatus::Withdrawn | ClaimStatus::Paid
        )
    }

    pub fn is_open(self) -> bool {
        !self.is_final()
    }

    /// While documents and notes may be added.
    pub fn accepts_changes(self) -> bool {
        matches!(
            self,
            ClaimStatus::Submitted | ClaimStatus::InReview | ClaimStatus::InformationRequested
        )
    }

    /// `submitted → in_review → approved → paid`; `in_review → information_requested →
    /// in_review`; `submitted | in_review → rejected`; `submitted | in_review |
    /// information_requested → withdrawn`. Nothing else (staying put is not a move).
    pub fn can_move_to(self, to: ClaimStatus) -> bool {
        use ClaimStatus::*;
        matches!(
            (self, to),
            (Submitted, InReview)
                | (InReview, Approved)
                | (Approved, Paid)
                | (InReview, InformationRequested)
                | (InformationRequested, InReview)
                | (Submitted | InReview, Rejected)
                | (Submitted | InReview | InformationRequested, Withdrawn)
        )
    }

    /// The statuses this one may move to (for messages that say what would be allowed).
    pub fn next(self) -> Vec<ClaimStatus> {
        Self::ALL
            .into_iter()
            .filter(|to| self.can_move_to(*to))
            .collect()
    }
}

impl fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The move to `to`, or 409 `invalid_claim_transition` naming the current status.
pub fn check_move(current: ClaimStatus, to: ClaimStatus) -> Result<(), ApiError> {
    if current.can_move_to(to) {
        Ok(())
    } else {
        Err(ApiError::InvalidClaimTransition {
            current,
            requested: to,
        })
    }
}

/// A product's (and a policy's) claim terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTerms {
    pub loss_after_days: u32,
    pub damage_claim_days: u32,
}

/// What eligibility looks at, as the delivery item holds it.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryFacts {
    pub delivery_status: DeliveryStatus,
    pub policy_status: PolicyStatus,
    /// The latest `tracking_time` of the delivery's events, or its submission time without any.
    pub last_event: OffsetDateTime,
    /// The `tracking_time` of the update that moved the delivery to `success`.
    pub success_at: Option<OffsetDateTime>,
}

/// Whether a claim of `claim_type` may be filed `now` (contract, "Claim types and eligibility").
///
/// - A cancelled policy: 409 `policy_cancelled`.
/// - `loss`: the delivery is `fail`, `in_return` or `returned`; or it is not `success` and no
///   tracking event is dated within the last `loss_after_days` (a delivered parcel is not
///   lost, however long after delivery).
/// - `damage`: the delivery is `success` and `now` is within `damage_claim_days` of the
///   `success` event's `tracking_time`.
///
/// Every refusal is 409 `claim_not_eligible` with a message that says why and when it would be.
pub fn check_eligible(
    claim_type: ClaimType,
    d: &DeliveryFacts,
    terms: ClaimTerms,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    use DeliveryStatus::*;
    if d.policy_status == PolicyStatus::Cancelled {
        return Err(ApiError::ClaimPolicyCancelled);
    }
    let when = crate::time_fmt::format;
    match claim_type {
        ClaimType::Loss => {
            if matches!(d.delivery_status, Fail | InReturn | Returned) {
                return Ok(());
            }
            if d.delivery_status == Success {
                return Err(ApiError::ClaimNotEligible(
                    "claim_type loss: the delivery is success (delivered); a delivered parcel can be claimed as damage, not as lost.".into(),
                ));
            }
            let lost_from = d.last_event + Duration::days(terms.loss_after_days.into());
            if now >= lost_from {
                return Ok(());
            }
            Err(ApiError::ClaimNotEligible(format!(
                "claim_type loss: the delivery is {} and its last tracking event is dated {}; a loss can be claimed when the delivery is fail, in_return or returned, or after {} days without a tracking event (from {}).",
                d.delivery_status,
                when(d.last_event),
                terms.loss_after_days,
                when(lost_from)
            )))
        }
        ClaimType::Damage => {
            if d.delivery_status != Success {
                return Err(ApiError::ClaimNotEligible(format!(
                    "claim_type damage: the delivery is {}; damage can be claimed once it is success (delivered).",
                    d.delivery_status
                )));
            }
            let delivered = d.success_at.unwrap_or(d.last_event);
            let deadline = delivered + Duration::days(terms.damage_claim_days.into());
            if now <= deadline {
                return Ok(());
            }
            Err(ApiError::ClaimNotEligible(format!(
                "claim_type damage: damage can be claimed within {} days of delivery; the parcel was delivered at {}, so the last day was {}.",
                terms.damage_claim_days,
                when(delivered),
                when(deadline)
            )))
        }
    }
}

/// The most a new claim on a policy may ask for: the insured value less what earlier claims
/// on it were paid.
pub fn claim_limit(item_value: u64, paid_total: u64) -> u64 {
    item_value.saturating_sub(paid_total)
}

/// `claimed_amount` within `claim_limit`, else 400 naming `claimed_amount`.
pub fn check_claimed_amount(
    claimed: u64,
    item_value: u64,
    paid_total: u64,
) -> Result<(), ApiError> {
    let limit = claim_limit(item_value, paid_total);
    if claimed <= limit {
        return Ok(());
    }
    Err(ApiError::validation(
        "claimed_amount",
        if paid_total == 0 {
            format!("must be at most the insured item_value, {item_value}.")
        } else {
            format!("must be at most {limit}: the insured item_value {item_value} less {paid_total} already paid on this policy.")
        },
    ))
}

/// An operator's approval: more than 0 and at most what was claimed.
pub fn check_approved_amount(approved: u64, claimed: u64) -> Result<(), String> {
    if approved == 0 {
        return Err("the approved amount must be more than 0 (reject the claim instead)".into());
    }
    if approved > claimed {
        return Err(format!(
            "the approved amount {approved} is more than the claimed amount {claimed}"
        ));
    }
    Ok(())
}

/// A payout: more than 0, at most the approved amount, and within the policy's insured value
/// with what was paid before (the store enforces the last atomically too).
pub fn check_paid_amount(
    paid: u64,
    approved: u64,
    item_value: u64,
    paid_before: u64,
) -> Result<(), String> {
    if paid == 0 {
        return Err("the paid amount must be more than 0".into());
    }
    if paid > approved {
        return Err(format!(
            "the paid amount {paid} is more than the approved amount {approved}"
        ));
    }
    if paid > claim_limit(item_value, paid_before) {
        return Err(format!(
            "paying {paid} would exceed the insured value {item_value}: {paid_before} was already paid on this policy"
        ));
    }
    Ok(())
}

/// A validated `POST /api/v1/claims` body (the signature apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub tracking_number: TrackingNumber,
    pub policy_id: String,
    pub claim_type: ClaimType,
    pub claimed_amount: u64,
    /// As sent (RFC 3339).
    pub incident_time: String,
    pub description: String,
    pub claimant_name: String,
    pub claimant_phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimant_email: Option<String>,
}

impl ClaimRequest {
    /// Validate a body; returns the request and its signature.
    pub fn parse(body: &Map<String, Value>) -> Result<(ClaimRequest, String), ApiError> {
        let f = Fields::new(body);
        let tracking_number = TrackingNumber::parse(&f.required_string("tracking_number", 64)?)?;
        let policy_id = f.required_string("policy_id", 64)?;
        let claim_type = f.required_string("claim_type", 32)?;
        let claim_type = ClaimType::parse(&claim_type)
            .ok_or_else(|| ApiError::validation("claim_type", "must be loss or damage."))?;
        let claimed_amount = f.integer("claimed_amount", 1)?;
        let (incident_time, _) = f.timestamp("incident_time")?;
        let req = ClaimRequest {
            tracking_number,
            policy_id,
            claim_type,
            claimed_amount,
            incident_time,
            description: f.required_string("description", MAX_CLAIM_TEXT)?,
            claimant_name: f.required_string("claimant_name", MAX_NAME)?,
            claimant_phone: f.phone("claimant_phone", true)?.unwrap_or_default(),
            claimant_email: f.opt_email("claimant_email")?,
        };
        Ok((req, super::signature(body)?))
    }

    /// `incident_time` not in the future and not before the policy was issued (each beyond `CLOCK_SKEW`).
    pub fn check_incident_time(
        &self,
        issued_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), ApiError> {
        let t = self.incident_instant();
        if t > now + CLOCK_SKEW {
            return Err(ApiError::validation(
                "incident_time",
                "must not be in the future.",
            ));
        }
        if t < issued_at - CLOCK_SKEW {
            return Err(ApiError::validation(
                "incident_time",
                format!(
                    "must not be before the policy was issued ({}).",
                    crate::time_fmt::format(issued_at)
                ),
            ));
        }
        Ok(())
    }

    pub fn incident_instant(&self) -> OffsetDateTime {
        crate::time_fmt::parse(&self.incident_time).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Two bodies that mean the same (key order, unknown fields, JSON formatting and the
    /// notation of `incident_time` aside) have the same fingerprint: a safe retry.
    pub fn fingerprint(&self) -> String {
        let mut same = self.clone();
        same.incident_time = crate::time_fmt::format(self.incident_instant());
        let canonical = serde_json::to_vec(&same).expect("claim request serialises");
        hex::encode(Sha256::digest(&canonical))
    }
}

/// The media types a document may have.
pub const DOCUMENT_CONTENT_TYPES: [&str; 3] = ["image/jpeg", "image/png", "application/pdf"];
/// The kinds of document.
pub const DOCUMENT_TYPES: [&str; 4] = ["photo", "invoice", "proof_of_value", "other"];

/// A validated `POST /api/v1/claims/{claim_id}/documents` body (the signature apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRequest {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// `other` when not given.
    pub document_type: String,
}

impl DocumentRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<(DocumentRequest, String), ApiError> {
        let f = Fields::new(body);
        let file_name = f.required_string("file_name", MAX_NAME)?;
        let content_type = f.required_string("content_type", 64)?;
        if !DOCUMENT_CONTENT_TYPES.contains(&content_type.as_str()) {
            return Err(ApiError::validation(
                "content_type",
                "must be image/jpeg, image/png or application/pdf.",
            ));
        }
        let size_bytes = f.integer("size_bytes", 1)?;
        if size_bytes > MAX_DOCUMENT_BYTES {
            return Err(ApiError::validation(
                "size_bytes",
                format!("must be at most {MAX_DOCUMENT_BYTES} (10 MiB)."),
            ));
        }
        let document_type = match f.opt_string("document_type", 32)? {
            None => "other".to_string(),
            Some(t) if DOCUMENT_TYPES.contains(&t.as_str()) => t,
            Some(_) => {
                return Err(ApiError::validation(
                    "document_type",
                    "must be photo, invoice, proof_of_value or other.",
                ))
            }
        };
        let req = DocumentRequest {
            file_name,
            content_type,
            size_bytes,
            document_type,
        };
        Ok((req, super::signature(body)?))
    }
}

/// `message` of a note, `reason` of a withdrawal: 1 to 2000 characters.
pub fn parse_text(body: &Map<String, Value>, field: &str) -> Result<(String, String), ApiError> {
    let f = Fields::new(body);
    let text = f.required_string(field, MAX_CLAIM_TEXT)?;
    Ok((text, super::signature(body)?))
}

/// Claim ids: `clm_` + a lowercase ULID; document ids `doc_` + one. Anything else cannot exist.
pub fn plausible_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 26
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

pub fn new_claim_id() -> String {
    format!("clm_{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

pub fn new_document_id() -> String {
    format!("doc_{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
