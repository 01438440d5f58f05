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
mod tests {
    use super::ClaimStatus::*;
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const TERMS: ClaimTerms = ClaimTerms {
        loss_after_days: 7,
        damage_claim_days: 14,
    };

    fn facts(status: DeliveryStatus) -> DeliveryFacts {
        DeliveryFacts {
            delivery_status: status,
            policy_status: PolicyStatus::Active,
            last_event: datetime!(2026-11-01 00:00 UTC),
            success_at: (status == DeliveryStatus::Success)
                .then_some(datetime!(2026-11-01 00:00 UTC)),
        }
    }

    /// The whole claim status table, row = from, column = to, in `ALL` order.
    #[test]
    fn transition_table() {
        let table: [[u8; 7]; 7] = [
            // su ir iq ap rj wd pd
            [0, 1, 0, 0, 1, 1, 0], // submitted
            [0, 0, 1, 1, 1, 1, 0], // in_review
            [0, 1, 0, 0, 0, 1, 0], // information_requested
            [0, 0, 0, 0, 0, 0, 1], // approved
            [0, 0, 0, 0, 0, 0, 0], // rejected (final)
            [0, 0, 0, 0, 0, 0, 0], // withdrawn (final)
            [0, 0, 0, 0, 0, 0, 0], // paid (final)
        ];
        for (i, from) in ClaimStatus::ALL.into_iter().enumerate() {
            for (j, to) in ClaimStatus::ALL.into_iter().enumerate() {
                assert_eq!(from.can_move_to(to), table[i][j] == 1, "{from} -> {to}");
            }
            assert_eq!(from.is_final(), from.next().is_empty(), "{from}");
        }
        let e = check_move(Paid, Withdrawn).unwrap_err();
        assert_eq!(e.code(), "invalid_claim_transition");
        assert!(e.to_string().contains("current status is paid"), "{e}");
        assert!(Submitted.accepts_changes() && InformationRequested.accepts_changes());
        assert!(!Approved.accepts_changes() && !Paid.accepts_changes());
        assert!(Approved.is_open() && !Rejected.is_open());
    }

    #[test]
    fn loss_after_a_failure_or_after_days_without_an_event() {
        let now = datetime!(2026-11-05 00:00 UTC);
        for s in [
            DeliveryStatus::Fail,
            DeliveryStatus::InReturn,
            DeliveryStatus::Returned,
        ] {
            assert!(check_eligible(ClaimType::Loss, &facts(s), TERMS, now).is_ok());
        }
        let moving = facts(DeliveryStatus::InDelivery);
        let e = check_eligible(ClaimType::Loss, &moving, TERMS, now).unwrap_err();
        assert_eq!(e.code(), "claim_not_eligible");
        assert!(e.to_string().contains("2026-11-08T00:00:00.000Z"), "{e}");
        // Exactly loss_after_days after the last event: eligible.
        let later = datetime!(2026-11-08 00:00 UTC);
        assert!(check_eligible(ClaimType::Loss, &moving, TERMS, later).is_ok());
        assert!(check_eligible(
            ClaimType::Loss,
            &facts(DeliveryStatus::Created),
            TERMS,
            later
        )
        .is_ok());
        // A delivered parcel is never lost.
        let e = check_eligible(
            ClaimType::Loss,
            &facts(DeliveryStatus::Success),
            TERMS,
            later,
        )
        .unwrap_err();
        assert_eq!(e.code(), "claim_not_eligible");
        let zero = ClaimTerms {
            loss_after_days: 0,
            ..TERMS
        };
        assert!(check_eligible(ClaimType::Loss, &moving, zero, now).is_ok());
    }

    #[test]
    fn damage_within_the_window_after_delivery() {
        let d = facts(DeliveryStatus::Success);
        assert!(check_eligible(
            ClaimType::Damage,
            &d,
            TERMS,
            datetime!(2026-11-15 00:00 UTC)
        )
        .is_ok());
        let e = check_eligible(
            ClaimType::Damage,
            &d,
            TERMS,
            datetime!(2026-11-15 00:00:01 UTC),
        )
        .unwrap_err();
        assert_eq!(e.code(), "claim_not_eligible");
        assert!(e.to_string().contains("14 days"), "{e}");
        for s in [
            DeliveryStatus::InDelivery,
            DeliveryStatus::Fail,
            DeliveryStatus::Returned,
        ] {
            let e = check_eligible(
                ClaimType::Damage,
                &facts(s),
                TERMS,
                datetime!(2026-11-02 00:00 UTC),
            )
            .unwrap_err();
            assert!(e.to_string().contains(s.as_str()), "{e}");
        }
    }

    #[test]
    fn a_cancelled_policy_cannot_be_claimed_on() {
        let mut d = facts(DeliveryStatus::Fail);
        d.policy_status = PolicyStatus::Cancelled;
        let e = check_eligible(ClaimType::Loss, &d, TERMS, datetime!(2026-12-01 00:00 UTC))
            .unwrap_err();
        assert_eq!(e.code(), "policy_cancelled");
        assert_eq!(e.status(), 409);
    }

