//! What claims store (issue 13): the claim item, and the claims part of the delivery item.
//!
//! A claim is ONE item (`keys::claim`), holding the claim, its status history, its notes and its
//! document list, bounded (`domain::claim::MAX_*`) so that it stays far below 400 KB. Every change
//! of it bumps `version` and `updated_at` and is written conditional on the version it was read
//! at, in the same transaction as whatever else it changes (the delivery's summary, an operator's
//! audit entry). A stream record of the claim item therefore carries everything an event needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::claim::{ClaimRequest, DocumentRequest};
use crate::domain::{ClaimStatus, ClaimType};

/// The claims part of a delivery item (flattened into it; absent on deliveries never claimed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryClaims {
    /// The latest `tracking_time` of the delivery's events (`time_fmt::format`), kept by the
    /// tracking write so that eligibility needs no read of the events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<String>,
    /// The `tracking_time` of the update that moved the delivery to `success` (its latest event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Every claim of the delivery's policy, by claim id: what delivery and policy reads show.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, ClaimSummary>,
    /// The open claim, if any: filing is conditional on its absence (one open claim per
    /// policy), and a retry of the same body is recognised by its fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_claim: Option<OpenClaim>,
    /// What claims on this policy were paid, in all: a payout is conditional on it staying
    /// within the insured `item_value`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub claims_paid_total: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenClaim {
    pub claim_id: String,
    /// `ClaimRequest::fingerprint` of the body that filed it.
    pub fingerprint: String,
}

/// One claim as the delivery item summarises it (the `claims` of delivery and policy reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimSummary {
    pub claim_id: String,
    pub claim_type: ClaimType,
    pub claim_status: ClaimStatus,
    pub claimed_amount: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_amount: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_amount: Option<u64>,
    pub created_at: String,
}

/// Who made a change: the partner (through the API) or an operator (through `opsctl`; who
/// exactly is in the audit log, never on the claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimActor {
    Partner,
    Operator,
}

/// One status of the claim's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: String,
    pub claim_status: ClaimStatus,
    pub by: ClaimActor,
    /// The operator's message or reason, or the partner's withdrawal reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRecord {
    pub note_id: String,
    pub at: String,
    pub by: ClaimActor,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub document_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub document_type: String,
    pub created_at: String,
}

impl DocumentRecord {
    pub fn new(id: String, req: &DocumentRequest, now: &str) -> Self {
        DocumentRecord {
            document_id: id,
            file_name: req.file_name.clone(),
            content_type: req.content_type.clone(),
            size_bytes: req.size_bytes,
            document_type: req.document_type.clone(),
            created_at: now.to_string(),
        }
    }

    /// Same file as a document request (a retry, or a new upload link for it).
    pub fn same_as(&self, req: &DocumentRequest) -> bool {
        self.file_name == req.file_name
            && self.content_type == req.content_type
            && self.size_bytes == req.size_bytes
            && self.document_type == req.document_type
    }
}

/// A claim: one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub claim_id: String,
    pub partner_id: String,
    #[serde(flatten)]
    pub request: ClaimRequest,
    pub fingerprint: String,
    pub currency: String,
    pub claim_status: ClaimStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_amount: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_amount: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    #[serde(default)]
    pub notes: Vec<NoteRecord>,
    #[serde(default)]
    pub documents: Vec<DocumentRecord>,
    pub created_at: String,
    pub updated_at: String,
    /// Incremented by every change; writes are conditional on the version they read.
    pub version: u64,
}

impl ClaimRecord {
    /// A claim as filing writes it: `submitted` by the partner at `now`, version 1.
    pub fn filed(
        claim_id: String,
        partner_id: String,
        request: ClaimRequest,
        currency: String,
        now: &str,
    ) -> ClaimRecord {
        ClaimRecord {
            claim_id,
            partner_id,
            fingerprint: request.fingerprint(),
            request,
            currency,
            claim_status: ClaimStatus::Submitted,
            approved_amount: None,
            decision_reason: None,
            paid_amount: None,
            payment_reference: None,
            paid_at: None,
            history: vec![HistoryEntry {
                at: now.to_string(),
                claim_status: ClaimStatus::Submitted,
                by: ClaimActor::Partner,
                message: None,
            }],
            notes: vec![],
            documents: vec![],
            created_at: now.to_string(),
            updated_at: now.to_string(),
            version: 1,
        }
    }

    /// The delivery item's summary of this claim.
    pub fn summary(&self) -> ClaimSummary {
        ClaimSummary {
            claim_id: self.claim_id.clone(),
            claim_type: self.request.claim_type,
            claim_status: self.claim_status,
            claimed_amount: self.request.claimed_amount,
            approved_amount: self.approved_amount,
            paid_amount: self.paid_amount,
            created_at: self.created_at.clone(),
        }
    }

    /// The next version of this claim: `version` + 1 and `updated_at` = `now`.
    pub fn next(&self, now: &str) -> ClaimRecord {
        let mut c = self.clone();
        c.version += 1;
        c.updated_at = now.to_string();
        c
    }

    /// Move to `to` (already checked against the status machine), recording it in the history.
    pub fn moved(
        &self,
        to: ClaimStatus,
        by: ClaimActor,
        message: Option<String>,
        now: &str,
    ) -> ClaimRecord {
        let mut c = self.next(now);
        c.claim_status = to;
        c.history.push(HistoryEntry {
            at: now.to_string(),
            claim_status: to,
            by,
            message,
        });
        c
    }
}
