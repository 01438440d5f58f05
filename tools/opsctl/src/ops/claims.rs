//! `opsctl claim`: list, show (history, notes, documents with time-limited download links),
//! and the operator's moves of the claim status machine: review, request-information, approve,
//! reject, pay. Each move is one DynamoDB transaction: the claim (conditional on the version it
//! was read at), the delivery's claims summary (conditional on the claim still being its open
//! claim; a payout also conditional on the policy's paid total staying within the insured
//! value) and the audit entry (who, when, before, after). A move the status machine forbids is
//! refused with what would be allowed; approving, rejecting and paying ask unless `--yes`.

use clap::Subcommand;
use serde_json::{json, Value};
use shared::documents::{Documents, UPLOAD_LINK_SECONDS};
use shared::domain::claim::{self, MAX_HISTORY, MAX_OPERATOR_MESSAGE};
use shared::domain::ClaimStatus;
use shared::store::{keys, ClaimActor, ClaimListQuery, ClaimRecord, DeliveryEffect, StoreError};

use super::*;
use crate::Outcome;

#[derive(Subcommand)]
pub enum ClaimCommand {
    /// Claims, newest first (each partner's from its index; no table scan).
    List {
        /// Only this partner's claims (default: every partner's).
        #[arg(long)]
        partner: Option<String>,
        /// Only claims in this status (submitted, in_review, information_requested, approved, rejected, withdrawn, paid).
        #[arg(long)]
        status: Option<String>,
        /// Only claims filed at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One claim: its history, notes and documents, with download links valid 15 minutes.
    Show {
        claim_id: String,
        /// The claim's partner (found among all partners when not given).
        #[arg(long)]
        partner: Option<String>,
    },
    /// Start reviewing a submitted claim (submitted -> in_review).
    Review {
        claim_id: String,
        #[arg(long)]
        partner: Option<String>,
        /// A message shown to the partner in the claim's history.
        #[arg(long)]
        message: Option<String>,
    },
    /// Ask the partner for more information (in_review -> information_requested); the partner's next note returns the claim to in_review.
    RequestInformation {
        claim_id: String,
        #[arg(long)]
        partner: Option<String>,
        /// What the partner must provide (shown to the partner).
        #[arg(long)]
        message: String,
    },
    /// Approve a claim in review for an amount (at most the claimed amount; less is a partial approval).
    Approve {
        claim_id: String,
        #[arg(long)]
        partner: Option<String>,
        #[arg(long)]
        amount: u64,
        /// A note to the partner, shown in the claim's history.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a submitted or in-review claim, with the reason shown to the partner.
    Reject {
        claim_id: String,
        #[arg(long)]
        partner: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Record the payment of an approved claim (at most the approved amount, and never more than the policy's insured value in all).
    Pay {
        claim_id: String,
        #[arg(long)]
        partner: Option<String>,
        #[arg(long)]
        amount: u64,
        /// The payment's reference (bank transfer id, ...), shown to the partner.
        #[arg(long)]
        reference: String,
    },
}

pub async fn claim(ctx: &Ctx, cmd: ClaimCommand) -> Result<Outcome, Failure> {
    match cmd {
        ClaimCommand::List {
            partner,
            status,
            since,
            limit,
        } => list(ctx, partner, status, since, limit).await,
        ClaimCommand::Show { claim_id, partner } => show(ctx, &claim_id, partner).await,
        ClaimCommand::Review {
            claim_id,
            partner,
            message,
        } => {
            let message = operator_text(message, "--message")?;
            decide(ctx, &claim_id, partner, Move::Review { message }).await
        }
        ClaimCommand::RequestInformation {
            claim_id,
            partner,
            message,
        } => {
            let message = operator_text(Some(message), "--message")?;
            decide(
                ctx,
                &claim_id,
                partner,
                Move::RequestInformation { message },
            )
            .await
        }
        ClaimCommand::Approve {
            claim_id,
            partner,
            amount,
            note,
        } => {
            let note = operator_text(note, "--note")?;
            decide(ctx, &claim_id, partner, Move::Approve { amount, note }).await
        }
        ClaimCommand::Reject {
            claim_id,
            partner,
            reason,
        } => {
            let reason = operator_text(Some(reason), "--reason")?.unwrap_or_default();
            decide(ctx, &claim_id, partner, Move::Reject { reason }).await
        }
        ClaimCommand::Pay {
            claim_id,
            partner,
            amount,
            reference,
        } => {
            let reference = operator_text(Some(reference), "--reference")?.unwrap_or_default();
            decide(ctx, &claim_id, partner, Move::Pay { amount, reference }).await
        }
    }
}

/// An operator's message: trimmed, not empty when given, at most 1000 characters.
fn operator_text(v: Option<String>, flag: &str) -> Result<Option<String>, Failure> {
    match v.map(|s| s.trim().to_string()) {
        None => Ok(None),
        Some(s) if s.is_empty() => Err(format!("{flag} must not be empty")),
        Some(s) if s.chars().count() > MAX_OPERATOR_MESSAGE => Err(format!(
            "{flag} must be at most {MAX_OPERATOR_MESSAGE} characters"
        )),
        Some(s) => Ok(Some(s)),
    }
}

enum Move {
    Review { message: Option<String> },
    RequestInformation { message: Option<String> },
    Approve { amount: u64, note: Option<String> },
    Reject { reason: String },
    Pay { amount: u64, reference: String },
}

impl Move {
    fn to(&self) -> ClaimStatus {
        match self {
            Move::Review { .. } => ClaimStatus::InReview,
            Move::RequestInformation { .. } => ClaimStatus::InformationRequested,
            Move::Approve { .. } => ClaimStatus::Approved,
            Move::Reject { .. } => ClaimStatus::Rejected,
            Move::Pay { .. } => ClaimStatus::Paid,
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Move::Review { .. } => "claim.review",
            Move::RequestInformation { .. } => "claim.request_information",
            Move::Approve { .. } => "claim.approve",
            Move::Reject { .. } => "claim.reject",
            Move::Pay { .. } => "claim.pay",
        }
    }
}

/// The opsctl command that makes the move to `to`.
fn command_for(to: ClaimStatus) -> &'static str {
    match to {
        ClaimStatus::InReview => "claim review",
        ClaimStatus::InformationRequested => "claim request-information",
        ClaimStatus::Approved => "claim approve",
        ClaimStatus::Rejected => "claim reject",
        ClaimStatus::Paid => "claim pay",
        ClaimStatus::Withdrawn => "(the partner's withdraw)",
        ClaimStatus::Submitted => "(the partner's filing)",
    }
}

/// Why a move is refused, and what would be allowed instead.
fn explain_refusal(c: &ClaimRecord, to: ClaimStatus) -> String {
    let from: Vec<&str> = ClaimStatus::ALL
        .into_iter()
        .filter(|s| s.can_move_to(to))
        .map(|s| s.as_str())
        .collect();
    let next = c.claim_status.next();
    let allowed = if next.is_empty() {
        format!("{} is final: no move is allowed", c.claim_status)
    } else {
        format!(
            "from {} the allowed moves are: {}",
            c.claim_status,
            next.iter()
                .map(|s| format!("{s} (`opsctl {} {}`)", command_for(*s), c.claim_id))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "claim {} is {}: `opsctl {}` moves a claim to {to} only from {}; {allowed}",
        c.claim_id,
        c.claim_status,
        command_for(to),
        from.join(" or ")
    )
}

/// The partner given, or every partner (a handful: operators' listings scan them).
async fn partner_ids(ctx: &Ctx, partner: Option<String>) -> Result<Vec<String>, Failure> {
    Ok(match partner {
        Some(p) => vec![p],
        None => ctx
            .store
            .partners()
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|p| p.partner_id)
            .collect(),
    })
}

/// The claim and its partner: with `--partner`, one read; without, each partner's (a handful).
async fn find(ctx: &Ctx, claim_id: &str, partner: Option<String>) -> Result<ClaimRecord, Failure> {
    let none = || {
        format!(
            "no claim {claim_id} in {}\nnext: `opsctl claim list` shows the claims (check --env and --partner)",
            ctx.target.describe()
        )
    };
    if !claim::plausible_id(claim_id, "clm_") {
        return Err(none());
    }
    for p in partner_ids(ctx, partner).await? {
        if let Some(c) = ctx.store.claim(&p, claim_id).await.map_err(store_err)? {
            return Ok(c);
        }
    }
    Err(none())
}

/// What the audit log keeps of a claim: status and amounts (not the claimant's details).
fn audit_view(c: &ClaimRecord) -> Value {
    json!({
        "claim_id": c.claim_id,
        "partner_id": c.partner_id,
        "tracking_number": c.request.tracking_number,
        "policy_id": c.request.policy_id,
        "claim_status": c.claim_status,
        "claimed_amount": c.request.claimed_amount,
        "approved_amount": c.approved_amount,
        "paid_amount": c.paid_amount,
        "payment_reference": c.payment_reference,
        "version": c.version,
    })
}

fn line(c: &ClaimRecord) -> String {
    let amounts = match (c.approved_amount, c.paid_amount) {
        (_, Some(p)) => format!("paid {p}"),
        (Some(a), None) => format!("approved {a}"),
        _ => String::new(),
    };
    format!(
        "{}  {:<21}  {:<6}  {}  claimed {} {}{}  {}  partner {}",
        c.claim_id,
        c.claim_status,
        c.request.claim_type,
        c.request.tracking_number,
        c.request.claimed_amount,
        c.currency,
        if amounts.is_empty() {
            String::new()
        } else {
            format!(", {amounts}")
        },
        c.created_at,
        c.partner_id
    )
}

async fn list(
    ctx: &Ctx,
    partner: Option<String>,
    status: Option<String>,
    since: Option<String>,
    limit: usize,
) -> Result<Outcome, Failure> {
    let claim_status = status
        .map(|s| {
            ClaimStatus::parse(&s).ok_or_else(|| {
                format!("--status {s:?}: use submitted, in_review, information_requested, approved, rejected, withdrawn or paid")
            })
        })
        .transpose()?;
    let created_from = since
        .map(|s| {
            time_fmt::parse(&s)
                .map(time_fmt::format)
                .ok_or_else(|| format!("--since {s:?}: use RFC 3339, e.g. 2026-11-01T00:00:00Z"))
        })
        .transpose()?;
    let partners = match partner {
        Some(p) => vec![partner_of(ctx, &p).await?.partner_id],
        None => partner_ids(ctx, None).await?,
    };
    let q = ClaimListQuery {
        claim_status,
        tracking_number: None,
        created_from,
        created_to: None,
        limit: limit.clamp(1, 100) as i32,
    };
    let mut all = Vec::new();
    for p in partners {
        let mut start = None;
        loop {
            let (items, next) = ctx
                .store
                .list_claims(&p, &q, start)
                .await
                .map_err(store_err)?;
            all.extend(items);
            match next {
                Some(k) if all.len() < limit => start = Some(k),
                _ => break,
            }
        }
    }
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    all.truncate(limit);
    Ok(Outcome {
        json: json!(all
            .iter()
            .map(|c| {
                let mut v = shared::service::claim_list_item_json(c);
                v["partner_id"] = json!(c.partner_id);
                v
            })
            .collect::<Vec<_>>()),
        text: if all.is_empty() {
            "no claims".into()
        } else {
            all.iter().map(line).collect::<Vec<_>>().join("\n")
        },
    })
}

fn documents(ctx: &Ctx) -> Result<Documents, Failure> {
    let bucket = ctx.target.claims_bucket.clone().ok_or(
        "no claims bucket: pass --claims-bucket (the stack's ClaimsBucketName output), --env or --stack-file",
    )?;
    Ok(Documents::new(ctx.s3.clone(), bucket))
}

async fn show(ctx: &Ctx, claim_id: &str, partner: Option<String>) -> Result<Outcome, Failure> {
    let c = find(ctx, claim_id, partner).await?;
    let docs = documents(ctx)?;
    let prefix = keys::claim_documents_prefix(&c.partner_id, &c.claim_id);
    let uploaded = if c.documents.is_empty() {
        Default::default()
    } else {
        docs.uploaded(&prefix).await.map_err(|e| e.log_detail())?
    };
    let mut view = shared::service::claim_json(&c, Some(&uploaded));
    view["partner_id"] = json!(c.partner_id);
    let mut text = vec![line(&c)];
    text.push(format!(
        "  {} claim, incident {}: {}",
        c.request.claim_type, c.request.incident_time, c.request.description
    ));
    text.push(format!(
        "  claimant {} {}{}",
        c.request.claimant_name,
        c.request.claimant_phone,
        c.request
            .claimant_email
            .as_deref()
            .map(|e| format!(" {e}"))
            .unwrap_or_default()
    ));
    text.push("  history:".into());
    for h in &c.history {
        let by = match h.by {
            ClaimActor::Partner => "partner",
            ClaimActor::Operator => "operator",
        };
        text.push(format!(
            "    {}  {:<21} by {by}{}",
            h.at,
            h.claim_status,
            h.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    if let (Some(documents), true) = (view["documents"].as_array_mut(), !c.documents.is_empty()) {
        text.push(format!(
            "  documents (download links valid {} minutes):",
            UPLOAD_LINK_SECONDS / 60
        ));
        for (d, v) in c.documents.iter().zip(documents.iter_mut()) {
            let is_up = v["uploaded"].as_bool().unwrap_or(false);
            let link = if is_up {
                let key = keys::claim_document(&c.partner_id, &c.claim_id, &d.document_id);
                let url = docs
                    .presign_download(&key, UPLOAD_LINK_SECONDS)
                    .await
                    .map_err(|e| e.log_detail())?;
                v["download_url"] = json!(url);
                url
            } else {
                "(not uploaded)".into()
            };
            text.push(format!(
                "    {} {} {} ({}, {} bytes): {link}",
                d.document_id, d.document_type, d.file_name, d.content_type, d.size_bytes
            ));
        }
    }
    if !c.notes.is_empty() {
        text.push("  notes:".into());
        for n in &c.notes {
            text.push(format!("    {}  {}", n.at, n.message));
        }
    }
    Ok(Outcome {
        json: view,
        text: text.join("\n"),
    })
}

/// Attempts of a move that lost a race (re-read, re-decided each time).
const ATTEMPTS: usize = 3;

async fn decide(
    ctx: &Ctx,
    claim_id: &str,
    partner: Option<String>,
    mv: Move,
) -> Result<Outcome, Failure> {
    let to = mv.to();
    let mut confirmed = false;
    for _ in 0..ATTEMPTS {
        let c = find(ctx, claim_id, partner.clone()).await?;
        if !c.claim_status.can_move_to(to) {
            return Err(explain_refusal(&c, to));
        }
        if c.history.len() >= MAX_HISTORY {
            return Err(format!(
                "claim {claim_id} has {MAX_HISTORY} status changes already, the most a claim holds; approve or reject it"
            ));
        }
        let now = now_text();
        let mut paid = None;
        let (message, reason) = match &mv {
            Move::Review { message } | Move::RequestInformation { message } => {
                (message.clone(), None)
            }
            Move::Approve { amount, note } => {
                claim::check_approved_amount(*amount, c.request.claimed_amount)?;
                (note.clone(), None)
            }
            Move::Reject { reason } => (Some(reason.clone()), Some(reason.clone())),
            Move::Pay { amount, reference } => {
                let delivery = ctx
                    .store
                    .delivery(&c.partner_id, c.request.tracking_number.as_str())
                    .await
                    .map_err(store_err)?
                    .ok_or_else(|| format!("the delivery of claim {claim_id} is missing"))?;
                let item_value = delivery.submission.item_value;
                claim::check_paid_amount(
                    *amount,
                    c.approved_amount.unwrap_or(0),
                    item_value,
                    delivery.claims.claims_paid_total,
                )?;
                paid = Some((*amount, item_value));
                (Some(format!("payment reference {reference}")), None)
            }
        };
        let mut next = c.moved(to, ClaimActor::Operator, message, &now);
        match &mv {
            Move::Approve { amount, .. } => next.approved_amount = Some(*amount),
            Move::Reject { .. } => next.decision_reason = reason.clone(),
            Move::Pay { amount, reference } => {
                next.paid_amount = Some(*amount);
                next.payment_reference = Some(reference.clone());
                next.paid_at = Some(now.clone());
            }
            _ => {}
        }
        if !confirmed {
            match &mv {
                Move::Approve { amount, .. } => ctx.confirm(&format!(
                    "approve claim {claim_id} for {amount} {} (claimed {})",
                    c.currency, c.request.claimed_amount
                ))?,
                Move::Reject { .. } => ctx.confirm(&format!("reject claim {claim_id}"))?,
                Move::Pay { amount, reference } => ctx.confirm(&format!(
                    "record a payment of {amount} {} (reference {reference}) on claim {claim_id}",
                    c.currency
                ))?,
                _ => {}
            }
            confirmed = true;
        }
        let audit = audit_record(
            ctx,
            Change {
                action: mv.action(),
                target: format!("claim:{claim_id}"),
                partner_id: Some(c.partner_id.clone()),
                before: Some(audit_view(&c)),
                after: Some(audit_view(&next)),
                reason: match &mv {
                    Move::Reject { reason } => Some(reason.clone()),
                    Move::RequestInformation { message } => message.clone(),
                    _ => None,
                },
            },
        )
        .await?;
        match ctx
            .store
            .update_claim(&c, &next, Some(DeliveryEffect { paid }), Some(&audit))
            .await
        {
            Ok(()) => {
                return Ok(Outcome {
                    json: shared::service::claim_json(&next, None),
                    text: format!(
                        "{} -> {}\n{}",
                        c.claim_status,
                        next.claim_status,
                        line(&next)
                    ),
                })
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(store_err(e)),
        }
    }
    Err(format!(
        "claim {claim_id} kept changing while this command ran (the partner or another operator); nothing was changed by this command\nnext: `opsctl claim show {claim_id}` and decide again"
    ))
}
