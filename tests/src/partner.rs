//! A partner as the contract sees it: a credentials kit, a token, signed JSON calls.

use std::time::Duration;

use base64::Engine;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::http::{client, send, Resp};
pub use crate::ops::{
    onboard_kit_json, onboard_kit_json_on, onboard_kit_json_with, opsctl, opsctl_json, opsctl_on,
    opsctl_run, opsctl_run_on, put_product, OpsOutput,
};
use crate::stack::stack;

/// The credentials kit `opsctl partner onboard --json` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Kit {
    pub partner_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub api_token_key: String,
    pub subscriptions: Vec<String>,
    pub token_url: String,
    pub api_base_url: String,
    pub developer_portal_url: String,
}

/// The keys a kit has, exactly.
pub const KIT_KEYS: [&str; 8] = [
    "partner_id",
    "client_id",
    "client_secret",
    "api_token_key",
    "subscriptions",
    "token_url",
    "api_base_url",
    "developer_portal_url",
];

pub const ALL_SUBSCRIPTIONS: [&str; 3] = ["insurance", "tracking", "control_tower"];

/// A unique, valid tracking number (`BB` + a ULID: 28 chars of `A-Z0-9-`).
pub fn unique_tn() -> String {
    format!("BB-{}", ulid::Ulid::new())
}