    #[test]
    fn claimed_amount_at_and_over_the_limit() {
        assert!(check_claimed_amount(3_000_000, 3_000_000, 0).is_ok());
        let e = check_claimed_amount(3_000_001, 3_000_000, 0).unwrap_err();
        assert!(e.to_string().starts_with("claimed_amount "), "{e}");
        assert!(check_claimed_amount(1_000_000, 3_000_000, 2_000_000).is_ok());
        let e = check_claimed_amount(1_000_001, 3_000_000, 2_000_000).unwrap_err();
        assert!(e.to_string().contains("1000000"), "{e}");
        assert_eq!(claim_limit(10, 20), 0);
    }

    #[test]
    fn approvals_and_payouts_are_bounded() {
        assert!(check_approved_amount(100, 100).is_ok());
        assert!(check_approved_amount(50, 100).is_ok());
        assert!(check_approved_amount(0, 100).is_err());
        assert!(check_approved_amount(101, 100).is_err());
        assert!(check_paid_amount(100, 100, 1000, 900).is_ok());
        assert!(check_paid_amount(101, 200, 1000, 900).is_err());
        assert!(check_paid_amount(101, 100, 1000, 0).is_err());
        assert!(check_paid_amount(0, 100, 1000, 0).is_err());
    }

    fn claim_body() -> Value {
        json!({
            "tracking_number": "SPX1", "policy_id": "pol_1", "claim_type": "loss",
            "claimed_amount": 100, "incident_time": "2026-11-02T07:00:00+07:00",
            "description": "Parcel not delivered", "claimant_name": "Shop",
            "claimant_phone": "0901234567", "signature": "s"
        })
    }

    #[test]
    fn claim_bodies_name_their_fields() {
        let (r, sig) = ClaimRequest::parse(claim_body().as_object().unwrap()).unwrap();
        assert_eq!(sig, "s");
        assert_eq!(r.claim_type, ClaimType::Loss);
        for field in [
            "tracking_number",
            "policy_id",
            "claim_type",
            "claimed_amount",
            "incident_time",
            "description",
            "claimant_name",
            "claimant_phone",
        ] {
            let mut b = claim_body();
            b.as_object_mut().unwrap().remove(field);
            let e = ClaimRequest::parse(b.as_object().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
        for (field, v) in [
            ("claim_type", json!("theft")),
            ("claimed_amount", json!(0)),
            ("description", json!("x".repeat(2001))),
            ("claimant_email", json!("nope")),
        ] {
            let mut b = claim_body();
            b[field] = v;
            let e = ClaimRequest::parse(b.as_object().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
        let mut b = claim_body();
        b.as_object_mut().unwrap().remove("signature");
        assert_eq!(
            ClaimRequest::parse(b.as_object().unwrap())
                .unwrap_err()
                .code(),
            "invalid_signature"
        );
    }

    #[test]
    fn incident_time_is_bounded_by_issue_and_now() {
        let (r, _) = ClaimRequest::parse(claim_body().as_object().unwrap()).unwrap();
        let issued = datetime!(2026-11-01 00:00 UTC);
        assert!(r
            .check_incident_time(issued, datetime!(2026-11-03 00:00 UTC))
            .is_ok());
        let e = r
            .check_incident_time(issued, datetime!(2026-11-01 23:00 UTC))
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("incident_time must not be in the future"));
        let e = r
            .check_incident_time(
                datetime!(2026-11-03 00:00 UTC),
                datetime!(2026-11-04 00:00 UTC),
            )
            .unwrap_err();
        assert!(
            e.to_string().contains("before the policy was issued"),
            "{e}"
        );
    }

    #[test]
    fn fingerprints_tell_a_retry_from_another_claim() {
        let a = ClaimRequest::parse(claim_body().as_object().unwrap())
            .unwrap()
            .0;
        let mut b = claim_body();
        b["incident_time"] = json!("2026-11-02T00:00:00Z");
        b["unknown"] = json!(1);
        b["signature"] = json!("other");
        let b = ClaimRequest::parse(b.as_object().unwrap()).unwrap().0;
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut c = claim_body();
        c["claimed_amount"] = json!(101);
        let c = ClaimRequest::parse(c.as_object().unwrap()).unwrap().0;
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn document_bodies() {
        let ok = json!({"file_name": "parcel.jpg", "content_type": "image/jpeg", "size_bytes": 1024, "signature": "s"});
        let (d, _) = DocumentRequest::parse(ok.as_object().unwrap()).unwrap();
        assert_eq!(d.document_type, "other");
        for (field, v) in [
            ("content_type", json!("image/gif")),
            ("size_bytes", json!(0)),
            ("size_bytes", json!(MAX_DOCUMENT_BYTES + 1)),
            ("document_type", json!("selfie")),
            ("file_name", json!("")),
        ] {
            let mut b = ok.clone();
            b[field] = v;
            let e = DocumentRequest::parse(b.as_object().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
        let mut b = ok.clone();
        b["size_bytes"] = json!(MAX_DOCUMENT_BYTES);
        assert!(DocumentRequest::parse(b.as_object().unwrap()).is_ok());
    }

    #[test]
    fn ids() {
        let id = new_claim_id();
        assert!(plausible_id(&id, "clm_"), "{id}");
        assert!(!plausible_id(&id, "doc_"));
        assert!(!plausible_id("clm_x", "clm_"));
        assert!(!plausible_id(&id.to_uppercase(), "clm_"));
        assert!(plausible_id(&new_document_id(), "doc_"));
    }
}
