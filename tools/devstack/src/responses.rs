//! The responses the gateway itself generates (API Gateway "gateway responses").
//!
//! Their statuses, headers and bodies come from the template's `GatewayResponses` (the `Api`
//! resource in `infra/template.yaml`), the same definitions API Gateway deploys, so the local
//! stack and the deployed API cannot answer differently. This module only knows which response
//! type API Gateway uses in each situation, and API Gateway's own behaviour when a type is not
//! customized: the type's default status, then `DEFAULT_4XX` / `DEFAULT_5XX`, then the built-in
//! `{"message": ...}` body.
//!
//! | when | response type | default status |
//! |---|---|---|
//! | authorizer says `Unauthorized` (or no identity header) | `UNAUTHORIZED` | 401 |
//! | the authorizer's policy denies the method | `ACCESS_DENIED` | 403 |
//! | no route for method and path | `MISSING_AUTHENTICATION_TOKEN` | 403 |
//! | body over 10 MiB | `REQUEST_TOO_LARGE` | 413 |
//! | authorizer error, invalid output or timeout | `AUTHORIZER_FAILURE` | 500 |
//! | function error, crash or malformed response | `INTEGRATION_FAILURE` | 504 |
//! | function timeout or 29 s integration timeout | `INTEGRATION_TIMEOUT` | 504 |
//! | stage throttling (`devstack up --stage-throttle`) | `THROTTLED` | 429 |
//!
//! Not emulated locally: `QUOTA_EXCEEDED` and usage-plan throttling,
//! `WAF_FILTERED`, `INVALID_API_KEY`, `EXPIRED_TOKEN`; their definitions are checked by tests
//! only.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};

use crate::template::{GatewayHeaderValue, GatewayResponseDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    Unauthorized,
    AccessDenied,
    RouteNotFound,
    PayloadTooLarge,
    AuthorizerFailure,
    IntegrationFailure,
    IntegrationTimeout,
    Throttled,
}

#[cfg(test)]
pub const ALL: [GatewayError; 8] = [
    GatewayError::Unauthorized,
    GatewayError::AccessDenied,
    GatewayError::RouteNotFound,
    GatewayError::PayloadTooLarge,
    GatewayError::AuthorizerFailure,
    GatewayError::IntegrationFailure,
    GatewayError::IntegrationTimeout,
    GatewayError::Throttled,
];

impl GatewayError {
    /// The API Gateway response type, its default status and its built-in message.
    pub fn response_type(self) -> (&'static str, u16, &'static str) {
        match self {
            GatewayError::Unauthorized => ("UNAUTHORIZED", 401, "Unauthorized"),
            GatewayError::AccessDenied => (
                "ACCESS_DENIED",
                403,
                "User is not authorized to access this resource",
            ),
            GatewayError::RouteNotFound => (
                "MISSING_AUTHENTICATION_TOKEN",
                403,
                "Missing Authentication Token",
            ),
            GatewayError::PayloadTooLarge => ("REQUEST_TOO_LARGE", 413, "Request Too Long"),
            GatewayError::AuthorizerFailure => ("AUTHORIZER_FAILURE", 500, "null"),
            GatewayError::IntegrationFailure => {
                ("INTEGRATION_FAILURE", 504, "Internal server error")
            }
            GatewayError::IntegrationTimeout => {
                ("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")
            }
            GatewayError::Throttled => ("THROTTLED", 429, "Too Many Requests"),
        }
    }
}

/// The gateway responses of the template, answered as API Gateway answers them.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    defs: BTreeMap<String, GatewayResponseDef>,
}

