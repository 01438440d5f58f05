//! `GET /api/v1/openapi.json`: the OpenAPI document of this API, public (no authorizer).
//!
//! The document is `docs/openapi/openapi.yaml`, converted to JSON at compile time (`build.rs`).
//! The one change made when serving it: the deployment that answered is put first in `servers`,
//! so a client generator, Postman or a fuzzer pointed at this URL talks to this deployment.
//! No AWS client, no network call: the cold start is the process start.

use lambda_http::{run, service_fn, Body, Error, Request, Response};
use serde_json::{json, Value};
use shared::http::{self, RequestMeta};

const DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The document as served to a caller who reached the API at `base_url`.
fn document_for(doc: &Value, base_url: &str) -> Value {
    let mut doc = doc.clone();
    if let Some(servers) = doc.get_mut("servers").and_then(Value::as_array_mut) {
        servers.retain(|s| s.get("url").and_then(Value::as_str) != Some(base_url));
        servers.insert(
            0,
            json!({"url": base_url, "description": "this deployment (the one that served this document)"}),
        );
    }
    doc
}

fn respond(doc: &Value, public_base_url: Option<&str>, req: &Request) -> Response<Body> {
    let meta = RequestMeta::of(req);
    let base = http::base_url(req, public_base_url);
    let mut resp = http::finish(&meta, None, Ok((200, document_for(doc, &base))));
    resp.headers_mut().insert(
        "cache-control",
        "public, max-age=300".parse().expect("header value"),
    );
    resp
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let doc: &'static Value = Box::leak(Box::new(
        serde_json::from_str(DOCUMENT).expect("build.rs wrote JSON"),
    ));
    let public_base_url: Option<&'static str> = std::env::var("PUBLIC_BASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| &*Box::leak(s.trim_end_matches('/').to_string().into_boxed_str()));
    run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(respond(doc, public_base_url, &req))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_document_is_the_openapi_document() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(doc["paths"]["/api/v1/openapi.json"]["get"].is_object());
    }

    #[test]
    fn the_serving_deployment_comes_first_once() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        let n = doc["servers"].as_array().unwrap().len();
        let served = document_for(&doc, "http://127.0.0.1:8080");
        let servers = served["servers"].as_array().unwrap();
        assert_eq!(servers[0]["url"], "http://127.0.0.1:8080");
        // The local server of the repository copy is the same URL: listed once, not twice.
        assert_eq!(servers.len(), n);
        let other = document_for(
            &doc,
            "https://abc.execute-api.ap-southeast-1.amazonaws.com/staging",
        );
        assert_eq!(other["servers"].as_array().unwrap().len(), n + 1);
    }
}
