//! The responses the gateway itself generates (API Gateway "gateway responses"), in one place.
//!
//! The deployed API must answer exactly the same, so the template's `GatewayResponses` are
//! generated from these definitions: `devstack gateway-responses` prints the YAML to paste under
//! the `AWS::Serverless::Api` resource's `Properties` (SAM syntax). The body templates use API
//! Gateway's `$context` variables; locally they are rendered with the same values.
//!
//! | when | status | body `code` / `error` | response types (deployed) |
//! |---|---|---|---|
//! | no identity header, authorizer says `Unauthorized` | 401 | `invalid_token` (OAuth) | `UNAUTHORIZED` |
//! | the authorizer's policy denies the method | 403 | `insufficient_scope` (OAuth) | `ACCESS_DENIED` |
//! | no route for method and path | 404 | `route_not_found` | `MISSING_AUTHENTICATION_TOKEN`, `RESOURCE_NOT_FOUND` |
//! | body over 10 MiB | 413 | `payload_too_large` | `REQUEST_TOO_LARGE` |
//! | authorizer error, invalid output or timeout | 503 + `Retry-After: 1` | `service_unavailable` | `AUTHORIZER_FAILURE`, `AUTHORIZER_CONFIGURATION_ERROR` |
//! | function error, crash or malformed response | 502 | `internal_error` | `INTEGRATION_FAILURE`, `DEFAULT_5XX` (status kept) |
//! | function timeout or 29 s integration timeout | 504 | `gateway_timeout` | `INTEGRATION_TIMEOUT` |
//!
//! Every gateway response carries `Content-Type: application/json`, `x-amzn-RequestId` (API
//! Gateway always sends it) and `X-Request-Id` with the request id.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    Unauthorized,
    AccessDenied,
    RouteNotFound,
    PayloadTooLarge,
    AuthorizerFailure,
    IntegrationFailure,
    IntegrationTimeout,
}

pub struct Definition {
    pub error: GatewayError,
    /// API Gateway response types this definition is deployed as, each with the status code to
    /// set (`None`: keep the status API Gateway chose).
    pub response_types: &'static [(&'static str, Option<u16>)],
    /// Status of the local response.
    pub status: u16,
    /// Extra headers (static values).
    pub headers: &'static [(&'static str, &'static str)],
    /// JSON body template; `$context.requestId`, `$context.httpMethod` and `$context.path` are
    /// substituted.
    pub body: &'static str,
}

const OAUTH_INVALID_TOKEN: &str = r#"{"error":"invalid_token","error_description":"The access token is missing, malformed, expired or invalid."}"#;
const OAUTH_INSUFFICIENT_SCOPE: &str = r#"{"error":"insufficient_scope","error_description":"The access token does not grant access to this resource."}"#;

pub const DEFINITIONS: &[Definition] = &[
    Definition {
        error: GatewayError::Unauthorized,
        response_types: &[("UNAUTHORIZED", Some(401))],
        status: 401,
        headers: &[("WWW-Authenticate", r#"Bearer error="invalid_token""#)],
        body: OAUTH_INVALID_TOKEN,
    },
    Definition {
        error: GatewayError::AccessDenied,
        response_types: &[("ACCESS_DENIED", Some(403))],
        status: 403,
        headers: &[("WWW-Authenticate", r#"Bearer error="insufficient_scope""#)],
        body: OAUTH_INSUFFICIENT_SCOPE,
    },
    Definition {
        error: GatewayError::RouteNotFound,
        response_types: &[
            ("MISSING_AUTHENTICATION_TOKEN", Some(404)),
            ("RESOURCE_NOT_FOUND", Some(404)),
        ],
        status: 404,
        headers: &[],
        body: r#"{"status":"error","message":"No route for $context.httpMethod $context.path.","code":"route_not_found","request_id":"$context.requestId"}"#,
    },
    Definition {
        error: GatewayError::PayloadTooLarge,
        response_types: &[("REQUEST_TOO_LARGE", Some(413))],
        status: 413,
        headers: &[],
        body: r#"{"status":"error","message":"The request body is too large.","code":"payload_too_large","request_id":"$context.requestId"}"#,
    },
    Definition {
        error: GatewayError::AuthorizerFailure,
        response_types: &[
            ("AUTHORIZER_FAILURE", Some(503)),
            ("AUTHORIZER_CONFIGURATION_ERROR", Some(503)),
        ],
        status: 503,
        headers: &[("Retry-After", "1")],
        body: r#"{"status":"error","message":"The service is temporarily unavailable; retry later.","code":"service_unavailable","request_id":"$context.requestId"}"#,
    },
    Definition {
        error: GatewayError::IntegrationFailure,
        response_types: &[("INTEGRATION_FAILURE", Some(502)), ("DEFAULT_5XX", None)],
        status: 502,
        headers: &[],
        body: r#"{"status":"error","message":"Internal server error.","code":"internal_error","request_id":"$context.requestId"}"#,
    },
    Definition {
        error: GatewayError::IntegrationTimeout,
        response_types: &[("INTEGRATION_TIMEOUT", Some(504))],
        status: 504,
        headers: &[],
        body: r#"{"status":"error","message":"The request timed out.","code":"gateway_timeout","request_id":"$context.requestId"}"#,
    },
];

pub fn definition(error: GatewayError) -> &'static Definition {
    DEFINITIONS
        .iter()
        .find(|d| d.error == error)
        .expect("every GatewayError has a definition")
}

/// Escapes a value for use inside a JSON string (what `$context` substitution must not break).
fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("strings serialize");
    quoted[1..quoted.len() - 1].to_string()
}

/// Renders a body template with this request's values.
pub fn render_body(template: &str, request_id: &str, method: &str, path: &str) -> String {
    template
        .replace("$context.requestId", &json_escape(request_id))
        .replace("$context.httpMethod", &json_escape(method))
        .replace("$context.path", &json_escape(path))
}

/// The local gateway response for `error`.
pub fn gateway_response(
    error: GatewayError,
    request_id: &str,
    method: &str,
    path: &str,
) -> Response<Body> {
    let def = definition(error);
    let body = render_body(def.body, request_id, method, path);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(def.status).expect("valid status");
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in def.headers {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
            HeaderValue::from_static(value),
        );
    }
    add_request_id_headers(headers, request_id);
    response
}

pub fn add_request_id_headers(headers: &mut axum::http::HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), v.clone());
        headers.insert(HeaderName::from_static("x-request-id"), v);
    }
}

