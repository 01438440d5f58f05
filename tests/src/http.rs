//! HTTP responses and the assertions every test makes on them.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// A fresh HTTP client. Each `#[tokio::test]` has its own runtime, so each test makes its own.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("building a reqwest client")
}

/// A whole response, read eagerly so assertions can print it.
#[derive(Debug, Clone)]
pub struct Resp {
    /// `METHOD url`, for failure messages.
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub json: Value,
}

/// Sends a request and reads the whole response.
pub async fn send(what: String, rb: reqwest::RequestBuilder) -> Resp {
    let resp = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: request failed: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp
        .text()
        .await
        .unwrap_or_else(|e| panic!("{what}: reading body failed: {e}"));
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        what,
        status,
        headers,
        text,
        json,
    }
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn describe(&self) -> String {
        let mut headers = String::new();
        for (k, v) in &self.headers {
            headers.push_str(&format!("  {k}: {}\n", v.to_str().unwrap_or("<binary>")));
        }
        format!(
            "{} -> {}\n{headers}  body: {}",
            self.what,
            self.status,
            truncate(&self.text, 2000)
        )
    }

    /// Panics with the whole response.
    pub fn fail(&self, why: &str) -> ! {
        panic!("{why}\n{}", self.describe())
    }

    /// The `X-Request-Id` header, which every response must carry.
    pub fn request_id(&self) -> &str {
        match self.header("x-request-id") {
            Some(id) if !id.trim().is_empty() => id,
            _ => self.fail("response has no X-Request-Id header"),
        }
    }

    /// Asserts the status (and the request id header); returns the JSON body.
    pub fn expect(&self, status: u16) -> &Value {
        if self.status != status {
            self.fail(&format!("expected status {status}, got {}", self.status));
        }
        self.request_id();
        &self.json
    }

    /// Asserts a success body `{"status":"success","message":...}` with the given status code.
    pub fn expect_success(&self, status: u16) -> &Value {
        let body = self.expect(status);
        if !body.is_object() {
            self.fail("success body is not a JSON object");
        }
        if body["status"] != "success" {
            self.fail("success body lacks \"status\":\"success\"");
        }
        if !body["message"].is_string() {
            self.fail("success body lacks a string `message`");
        }
        self.expect_json_content_type();
        body
    }

    pub fn expect_json_content_type(&self) {
        let ct = self.header("content-type").unwrap_or("");
        if !ct.to_ascii_lowercase().starts_with("application/json") {
            self.fail("Content-Type is not application/json");
        }
    }

    /// Asserts a non-OAuth error: status, and the body is exactly
    /// `{"status":"error","message":"...","code":"<code>","request_id":"..."}`, with the same
    /// request id in the `X-Request-Id` header. Returns the message.
    pub fn expect_error(&self, status: u16, code: &str) -> &str {
        let body = self.expect(status);
        let Some(obj) = body.as_object() else {
            self.fail("error body is not a JSON object")
        };
        let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = ["status", "message", "code", "request_id"].into();
        if keys != want {
            self.fail(&format!(
                "error body keys are {keys:?}, expected exactly {want:?}"
            ));
        }
        if body["status"] != "error" {
            self.fail("error body lacks \"status\":\"error\"");
        }
        if body["code"] != code {
            self.fail(&format!("expected code {code:?}"));
        }
        let Some(message) = body["message"].as_str() else {
            self.fail("error `message` is not a string")
        };
        if message.trim().is_empty() {
            self.fail("error `message` is empty");
        }
        let Some(rid) = body["request_id"].as_str() else {
            self.fail("error `request_id` is not a string")
        };
        if rid.is_empty() || rid != self.request_id() {
            self.fail("body request_id differs from the X-Request-Id header");
        }
        self.expect_json_content_type();
        message
    }

    /// 400 `validation_error` whose message starts with `field` (and the field name is not just
    /// the prefix of a longer name).
    pub fn expect_validation(&self, field: &str) -> &str {
        let message = self.expect_error(400, "validation_error");
        if !names_field(message, field) {
            self.fail(&format!("validation message does not start with `{field}`"));
        }
        message
    }

    /// An OAuth (RFC 6749 §5.2 / RFC 6750 §3) error body: `error` and `error_description`.
    pub fn expect_oauth_error(&self, status: u16, error: &str) -> &Value {
        let body = self.expect(status);
        let Some(obj) = body.as_object() else {
            self.fail("OAuth error body is not a JSON object")
        };
        if body["error"] != error {
            self.fail(&format!("expected OAuth error {error:?}"));
        }
        if !body["error_description"].is_string() {
            self.fail("OAuth error body lacks a string `error_description`");
        }
        for key in obj.keys() {
            if !["error", "error_description", "error_uri"].contains(&key.as_str()) {
                self.fail(&format!("OAuth error body has an unexpected key `{key}`"));
            }
        }
        self.expect_json_content_type();
        body
    }

    /// An error from the token endpoint: OAuth body plus `Cache-Control: no-store`.
    pub fn expect_token_error(&self, status: u16, error: &str) -> &Value {
        let body = self.expect_oauth_error(status, error);
        self.expect_no_store();
        body
    }

    pub fn expect_no_store(&self) {
        let cc = self.header("cache-control").unwrap_or("");
        if !cc
            .split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        {
            self.fail("expected Cache-Control: no-store");
        }
    }

    /// 401 from the gateway: `invalid_token` body and `WWW-Authenticate: Bearer error="invalid_token"`.
    pub fn expect_invalid_token(&self) {
        self.expect_oauth_error(401, "invalid_token");
        let www = self.header("www-authenticate").unwrap_or("");
        if !(www.starts_with("Bearer") && www.contains("error=\"invalid_token\"")) {
            self.fail("expected WWW-Authenticate: Bearer error=\"invalid_token\"");
        }
    }

    /// 403 `insufficient_scope`.
    pub fn expect_insufficient_scope(&self) {
        self.expect_oauth_error(403, "insufficient_scope");
    }
}

/// Whether a validation message names `field` at its start.
pub fn names_field(message: &str, field: &str) -> bool {
    let Some(rest) = message.strip_prefix(field) else {
        return false;
    };
    match rest.chars().next() {
        None => true,
        Some(c) => !(c.is_ascii_alphanumeric() || c == '_' || c == '[' || c == '.'),
    }
}

pub fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &s[..end], s.len())
    }
}
