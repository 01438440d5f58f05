//! Claims (issue 13; contract section "Claims"): file a claim, add documents and notes,
//! withdraw (scope `claims`); read one claim and list them (`claims` or `control_tower`).
//!
//! Every write is read-decide-write with a conditional write (`store::claims`), retried on a
//! lost race: concurrent identical filings make one claim (the losers find it and answer the
//! safe retry), different ones make one claim and `409 claim_exists`, and a partner's withdraw
//! racing an operator's decision has one winner. Each claim write carries the request signature
//! over the claim's tracking number and claimed amount.
//!
//! The views (`claim_json`, `claim_list_item_json`, `claims_summary_json`) are pure functions of
//! the stored items, so that events derived from the table's stream can reuse them.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::{App, Reply, CONFLICT_ATTEMPTS};
use crate::auth::{Principal, Scope};
use crate::domain::claim::{
    self, ClaimRequest, DeliveryFacts, DocumentRequest, MAX_DOCUMENTS, MAX_HISTORY, MAX_NOTES,
};
use crate::domain::{ClaimStatus, ClaimTerms};
use crate::error::ApiError;
use crate::store::{
    keys, ClaimActor, ClaimListQuery, ClaimRecord, DeliveryEffect, DeliveryRecord, DocumentRecord,
    NoteRecord, StoreError,
};
use crate::time_fmt;

/// Scopes that may read claims.
pub const READ_SCOPES: [Scope; 2] = [Scope::Claims, Scope::ControlTower];

fn not_found(claim_id: &str) -> ApiError {
    ApiError::NotFound(format!("claim_id {claim_id} was not found."))
}

/// What eligibility needs of a delivery item.
fn facts(d: &DeliveryRecord) -> DeliveryFacts {
    let parse = |s: Option<&str>| s.and_then(time_fmt::parse);
    DeliveryFacts {
        delivery_status: d.delivery_status,
        policy_status: d.policy.policy_status,
        // Deliveries tracked before claims existed have no last_event_time: their last change.
        last_event: parse(d.claims.last_event_time.as_deref())
            .or_else(|| {
                (!d.event_ids.is_empty())
                    .then(|| parse(Some(&d.updated_at)))
                    .flatten()
            })
            .or_else(|| parse(Some(&d.created_at)))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        success_at: parse(d.claims.success_time.as_deref()).or_else(|| {
            (d.delivery_status == crate::domain::DeliveryStatus::Success)
                .then(|| parse(Some(&d.updated_at)))
                .flatten()
        }),
    }
}

impl App {
    fn documents(&self) -> Result<&crate::documents::Documents, ApiError> {
        self.documents
            .as_ref()
            .ok_or_else(|| ApiError::Internal("this function has no claims bucket".into()))
    }

    /// The caller's claim, or 404 (another partner's claim is not found either).
    async fn claim_for(&self, p: &Principal, claim_id: &str) -> Result<ClaimRecord, ApiError> {
        if !claim::plausible_id(claim_id, "clm_") {
            return Err(not_found(claim_id));
        }
        self.store
            .claim(&p.partner_id, claim_id)
            .await?
            .ok_or_else(|| not_found(claim_id))
    }

    /// A claim write's signature: over the claim's tracking number and claimed amount.
    async fn check_claim_signature(
        &self,
        p: &Principal,
        c: &ClaimRecord,
        given: &str,
    ) -> Result<(), ApiError> {
        let caller = self.caller(p).await?;
        self.check_signature(
            p,
            &caller,
            c.request.tracking_number.as_str(),
            c.request.claimed_amount,
            given,
        )
        .await
    }

