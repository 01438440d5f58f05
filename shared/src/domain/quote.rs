//! Quotes: the premium Submit will accept for a product and item value, promised until
//! `valid_until` whatever the operator changes in the product meanwhile.
//!
//! The premium comes from `Product::premium_for`, the same rule Submit checks without a quote.
//! A quote records the terms it was computed under, so a Submit that carries it is checked
//! against the quote alone, and its policy records those terms.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::{PremiumRule, Product, ProductCode, Submission};
use crate::error::ApiError;
use crate::time_fmt;
use crate::validate::Fields;

/// How long a quote's record outlives its `valid_until` (its `expires_at`, the table's TTL
/// attribute). Within it, a Submit with the expired quote is told `409 quote_expired`; after it
/// the quote is unknown (`400 unknown_quote`). DynamoDB deletes expired items lazily (up to a
/// few days late), and readers treat an item past `expires_at` as absent, so the answer for an
/// expired quote does not depend on when the deletion happens.
pub const QUOTE_RECORD_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A quote id: `quo_` followed by a ULID in lower case (26 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QuoteId(String);

impl QuoteId {
    pub const PREFIX: &'static str = "quo_";

    pub fn generate() -> QuoteId {
        QuoteId(format!(
            "{}{}",
            Self::PREFIX,
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ))
    }

    /// `None` unless `s` is exactly what `generate` makes.
    pub fn parse(s: &str) -> Option<QuoteId> {
        // A ULID: 26 characters of Crockford's base32 (lower case here), at most 128 bits.
        const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
        let rest = s.strip_prefix(Self::PREFIX)?;
        let ok = rest.len() == 26
            && rest.bytes().all(|b| ALPHABET.contains(&b))
            && rest.as_bytes()[0] <= b'7';
        ok.then(|| QuoteId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for QuoteId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        QuoteId::parse(&s).ok_or_else(|| format!("not a quote id: {s:?}"))
    }
}

impl From<QuoteId> for String {
    fn from(q: QuoteId) -> String {
        q.0
    }
}

impl std::fmt::Display for QuoteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `quote_id` field of a Submit body, when present.
pub(crate) fn quote_id_field(f: &Fields) -> Result<Option<QuoteId>, ApiError> {
    match f.opt_string("quote_id", 64)? {
        None => Ok(None),
        Some(s) => QuoteId::parse(&s).map(Some).ok_or_else(|| {
            ApiError::validation(
                "quote_id",
                "must be a quote id as POST /api/v1/quotes returns it (quo_ followed by 26 characters).",
            )
        }),
    }
}

/// A validated `POST /api/v1/quotes` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    pub product_code: ProductCode,
    pub item_value: u64,
}

impl QuoteRequest {
    /// Fields in order: `product_code` (a code that cannot exist is `unknown_product`, as in
    /// Submit), `item_value` (integer > 0).
    pub fn parse(body: &Map<String, Value>) -> Result<QuoteRequest, ApiError> {
        let f = Fields::new(body);
        let product_code = ProductCode::parse(&f.required_string("product_code", 64)?)?;
        let item_value = f.integer("item_value", 1)?;
        Ok(QuoteRequest {
            product_code,
            item_value,
        })
    }
}

/// A quote as issued to a partner, and as stored (one item, keys added by the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub quote_id: QuoteId,
    pub partner_id: String,
    pub product_code: ProductCode,
    pub item_value: u64,
    pub premium_amount: u64,
    pub currency: String,
    /// The product's premium rule and maximum when the quote was issued: a policy sold on this
    /// quote records these terms, whatever the product says by then.
    #[serde(flatten)]
    pub rule: PremiumRule,
    pub max_item_value: u64,
    /// The product's claim terms when the quote was issued, kept for the policy like the rule.
    pub loss_after_days: u32,
    pub damage_claim_days: u32,
    pub created_at: String,
    pub valid_until: String,
    /// The table's TTL attribute (Unix seconds): `valid_until` + `QUOTE_RECORD_RETENTION`.
    pub expires_at: i64,
}