/// The `GatewayResponses` property of the `AWS::Serverless::Api` resource, as SAM YAML.
pub fn sam_gateway_responses_yaml() -> String {
    let mut out = String::from(
        "# Generated by `devstack gateway-responses` from tools/devstack/src/responses.rs.\n\
         # Paste under the AWS::Serverless::Api resource's Properties.\n\
         # x-amzn-RequestId is sent by API Gateway on every response. X-Request-Id is mapped from\n\
         # context.requestId; verify on the first deploy that API Gateway accepts that mapping for\n\
         # gateway responses (the documented sources are method.request.*, stageVariables and\n\
         # static values).\n\
         GatewayResponses:\n",
    );
    for def in DEFINITIONS {
        for (response_type, status) in def.response_types {
            out.push_str(&format!("  {response_type}:\n"));
            if let Some(status) = status {
                out.push_str(&format!("    StatusCode: {status}\n"));
            }
            out.push_str("    ResponseParameters:\n      Headers:\n");
            out.push_str("        Content-Type: \"'application/json'\"\n");
            out.push_str("        X-Request-Id: \"context.requestId\"\n");
            for (name, value) in def.headers {
                out.push_str(&format!(
                    "        {name}: {}\n",
                    yaml_quote(&format!("'{value}'"))
                ));
            }
            out.push_str("    ResponseTemplates:\n");
            out.push_str(&format!(
                "      application/json: {}\n",
                yaml_quote(def.body)
            ));
        }
    }
    out
}

/// A YAML single-quoted scalar.
fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_one_definition_and_valid_json_bodies() {
        for error in [
            GatewayError::Unauthorized,
            GatewayError::AccessDenied,
            GatewayError::RouteNotFound,
            GatewayError::PayloadTooLarge,
            GatewayError::AuthorizerFailure,
            GatewayError::IntegrationFailure,
            GatewayError::IntegrationTimeout,
        ] {
            assert_eq!(DEFINITIONS.iter().filter(|d| d.error == error).count(), 1);
            let body = render_body(definition(error).body, "rid\"1", "GET", "/a b");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(
                v.get("error").is_some() || v["request_id"] == "rid\"1",
                "{body}"
            );
        }
    }

    #[test]
    fn route_not_found_body() {
        let body = render_body(
            definition(GatewayError::RouteNotFound).body,
            "r-1",
            "DELETE",
            "/api/v1/x",
        );
        assert_eq!(
            body,
            r#"{"status":"error","message":"No route for DELETE /api/v1/x.","code":"route_not_found","request_id":"r-1"}"#
        );
    }

    #[test]
    fn sam_yaml_parses_and_has_every_type() {
        let yaml = sam_gateway_responses_yaml();
        let v: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        let responses = v["GatewayResponses"].as_mapping().unwrap();
        assert_eq!(responses.len(), 10);
        let unauthorized = &v["GatewayResponses"]["UNAUTHORIZED"];
        assert_eq!(unauthorized["StatusCode"].as_u64(), Some(401));
        assert_eq!(
            unauthorized["ResponseParameters"]["Headers"]["WWW-Authenticate"].as_str(),
            Some(r#"'Bearer error="invalid_token"'"#)
        );
        assert_eq!(
            unauthorized["ResponseTemplates"]["application/json"].as_str(),
            Some(OAUTH_INVALID_TOKEN)
        );
        assert!(v["GatewayResponses"]["DEFAULT_5XX"]
            .get("StatusCode")
            .is_none());
    }
}