    /// `POST /api/v1/claims`.
    pub async fn file_claim(
        &self,
        p: &Principal,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Claims)?;
        let (req, sig) = ClaimRequest::parse(body)?;
        let caller = self.caller(p).await?;
        let tn = req.tracking_number.as_str();
        self.check_signature(p, &caller, tn, req.claimed_amount, &sig)
            .await?;
        let fingerprint = req.fingerprint();
        for _ in 0..CONFLICT_ATTEMPTS {
            let delivery = self.delivery_for(p, tn).await?;
            if delivery.policy.policy_id != req.policy_id {
                return Err(ApiError::NotFound(format!(
                    "policy_id {} does not belong to tracking_number {tn}.",
                    req.policy_id
                )));
            }
            if let Some(open) = &delivery.claims.open_claim {
                if open.fingerprint == fingerprint {
                    let status = delivery
                        .claims
                        .claims
                        .get(&open.claim_id)
                        .map(|c| c.claim_status)
                        .unwrap_or(ClaimStatus::Submitted);
                    return Ok((
                        200,
                        json!({"status": "success", "message": "The claim was already filed with this body; the same claim is returned.", "claim_id": open.claim_id, "claim_status": status}),
                    ));
                }
                return Err(ApiError::ClaimExists(open.claim_id.clone()));
            }
            let now = time_fmt::now();
            let terms = ClaimTerms {
                loss_after_days: delivery.policy.loss_after_days,
                damage_claim_days: delivery.policy.damage_claim_days,
            };
            claim::check_eligible(req.claim_type, &facts(&delivery), terms, now)?;
            let issued = time_fmt::parse(&delivery.policy.issued_at)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            req.check_incident_time(issued, now)?;
            claim::check_claimed_amount(
                req.claimed_amount,
                delivery.submission.item_value,
                delivery.claims.claims_paid_total,
            )?;
            let record = ClaimRecord::filed(
                claim::new_claim_id(),
                p.partner_id.clone(),
                req.clone(),
                delivery.policy.currency.clone(),
                &time_fmt::format(now),
            );
            match self.store.file_claim(&delivery, &record).await {
                Ok(()) => {
                    return Ok((
                        201,
                        json!({"status": "success", "message": "The claim is filed.", "claim_id": record.claim_id, "claim_status": record.claim_status}),
                    ))
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// `POST /api/v1/claims/{claim_id}/documents`: a document entry and its pre-signed upload.
    pub async fn add_claim_document(
        &self,
        p: &Principal,
        claim_id: &str,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Claims)?;
        let (req, sig) = DocumentRequest::parse(body)?;
        let docs = self.documents()?;
        for _ in 0..CONFLICT_ATTEMPTS {
            let c = self.claim_for(p, claim_id).await?;
            self.check_claim_signature(p, &c, &sig).await?;
            if !c.claim_status.accepts_changes() {
                return Err(ApiError::ClaimLocked {
                    current: c.claim_status,
                    what: "documents",
                });
            }
            // The same file again, not uploaded yet: a retry, or a fresh link for it.
            if let Some(same) = c.documents.iter().rev().find(|d| d.same_as(&req)) {
                let key = keys::claim_document(&p.partner_id, claim_id, &same.document_id);
                if !docs.uploaded(&key).await?.contains_key("") {
                    let upload = docs
                        .presign_upload(&key, &same.content_type, same.size_bytes)
                        .await?;
                    return Ok((200, document_reply(claim_id, same, &upload, "This document was already added and is not uploaded yet; here is a new upload link for it.")));
                }
            }
            if c.documents.len() >= MAX_DOCUMENTS {
                return Err(ApiError::ClaimLimitReached {
                    what: "documents",
                    max: MAX_DOCUMENTS,
                });
            }
            let now = time_fmt::format(time_fmt::now());
            let doc = DocumentRecord::new(claim::new_document_id(), &req, &now);
            let key = keys::claim_document(&p.partner_id, claim_id, &doc.document_id);
            // Presigned before anything is written: a failure leaves nothing behind.
            let upload = docs
                .presign_upload(&key, &doc.content_type, doc.size_bytes)
                .await?;
            let mut next = c.next(&now);
            next.documents.push(doc.clone());
            match self.store.update_claim(&c, &next, None, None).await {
                Ok(()) => {
                    return Ok((201, document_reply(claim_id, &doc, &upload, "Upload the file with this request before expires_at; the claim lists it with uploaded true once S3 has it.")))
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// `POST /api/v1/claims/{claim_id}/notes`. A note on an `information_requested` claim
    /// returns it to `in_review`.
    pub async fn add_claim_note(
        &self,
        p: &Principal,
        claim_id: &str,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Claims)?;
        let (message, sig) = claim::parse_text(body, "message")?;
        for _ in 0..CONFLICT_ATTEMPTS {
            let c = self.claim_for(p, claim_id).await?;
            self.check_claim_signature(p, &c, &sig).await?;
            // The same note again as the partner's latest: a retry.
            if let Some(last) = c.notes.iter().rev().find(|n| n.by == ClaimActor::Partner) {
                if last.message == message && c.claim_status != ClaimStatus::InformationRequested {
                    return Ok((
                        200,
                        note_reply(
                            &c,
                            &last.note_id,
                            "This note was already added; nothing changed.",
                        ),
                    ));
                }
            }
            if !c.claim_status.accepts_changes() {
                return Err(ApiError::ClaimLocked {
                    current: c.claim_status,
                    what: "notes",
                });
            }
            if c.notes.len() >= MAX_NOTES {
                return Err(ApiError::ClaimLimitReached {
                    what: "notes",
                    max: MAX_NOTES,
                });
            }
            let now = time_fmt::format(time_fmt::now());
            let answers = c.claim_status == ClaimStatus::InformationRequested;
            if answers && c.history.len() >= MAX_HISTORY {
                return Err(ApiError::ClaimLimitReached {
                    what: "status changes",
                    max: MAX_HISTORY,
                });
            }
            let mut next = if answers {
                c.moved(ClaimStatus::InReview, ClaimActor::Partner, None, &now)
            } else {
                c.next(&now)
            };
            let note_id = format!("nte_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
            next.notes.push(NoteRecord {
                note_id: note_id.clone(),
                at: now,
                by: ClaimActor::Partner,
                message: message.clone(),
            });
            let effect = answers.then_some(DeliveryEffect { paid: None });
            match self.store.update_claim(&c, &next, effect, None).await {
                Ok(()) => {
                    let msg = if answers {
                        "The note was added; the claim is back in review."
                    } else {
                        "The note was added."
                    };
                    return Ok((201, note_reply(&next, &note_id, msg)));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// `POST /api/v1/claims/{claim_id}/withdraw`. Withdrawing a withdrawn claim again returns it
    /// (a safe retry).
    pub async fn withdraw_claim(
        &self,
        p: &Principal,
        claim_id: &str,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Claims)?;
        let (reason, sig) = claim::parse_text(body, "reason")?;
        for _ in 0..CONFLICT_ATTEMPTS {
            let c = self.claim_for(p, claim_id).await?;
            self.check_claim_signature(p, &c, &sig).await?;
            if c.claim_status == ClaimStatus::Withdrawn {
                return Ok((200, withdraw_reply(&c, "The claim was already withdrawn.")));
            }
            claim::check_move(c.claim_status, ClaimStatus::Withdrawn)?;
            let now = time_fmt::format(time_fmt::now());
            let next = c.moved(
                ClaimStatus::Withdrawn,
                ClaimActor::Partner,
                Some(reason.clone()),
                &now,
            );
            match self
                .store
                .update_claim(&c, &next, Some(DeliveryEffect { paid: None }), None)
                .await
            {
                Ok(()) => return Ok((200, withdraw_reply(&next, "The claim is withdrawn."))),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// `GET /api/v1/claims/{claim_id}`: the claim, its history, documents (with `uploaded`) and notes.
    pub async fn get_claim(&self, p: &Principal, claim_id: &str) -> Result<Reply, ApiError> {
        p.require_any(&READ_SCOPES)?;
        if !claim::plausible_id(claim_id, "clm_") {
            return Err(not_found(claim_id));
        }
        self.caller(p).await?;
        let c = self.claim_for(p, claim_id).await?;
        let uploaded = if c.documents.is_empty() {
            BTreeMap::new()
        } else {
            self.documents()?
                .uploaded(&keys::claim_documents_prefix(&p.partner_id, claim_id))
                .await?
        };
        Ok((200, claim_json(&c, Some(&uploaded))))
    }

    /// `GET /api/v1/claims?claim_status=&tracking_number=&created_from=&created_to=&limit=&cursor=`.
    pub async fn list_claims(
        &self,
        p: &Principal,
        params: &HashMap<String, String>,
    ) -> Result<Reply, ApiError> {
        p.require_any(&READ_SCOPES)?;
        let q = parse_claim_query(params)?;
        self.caller(p).await?;
        let shape = format!(
            "claims|{}|{}|{}|{}",
            q.claim_status.map(|s| s.as_str()).unwrap_or(""),
            q.tracking_number.as_deref().unwrap_or(""),
            q.created_from.as_deref().unwrap_or(""),
            q.created_to.as_deref().unwrap_or("")
        );
        let key = self.links.get().await?;
        let start = super::open_list_cursor(&key, &p.partner_id, &shape, params)?;
        let (items, next) = self.store.list_claims(&p.partner_id, &q, start).await?;
        let next_cursor = super::seal_list_cursor(&key, &p.partner_id, &shape, next);
        let items: Vec<Value> = items.iter().map(claim_list_item_json).collect();
        Ok((200, json!({"items": items, "next_cursor": next_cursor})))
    }
}

fn document_json(d: &DocumentRecord) -> Value {
    json!({
        "document_id": d.document_id,
        "file_name": d.file_name,
        "content_type": d.content_type,
        "size_bytes": d.size_bytes,
        "document_type": d.document_type,
        "created_at": d.created_at,
    })
}

fn document_reply(
    claim_id: &str,
    d: &DocumentRecord,
    upload: &crate::documents::UploadRequest,
    message: &str,
) -> Value {
    json!({
        "status": "success",
        "message": message,
        "claim_id": claim_id,
        "document_id": d.document_id,
        "document": document_json(d),
        "upload": upload.to_json(),
    })
}

fn note_reply(c: &ClaimRecord, note_id: &str, message: &str) -> Value {
    json!({"status": "success", "message": message, "claim_id": c.claim_id, "note_id": note_id, "claim_status": c.claim_status})
}

fn withdraw_reply(c: &ClaimRecord, message: &str) -> Value {
    json!({"status": "success", "message": message, "claim_id": c.claim_id, "claim_status": c.claim_status})
}

/// The fields of a claim every view shows.
fn claim_fields(c: &ClaimRecord) -> Map<String, Value> {
    let r = &c.request;
    let v = json!({
        "claim_id": c.claim_id,
        "claim_status": c.claim_status,
        "claim_type": r.claim_type,
        "tracking_number": r.tracking_number,
        "policy_id": r.policy_id,
        "claimed_amount": r.claimed_amount,
        "currency": c.currency,
        "incident_time": r.incident_time,
        "description": r.description,
        "claimant_name": r.claimant_name,
        "claimant_phone": r.claimant_phone,
        "claimant_email": r.claimant_email,
        "approved_amount": c.approved_amount,
        "decision_reason": c.decision_reason,
        "paid_amount": c.paid_amount,
        "payment_reference": c.payment_reference,
        "paid_at": c.paid_at,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object"),
    }
}

/// The claim as `GET /api/v1/claims/{claim_id}` returns it: a pure function of the claim item
/// and, when known, the uploaded objects under its prefix (document id -> size). Without them
/// (`None`: e.g. an event built from a stream record), documents carry no `uploaded` field.
pub fn claim_json(c: &ClaimRecord, uploaded: Option<&BTreeMap<String, u64>>) -> Value {
    let mut o = claim_fields(c);
    o.insert(
        "history".into(),
        Value::Array(
            c.history
                .iter()
                .map(|h| {
                    let mut e = json!({"at": h.at, "claim_status": h.claim_status, "by": h.by});
                    if let Some(m) = &h.message {
                        e["message"] = json!(m);
                    }
                    e
                })
                .collect(),
        ),
    );
    o.insert(
        "documents".into(),
        Value::Array(
            c.documents
                .iter()
                .map(|d| {
                    let mut v = document_json(d);
                    if let Some(up) = uploaded {
                        v["uploaded"] = json!(up.get(&d.document_id) == Some(&d.size_bytes));
                    }
                    v
                })
                .collect(),
        ),
    );
    o.insert(
        "notes".into(),
        json!(c
            .notes
            .iter()
            .map(|n| json!({"note_id": n.note_id, "at": n.at, "by": n.by, "message": n.message}))
            .collect::<Vec<_>>()),
    );
    Value::Object(o)
}

/// A claim in a list: the claim without its history, documents and notes (counted instead;
/// `GET` one claim for them), so a page of 100 stays small.
pub fn claim_list_item_json(c: &ClaimRecord) -> Value {
    let mut o = claim_fields(c);
    o.insert("document_count".into(), json!(c.documents.len()));
    o.insert("note_count".into(), json!(c.notes.len()));
    Value::Object(o)
}

/// The `claims` of a delivery or policy read: each claim's id, type, status and amounts, oldest first.
pub fn claims_summary_json(d: &DeliveryRecord) -> Value {
    let mut all: Vec<_> = d.claims.claims.values().collect();
    all.sort_by(|a, b| (&a.created_at, &a.claim_id).cmp(&(&b.created_at, &b.claim_id)));
    Value::Array(
        all.into_iter()
            .map(|c| {
                json!({
                    "claim_id": c.claim_id,
                    "claim_type": c.claim_type,
                    "claim_status": c.claim_status,
                    "claimed_amount": c.claimed_amount,
                    "approved_amount": c.approved_amount,
                    "paid_amount": c.paid_amount,
                    "created_at": c.created_at,
                })
            })
            .collect(),
    )
}

fn parse_claim_query(params: &HashMap<String, String>) -> Result<ClaimListQuery, ApiError> {
    let get = |k: &str| params.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let claim_status = get("claim_status")
        .map(|s| {
            ClaimStatus::parse(s).ok_or_else(|| {
                ApiError::validation("claim_status", "must be one of submitted, in_review, information_requested, approved, rejected, withdrawn, paid.")
            })
        })
        .transpose()?;
    let tracking_number = get("tracking_number")
        .map(|t| {
            crate::domain::TrackingNumber::parse(t)
                .map(|t| t.as_str().to_string())
                .map_err(|_| {
                    ApiError::validation("tracking_number", "must be 1 to 64 of A-Z a-z 0-9 - _ .")
                })
        })
        .transpose()?;
    let lq = super::control_tower::parse_common_list_params(params)?;
    Ok(ClaimListQuery {
        claim_status,
        tracking_number,
        created_from: lq.0,
        created_to: lq.1,
        limit: lq.2,
    })
}

#[cfg(test)]
mod tests {
    use super::super::control_tower::tests::params;
    use super::*;

    #[test]
    fn claim_list_filters_are_checked_and_named() {
        let q = parse_claim_query(&params(&[])).unwrap();
        assert_eq!(q.limit, 50);
        for (k, v) in [
            ("claim_status", "lost"),
            ("tracking_number", "a b"),
            ("limit", "0"),
            ("created_from", "today"),
        ] {
            let e = parse_claim_query(&params(&[(k, v)])).unwrap_err();
            assert!(e.to_string().starts_with(k), "{k}: {e}");
        }
        let q = parse_claim_query(&params(&[
            ("claim_status", "in_review"),
            ("tracking_number", "T.1"),
        ]))
        .unwrap();
        assert_eq!(q.claim_status, Some(ClaimStatus::InReview));
        assert_eq!(q.tracking_number.as_deref(), Some("T.1"));
    }
}
