//! Reading API Gateway REST proxy requests and writing responses: the one place where
//! `ApiError` becomes an HTTP response, where bodies are size- and type-checked, and where
//! every request is logged (ids, route, status, latency; never bodies or tokens).

use std::time::Instant;

use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Map, Value};

use crate::auth::{Principal, Scopes};
use crate::error::{ApiError, RETRY_AFTER_SECONDS};
use crate::validate;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What a handler needs to know about the request besides its body.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub method: String,
    /// The route as declared in the template (`/api/v1/sme-deliveries/{tracking_number}`).
    pub resource: String,
    started: Instant,
}

fn apigw(req: &Request) -> Option<&ApiGatewayProxyRequestContext> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => Some(c),
        _ => None,
    }
}

impl RequestMeta {
    pub fn of(req: &Request) -> Self {
        crate::metrics::reset();
        let ctx = apigw(req);
        let request_id = ctx
            .and_then(|c| c.request_id.clone())
            .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
            .unwrap_or_default();
        RequestMeta {
            request_id,
            method: req.method().as_str().to_string(),
            resource: ctx
                .and_then(|c| c.resource_path.clone())
                .unwrap_or_else(|| req.uri().path().to_string()),
            started: Instant::now(),
        }
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// `"POST /api/v1/sme-deliveries"`: what handlers route on.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.resource)
    }
}

