use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{ProductCode, TrackingNumber, MAX_NAME, MAX_TEXT};
use crate::error::ApiError;
use crate::validate::Fields;

/// A validated Submit SME Delivery body. Field names are the source document's, misspellings included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub tracking_number: TrackingNumber,
    pub product_code: ProductCode,
    pub customer_name: String,
    pub customer_phone: String,
    pub pickup_address: String,
    pub drop_up_address: String,
    pub type_of_goods: String,
    pub cod_amount: u64,
    pub item_value: u64,
    pub premium_amount: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_phone: Option<String>,
    pub order_created_time: String,
    pub goods_description: String,
    pub good_quantity: u64,
    /// The quote this delivery is insured at (optional; see `super::quote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<super::QuoteId>,
}

impl Submission {
    /// Validate a body. Returns the submission and the signature it carries.
    pub fn parse(body: &Map<String, Value>) -> Result<(Submission, String), ApiError> {
        let f = Fields::new(body);
        let tracking_number = TrackingNumber::parse(&f.required_string("tracking_number", 64)?)?;
        let code = f.required_string("product_code", 64)?;
        let product_code = ProductCode::parse(&code)?;
        let s = Submission {
            tracking_number,
            product_code,
            customer_name: f.required_string("customer_name", MAX_NAME)?,
            customer_phone: f.phone("customer_phone", true)?.unwrap_or_default(),
            pickup_address: f.required_string("pickup_address", MAX_TEXT)?,
            drop_up_address: f.required_string("drop_up_address", MAX_TEXT)?,
            type_of_goods: f.required_string("type_of_goods", MAX_NAME)?,
            cod_amount: f.integer("cod_amount", 0)?,
            item_value: f.integer("item_value", 1)?,
            premium_amount: f.integer("premium_amount", 1)?,
            customer_email: f.opt_email("customer_email")?,
            sender_name: f.opt_string("sender_name", MAX_NAME)?,
            sender_phone: f.phone("sender_phone", false)?,
            sender_email: f.opt_email("sender_email")?,
            recipient_name: f.opt_string("recipient_name", MAX_NAME)?,
            recipient_phone: f.phone("recipient_phone", false)?,
            order_created_time: f.timestamp("order_created_time")?.0,
            goods_description: f.required_string("goods_description", MAX_TEXT)?,
            good_quantity: f.integer("good_quantity", 1)?,
            quote_id: super::quote::quote_id_field(&f)?,
        };
        let signature = super::signature(body)?;
        Ok((s, signature))
    }

    /// A digest of the validated submission: two bodies that mean the same (key order, unknown
    /// fields and JSON formatting aside) have the same fingerprint. Used to tell a safe retry
    /// from a different body under the same tracking number.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("submission serialises");
        hex::encode(Sha256::digest(&canonical))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub fn valid_body() -> Value {
        json!({
            "tracking_number": "SPX0001",
            "product_code": "ahasme",
            "customer_name": "Cong ty ABC",
            "customer_phone": "+84 901234567",
            "pickup_address": "1 Le Loi, District 1, HCMC",
            "drop_up_address": "2 Tran Hung Dao, Hanoi",
            "type_of_goods": "electronics",
            "cod_amount": 0,
            "item_value": 3000000,
            "premium_amount": 15000,
            "signature": "abc",
            "order_created_time": "2022-04-06T06:05:00.528Z",
            "goods_description": "Phone",
            "good_quantity": 1
        })
    }

    #[test]
    fn parses_a_valid_body() {
        let b = valid_body();
        let (s, sig) = Submission::parse(b.as_object().unwrap()).unwrap();
        assert_eq!(s.tracking_number.as_str(), "SPX0001");
        assert_eq!(sig, "abc");
    }

    #[test]
    fn every_required_field_is_named_when_missing() {
        for field in [
            "tracking_number",
            "product_code",
            "customer_name",
            "customer_phone",
            "pickup_address",
            "drop_up_address",
            "type_of_goods",
            "cod_amount",
            "item_value",
            "premium_amount",
            "order_created_time",
            "goods_description",
            "good_quantity",
        ] {
            let mut b = valid_body();
            b.as_object_mut().unwrap().remove(field);
            let e = Submission::parse(b.as_object().unwrap()).unwrap_err();
            assert_eq!(e.code(), "validation_error", "{field}");
            assert!(e.to_string().starts_with(field), "{field}: {e}");
        }
    }

    #[test]
    fn a_missing_or_malformed_signature_is_a_signature_failure() {
        for sig in [None, Some(json!("")), Some(json!(5))] {
            let mut b = valid_body();
            match sig {
                None => {
                    b.as_object_mut().unwrap().remove("signature");
                }
                Some(v) => b["signature"] = v,
            }
            let e = Submission::parse(b.as_object().unwrap()).unwrap_err();
            assert_eq!(e.code(), "invalid_signature");
        }
    }

    #[test]
    fn quote_id_is_optional_named_when_malformed_and_part_of_the_fingerprint() {
        let plain = Submission::parse(valid_body().as_object().unwrap())
            .unwrap()
            .0;
        assert_eq!(plain.quote_id, None);
        let mut b = valid_body();
        b["quote_id"] = json!("quo_01m88pg6bj7gvrmehq193tgtwg");
        let quoted = Submission::parse(b.as_object().unwrap()).unwrap().0;
        assert_eq!(
            quoted.quote_id.as_ref().map(|q| q.as_str()),
            Some("quo_01m88pg6bj7gvrmehq193tgtwg")
        );
        assert_ne!(plain.fingerprint(), quoted.fingerprint());
        for bad in [
            json!("pol_x"),
            json!(5),
            json!("quo_01m88pg6bj7gvrmehq193tgtwg "),
        ] {
            b["quote_id"] = bad.clone();
            let e = Submission::parse(b.as_object().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with("quote_id"), "{bad}: {e}");
        }
        // Absent, null and "" are all "no quote".
        for none in [Value::Null, json!(""), json!(" ")] {
            b["quote_id"] = none;
            let s = Submission::parse(b.as_object().unwrap()).unwrap().0;
            assert_eq!(s.fingerprint(), plain.fingerprint());
        }
    }

    #[test]
    fn ranges() {
        for (field, v) in [
            ("cod_amount", json!(-1)),
            ("item_value", json!(0)),
            ("premium_amount", json!(0)),
            ("good_quantity", json!(0)),
        ] {
            let mut b = valid_body();
            b[field] = v;
            let e = Submission::parse(b.as_object().unwrap()).unwrap_err();
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }

    #[test]
    fn fingerprint_ignores_order_and_unknown_fields() {
        let a = valid_body();
        let mut b = valid_body();
        b["unknown"] = json!("x");
        let fa = Submission::parse(a.as_object().unwrap())
            .unwrap()
            .0
            .fingerprint();
        let fb = Submission::parse(b.as_object().unwrap())
            .unwrap()
            .0
            .fingerprint();
        assert_eq!(fa, fb);
        let mut c = valid_body();
        c["good_quantity"] = json!(2);
        let fc = Submission::parse(c.as_object().unwrap())
            .unwrap()
            .0
            .fingerprint();
        assert_ne!(fa, fc);
    }
}
