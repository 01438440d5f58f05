//! The product catalogue and quotes as a partner calls them (issue 16), and the quote items as
//! stored.

use serde_json::{json, Value};

use crate::http::Resp;
use crate::partner::{unique_tn, Partner};
use crate::workload::dynamodb;

impl Partner {
    /// `GET /api/v1/products`.
    pub async fn products(&self) -> Resp {
        self.get("/products").await
    }

    /// `GET /api/v1/products/{product_code}` (the code sent as given).
    pub async fn product(&self, code: &str) -> Resp {
        self.get(&format!("/products/{code}")).await
    }

    /// `POST /api/v1/quotes` with `{"product_code", "item_value"}`.
    pub async fn quote_resp(&self, product_code: &str, item_value: i64) -> Resp {
        self.post_json(
            "/quotes",
            &json!({"product_code": product_code, "item_value": item_value}),
        )
        .await
    }

    /// A quote that must be given (200); its body.
    pub async fn quote(&self, product_code: &str, item_value: i64) -> Value {
        let resp = self.quote_resp(product_code, item_value).await;
        let q = resp.expect(200).clone();
        if !q["quote_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("quo_"))
        {
            resp.fail("a quote without a quo_ id");
        }
        q
    }

    /// A signed Submit body, new tracking number, at the quote's product, item value and
    /// premium, carrying its `quote_id`.
    pub fn submit_body_quoted(&self, quote: &Value) -> Value {
        let mut body = self.submit_body_for(
            &unique_tn(),
            quote["item_value"].as_i64().expect("item_value"),
            quote["premium_amount"].as_i64().expect("premium_amount"),
        );
        body["product_code"] = quote["product_code"].clone();
        body["quote_id"] = quote["quote_id"].clone();
        body
    }
}

/// A quote item as stored (DynamoDB JSON), read straight from DynamoDB Local.
pub async fn stored_quote(stack_json: &Value, partner_id: &str, quote_id: &str) -> Option<Value> {
    let out = dynamodb(
        stack_json,
        "GetItem",
        &json!({
            "TableName": stack_json["table_name"],
            "Key": {"pk": {"S": format!("QUOTE#{partner_id}#{quote_id}")}, "sk": {"S": "QUOTE"}},
            "ConsistentRead": true,
        }),
    )
    .await;
    out.get("Item").cloned()
}
