//! Claims as a partner files and follows them (issue 13), and what the table holds of them.

use serde_json::{json, Value};

use crate::http::Resp;
use crate::partner::{path_escape, rfc3339, Delivery, Partner};
use crate::workload::dynamodb;

/// Every subscription, `claims` included.
pub const CLAIM_SUBSCRIPTIONS: [&str; 4] = ["insurance", "tracking", "control_tower", "claims"];

/// `now` shifted by `days` (negative: in the past), RFC 3339.
pub fn days_from_now(days: i64) -> String {
    rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(days))
}

/// A tracking event at `tracking_time`.
pub fn event_at(tracking_status: &str, tracking_time: &str) -> Value {
    json!({
        "tracking_time": tracking_time,
        "tracking_status": tracking_status,
        "tracking_desctiption": format!("{tracking_status} at {tracking_time}"),
    })
}

impl Partner {
    /// A new partner with every subscription, `claims` included.
    pub async fn claimant() -> Partner {
        Partner::onboard(&CLAIM_SUBSCRIPTIONS).await
    }

    /// Moves a delivery to `status` with one event dated `tracking_time`.
    pub async fn track_at(&self, d: &Delivery, status: &str, tracking_time: &str) {
        let body = self.tracking_body(d, status, vec![event_at(status, tracking_time)]);
        self.track(&body).await.expect_success(200);
    }

    /// A delivery that failed (eligible for a loss claim at once).
    pub async fn failed_delivery(&self) -> Delivery {
        let d = self.create_delivery().await;
        self.track_at(&d, "in_delivery", &days_from_now(-1)).await;
        self.track_at(&d, "fail", &days_from_now(0)).await;
        d
    }

    /// A delivery delivered `days_ago` days ago.
    pub async fn delivered(&self, days_ago: i64) -> Delivery {
        let d = self.create_delivery().await;
        self.track_at(&d, "in_delivery", &days_from_now(-days_ago - 1))
            .await;
        self.track_at(&d, "success", &days_from_now(-days_ago))
            .await;
        d
    }

    /// A signed claim body on a delivery: `claim_type`, `claimed_amount`, incident now.
    pub fn claim_body(&self, d: &Delivery, claim_type: &str, amount: i64) -> Value {
        json!({
            "tracking_number": d.tracking_number,
            "policy_id": d.policy_id,
            "claim_type": claim_type,
            "claimed_amount": amount,
            "incident_time": rfc3339(time::OffsetDateTime::now_utc()),
            "description": "Kiện hàng bị thất lạc sau khi giao thất bại.",
            "claimant_name": "Shop ABC",
            "claimant_phone": "0901234567",
            "claimant_email": "shop@example.com",
            "signature": self.sign(&d.tracking_number, amount),
        })
    }

    pub async fn file_claim(&self, body: &Value) -> Resp {
        self.post_json("/claims", body).await
    }

    /// Files a claim that must be accepted (201); returns its id.
    pub async fn file_claim_ok(&self, body: &Value) -> String {
        let resp = self.file_claim(body).await;
        let out = resp.expect_success(201);
        assert_eq!(out["claim_status"], "submitted", "{}", resp.text);
        out["claim_id"]
            .as_str()
            .unwrap_or_else(|| resp.fail("no claim_id"))
            .to_string()
    }

    /// The signature of a write on an existing claim: over its tracking number and claimed amount.
    pub fn claim_signature(&self, claim: &Value) -> String {
        self.sign(
            claim["tracking_number"].as_str().unwrap_or(""),
            claim["claimed_amount"].as_i64().unwrap_or(0),
        )
    }

    pub async fn claim(&self, claim_id: &str) -> Resp {
        self.get(&format!("/claims/{}", path_escape(claim_id)))
            .await
    }

    /// The claim as stored (panics unless 200).
    pub async fn claim_json(&self, claim_id: &str) -> Value {
        self.claim(claim_id).await.expect(200).clone()
    }

    pub async fn claim_post(&self, claim_id: &str, action: &str, body: &Value) -> Resp {
        self.post_json(&format!("/claims/{}/{action}", path_escape(claim_id)), body)
            .await
    }

    /// Adds a note (signed for the claim).
    pub async fn note(&self, claim: &Value, message: &str) -> Resp {
        let body = json!({"message": message, "signature": self.claim_signature(claim)});
        self.claim_post(claim["claim_id"].as_str().unwrap(), "notes", &body)
            .await
    }

    pub async fn withdraw(&self, claim: &Value, reason: &str) -> Resp {
        let body = json!({"reason": reason, "signature": self.claim_signature(claim)});
        self.claim_post(claim["claim_id"].as_str().unwrap(), "withdraw", &body)
            .await
    }

    /// Asks for a document upload; the signed body for `file_name`, `content_type`, `size`.
    pub async fn add_document(
        &self,
        claim: &Value,
        file_name: &str,
        content_type: &str,
        size: usize,
    ) -> Resp {
        let body = json!({
            "file_name": file_name,
            "content_type": content_type,
            "size_bytes": size,
            "document_type": "photo",
            "signature": self.claim_signature(claim),
        });
        self.claim_post(claim["claim_id"].as_str().unwrap(), "documents", &body)
            .await
    }

    pub async fn list_claims(&self, query: &[(&str, &str)]) -> Resp {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            q.append_pair(k, v);
        }
        let q = q.finish();
        if q.is_empty() {
            self.get("/claims").await
        } else {
            self.get(&format!("/claims?{q}")).await
        }
    }
}

/// Sends the pre-signed upload request of a documents answer with `body` (its headers as given,
/// `Content-Length` from the body); returns the status S3 answered.
pub async fn upload(upload: &Value, body: Vec<u8>, content_type: Option<&str>) -> u16 {
    let client = reqwest::Client::new();
    let method = upload["method"].as_str().expect("upload.method");
    assert_eq!(method, "PUT");
    let mut rb = client.put(upload["url"].as_str().expect("upload.url"));
    for (k, v) in upload["headers"].as_object().expect("upload.headers") {
        if k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        if k.eq_ignore_ascii_case("content-type") {
            rb = rb.header(k, content_type.unwrap_or(v.as_str().unwrap()));
            continue;
        }
        rb = rb.header(k, v.as_str().unwrap());
    }
    rb.body(body)
        .send()
        .await
        .expect("the upload request")
        .status()
        .as_u16()
}

/// Every claim item of a partner, read from its list index in DynamoDB Local.
pub async fn claim_items(stack_json: &Value, partner_id: &str) -> Vec<Value> {
    let out = dynamodb(
        stack_json,
        "Query",
        &json!({
            "TableName": stack_json["table_name"],
            "IndexName": "list-created",
            "KeyConditionExpression": "cpk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": format!("CLAIMS#{partner_id}")}},
        }),
    )
    .await;
    out["Items"].as_array().cloned().unwrap_or_default()
}

/// The delivery item as stored (DynamoDB JSON).
pub async fn delivery_item(stack_json: &Value, partner_id: &str, tn: &str) -> Value {
    let out = dynamodb(
        stack_json,
        "GetItem",
        &json!({
            "TableName": stack_json["table_name"],
            "Key": {"pk": {"S": format!("DELIVERY#{partner_id}#{tn}")}, "sk": {"S": "DELIVERY"}},
            "ConsistentRead": true,
        }),
    )
    .await;
    out["Item"].clone()
}