impl Quote {
    /// Quote `req` under `product` at `now`, valid for `validity`.
    pub fn issue(
        partner_id: &str,
        product: &Product,
        req: &QuoteRequest,
        now: OffsetDateTime,
        validity: Duration,
    ) -> Result<Quote, ApiError> {
        let premium_amount = product.premium_for(req.item_value)?;
        // Whole milliseconds, as the text says, so that the check compares what the partner saw.
        let now = now
            .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
            .unwrap_or(now);
        let valid_until = now + validity;
        let expires_at = (valid_until + QUOTE_RECORD_RETENTION).unix_timestamp() + 1;
        Ok(Quote {
            quote_id: QuoteId::generate(),
            partner_id: partner_id.to_string(),
            product_code: req.product_code.clone(),
            item_value: req.item_value,
            premium_amount,
            currency: product.currency.clone(),
            rule: product.rule,
            max_item_value: product.max_item_value,
            loss_after_days: product.loss_after_days,
            damage_claim_days: product.damage_claim_days,
            created_at: time_fmt::format(now),
            valid_until: time_fmt::format(valid_until),
            expires_at,
        })
    }

    /// Whether the quote is still on record at `now`: an item past `expires_at` is treated as
    /// absent even if DynamoDB has not deleted it yet.
    pub fn on_record(&self, now: OffsetDateTime) -> bool {
        now.unix_timestamp() < self.expires_at
    }

    /// Check a submission that carries this quote, at `now`: same product and item value
    /// (`400 quote_mismatch`), before `valid_until` (`409 quote_expired`), at the quoted premium
    /// (`400 premium_mismatch`, giving the quoted premium).
    pub fn admit(&self, s: &Submission, now: OffsetDateTime) -> Result<(), ApiError> {
        let mismatch = |field, quoted: String, given: String| ApiError::QuoteMismatch {
            quote_id: self.quote_id.to_string(),
            field,
            quoted,
            given,
        };
        if s.product_code != self.product_code {
            return Err(mismatch(
                "product_code",
                self.product_code.as_str().to_string(),
                s.product_code.as_str().to_string(),
            ));
        }
        if s.item_value != self.item_value {
            return Err(mismatch(
                "item_value",
                self.item_value.to_string(),
                s.item_value.to_string(),
            ));
        }
        let valid = time_fmt::parse(&self.valid_until).is_some_and(|until| now < until);
        if !valid {
            return Err(ApiError::QuoteExpired {
                quote_id: self.quote_id.to_string(),
                valid_until: self.valid_until.clone(),
            });
        }
        if s.premium_amount != self.premium_amount {
            return Err(ApiError::PremiumMismatch {
                given: s.premium_amount,
                expected: self.premium_amount,
            });
        }
        Ok(())
    }

