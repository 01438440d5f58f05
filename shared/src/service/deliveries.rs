//! API #1 Submit SME Delivery and API #3 Cancel SME Delivery Order (scope `insurance`).

use serde_json::{json, Map, Value};

use super::{App, Reply, CONFLICT_ATTEMPTS};
use crate::auth::{Principal, Scope};
use crate::domain::{
    CancelRequest, DeliveryStatus, PolicyStatus, PremiumRule, QuoteId, Submission,
};
use crate::error::ApiError;
use crate::store::{DeliveryRecord, Inserted, PolicyRecord, StoreError};
use crate::time_fmt;

impl App {
    /// API #1 Submit SME Delivery.
    pub async fn submit(
        &self,
        p: &Principal,
        body: &Map<String, Value>,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        let (submission, sig) = Submission::parse(body)?;
        let caller = self.caller(p).await?;
        self.check_signature(
            p,
            &caller,
            submission.tracking_number.as_str(),
            submission.premium_amount,
            &sig,
        )
        .await?;
        let fingerprint = submission.fingerprint();
        let terms = match &submission.quote_id {
            None => self.product_terms(&submission).await,
            Some(quote_id) => self.quoted_terms(p, quote_id, &submission).await,
        };
        let terms = match terms {
            Ok(terms) => terms,
            Err(
                e @ (ApiError::UnknownProduct(_)
                | ApiError::ItemValueTooHigh { .. }
                | ApiError::PremiumMismatch { .. }
                | ApiError::UnknownQuote(_)
                | ApiError::QuoteMismatch { .. }
                | ApiError::QuoteExpired { .. }),
            ) => {
                // A retry of a submission accepted under earlier product terms, or with a quote
                // that has expired since, is still a safe retry.
                let tn = submission.tracking_number.as_str();
                return match self.store.delivery(&p.partner_id, tn).await? {
                    Some(existing) if existing.fingerprint == fingerprint => {
                        self.retried(p, &existing, base_url).await
                    }
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };

        let now = time_fmt::format(time_fmt::now());
        let record = DeliveryRecord {
            partner_id: p.partner_id.clone(),
            fingerprint: fingerprint.clone(),
            policy: PolicyRecord {
                policy_id: format!("pol_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
                policy_status: PolicyStatus::Active,
                premium_amount: submission.premium_amount,
                currency: terms.currency,
                product_code: submission.product_code.as_str().to_string(),
                premium_rate_bps: terms.rule.premium_rate_bps,
                min_premium: terms.rule.min_premium,
                max_item_value: terms.max_item_value,
                issued_at: now.clone(),
                cancellation: None,
                cancelled_at: None,
                loss_after_days: terms.loss_after_days,
                damage_claim_days: terms.damage_claim_days,
            },
            submission,
            delivery_status: DeliveryStatus::Created,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
            batches: vec![],
            event_ids: vec![],
            claims: Default::default(),
        };
        // Make sure the certificate link can be produced before anything is written.
        let url = self
            .certificate_url(base_url, &p.partner_id, &record.policy.policy_id)
            .await?;
        match self.store.insert_delivery(&record).await? {
            Inserted::Created => Ok((
                201,
                json!({"status": "success", "message": "The delivery is insured.", "policy_id": record.policy.policy_id, "url_certificate": url}),
            )),
            Inserted::Exists(existing) if existing.fingerprint == fingerprint => {
                self.retried(p, &existing, base_url).await
            }
            Inserted::Exists(existing) => Err(ApiError::DuplicateTrackingNumber(
                existing.submission.tracking_number.to_string(),
            )),
        }
    }

    /// The terms of a submission without a quote: the product's as cached, checked against
    /// the submission's item value and premium.
    async fn product_terms(&self, s: &Submission) -> Result<Terms, ApiError> {
        let product = self.product(s.product_code.as_str()).await?;
        product.check(s.item_value, s.premium_amount)?;
        Ok(Terms {
            currency: product.currency.clone(),
            rule: product.rule,
            max_item_value: product.max_item_value,
            loss_after_days: product.loss_after_days,
            damage_claim_days: product.damage_claim_days,
        })
    }

    /// The terms of a submission with a quote: the quote's (one read), whatever the product
    /// says now, if the quote is the caller's, still valid and for this product and item value.
    async fn quoted_terms(
        &self,
        p: &Principal,
        quote_id: &QuoteId,
        s: &Submission,
    ) -> Result<Terms, ApiError> {
        let now = time_fmt::now();
        let quote = self
            .store
            .quote(&p.partner_id, quote_id.as_str())
            .await?
            .filter(|q| q.on_record(now))
            .ok_or_else(|| ApiError::UnknownQuote(quote_id.to_string()))?;
        quote.admit(s, now)?;
        Ok(Terms {
            currency: quote.currency,
            rule: quote.rule,
            max_item_value: quote.max_item_value,
            loss_after_days: quote.loss_after_days,
            damage_claim_days: quote.damage_claim_days,
        })
    }

    /// The answer to a safe retry of a submit: the same policy.
    async fn retried(
        &self,
        p: &Principal,
        existing: &DeliveryRecord,
        base_url: &str,
    ) -> Result<Reply, ApiError> {
        let url = self
            .certificate_url(base_url, &p.partner_id, &existing.policy.policy_id)
            .await?;
        Ok((
            200,
            json!({"status": "success", "message": "The delivery was already insured with this body; same policy returned.", "policy_id": existing.policy.policy_id, "url_certificate": url}),
        ))
    }
    /// API #3 Cancel SME Delivery Order.
    pub async fn cancel(
        &self,
        p: &Principal,
        body: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        let req = CancelRequest::parse(body)?;
        let caller = self.caller(p).await?;
        let tn = req.tracking_number.as_str();
        for _ in 0..CONFLICT_ATTEMPTS {
            let current = self.delivery_for(p, tn).await?;
            if current.policy.policy_id != req.policy_id {
                return Err(ApiError::NotFound(format!(
                    "policy_id {} does not belong to tracking_number {tn}.",
                    req.policy_id
                )));
            }
            self.check_signature(
                p,
                &caller,
                tn,
                current.policy.premium_amount,
                &req.signature,
            )
            .await?;
            if let Some(first) = &current.policy.cancellation {
                return Ok(cancel_reply(
                    &current,
                    first,
                    "The policy was already cancelled; the first cancellation is returned.",
                ));
            }
            if !current.delivery_status.allows_cancellation() {
                return Err(ApiError::CancellationNotAllowed(current.delivery_status));
            }
            // A policy claimed on (a claim open, or one paid) stays: issue 13.
            let claimed = current
                .claims
                .open_claim
                .as_ref()
                .map(|o| o.claim_id.clone())
                .or_else(|| {
                    current
                        .claims
                        .claims
                        .values()
                        .find(|c| c.paid_amount.is_some())
                        .map(|c| c.claim_id.clone())
                });
            if let Some(claim_id) = claimed {
                return Err(ApiError::CancellationClaimed(claim_id));
            }
            let now = time_fmt::format(time_fmt::now());
            match self
                .store
                .cancel_policy(&current, &req.cancellation, &now)
                .await
            {
                Ok(()) => {
                    return Ok(cancel_reply(
                        &current,
                        &req.cancellation,
                        "The policy is cancelled.",
                    ))
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }
}

/// What a policy is sold under: the product's terms at the time, or a quote's.
struct Terms {
    currency: String,
    rule: PremiumRule,
    max_item_value: u64,
    /// The claim terms the policy keeps (issue 13).
    loss_after_days: u32,
    damage_claim_days: u32,
}

pub fn cancel_reply(rec: &DeliveryRecord, c: &crate::domain::Cancellation, message: &str) -> Reply {
    (
        200,
        json!({
            "status": "success",
            "message": message,
            "tracking_number": rec.submission.tracking_number,
            "policy_id": rec.policy.policy_id,
            "canceled_by": c.canceled_by,
            "cancellation_time": c.cancellation_time,
            "cancellation_reason": c.cancellation_reason,
        }),
    )
}