/// The caller established by the authorizer (flat in `requestContext.authorizer`). A token that
/// expired since API Gateway cached the authorizer's answer is rejected here.
pub fn principal(req: &Request) -> Result<Principal, ApiError> {
    let fields = apigw(req).map(|c| &c.authorizer.fields);
    let get = |k: &str| {
        fields.and_then(|f| f.get(k)).and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let (Some(partner_id), Some(client_id)) = (get("partner_id"), get("client_id")) else {
        return Err(ApiError::InvalidToken(
            "The request was not authorized.".into(),
        ));
    };
    let now = crate::time_fmt::now().unix_timestamp();
    let expired = get("exp")
        .and_then(|e| e.parse::<i64>().ok())
        .is_some_and(|exp| now > exp + crate::jwt::LEEWAY_SECONDS as i64);
    if expired {
        return Err(ApiError::InvalidToken(
            "The access token has expired.".into(),
        ));
    }
    Ok(Principal {
        partner_id,
        client_id,
        scopes: Scopes::parse(&get("scope").unwrap_or_default()).unwrap_or_default(),
    })
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The media type of the request (`application/json` of `application/json; charset=utf-8`), lowercased.
pub fn media_type(req: &Request) -> Option<String> {
    header(req, "content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

/// The JSON object body of a write call: 415 unless JSON, 413 over 64 KiB, 400 unless an object.
pub fn json_body(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    if media_type(req).as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    validate::json_object(body)
}

/// A query string parameter (first value).
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// Every query string parameter (first value of each), for the list routes.
pub fn query_params(req: &Request) -> std::collections::HashMap<String, String> {
    req.query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// The public base URL of this API as the caller reached it: `PUBLIC_BASE_URL` when configured,
/// else scheme + Host + whatever prefix (stage, base path) precedes the route in `requestContext.path`.
pub fn base_url(req: &Request, configured: Option<&str>) -> String {
    if let Some(b) = configured {
        return b.to_string();
    }
    let proto = header(req, "x-forwarded-proto").unwrap_or("https");
    let host = header(req, "host").unwrap_or("localhost");
    let full = apigw(req).and_then(|c| c.path.clone()).unwrap_or_default();
    let path = req.raw_http_path();
    let prefix = full.strip_suffix(path).unwrap_or("").trim_end_matches('/');
    format!("{proto}://{host}{prefix}")
}

/// A JSON response with the request id header.
pub fn json_response(status: u16, body: &Value, request_id: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(REQUEST_ID_HEADER, request_id)
        .body(Body::Text(body.to_string()))
        .expect("valid response")
}

/// The one mapping of `ApiError` to a response.
pub fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let status = err.status();
    let body = if err.is_oauth() {
        json!({"error": err.code(), "error_description": err.to_string()})
    } else {
        json!({"status": "error", "message": err.to_string(), "code": err.code(), "request_id": request_id})
    };
    let mut resp = json_response(status, &body, request_id);
    let h = resp.headers_mut();
    match err {
        ApiError::InvalidToken(_) => {
            h.insert(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.parse().expect("header"),
            );
        }
        ApiError::InsufficientScope(scope) => {
            let v = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
            h.insert("www-authenticate", v.parse().expect("header"));
        }
        ApiError::Unavailable(_) => {
            h.insert("retry-after", RETRY_AFTER_SECONDS.into());
        }
        _ => {}
    }
    resp
}

/// Turn a handler's result into the response, and log the request once.
pub fn finish(
    meta: &RequestMeta,
    partner_id: Option<&str>,
    result: Result<(u16, Value), ApiError>,
) -> Response<Body> {
    finish_with(meta, partner_id, result, |status, body| {
        json_response(status, &body, &meta.request_id)
    })
}

/// `finish`, with a success rendered by `render` (e.g. a list as CSV); errors stay JSON.
pub fn finish_with(
    meta: &RequestMeta,
    partner_id: Option<&str>,
    result: Result<(u16, Value), ApiError>,
    render: impl FnOnce(u16, Value) -> Response<Body>,
) -> Response<Body> {
    let latency_ms = meta.elapsed_ms();
    let dynamodb_round_trips = crate::metrics::dynamodb_round_trips();
    let dynamodb_ms = crate::metrics::dynamodb_ms();
    let dynamodb_read_units = crate::metrics::dynamodb_read_units();
    let dynamodb_write_units = crate::metrics::dynamodb_write_units();
    let secretsmanager_round_trips = crate::metrics::secretsmanager_round_trips();
    let s3_round_trips = crate::metrics::s3_round_trips();
    match result {
        Ok((status, body)) => {
            tracing::info!(request_id = %meta.request_id, route = %meta.route(), partner_id, status, latency_ms, dynamodb_ms, dynamodb_round_trips, dynamodb_read_units, dynamodb_write_units, secretsmanager_round_trips, s3_round_trips, "request");
            render(status, body)
        }
        Err(err) => {
            let status = err.status();
            if status >= 500 {
                tracing::error!(request_id = %meta.request_id, route = %meta.route(), partner_id, status, code = err.code(), detail = %err.log_detail(), latency_ms, dynamodb_ms, dynamodb_round_trips, dynamodb_read_units, dynamodb_write_units, secretsmanager_round_trips, s3_round_trips, "request failed");
            } else {
                tracing::info!(request_id = %meta.request_id, route = %meta.route(), partner_id, status, code = err.code(), latency_ms, dynamodb_ms, dynamodb_round_trips, dynamodb_read_units, dynamodb_write_units, secretsmanager_round_trips, s3_round_trips, "request rejected");
            }
            error_response(&err, &meta.request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    fn body_json(r: &Response<Body>) -> Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn api_errors_have_the_contract_body() {
        let r = error_response(
            &ApiError::validation("item_value", "must be at least 1."),
            "rid",
        );
        assert_eq!(r.status(), 400);
        assert_eq!(
            body_json(&r),
            json!({"status": "error", "message": "item_value must be at least 1.", "code": "validation_error", "request_id": "rid"})
        );
        assert_eq!(r.headers()[REQUEST_ID_HEADER], "rid");
    }

    #[test]
    fn oauth_errors_have_the_oauth_body_and_challenge() {
        let r = error_response(&ApiError::InsufficientScope(Scope::Tracking), "rid");
        assert_eq!(r.status(), 403);
        assert_eq!(body_json(&r)["error"], "insufficient_scope");
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"tracking\""));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let r = error_response(&ApiError::Unavailable("x".into()), "rid");
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
    }
}
