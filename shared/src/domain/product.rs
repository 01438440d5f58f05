use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Product codes: 1 to 64 of `a-z 0-9 - _` (the source document's example is `ahasme`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductCode(String);

impl ProductCode {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b));
        if ok {
            Ok(ProductCode(s.to_string()))
        } else {
            Err(ApiError::UnknownProduct(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProductCode {
    type Error = ApiError;
    fn try_from(s: String) -> Result<Self, ApiError> {
        ProductCode::parse(&s)
    }
}

impl From<ProductCode> for String {
    fn from(p: ProductCode) -> String {
        p.0
    }
}

/// premium = max(min_premium, ceil(item_value * rate_bps / 10000)), in the currency's smallest unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumRule {
    /// Rate on `item_value` in basis points (1/10000): 50 = 0.5 %.
    pub premium_rate_bps: u32,
    pub min_premium: u64,
}

impl PremiumRule {
    pub fn premium(&self, item_value: u64) -> u64 {
        let raw = (item_value as u128 * self.premium_rate_bps as u128).div_ceil(10_000);
        (raw as u64).max(self.min_premium)
    }
}

/// An insurance product as operators configure it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub product_code: ProductCode,
    /// ISO 4217 code; amounts are integers in its smallest unit.
    pub currency: String,
    pub max_item_value: u64,
    #[serde(flatten)]
    pub rule: PremiumRule,
    /// Days without a tracking event after which a delivery may be claimed as lost.
    #[serde(default = "default_loss_after_days")]
    pub loss_after_days: u32,
    /// Days after the `success` event's tracking_time within which damage may be claimed.
    #[serde(default = "default_damage_claim_days")]
    pub damage_claim_days: u32,
}

fn default_loss_after_days() -> u32 {
    7
}

fn default_damage_claim_days() -> u32 {
    14
}

impl Product {
    /// The premium of `item_value` under this product: the one premium rule, which Submit checks
    /// and a quote promises. `item_value_too_high` over the product's maximum.
    pub fn premium_for(&self, item_value: u64) -> Result<u64, ApiError> {
        if item_value > self.max_item_value {
            return Err(ApiError::ItemValueTooHigh {
                value: item_value,
                max: self.max_item_value,
            });
        }
        Ok(self.rule.premium(item_value))
    }

    /// Check a submission's money fields against this product.
    pub fn check(&self, item_value: u64, premium_amount: u64) -> Result<(), ApiError> {
        let expected = self.premium_for(item_value)?;
        if premium_amount != expected {
            return Err(ApiError::PremiumMismatch {
                given: premium_amount,
                expected,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ahasme() -> Product {
        Product {
            product_code: ProductCode::parse("ahasme").unwrap(),
            currency: "VND".into(),
            max_item_value: 30_000_000,
            rule: PremiumRule {
                premium_rate_bps: 50,
                min_premium: 5_000,
            },
            loss_after_days: 7,
            damage_claim_days: 14,
        }
    }

    #[test]
    fn premium_is_rate_with_minimum_rounded_up() {
        let r = ahasme().rule;
        assert_eq!(r.premium(3_000_000), 15_000);
        assert_eq!(r.premium(100_000), 5_000); // minimum
        assert_eq!(r.premium(3_000_001), 15_001); // 15000.005 rounds up
        assert_eq!(
            r.premium(u64::MAX / 2),
            ((u64::MAX / 2) as u128 * 50).div_ceil(10_000) as u64
        );
    }

    #[test]
    fn check_explains_why() {
        let p = ahasme();
        assert!(p.check(3_000_000, 15_000).is_ok());
        assert_eq!(
            p.check(30_000_001, 150_001).unwrap_err().code(),
            "item_value_too_high"
        );
        let e = p.check(3_000_000, 14_999).unwrap_err();
        assert_eq!(e.code(), "premium_mismatch");
        assert!(e.to_string().contains("15000"));
    }

    #[test]
    fn a_product_item_without_claim_terms_reads_as_the_defaults() {
        let stored = serde_json::json!({"product_code": "ahasme", "currency": "VND",
            "max_item_value": 30_000_000, "premium_rate_bps": 50, "min_premium": 5_000});
        let p: Product = serde_json::from_value(stored).unwrap();
        assert_eq!((p.loss_after_days, p.damage_claim_days), (7, 14));
        assert_eq!(p.premium_for(3_000_000), Ok(15_000));
        assert_eq!(
            p.premium_for(30_000_001).unwrap_err().code(),
            "item_value_too_high"
        );
    }

    #[test]
    fn codes() {
        assert!(ProductCode::parse("ahasme").is_ok());
        assert!(ProductCode::parse("AHA").is_err());
        assert!(ProductCode::parse("").is_err());
    }
}