/// What a gateway response is, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl GatewayResponses {
    pub fn new(defs: BTreeMap<String, GatewayResponseDef>) -> Self {
        GatewayResponses { defs }
    }

    /// API Gateway's choice for `error`: the type's own definition, else `DEFAULT_4XX` or
    /// `DEFAULT_5XX`, else the built-in body.
    pub fn render(
        &self,
        error: GatewayError,
        request_id: &str,
        method: &str,
        path: &str,
    ) -> Rendered {
        let (response_type, default_status, message) = error.response_type();
        let fallback = if default_status >= 500 {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let def = self
            .defs
            .get(response_type)
            .or_else(|| self.defs.get(fallback));
        let Some(def) = def else {
            let message = if message == "null" {
                "null".to_string()
            } else {
                serde_json::to_string(message).expect("strings serialize")
            };
            return Rendered {
                status: default_status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: format!("{{\"message\":{message}}}"),
            };
        };
        let mut headers = Vec::new();
        for (name, value) in &def.headers {
            let value = match value {
                GatewayHeaderValue::Static(s) => s.clone(),
                GatewayHeaderValue::RequestId => request_id.to_string(),
            };
            headers.push((name.clone(), value));
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        let body = match &def.body {
            Some(template) => render_body(template, request_id, method, path),
            None => format!(
                "{{\"message\":{}}}",
                serde_json::to_string(message).expect("strings serialize")
            ),
        };
        Rendered {
            status: def.status.unwrap_or(default_status),
            headers,
            body,
        }
    }

    /// The local gateway response for `error`.
    pub fn response(
        &self,
        error: GatewayError,
        request_id: &str,
        method: &str,
        path: &str,
    ) -> Response<Body> {
        let rendered = self.render(error, request_id, method, path);
        let mut response = Response::new(Body::from(rendered.body));
        *response.status_mut() =
            StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in rendered.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        response
    }
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

#[cfg(test)]
mod tests {
    //! The template's gateway responses are the contract's (shared/spec/partner-api.md): these
    //! tests read infra/template.yaml, the file API Gateway is deployed from and the local
    //! gateway reads.
    use super::*;
    use crate::template::Template;
    use serde_json::Value;

    const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

    fn responses() -> (GatewayResponses, Template) {
        let t = Template::parse(TEMPLATE).unwrap();
        (GatewayResponses::new(t.gateway_responses.clone()), t)
    }

    fn header<'a>(r: &'a Rendered, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn render_type(t: &Template, response_type: &str) -> Rendered {
        // Any GatewayError works as a carrier; render the named definition directly.
        let mut defs = BTreeMap::new();
        defs.insert(
            "UNAUTHORIZED".to_string(),
            t.gateway_responses[response_type].clone(),
        );
        GatewayResponses::new(defs).render(GatewayError::Unauthorized, "r-1", "GET", "/x")
    }

    fn assert_contract_error(r: &Rendered, status: u16, code: &str) {
        assert_eq!(r.status, status, "{r:?}");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{r:?}");
        assert_eq!(v["status"], "error");
        assert_eq!(v["code"], code);
        assert_eq!(v["request_id"], "r-1");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(header(r, "Content-Type"), Some("application/json"));
        assert_eq!(header(r, "X-Request-Id"), Some("r-1"));
    }

    #[test]
    fn every_gateway_error_has_its_own_definition_in_the_template() {
        let (_, t) = responses();
        for error in ALL {
            let (response_type, ..) = error.response_type();
            assert!(
                t.gateway_responses.contains_key(response_type),
                "infra/template.yaml lacks GatewayResponses.{response_type}"
            );
        }
        for other in [
            "RESOURCE_NOT_FOUND",
            "AUTHORIZER_CONFIGURATION_ERROR",
            "THROTTLED",
            "QUOTA_EXCEEDED",
            "DEFAULT_4XX",
            "DEFAULT_5XX",
        ] {
            assert!(t.gateway_responses.contains_key(other), "{other}");
        }
    }

    #[test]
    fn unauthorized_is_the_contracts_401_with_a_bearer_challenge() {
        let (g, _) = responses();
        let r = g.render(GatewayError::Unauthorized, "r-1", "GET", "/api/v1/x");
        assert_eq!(r.status, 401);
        assert_eq!(
            header(&r, "WWW-Authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "invalid_token");
        assert!(v["error_description"].is_string());
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn access_denied_is_403_insufficient_scope() {
        let (g, _) = responses();
        let r = g.render(GatewayError::AccessDenied, "r-1", "GET", "/api/v1/x");
        assert_eq!(r.status, 403);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["error"], "insufficient_scope");
    }

    #[test]
    fn gateway_errors_have_the_contracts_error_body() {
        let (g, t) = responses();
        let cases = [
            (GatewayError::RouteNotFound, 404, "route_not_found"),
            (GatewayError::PayloadTooLarge, 413, "payload_too_large"),
            (GatewayError::AuthorizerFailure, 503, "service_unavailable"),
            (GatewayError::IntegrationFailure, 502, "internal_error"),
            (GatewayError::IntegrationTimeout, 504, "gateway_timeout"),
            (GatewayError::Throttled, 429, "throttled"),
        ];
        for (error, status, code) in cases {
            assert_contract_error(&g.render(error, "r-1", "GET", "/api/v1/x"), status, code);
        }
        let r = g.render(GatewayError::RouteNotFound, "r-1", "DELETE", "/api/v1/x");
        assert!(
            r.body.contains("No route for DELETE /api/v1/x."),
            "{}",
            r.body
        );
        // Retry-After wherever the contract promises a retry.
        let r = g.render(GatewayError::AuthorizerFailure, "r-1", "GET", "/x");
        assert_eq!(header(&r, "Retry-After"), Some("1"));
        let r = g.render(GatewayError::Throttled, "r-1", "GET", "/x");
        assert_eq!(header(&r, "Retry-After"), Some("1"));
        for (ty, status, code) in [
            ("THROTTLED", 429, "throttled"),
            ("QUOTA_EXCEEDED", 429, "quota_exceeded"),
            ("AUTHORIZER_CONFIGURATION_ERROR", 503, "service_unavailable"),
            ("RESOURCE_NOT_FOUND", 404, "route_not_found"),
        ] {
            let r = render_type(&t, ty);
            assert_contract_error(&r, status, code);
            if status != 404 {
                let retry = header(&r, "Retry-After").unwrap_or_else(|| panic!("{ty}"));
                assert!(retry.parse::<u32>().is_ok(), "{ty}: {retry}");
            }
        }
        // DEFAULT_4XX / DEFAULT_5XX keep API Gateway's status and use the contract's body.
        for ty in ["DEFAULT_4XX", "DEFAULT_5XX"] {
            let def = &t.gateway_responses[ty];
            assert_eq!(def.status, None, "{ty}");
            let mut r = render_type(&t, ty);
            r.status = 400; // whatever API Gateway chose
            assert_contract_error(
                &r,
                400,
                if ty == "DEFAULT_4XX" {
                    "request_rejected"
                } else {
                    "internal_error"
                },
            );
        }
    }

    #[test]
    fn request_id_and_path_cannot_break_the_json() {
        let (g, _) = responses();
        let r = g.render(GatewayError::RouteNotFound, "rid\"1", "GET", "/a\"b\\c");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["request_id"], "rid\"1");
    }

    #[test]
    fn without_definitions_api_gateway_builtins_apply() {
        let g = GatewayResponses::default();
        let r = g.render(GatewayError::RouteNotFound, "r", "GET", "/x");
        assert_eq!(r.status, 403);
        assert_eq!(r.body, r#"{"message":"Missing Authentication Token"}"#);
        let mut defs = BTreeMap::new();
        defs.insert(
            "DEFAULT_5XX".to_string(),
            GatewayResponseDef {
                status: None,
                headers: vec![],
                body: Some("{\"id\":\"$context.requestId\"}".into()),
            },
        );
        let r =
            GatewayResponses::new(defs).render(GatewayError::IntegrationTimeout, "r", "GET", "/x");
        assert_eq!((r.status, r.body.as_str()), (504, r#"{"id":"r"}"#));
    }
}
