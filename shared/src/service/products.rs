//! The product catalogue and quotes (scope `insurance`): `GET /api/v1/products`,
//! `GET /api/v1/products/{product_code}` and `POST /api/v1/quotes`.
//!
//! The catalogue is read from the product items operators manage, through the product cache
//! (`PRODUCT_CACHE_TTL`): warm, a catalogue read makes no DynamoDB round trip. A quote's premium
//! is `Product::premium_for`, the rule Submit checks; the quote is one item that expires.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{App, Reply};
use crate::auth::{Principal, Scope};
use crate::domain::{ProductCode, Quote, QuoteRequest};
use crate::error::ApiError;
use crate::store::ProductRecord;
use crate::time_fmt;

/// How long a quote is valid: `valid_until` is this far after the quote (contract: at least
/// 15 minutes).
pub const QUOTE_VALIDITY: Duration = Duration::from_secs(15 * 60);
/// Environment variable overriding `QUOTE_VALIDITY` (whole seconds, 1 to 86400).
pub const QUOTE_VALIDITY_ENV: &str = "QUOTE_VALIDITY_SECONDS";
/// Outside the local environment, a configured validity shorter than this is ignored: the
/// contract promises at least 15 minutes. (Tests shorten it on a local stack.)
pub const QUOTE_VALIDITY_MIN_DEPLOYED: Duration = QUOTE_VALIDITY;

/// The quote validity in effect: `QUOTE_VALIDITY_SECONDS` if set and valid, else 15 minutes.
pub fn quote_validity() -> Duration {
    let local = std::env::var("ENVIRONMENT_NAME").is_ok_and(|e| e == "local");
    validity_from(std::env::var(QUOTE_VALIDITY_ENV).ok().as_deref(), local)
}

fn validity_from(configured: Option<&str>, local: bool) -> Duration {
    configured
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| (1..=86_400).contains(s))
        .map(Duration::from_secs)
        .filter(|d| local || *d >= QUOTE_VALIDITY_MIN_DEPLOYED)
        .unwrap_or(QUOTE_VALIDITY)
}

impl App {
    /// `GET /api/v1/products`: every product, ordered by code.
    pub async fn list_products(&self, p: &Principal) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        self.caller(p).await?;
        let all = self
            .catalogue
            .get(|| async { self.store.products().await.map_err(ApiError::from) })
            .await?;
        Ok((200, catalogue_json(&all)))
    }

    /// `GET /api/v1/products/{product_code}`: one product, or 404.
    pub async fn get_product(&self, p: &Principal, code: &str) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        let not_found = || ApiError::NotFound(format!("product_code {code} was not found."));
        // A code that cannot exist: 404 without a storage round trip.
        ProductCode::parse(code).map_err(|_| not_found())?;
        self.caller(p).await?;
        match self.product(code).await {
            Ok(product) => Ok((200, product_json(&product))),
            Err(ApiError::UnknownProduct(_)) => Err(not_found()),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/quotes`: the premium Submit accepts for that product and item value until
    /// `valid_until`. Writes the quote and nothing else.
    pub async fn quote(&self, p: &Principal, body: &Map<String, Value>) -> Result<Reply, ApiError> {
        p.require(Scope::Insurance)?;
        let req = QuoteRequest::parse(body)?;
        self.caller(p).await?;
        let product = self.product(req.product_code.as_str()).await?;
        let quote = Quote::issue(
            &p.partner_id,
            &product,
            &req,
            time_fmt::now(),
            self.quote_validity,
        )?;
        self.store.insert_quote(&quote).await?;
        Ok((200, quote.reply()))
    }
}

/// A product as the catalogue shows it.
pub fn product_json(r: &ProductRecord) -> Value {
    json!({
        "product_code": r.product_code,
        "currency": r.currency,
        "max_item_value": r.max_item_value,
        "premium_rate_bps": r.rule.premium_rate_bps,
        "min_premium": r.rule.min_premium,
        "loss_after_days": r.loss_after_days,
        "damage_claim_days": r.damage_claim_days,
        "updated_at": r.updated_at,
    })
}

/// The `200` body of `GET /api/v1/products`: `{"items": [...]}`, ordered by `product_code`.
pub fn catalogue_json(all: &[ProductRecord]) -> Value {
    let mut items: Vec<&ProductRecord> = all.iter().collect();
    items.sort_by(|a, b| a.product_code.as_str().cmp(b.product_code.as_str()));
    json!({"items": items.into_iter().map(product_json).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_validity_is_15_minutes_unless_configured_and_never_shorter_when_deployed() {
        assert_eq!(validity_from(None, false), QUOTE_VALIDITY);
        assert_eq!(
            validity_from(Some("1800"), false),
            Duration::from_secs(1800)
        );
        assert_eq!(validity_from(Some("2"), false), QUOTE_VALIDITY);
        assert_eq!(validity_from(Some("2"), true), Duration::from_secs(2));
        for bad in ["0", "86401", "x", "-5", ""] {
            assert_eq!(validity_from(Some(bad), true), QUOTE_VALIDITY, "{bad}");
        }
    }

    #[test]
    fn the_catalogue_is_ordered_by_code_and_shows_the_claim_terms() {
        let rec = |code: &str| ProductRecord {
            product: serde_json::from_value(json!({"product_code": code, "currency": "VND",
                "max_item_value": 30_000_000, "premium_rate_bps": 50, "min_premium": 5_000}))
            .unwrap(),
            updated_at: "2026-12-01T10:00:00.000Z".into(),
        };
        let v = catalogue_json(&[rec("zeta"), rec("ahasme")]);
        assert_eq!(v["items"][0]["product_code"], "ahasme");
        assert_eq!(v["items"][1]["product_code"], "zeta");
        assert_eq!(v["items"][0]["loss_after_days"], 7);
        assert_eq!(v["items"][0]["damage_claim_days"], 14);
        assert_eq!(v["items"][0]["updated_at"], "2026-12-01T10:00:00.000Z");
    }
}