/// A unique name for partners and products.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// `lowercase_hex(md5(api_token_key + tracking_number + premium_amount))`.
pub fn signature(api_token_key: &str, tracking_number: &str, premium: i64) -> String {
    let mut h = Md5::new();
    h.update(api_token_key.as_bytes());
    h.update(tracking_number.as_bytes());
    h.update(premium.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The `ahasme` premium rule: max(5000, ceil(item_value * 50 / 10000)).
pub fn ahasme_premium(item_value: i64) -> i64 {
    std::cmp::max(5000, (item_value * 50 + 9999) / 10000)
}

/// A tracking event at `2024-05-01T08:00:00Z` plus `minute` minutes.
pub fn event(tracking_status: &str, minute: u32) -> Value {
    json!({
        "tracking_time": at(minute),
        "tracking_status": tracking_status,
        "handler_name": "Trần Thị B",
        "start_address": "Kho Quận 1, TP.HCM",
        "end_address": "12 Lê Lợi, Quận 3, TP.HCM",
        "tracking_desctiption": format!("{tracking_status} at minute {minute}"),
    })
}

/// `2024-05-01T08:00:00.000Z` plus `minute` minutes, RFC 3339.
pub fn at(minute: u32) -> String {
    let t =
        time::macros::datetime!(2024-05-01 08:00:00 UTC) + time::Duration::minutes(minute as i64);
    rfc3339(t)
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formatting RFC 3339")
}

pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// A delivery this test created.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub tracking_number: String,
    pub policy_id: String,
    pub url_certificate: String,
    pub premium: i64,
    /// The submit body that created it.
    pub body: Value,
}

/// A partner with its own kit, HTTP client and cached default token.
pub struct Partner {
    pub kit: Kit,
    pub kit_json: Value,
    pub http: reqwest::Client,
    token: Mutex<Option<String>>,
}

impl Partner {
    /// A partner from its kit JSON (e.g. another stack's demo kit).
    pub fn from_kit(kit_json: Value) -> Partner {
        let kit: Kit = serde_json::from_value(kit_json.clone())
            .unwrap_or_else(|e| panic!("kit does not have the contract's keys: {e}\n{kit_json}"));
        Partner {
            kit,
            kit_json,
            http: client(),
            token: Mutex::new(None),
        }
    }

    /// The demo partner devstack onboarded.
    pub async fn demo() -> Partner {
        Partner::from_kit(stack().demo_kit_json())
    }

    /// A new partner with the given subscriptions.
    pub async fn onboard(subscriptions: &[&str]) -> Partner {
        Partner::from_kit(onboard_kit_json(&unique_name("blackbox"), subscriptions).await)
    }

    /// A new partner with every subscription (its own deliveries, so lists are predictable).
    pub async fn full() -> Partner {
        Partner::onboard(&ALL_SUBSCRIPTIONS).await
    }

    pub fn basic_auth_header(&self) -> String {
        basic(&self.kit.client_id, &self.kit.client_secret)
    }

    /// `POST token_url` with Basic auth, `grant_type=client_credentials` and an optional scope.
    pub async fn token_resp(&self, scope: Option<&str>) -> Resp {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(scope) = scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        send(
            format!("POST {} (Basic, scope {scope:?})", self.kit.token_url),
            self.http
                .post(&self.kit.token_url)
                .header("Authorization", self.basic_auth_header())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// A new token with the given scope (panics unless 200).
    pub async fn token_with_scope(&self, scope: Option<&str>) -> String {
        let resp = self.token_resp(scope).await;
        let body = resp.expect(200);
        match body["access_token"].as_str() {
            Some(t) => t.to_string(),
            None => resp.fail("token response has no access_token"),
        }
    }

    /// The default-scope token, fetched once per partner.
    pub async fn token(&self) -> String {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            return t.clone();
        }
        let t = self.token_with_scope(None).await;
        *cached = Some(t.clone());
        t
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.kit.api_base_url.trim_end_matches('/'))
    }

    pub fn sign(&self, tracking_number: &str, premium: i64) -> String {
        signature(&self.kit.api_token_key, tracking_number, premium)
    }

    /// POST a JSON value to `api_base_url + path` with the given bearer token.
    pub async fn post_json_with(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.post_raw_with(
            path,
            token,
            Some("application/json"),
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn post_raw_with(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let url = self.url(path);
        let mut rb = self.http.post(&url).body(body);
        if let Some(ct) = content_type {
            rb = rb.header("Content-Type", ct);
        }
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        send(format!("POST {url}"), rb).await
    }

    /// POST raw bytes with the default token.
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Resp {
        let token = self.token().await;
        self.post_raw_with(path, Some(&token), content_type, body)
            .await
    }

    /// The body rules every POST route shares: a wrong content type is 415, a body that is not a
    /// JSON object is 400 `invalid_json`, and a body over 64 KiB is 413, all before any write.
    /// `valid_body` is a body the route would otherwise accept.
    pub async fn expect_body_framing_refused(&self, path: &str, valid_body: &Value) {
        let valid = serde_json::to_vec(valid_body).unwrap();
        self.post_raw(path, Some("text/plain"), valid)
            .await
            .expect_error(415, "unsupported_media_type");
        for raw in [&b"{nope"[..], b"[]"] {
            self.post_raw(path, Some("application/json"), raw.to_vec())
                .await
                .expect_error(400, "invalid_json");
        }
        let mut big = valid_body.clone();
        big["padding"] = Value::from("x".repeat(65 * 1024));
        self.post_raw(
            path,
            Some("application/json"),
            serde_json::to_vec(&big).unwrap(),
        )
        .await
        .expect_error(413, "payload_too_large");
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        let token = self.token().await;
        self.post_json_with(path, Some(&token), body).await
    }

    pub async fn get_with(&self, path: &str, token: Option<&str>) -> Resp {
        let url = self.url(path);
        let mut rb = self.http.get(&url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        send(format!("GET {url}"), rb).await
    }

    /// Any method with an optional JSON body and the default token (PATCH, DELETE, ...).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        let token = self.token().await;
        let url = self.url(path);
        let mut rb = self.http.request(method.clone(), &url).bearer_auth(token);
        if let Some(b) = body {
            rb = rb
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        send(format!("{method} {url}"), rb).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        let token = self.token().await;
        self.get_with(path, Some(&token)).await
    }

    pub async fn submit(&self, body: &Value) -> Resp {
        self.post_json("/sme-deliveries", body).await
    }

    pub async fn track(&self, body: &Value) -> Resp {
        self.post_json("/tracking-details", body).await
    }

    pub async fn cancel(&self, body: &Value) -> Resp {
        self.post_json("/sme-deliveries/cancel", body).await
    }

    pub async fn delivery(&self, tracking_number: &str) -> Resp {
        self.get(&format!("/sme-deliveries/{}", path_escape(tracking_number)))
            .await
    }

    pub async fn policy(&self, policy_id: &str) -> Resp {
        self.get(&format!("/policies/{}", path_escape(policy_id)))
            .await
    }

    /// The delivery as stored (panics unless 200).
    pub async fn stored(&self, tracking_number: &str) -> Value {
        self.delivery(tracking_number).await.expect(200).clone()
    }

    /// Asserts nothing is stored under this tracking number for this partner.
    pub async fn assert_not_stored(&self, tracking_number: &str) {
        self.delivery(tracking_number)
            .await
            .expect_error(404, "not_found");
    }

    pub async fn list(&self, query: &[(&str, &str)]) -> Resp {
        let q = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                q.append_pair(k, v);
            }
            q.finish()
        };
        if q.is_empty() {
            self.get("/sme-deliveries").await
        } else {
            self.get(&format!("/sme-deliveries?{q}")).await
        }
    }

    /// A valid, signed submit body: product `ahasme`, item value 3,000,000, premium 15,000.
    pub fn submit_body(&self) -> Value {
        self.submit_body_for(&unique_tn(), 3_000_000, 15_000)
    }

    pub fn submit_body_for(&self, tracking_number: &str, item_value: i64, premium: i64) -> Value {
        json!({
            "tracking_number": tracking_number,
            "product_code": "ahasme",
            "customer_name": "Nguyễn Văn A",
            "customer_phone": "0901234567",
            "pickup_address": "1 Nguyễn Huệ, Quận 1, TP.HCM",
            "drop_up_address": "12 Lê Lợi, Quận 3, TP.HCM",
            "type_of_goods": "electronics",
            "cod_amount": 250_000,
            "item_value": item_value,
            "premium_amount": premium,
            "customer_email": "a@example.com",
            "sender_name": "Shop ABC",
            "sender_phone": "0281234567",
            "sender_email": "shop@example.com",
            "recipient_name": "Lê Thị C",
            "recipient_phone": "0907654321",
            "signature": self.sign(tracking_number, premium),
            "order_created_time": "2024-05-01T07:30:00.528Z",
            "goods_description": "Điện thoại di động",
            "good_quantity": 2,
        })
    }

    /// Recomputes `signature` from the body's `tracking_number` and `premium_amount`.
    pub fn resign(&self, body: &mut Value) {
        let tn = body["tracking_number"].as_str().unwrap_or("").to_string();
        let premium = body["premium_amount"].as_i64().unwrap_or(0);
        body["signature"] = json!(self.sign(&tn, premium));
    }

    /// Submits a body that must be accepted (201) and returns the delivery.
    pub async fn create_from(&self, body: Value) -> Delivery {
        let resp = self.submit(&body).await;
        let out = resp.expect_success(201);
        let policy_id = out["policy_id"].as_str();
        let url = out["url_certificate"].as_str();
        match (policy_id, url) {
            (Some(p), Some(u)) if !p.is_empty() && !u.is_empty() => Delivery {
                tracking_number: body["tracking_number"].as_str().unwrap().to_string(),
                policy_id: p.to_string(),
                url_certificate: u.to_string(),
                premium: body["premium_amount"].as_i64().unwrap(),
                body,
            },
            _ => resp.fail("201 without policy_id and url_certificate"),
        }
    }

    /// Submits new deliveries of product `code` at `item_value` with `premium` until one is
    /// accepted: a product change reaches a warm instance only when its product cache (60 s)
    /// turns over, and until then the only acceptable answer is `400 premium_mismatch`. Fails
    /// after `within`.
    pub async fn submit_until_premium_accepted(
        &self,
        code: &str,
        item_value: i64,
        premium: i64,
        within: Duration,
    ) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let mut body = self.submit_body_for(&unique_tn(), item_value, premium);
            body["product_code"] = json!(code);
            let resp = self.submit(&body).await;
            if resp.status == 201 {
                return;
            }
            resp.expect_error(400, "premium_mismatch");
            if std::time::Instant::now() > deadline {
                resp.fail(&format!(
                    "the updated premium rule of {code} did not apply within {within:?}"
                ));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// A new delivery (status `created`, policy `active`).
    pub async fn create_delivery(&self) -> Delivery {
        self.create_from(self.submit_body()).await
    }

    /// A tracking body for a delivery, signed with the policy's premium.
    pub fn tracking_body(&self, d: &Delivery, delivery_status: &str, events: Vec<Value>) -> Value {
        json!({
            "tracking_number": d.tracking_number,
            "delivery_status": delivery_status,
            "tracking_detail": events,
            "signature": self.sign(&d.tracking_number, d.premium),
        })
    }

    /// Moves a delivery through `statuses`, one accepted request (one event) each.
    pub async fn advance(&self, d: &Delivery, statuses: &[&str]) {
        for (i, status) in statuses.iter().enumerate() {
            let body = self.tracking_body(d, status, vec![event(status, 100 + i as u32)]);
            self.track(&body).await.expect_success(200);
        }
    }

    /// A cancel body for a delivery.
    pub fn cancel_body(&self, d: &Delivery) -> Value {
        json!({
            "tracking_number": d.tracking_number,
            "policy_id": d.policy_id,
            "canceled_by": "cs.agent@partner.example",
            "cancellation_reason": "Customer cancelled the order",
            "cancellation_time": "2024-05-01T09:15:00.000Z",
            "signature": self.sign(&d.tracking_number, d.premium),
        })
    }

    /// Submits with retries on 503 (+Retry-After), as a partner would.
    pub async fn submit_retrying(&self, body: &Value) -> Resp {
        for _ in 0..10 {
            let resp = self.submit(body).await;
            if resp.status != 503 {
                return resp;
            }
            let wait = resp
                .header("retry-after")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| resp.fail("503 without a numeric Retry-After"));
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
        }
        panic!("submit still 503 after 10 tries");
    }
}

/// `Basic base64(id:secret)`.
pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Percent-encodes a path segment (everything but unreserved characters).
pub fn path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