    /// The `200` body of `POST /api/v1/quotes`.
    pub fn reply(&self) -> Value {
        json!({
            "quote_id": self.quote_id,
            "product_code": self.product_code,
            "item_value": self.item_value,
            "premium_amount": self.premium_amount,
            "currency": self.currency,
            "valid_until": self.valid_until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::submission::tests::valid_body;

    fn ahasme(rate: u32) -> Product {
        serde_json::from_value(json!({"product_code": "ahasme", "currency": "VND",
            "max_item_value": 30_000_000, "premium_rate_bps": rate, "min_premium": 5_000}))
        .unwrap()
    }

    fn t(s: &str) -> OffsetDateTime {
        time_fmt::parse(s).unwrap()
    }

    fn request(code: &str, item_value: u64) -> QuoteRequest {
        let body = json!({"product_code": code, "item_value": item_value});
        QuoteRequest::parse(body.as_object().unwrap()).unwrap()
    }

    fn quote() -> Quote {
        Quote::issue(
            "ptn_1",
            &ahasme(50),
            &request("ahasme", 3_000_000),
            t("2026-12-01T10:00:00.123456Z"),
            Duration::from_secs(900),
        )
        .unwrap()
    }

    fn submission_with(q: &Quote, edit: impl FnOnce(&mut Value)) -> Submission {
        let mut b = valid_body();
        b["quote_id"] = json!(q.quote_id);
        edit(&mut b);
        Submission::parse(b.as_object().unwrap()).unwrap().0
    }

    #[test]
    fn ids_are_exactly_what_generate_makes() {
        let id = QuoteId::generate();
        assert_eq!(QuoteId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.as_str().len(), 30);
        for bad in [
            "",
            "quo_",
            "pol_01m88pg6bj7gvrmehq193tgtwg",
            "quo_01M88PG6BJ7GVRMEHQ193TGTWG",
            "quo_01m88pg6bj7gvrmehq193tgtw",
            "quo_01m88pg6bj7gvrmehq193tgtwgx",
            "quo_81m88pg6bj7gvrmehq193tgtwg",
            "quo_01m88pg6bj7gvrmehq193tgtwi",
            "quo_01m88pg6bj7gvrmehq193tgt-g",
        ] {
            assert_eq!(QuoteId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_quote_uses_the_products_one_premium_rule() {
        let q = quote();
        assert_eq!(q.premium_amount, ahasme(50).rule.premium(3_000_000));
        assert_eq!(q.premium_amount, 15_000);
        assert_eq!(q.created_at, "2026-12-01T10:00:00.123Z");
        assert_eq!(q.valid_until, "2026-12-01T10:15:00.123Z");
        assert_eq!(
            q.expires_at,
            t("2026-12-02T10:15:01Z").unix_timestamp(),
            "a day after valid_until, rounded up"
        );
        let e = Quote::issue(
            "ptn_1",
            &ahasme(50),
            &request("ahasme", 30_000_001),
            t("2026-12-01T10:00:00Z"),
            Duration::from_secs(900),
        )
        .unwrap_err();
        assert_eq!(e.code(), "item_value_too_high");
        assert!(e.to_string().starts_with("item_value"));
    }

    #[test]
    fn the_request_names_its_fields() {
        for (body, field, code) in [
            (json!({"item_value": 1}), "product_code", "validation_error"),
            (
                json!({"product_code": "ahasme"}),
                "item_value",
                "validation_error",
            ),
            (
                json!({"product_code": "ahasme", "item_value": 0}),
                "item_value",
                "validation_error",
            ),
            (
                json!({"product_code": "ahasme", "item_value": "1"}),
                "item_value",
                "validation_error",
            ),
            (
                json!({"product_code": "AHA", "item_value": 1}),
                "product_code",
                "unknown_product",
            ),
        ] {
            let e = QuoteRequest::parse(body.as_object().unwrap()).unwrap_err();
            assert_eq!(e.code(), code, "{body}");
            assert!(e.to_string().starts_with(field), "{body}: {e}");
        }
    }

    #[test]
    fn a_submission_is_admitted_at_the_quoted_premium_until_valid_until() {
        let q = quote();
        let before = t("2026-12-01T10:15:00.122Z");
        assert_eq!(q.admit(&submission_with(&q, |_| {}), before), Ok(()));
        let e = q
            .admit(&submission_with(&q, |_| {}), t("2026-12-01T10:15:00.123Z"))
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (409, "quote_expired"));
        assert!(e.to_string().starts_with("quote_id"), "{e}");
        let e = q
            .admit(
                &submission_with(&q, |b| b["item_value"] = json!(3_000_001)),
                before,
            )
            .unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "quote_mismatch"));
        assert!(e.to_string().starts_with("quote_id"), "{e}");
        assert!(e.to_string().contains("item_value 3000000"), "{e}");
        let e = q
            .admit(
                &submission_with(&q, |b| b["product_code"] = json!("other")),
                before,
            )
            .unwrap_err();
        assert_eq!(e.code(), "quote_mismatch");
        assert!(e.to_string().contains("product_code ahasme"), "{e}");
        let e = q
            .admit(
                &submission_with(&q, |b| b["premium_amount"] = json!(15_001)),
                before,
            )
            .unwrap_err();
        assert_eq!(e.code(), "premium_mismatch");
        assert!(e.to_string().contains("expected 15000"), "{e}");
    }

    #[test]
    fn a_quote_is_on_record_until_expires_at() {
        let q = quote();
        assert!(q.on_record(t("2026-12-02T10:15:00Z")));
        assert!(!q.on_record(t("2026-12-02T10:15:01Z")));
    }

    #[test]
    fn a_quote_survives_its_storage_round_trip() {
        let q = quote();
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(&q).unwrap();
        assert!(
            item["expires_at"].as_n().is_ok(),
            "TTL attribute is a Number"
        );
        let back: Quote = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, q);
    }
}
