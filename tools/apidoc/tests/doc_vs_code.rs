//! The OpenAPI document (`docs/openapi/openapi.yaml`) versus the code. Each test collects every
//! disagreement it finds and fails with one line per disagreement, naming the path, method,
//! status, example or code concerned and the file to change.

use std::collections::{BTreeMap, BTreeSet};

use apidoc::{deref, document_routes, load_document, operations, template_routes, DOC_PATH};
use serde_json::{json, Map, Value};
use shared::auth::{Scope, Scopes};
use shared::domain::claim::{ClaimRequest, DocumentRequest};
use shared::domain::{
    CancelRequest, ClaimStatus, DeliveryStatus, PolicyStatus, Product, Quote, QuoteRequest,
    Submission, TrackingEvent, TrackingRequest,
};
use shared::error::ApiError;
use shared::oauth::OAuthError;
use shared::store::{DeliveryRecord, PolicyRecord, ProductRecord};

fn fail_on(problems: Vec<String>, what: &str) {
    if !problems.is_empty() {
        panic!(
            "{what}: {} disagreement(s) between {DOC_PATH} and the code:\n  - {}\n",
            problems.len(),
            problems.join("\n  - ")
        );
    }
}

fn source(rel: &str) -> String {
    let path = apidoc::workspace_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---- JSON Schema validation -----------------------------------------------------------------

/// The document's components with every object schema of `components.schemas` closed
/// (`unevaluatedProperties: false`), so a field the document does not declare is an error.
fn strict_components(doc: &Value) -> Value {
    let mut components = doc["components"].clone();
    if let Some(schemas) = components["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            let o = schema.as_object_mut().expect("schemas are objects");
            if o.contains_key("properties")
                && !o.contains_key("additionalProperties")
                && !o.contains_key("unevaluatedProperties")
            {
                o.insert("unevaluatedProperties".into(), json!(false));
            }
        }
    }
    components
}

struct Schemas {
    components: Value,
}

impl Schemas {
    fn new(doc: &Value) -> Self {
        Schemas {
            components: strict_components(doc),
        }
    }

    /// Validation errors of `value` against `schema` (which may `$ref` the components).
    fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut root = match schema {
            Value::Object(o) => o.clone(),
            Value::Bool(b) => {
                return if *b {
                    vec![]
                } else {
                    vec!["schema is false".into()]
                }
            }
            other => panic!("not a schema: {other}"),
        };
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("components".into(), self.components.clone());
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema does not compile: {e}\n{schema}"));
        validator
            .iter_errors(value)
            .map(|e| format!("at `{}`: {e}", e.instance_path()))
            .collect()
    }

    fn component(&self, name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }
}

// ---- 1. routes ------------------------------------------------------------------------------

#[test]
fn the_document_has_exactly_the_routes_of_the_template() {
    let doc = load_document();
    let documented = document_routes(&doc);
    let served = template_routes();
    assert!(!served.is_empty(), "no routes found in infra/template.yaml");
    let key = |r: &apidoc::Route| (r.method.clone(), r.path.clone());
    let doc_by: BTreeMap<_, _> = documented.iter().map(|r| (key(r), r)).collect();
    let tpl_by: BTreeMap<_, _> = served.iter().map(|r| (key(r), r)).collect();
    let mut problems = Vec::new();
    for (k, r) in &tpl_by {
        match doc_by.get(k) {
            None => problems.push(format!(
                "infra/template.yaml serves {r}, but {DOC_PATH} has no `paths.{}.{}` operation: document it",
                k.1,
                k.0.to_lowercase()
            )),
            Some(d) if d.public != r.public => problems.push(format!(
                "{} {}: infra/template.yaml says {}, {DOC_PATH} says {} (its `security`)",
                k.0,
                k.1,
                if r.public { "public (Authorizer: NONE)" } else { "behind the authorizer" },
                if d.public { "public" } else { "OAuth" }
            )),
            Some(_) => {}
        }
    }
    for (k, d) in &doc_by {
        if !tpl_by.contains_key(k) {
            problems.push(format!(
                "{DOC_PATH} documents {d}, but infra/template.yaml has no such route (it would answer 404 route_not_found)"
            ));
        }
    }
    fail_on(problems, "routes");
}

// ---- 2. completeness ------------------------------------------------------------------------

#[test]
fn every_operation_is_documented_completely() {
    let doc = load_document();
    let scopes: BTreeSet<String> = doc["components"]["securitySchemes"]["partnerOAuth"]["flows"]
        ["clientCredentials"]["scopes"]
        .as_object()
        .expect("partnerOAuth has client-credentials scopes")
        .keys()
        .cloned()
        .collect();
    let code_scopes: BTreeSet<String> = Scope::ALL.iter().map(|s| s.as_str().to_string()).collect();
    let mut problems = Vec::new();
    if scopes != code_scopes {
        problems.push(format!(
            "partnerOAuth scopes {scopes:?} differ from shared::auth::Scope {code_scopes:?}"
        ));
    }
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        match op["operationId"].as_str() {
            None => problems.push(format!("{at}: no operationId")),
            Some(id) if !ids.insert(id.to_string()) => {
                problems.push(format!("{at}: operationId {id} is used twice"))
            }
            _ => {}
        }
        for field in ["summary", "description", "tags"] {
            if op.get(field).is_none() {
                problems.push(format!("{at}: no {field}"));
            }
        }
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        if !responses.keys().any(|s| s.starts_with('2')) {
            problems.push(format!("{at}: no 2xx response"));
        }
        let authorized = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("partnerOAuth").is_some()));
        if authorized {
            for r in op["security"].as_array().into_iter().flatten() {
                for s in r["partnerOAuth"].as_array().into_iter().flatten() {
                    if !scopes.contains(s.as_str().unwrap_or("")) {
                        problems.push(format!("{at}: security names unknown scope {s}"));
                    }
                }
            }
            for status in ["401", "403"] {
                if !responses.contains_key(status) {
                    problems.push(format!("{at}: authorized, but no {status} response"));
                }
            }
        }
        for (status, resp) in &responses {
            let resp = deref(&doc, resp);
            if resp.get("description").is_none() {
                problems.push(format!("{at} {status}: no description"));
            }
            for (media_type, media) in resp["content"].as_object().into_iter().flatten() {
                let has = media["examples"].as_object().is_some_and(|e| !e.is_empty())
                    || media.get("example").is_some();
                if !has {
                    problems.push(format!("{at} {status} {media_type}: no example"));
                }
            }
        }
        for (media_type, media) in op["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if media["examples"].as_object().is_none_or(|e| e.is_empty()) {
                problems.push(format!("{at} request {media_type}: no example"));
            }
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = deref(&doc, p);
            if p.get("example").is_none() && p.get("examples").is_none() {
                problems.push(format!("{at}: parameter {} has no example", p["name"]));
            }
        }
    }
    fail_on(problems, "completeness");
}

// ---- 3. examples ----------------------------------------------------------------------------

/// (where, schema, example value) of every example in the document.
fn examples(doc: &Value) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    let media_examples = |out: &mut Vec<(String, Value, Value)>, at: String, media: &Value| {
        let schema = media["schema"].clone();
        if let Some(ex) = media.get("example") {
            out.push((at.clone(), schema.clone(), ex.clone()));
        }
        for (name, ex) in media["examples"].as_object().into_iter().flatten() {
            let ex = deref(doc, ex);
            if let Some(v) = ex.get("value") {
                out.push((format!("{at} example `{name}`"), schema.clone(), v.clone()));
            }
        }
    };
    // The routes, and the webhooks (each event type is an operation of `webhooks`).
    let webhooks = doc["webhooks"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(name, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(m, op)| (m.to_ascii_uppercase(), format!("webhooks.{name}"), op))
        });
    for (method, path, op) in operations(doc).into_iter().chain(webhooks) {
        for (mt, media) in op["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            media_examples(&mut out, format!("{method} {path} request {mt}"), media);
        }
        for (status, resp) in op["responses"].as_object().into_iter().flatten() {
            let resp = deref(doc, resp);
            for (mt, media) in resp["content"].as_object().into_iter().flatten() {
                media_examples(&mut out, format!("{method} {path} {status} {mt}"), media);
            }
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = deref(doc, p);
            if let Some(ex) = p.get("example") {
                out.push((
                    format!("{method} {path} parameter {}", p["name"]),
                    p["schema"].clone(),
                    ex.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn every_example_validates_against_its_schema() {
    let doc = load_document();
    let schemas = Schemas::new(&doc);
    let all = examples(&doc);
    assert!(all.len() > 50, "only {} examples found", all.len());
    let mut problems = Vec::new();
    for (at, schema, value) in &all {
        for e in schemas.errors(schema, value) {
            problems.push(format!("{at}: {e}"));
        }
    }
    // Schema-level `examples` too.
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for (i, ex) in schema["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for e in schemas.errors(&schemas.component(name), ex) {
                problems.push(format!("components.schemas.{name}.examples[{i}]: {e}"));
            }
        }
    }
    fail_on(problems, "examples");
}

// ---- 4. error codes -------------------------------------------------------------------------

/// One `ApiError` of every variant. `error_codes_of_the_code_are_all_sampled` fails when
/// shared/src/error.rs gains a code that is not sampled here.
fn api_error_samples() -> Vec<ApiError> {
    vec![
        ApiError::validation("item_value", "must be at least 1."),
        ApiError::InvalidJson("The request body is not valid JSON.".into()),
        ApiError::UnknownProduct("nope".into()),
        ApiError::ItemValueTooHigh {
            value: 40_000_000,
            max: 30_000_000,
        },
        ApiError::PremiumMismatch {
            given: 14_000,
            expected: 15_000,
        },
        ApiError::InvalidCursor,
        ApiError::InvalidToken("The partner of this token is not active.".into()),
        ApiError::InsufficientScope(Scope::Insurance),
        ApiError::InvalidSignature,
        ApiError::NotFound("tracking_number TN404 was not found.".into()),
        ApiError::DuplicateTrackingNumber("TN001".into()),
        ApiError::InvalidStatusTransition {
            current: DeliveryStatus::InProcess,
            requested: DeliveryStatus::Returned,
        },
        ApiError::PolicyCancelled,
        ApiError::CancellationNotAllowed(DeliveryStatus::Success),
        ApiError::ClaimNotEligible("claim_type damage: the delivery is in_delivery.".into()),
        ApiError::ClaimPolicyCancelled,
        ApiError::ClaimExists("clm_01m8b2x6q3f9r7t5v4w2y0z8a6".into()),
        ApiError::InvalidClaimTransition {
            current: ClaimStatus::Approved,
            requested: ClaimStatus::Withdrawn,
        },
        ApiError::ClaimLocked {
            current: ClaimStatus::Paid,
            what: "documents",
        },
        ApiError::ClaimLimitReached {
            what: "notes",
            max: 20,
        },
        ApiError::CancellationClaimed("clm_01m8b2x6q3f9r7t5v4w2y0z8a6".into()),
        ApiError::UnknownQuote("quo_01m88pq2x3v4b5n6m7k8j9h0gf".into()),
        ApiError::QuoteMismatch {
            quote_id: "quo_01m88pq2x3v4b5n6m7k8j9h0gf".into(),
            field: "item_value",
            quoted: "3000000".into(),
            given: "3500000".into(),
        },
        ApiError::QuoteExpired {
            quote_id: "quo_01m88pq2x3v4b5n6m7k8j9h0gf".into(),
            valid_until: "2026-11-25T06:47:44.658Z".into(),
        },
        ApiError::PayloadTooLarge(65536),
        ApiError::UnsupportedMediaType,
        ApiError::Unavailable("detail".into()),
        ApiError::Internal("detail".into()),
        ApiError::EndpointLimitReached(10),
        ApiError::EndpointDisabled("we_01m8x57tckd32tcwh6zgb3z309".into()),
        ApiError::NoSubscribedEndpoint("policy.issued".into()),
    ]
}

fn oauth_error_samples() -> Vec<OAuthError> {
    vec![
        OAuthError::InvalidRequest("grant_type is required.".into()),
        OAuthError::UnsupportedGrantType,
        OAuthError::InvalidScope("Unknown scope admin.".into()),
        OAuthError::InvalidClient { basic: true },
        OAuthError::Unavailable("detail".into()),
        OAuthError::Internal("detail".into()),
    ]
}

/// The string literals `=> "..."` inside `fn <name>` of a source file (up to the next `fn`).
fn codes_in_fn(text: &str, name: &str) -> BTreeSet<String> {
    let start = text
        .find(&format!("fn {name}("))
        .unwrap_or_else(|| panic!("fn {name} not found"));
    let rest = &text[start + 3..];
    let body = &rest[..rest.find("\n    pub fn ").unwrap_or(rest.len())];
    let mut out = BTreeSet::new();
    let mut s = body;
    while let Some(i) = s.find("\"") {
        let after = &s[i + 1..];
        let Some(j) = after.find('"') else { break };
        let lit = &after[..j];
        // (`error` and `error_description` are the OAuth body's keys, not codes.)
        if !lit.is_empty()
            && lit.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && lit != "error"
            && lit != "error_description"
        {
            out.insert(lit.to_string());
        }
        s = &after[j + 1..];
    }
    out
}

/// Codes the gateway answers by itself: the template's `GatewayResponses` (which devstack serves
/// as they are): code -> statuses.
fn gateway_codes() -> BTreeMap<String, BTreeSet<u16>> {
    let template: serde_yaml::Value =
        serde_yaml::from_str(&source("infra/template.yaml")).expect("infra/template.yaml is YAML");
    let responses = template["Resources"]["Api"]["Properties"]["GatewayResponses"]
        .as_mapping()
        .expect("the Api resource of infra/template.yaml has GatewayResponses");
    let mut out: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (name, r) in responses {
        // DEFAULT_4XX / DEFAULT_5XX keep the status of whatever API Gateway rejected; they are
        // catch-alls for gateway errors no route answers, not answers an operation documents.
        if r.get("StatusCode").is_none() {
            continue;
        }
        let status: u16 = match &r["StatusCode"] {
            serde_yaml::Value::Number(n) => n.as_u64().map(|n| n as u16),
            serde_yaml::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or_else(|| panic!("GatewayResponses.{name:?} has no StatusCode"));
        let body = r["ResponseTemplates"]["application/json"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("GatewayResponses.{name:?} has no application/json template")
            });
        let body: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("GatewayResponses.{name:?} body is not JSON: {e}"));
        let code = body["code"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or_else(|| panic!("GatewayResponses.{name:?} body has no code: {body}"));
        out.entry(code.to_string()).or_default().insert(status);
    }
    out
}

/// The `enum` of a component schema, or of its `error` property (the OAuth bodies).
fn enum_of(doc: &Value, schema: &str) -> BTreeSet<String> {
    let s = &doc["components"]["schemas"][schema];
    s["enum"]
        .as_array()
        .or(s["properties"]["error"]["enum"].as_array())
        .unwrap_or_else(|| panic!("components.schemas.{schema} has no enum"))
        .iter()
        .map(|v| v.as_str().expect("string codes").to_string())
        .collect()
}

#[test]
fn error_codes_of_the_code_are_all_sampled() {
    let in_source = codes_in_fn(&source("shared/src/error.rs"), "code");
    let sampled: BTreeSet<String> = api_error_samples()
        .iter()
        .map(|e| e.code().to_string())
        .collect();
    assert_eq!(
        in_source, sampled,
        "shared/src/error.rs `ApiError::code` (left) and the samples in tools/apidoc/tests/doc_vs_code.rs \
         (right) differ: add a sample of the new variant so its code and status are checked against {DOC_PATH}"
    );
    let in_source = codes_in_fn(&source("shared/src/oauth.rs"), "body");
    let sampled: BTreeSet<String> = oauth_error_samples()
        .iter()
        .map(|e| e.body()["error"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        in_source, sampled,
        "shared/src/oauth.rs `OAuthError::body` codes (left) and the samples (right) differ"
    );
}

#[test]
fn error_code_enums_equal_the_codes_of_the_code() {
    let doc = load_document();
    let gateway = gateway_codes();
    let mut problems = Vec::new();
    let mut compare = |schema: &str, expected: BTreeSet<String>, whence: &str| {
        let documented = enum_of(&doc, schema);
        for c in expected.difference(&documented) {
            problems.push(format!(
                "code `{c}` ({whence}) is missing from components.schemas.{schema}.enum"
            ));
        }
        for c in documented.difference(&expected) {
            problems.push(format!(
                "components.schemas.{schema}.enum has `{c}`, which no code produces ({whence})"
            ));
        }
    };
    let api = api_error_samples();
    let mut error_codes: BTreeSet<String> = api
        .iter()
        .filter(|e| !e.is_oauth())
        .map(|e| e.code().to_string())
        .collect();
    error_codes.extend(
        gateway
            .keys()
            .filter(|c| !["invalid_token", "insufficient_scope"].contains(&c.as_str()))
            .cloned(),
    );
    compare(
        "ErrorCode",
        error_codes,
        "shared/src/error.rs ApiError::code + tools/devstack/src/responses.rs + API Gateway throttling",
    );
    let bearer: BTreeSet<String> = api
        .iter()
        .filter(|e| e.is_oauth())
        .map(|e| e.code().to_string())
        .collect();
    compare(
        "BearerError",
        bearer,
        "shared/src/error.rs OAuth-shaped ApiError",
    );
    let oauth: BTreeSet<String> = oauth_error_samples()
        .iter()
        .map(|e| e.body()["error"].as_str().unwrap().to_string())
        .collect();
    compare("OAuthError", oauth, "shared/src/oauth.rs OAuthError::body");
    fail_on(problems, "error codes");
}

/// The `code` (or OAuth `error`) values a response schema allows: `const`/`enum` on the
/// `code`/`error` property of the schema, its `allOf` parts and its `oneOf` branches.
fn constrained_codes(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    let schema = deref(doc, schema);
    for field in ["code", "error"] {
        let p = &schema["properties"][field];
        if let Some(c) = p["const"].as_str() {
            out.insert(c.to_string());
        }
        for c in p["enum"].as_array().into_iter().flatten() {
            out.insert(c.as_str().unwrap_or_default().to_string());
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            // The base schemas' own enums (every code) are not a constraint of the response.
            if s.get("$ref").is_some() {
                continue;
            }
            constrained_codes(doc, s, out);
        }
    }
}

#[test]
fn every_documented_error_code_has_the_status_the_code_gives_it() {
    let doc = load_document();
    let mut status_of: BTreeMap<String, BTreeSet<u16>> = gateway_codes();
    for e in api_error_samples() {
        status_of
            .entry(e.code().to_string())
            .or_default()
            .insert(e.status());
    }
    for e in oauth_error_samples() {
        status_of
            .entry(e.body()["error"].as_str().unwrap().to_string())
            .or_default()
            .insert(e.status());
    }
    let mut problems = Vec::new();
    let mut documented_anywhere = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        for (status, resp) in op["responses"].as_object().into_iter().flatten() {
            let resp = deref(&doc, resp);
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let Some(schema) = resp["content"]["application/json"].get("schema") else {
                continue;
            };
            let mut codes = BTreeSet::new();
            constrained_codes(&doc, schema, &mut codes);
            if status >= 400 && codes.is_empty() {
                problems.push(format!(
                    "{method} {path} {status}: the error schema does not say which `code`/`error` values it has"
                ));
            }
            for code in codes {
                documented_anywhere.insert(code.clone());
                match status_of.get(&code) {
                    None => problems.push(format!(
                        "{method} {path} {status}: code `{code}` is produced nowhere in the code"
                    )),
                    Some(s) if !s.contains(&status) => problems.push(format!(
                        "{method} {path}: code `{code}` is documented under {status}, but the code answers it with {s:?}"
                    )),
                    _ => {}
                }
            }
        }
    }
    for code in status_of.keys() {
        if !documented_anywhere.contains(code) {
            problems.push(format!(
                "code `{code}` is not documented under any operation's responses"
            ));
        }
    }
    fail_on(problems, "error statuses");
}

// ---- 5. signature ---------------------------------------------------------------------------

#[test]
fn signature_test_vectors_are_those_of_shared_signature() {
    let doc = load_document();
    let vectors = doc["x-signature-test-vectors"]
        .as_array()
        .expect("the document has x-signature-test-vectors");
    assert!(vectors.len() >= 3);
    let description = doc["info"]["description"].as_str().unwrap_or("");
    let mut problems = Vec::new();
    for v in vectors {
        let key = v["api_token_key"].as_str().expect("api_token_key");
        let tn = v["tracking_number"].as_str().expect("tracking_number");
        let premium = v["premium_amount"].as_u64().expect("premium_amount");
        let documented = v["signature"].as_str().expect("signature");
        let computed = shared::signature::compute(key, tn, premium);
        if documented != computed {
            problems.push(format!(
                "x-signature-test-vectors ({key}, {tn}, {premium}): the document says {documented}, shared::signature::compute gives {computed}"
            ));
        }
        let row =
            format!("| `{key}` | `{tn}` | `{premium}` | `{key}{tn}{premium}` | `{computed}` |");
        if !description.contains(&row) {
            problems.push(format!(
                "info.description has no test-vector table row `{row}`"
            ));
        }
    }
    fail_on(problems, "signature vectors");
}

/// The key the document's examples are signed with.
const EXAMPLE_KEY: &str = "secretkey";

fn request_examples(doc: &Value, method: &str, path: &str) -> Vec<(String, Map<String, Value>)> {
    let op = &doc["paths"][path][method.to_lowercase()];
    let media = &op["requestBody"]["content"]["application/json"];
    media["examples"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has no JSON request examples"))
        .iter()
        .map(|(name, ex)| {
            let v = deref(doc, ex)["value"].clone();
            (
                format!("{method} {path} example `{name}`"),
                v.as_object().cloned().expect("object example"),
            )
        })
        .collect()
}

// ---- 6. the code's parsers and serialisers --------------------------------------------------

/// A delivery as the store would hold it after the document's Submit example.
fn record_from(submission: Submission) -> DeliveryRecord {
    DeliveryRecord {
        partner_id: "ptn_01m88peg49gbkevwrbsr2jsfq1".into(),
        fingerprint: submission.fingerprint(),
        policy: PolicyRecord {
            policy_id: "pol_01m88pg6bj7gvrmehq193tgtwg".into(),
            policy_status: PolicyStatus::Active,
            premium_amount: submission.premium_amount,
            currency: "VND".into(),
            product_code: submission.product_code.as_str().to_string(),
            premium_rate_bps: 50,
            min_premium: 5000,
            max_item_value: 30_000_000,
            issued_at: "2026-11-25T06:32:44.658Z".into(),
            cancellation: None,
            cancelled_at: None,
            loss_after_days: 7,
            damage_claim_days: 14,
        },
        submission,
        delivery_status: DeliveryStatus::Created,
        created_at: "2026-11-25T06:32:44.658Z".into(),
        updated_at: "2026-11-25T06:32:44.658Z".into(),
        version: 1,
        batches: vec![],
        event_ids: vec![],
        claims: Default::default(),
    }
}

const URL: &str = "http://127.0.0.1:8080/certificates/pol_01m88pg6bj7gvrmehq193tgtwg.dda9239a19210714b00e0eccb6c7b2d2";

#[test]
fn request_examples_are_accepted_by_the_parsers_and_correctly_signed() {
    let doc = load_document();
    let mut problems = Vec::new();
    for (at, body) in request_examples(&doc, "POST", "/api/v1/sme-deliveries") {
        match Submission::parse(&body) {
            Err(e) => problems.push(format!("{at}: Submission::parse rejects it: {e}")),
            Ok((s, sig)) => {
                let want = shared::signature::compute(
                    EXAMPLE_KEY,
                    s.tracking_number.as_str(),
                    s.premium_amount,
                );
                if sig != want {
                    problems.push(format!(
                        "{at}: signature {sig}, but key `{EXAMPLE_KEY}` gives {want}"
                    ));
                }
            }
        }
    }
    // Tracking and Cancel are signed with the premium of the policy: 15000 in every example.
    for (at, body) in request_examples(&doc, "POST", "/api/v1/tracking-details") {
        match TrackingRequest::parse(&body) {
            Err(e) => problems.push(format!("{at}: TrackingRequest::parse rejects it: {e}")),
            Ok(r) => {
                if !shared::signature::verify(
                    [EXAMPLE_KEY],
                    r.tracking_number.as_str(),
                    15000,
                    &r.signature,
                ) {
                    problems.push(format!(
                        "{at}: the signature is not that of key `{EXAMPLE_KEY}` and premium 15000"
                    ));
                }
            }
        }
    }
    for (at, body) in request_examples(&doc, "POST", "/api/v1/sme-deliveries/cancel") {
        match CancelRequest::parse(&body) {
            Err(e) => problems.push(format!("{at}: CancelRequest::parse rejects it: {e}")),
            Ok(r) => {
                if !shared::signature::verify(
                    [EXAMPLE_KEY],
                    r.tracking_number.as_str(),
                    15000,
                    &r.signature,
                ) {
                    problems.push(format!(
                        "{at}: the signature is not that of key `{EXAMPLE_KEY}` and premium 15000"
                    ));
                }
            }
        }
    }
    // Claims: signed over the claim's tracking number and claimed amount (TN001, 1500000 in
    // every example: the claim of the File example).
    let mut claim_key = None;
    for (at, body) in request_examples(&doc, "POST", "/api/v1/claims") {
        match ClaimRequest::parse(&body) {
            Err(e) => problems.push(format!("{at}: ClaimRequest::parse rejects it: {e}")),
            Ok((r, sig)) => {
                let want = shared::signature::compute(
                    EXAMPLE_KEY,
                    r.tracking_number.as_str(),
                    r.claimed_amount,
                );
                if sig != want {
                    problems.push(format!(
                        "{at}: signature {sig}, but key `{EXAMPLE_KEY}` gives {want}"
                    ));
                }
                claim_key = Some((r.tracking_number.as_str().to_string(), r.claimed_amount));
            }
        }
    }
    let (tn, amount) = claim_key.expect("a File claim example");
    let signed = |at: &str, sig: &str, problems: &mut Vec<String>| {
        if !shared::signature::verify([EXAMPLE_KEY], &tn, amount, sig) {
            problems.push(format!(
                "{at}: the signature is not that of key `{EXAMPLE_KEY}` over {tn} and {amount}"
            ));
        }
    };
    for (at, body) in request_examples(&doc, "POST", "/api/v1/claims/{claim_id}/documents") {
        match DocumentRequest::parse(&body) {
            Err(e) => problems.push(format!("{at}: DocumentRequest::parse rejects it: {e}")),
            Ok((_, sig)) => signed(&at, &sig, &mut problems),
        }
    }
    for (path, field) in [
        ("/api/v1/claims/{claim_id}/notes", "message"),
        ("/api/v1/claims/{claim_id}/withdraw", "reason"),
    ] {
        for (at, body) in request_examples(&doc, "POST", path) {
            match shared::domain::claim::parse_text(&body, field) {
                Err(e) => problems.push(format!("{at}: the {field} parser rejects it: {e}")),
                Ok((_, sig)) => signed(&at, &sig, &mut problems),
            }
        }
    }
    for (at, body) in request_examples(&doc, "POST", "/api/v1/quotes") {
        if let Err(e) = QuoteRequest::parse(&body) {
            problems.push(format!("{at}: QuoteRequest::parse rejects it: {e}"));
        }
    }
    fail_on(problems, "request examples");
}

/// The example values of the response `method path status` (application/json).
fn response_examples(doc: &Value, method: &str, path: &str, status: &str) -> Vec<Value> {
    let op = &doc["paths"][path][method.to_lowercase()];
    let resp = deref(doc, &op["responses"][status]);
    resp["content"]["application/json"]["examples"]
        .as_object()
        .unwrap_or_else(|| panic!("{DOC_PATH} has no examples for {method} {path} {status}"))
        .values()
        .map(|e| deref(doc, e)["value"].clone())
        .collect()
}

/// The response schema of `method path status` (application/json).
fn response_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    let resp = deref(doc, &op["responses"][status]);
    resp["content"]["application/json"]["schema"]
        .as_object()
        .map(|o| Value::Object(o.clone()))
        .unwrap_or_else(|| panic!("{DOC_PATH} has no JSON schema for {method} {path} {status}"))
}

#[test]
fn what_the_code_serialises_validates_against_the_response_schemas() {
    let doc = load_document();
    let schemas = Schemas::new(&doc);
    let mut problems = Vec::new();
    let check = |problems: &mut Vec<String>, what: &str, schema: Value, value: &Value| {
        for e in schemas.errors(&schema, value) {
            problems.push(format!("{what}: {e}\n      value: {value}"));
        }
    };

    // Build a delivery from the document's own request examples, through the real parsers.
    let (_, submit) = request_examples(&doc, "POST", "/api/v1/sme-deliveries")
        .into_iter()
        .next()
        .expect("a Submit example");
    let (submission, _) = Submission::parse(&submit).expect("the Submit example parses");
    let mut rec = record_from(submission);
    let mut history: Vec<TrackingEvent> = Vec::new();
    for (_, body) in request_examples(&doc, "POST", "/api/v1/tracking-details") {
        history.extend(TrackingRequest::parse(&body).expect("parses").events);
    }
    let get = "/api/v1/sme-deliveries/{tracking_number}";
    let by_policy = "/api/v1/policies/{policy_id}";
    let value = shared::service::delivery_json(&rec, Some(&history), URL);
    check(
        &mut problems,
        "delivery_json (active, with history)",
        response_schema(&doc, "GET", get, "200"),
        &value,
    );
    check(
        &mut problems,
        "delivery_json (active, with history)",
        response_schema(&doc, "GET", by_policy, "200"),
        &value,
    );
    let list =
        json!({"items": [shared::service::delivery_json(&rec, None, URL)], "next_cursor": null});
    check(
        &mut problems,
        "list page",
        response_schema(&doc, "GET", "/api/v1/sme-deliveries", "200"),
        &list,
    );

    let (_, cancel) = request_examples(&doc, "POST", "/api/v1/sme-deliveries/cancel")
        .into_iter()
        .next()
        .expect("a Cancel example");
    let cancel = CancelRequest::parse(&cancel).expect("the Cancel example parses");
    let (status, reply) =
        shared::service::cancel_reply(&rec, &cancel.cancellation, "The policy is cancelled.");
    check(
        &mut problems,
        "cancel_reply",
        response_schema(
            &doc,
            "POST",
            "/api/v1/sme-deliveries/cancel",
            &status.to_string(),
        ),
        &reply,
    );
    rec.policy.policy_status = PolicyStatus::Cancelled;
    rec.policy.cancellation = Some(cancel.cancellation.clone());
    rec.policy.cancelled_at = Some("2026-11-25T06:32:45.693Z".into());
    let value = shared::service::delivery_json(&rec, Some(&[]), URL);
    check(
        &mut problems,
        "delivery_json (cancelled)",
        response_schema(&doc, "GET", get, "200"),
        &value,
    );

    let (status, reply) = shared::service::tracking_reply("TN001", DeliveryStatus::InProcess, 2);
    check(
        &mut problems,
        "tracking_reply",
        response_schema(
            &doc,
            "POST",
            "/api/v1/tracking-details",
            &status.to_string(),
        ),
        &reply,
    );

    // Claims: a claim built from the document's File example, through the real parser, at
    // every stage; the delivery's summary of it.
    let (_, file) = request_examples(&doc, "POST", "/api/v1/claims")
        .into_iter()
        .next()
        .expect("a File claim example");
    let (req, _) = ClaimRequest::parse(&file).expect("the File claim example parses");
    let claim = sample_claim(req);
    let up: BTreeMap<String, u64> = BTreeMap::from([(
        claim.documents[0].document_id.clone(),
        claim.documents[0].size_bytes,
    )]);
    for (what, value) in [
        (
            "claim_json (paid, uploaded known)",
            shared::service::claim_json(&claim, Some(&up)),
        ),
        (
            "claim_json (uploaded unknown)",
            shared::service::claim_json(&claim, None),
        ),
    ] {
        check(
            &mut problems,
            what,
            response_schema(&doc, "GET", "/api/v1/claims/{claim_id}", "200"),
            &value,
        );
    }
    let page =
        json!({"items": [shared::service::claim_list_item_json(&claim)], "next_cursor": null});
    check(
        &mut problems,
        "claims list page",
        response_schema(&doc, "GET", "/api/v1/claims", "200"),
        &page,
    );
    rec.claims
        .claims
        .insert(claim.claim_id.clone(), claim.summary());
    let value = shared::service::delivery_json(&rec, Some(&[]), URL);
    check(
        &mut problems,
        "delivery_json (with a claim)",
        response_schema(&doc, "GET", get, "200"),
        &value,
    );
    // The catalogue and quotes, from the document's own product and quote request examples.
    let product = |p: &Value| ProductRecord {
        product: serde_json::from_value::<Product>(p.clone()).expect("a product example"),
        updated_at: p["updated_at"].as_str().expect("updated_at").to_string(),
    };
    let listed = response_examples(&doc, "GET", "/api/v1/products", "200");
    let records: Vec<ProductRecord> = listed[0]["items"]
        .as_array()
        .expect("the catalogue example lists products")
        .iter()
        .map(product)
        .collect();
    check(
        &mut problems,
        "catalogue_json",
        response_schema(&doc, "GET", "/api/v1/products", "200"),
        &shared::service::catalogue_json(&records),
    );
    if shared::service::catalogue_json(&records) != listed[0] {
        problems.push(
            "GET /api/v1/products 200 example is not what catalogue_json gives for its products"
                .into(),
        );
    }
    let one = &response_examples(&doc, "GET", "/api/v1/products/{product_code}", "200")[0];
    let value = shared::service::product_json(&product(one));
    check(
        &mut problems,
        "product_json",
        response_schema(&doc, "GET", "/api/v1/products/{product_code}", "200"),
        &value,
    );
    if &value != one {
        problems.push(
            "GET /api/v1/products/{product_code} 200 example is not what product_json gives".into(),
        );
    }
    for (at, body) in request_examples(&doc, "POST", "/api/v1/quotes") {
        let req = QuoteRequest::parse(&body).expect("the quote example parses");
        let quote = Quote::issue(
            "ptn_01m88peg49gbkevwrbsr2jsfq1",
            &product(one),
            &req,
            shared::time_fmt::now(),
            shared::service::QUOTE_VALIDITY,
        )
        .expect("the quote example is quotable");
        check(
            &mut problems,
            &format!("{at}: Quote::reply"),
            response_schema(&doc, "POST", "/api/v1/quotes", "200"),
            &quote.reply(),
        );
    }

    // Token endpoint.
    let scopes = Scopes::parse("insurance tracking control_tower claims").expect("scopes");
    check(
        &mut problems,
        "oauth::token_body",
        response_schema(&doc, "POST", "/oauth/token", "200"),
        &shared::oauth::token_body("eyJ.e30.sig", &scopes),
    );
    for e in oauth_error_samples() {
        let status = e.status().to_string();
        check(
            &mut problems,
            &format!("OAuthError {:?}", e),
            response_schema(&doc, "POST", "/oauth/token", &status),
            &e.body(),
        );
    }

    // Every error body, against the response of every operation that documents its status and code.
    for e in api_error_samples() {
        let resp = shared::http::error_response(&e, "29ff3f80-f7fb-4420-b79e-868def81a888");
        let body: Value = serde_json::from_slice(resp.body().as_ref()).expect("JSON error body");
        let status = e.status().to_string();
        let mut documented = false;
        for (method, path, op) in operations(&doc) {
            let Some(r) = op["responses"].get(&status) else {
                continue;
            };
            let r = deref(&doc, r);
            let Some(schema) = r["content"]["application/json"].get("schema") else {
                continue;
            };
            let mut codes = BTreeSet::new();
            constrained_codes(&doc, schema, &mut codes);
            if !codes.contains(e.code()) {
                continue;
            }
            documented = true;
            check(
                &mut problems,
                &format!("{method} {path} {status} {}", e.code()),
                schema.clone(),
                &body,
            );
        }
        if !documented {
            problems.push(format!(
                "{} ({status}) is documented under no operation",
                e.code()
            ));
        }
    }
    // Webhooks: an endpoint as the API shows it, and an event body as sent and logged.
    let endpoint = shared::store::EndpointRecord {
        endpoint_id: "we_01m8x57tckd32tcwh6zgb3z309".into(),
        partner_id: "ptn_1".into(),
        url: "https://hooks.partner.example/x".into(),
        event_types: Some(vec!["policy.issued".into()]),
        description: None,
        enabled: false,
        disabled_reason: Some("Disabled by the partner.".into()),
        disabled_at: Some("2026-12-03T05:15:07.383Z".into()),
        secret_sealed: "v1.x".into(),
        previous_secret_sealed: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: "2026-12-03T05:15:07.383Z".into(),
        updated_at: "2026-12-03T05:15:07.383Z".into(),
        revision: 2,
    };
    check(
        &mut problems,
        "endpoint_json",
        response_schema(
            &doc,
            "GET",
            "/api/v1/webhook-endpoints/{endpoint_id}",
            "200",
        ),
        &shared::service::endpoint_json(&endpoint),
    );
    let view = shared::service::delivery_json(&rec, None, URL);
    let mut before = rec.clone();
    before.version = rec.version.saturating_sub(1).max(1);
    before.policy.policy_status = PolicyStatus::Active;
    let mut after = rec.clone();
    after.version = before.version + 1;
    after.delivery_status = DeliveryStatus::InDelivery;
    // A claim's events: its filing, and its payout (the sample claim, paid, from approved).
    let mut approved = claim.clone();
    approved.version -= 1;
    approved.claim_status = ClaimStatus::Approved;
    let claim_events = shared::service::events::claim_record_events(None, &claim)
        .into_iter()
        .chain(shared::service::events::claim_record_events(
            Some(&approved),
            &claim,
        ));
    for e in shared::webhooks::event::delivery_events(None, &rec, &view)
        .into_iter()
        .chain(shared::webhooks::event::delivery_events(
            Some(&before),
            &after,
            &view,
        ))
        .chain(claim_events)
    {
        let body: Value = serde_json::from_str(&e.body()).expect("an event body is JSON");
        check(
            &mut problems,
            &format!("event {}", e.event_type),
            response_schema(&doc, "GET", "/api/v1/events/{event_id}", "200"),
            &body,
        );
    }
    fail_on(problems, "serialised values");
}

#[test]
fn webhook_test_vectors_are_those_of_shared_webhooks_signing() {
    let doc = load_document();
    let vectors = doc["x-webhook-test-vectors"]
        .as_array()
        .expect("the document has x-webhook-test-vectors");
    for v in vectors {
        let key = shared::webhooks::signing::secret_key(v["secret"].as_str().unwrap())
            .expect("a whsec_ secret");
        let ts: i64 = v["webhook_timestamp"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            shared::webhooks::signing::sign(
                &key,
                v["webhook_id"].as_str().unwrap(),
                ts,
                v["body"].as_str().unwrap().as_bytes()
            ),
            v["signature"].as_str().unwrap(),
            "{v}"
        );
    }
}

/// A paid claim with a document, a note and its whole history.
fn sample_claim(request: ClaimRequest) -> shared::store::ClaimRecord {
    use shared::store::{ClaimActor, ClaimRecord, DocumentRecord, HistoryEntry, NoteRecord};
    let at = "2026-11-26T02:10:11.204Z".to_string();
    let entry = |s, by, m: Option<&str>| HistoryEntry {
        at: at.clone(),
        claim_status: s,
        by,
        message: m.map(str::to_string),
    };
    ClaimRecord {
        claim_id: "clm_01m8b2x6q3f9r7t5v4w2y0z8a6".into(),
        partner_id: "ptn_01m88pg6bj7gvrmehq193tgtwg".into(),
        fingerprint: request.fingerprint(),
        request,
        currency: "VND".into(),
        claim_status: ClaimStatus::Paid,
        approved_amount: Some(1_000_000),
        decision_reason: None,
        paid_amount: Some(1_000_000),
        payment_reference: Some("TX-42".into()),
        paid_at: Some(at.clone()),
        history: vec![
            entry(ClaimStatus::Submitted, ClaimActor::Partner, None),
            entry(
                ClaimStatus::InReview,
                ClaimActor::Operator,
                Some("Looking at it."),
            ),
            entry(ClaimStatus::Approved, ClaimActor::Operator, None),
            entry(
                ClaimStatus::Paid,
                ClaimActor::Operator,
                Some("payment reference TX-42"),
            ),
        ],
        notes: vec![NoteRecord {
            note_id: "nte_01m8b3a0c1d2e3f4g5h6j7k8m9".into(),
            at: at.clone(),
            by: ClaimActor::Partner,
            message: "The invoice is uploaded.".into(),
        }],
        documents: vec![DocumentRecord {
            document_id: "doc_01m8b39zq4k2n6p8r0t2v4x6y8".into(),
            file_name: "parcel.jpg".into(),
            content_type: "image/jpeg".into(),
            size_bytes: 245_760,
            document_type: "photo".into(),
            created_at: at.clone(),
        }],
        created_at: at.clone(),
        updated_at: at,
        version: 6,
    }
}

// ---- 7. Postman -----------------------------------------------------------------------------

#[test]
fn the_postman_collection_is_generated_from_this_document() {
    let doc = load_document();
    let root = apidoc::workspace_root();
    let mut problems = Vec::new();
    for (rel, content) in apidoc::postman_files(&doc) {
        let current = std::fs::read_to_string(root.join(&rel)).unwrap_or_default();
        if current != content {
            problems.push(format!(
                "{rel} is not what {DOC_PATH} generates: run `cargo run -p apidoc -- postman` and commit the result"
            ));
        }
    }
    let collection = apidoc::postman_collection(&doc);
    let count = collection["item"].as_array().map_or(0, Vec::len);
    // Every operation but the developer portal's pages (for browsers, not API clients), plus the
    // upload step (the pre-signed PUT to S3 after "Add a document").
    let api_operations = operations(&doc)
        .iter()
        .filter(|(_, p, _)| !p.starts_with("/docs"))
        .count();
    if count != api_operations + 1 {
        problems.push(format!(
            "the collection has {count} requests for {api_operations} operations and the upload step"
        ));
    }
    fail_on(problems, "postman");
}

// ---- the checks themselves ------------------------------------------------------------------

#[test]
fn the_schema_checks_catch_undeclared_fields_and_bad_formats() {
    let doc = load_document();
    let schemas = Schemas::new(&doc);
    let error = schemas.component("Error");
    let good = json!({"status": "error", "message": "m", "code": "not_found", "request_id": "r"});
    assert!(schemas.errors(&error, &good).is_empty());
    let mut extra = good.clone();
    extra["detail"] = json!("x");
    assert!(
        !schemas.errors(&error, &extra).is_empty(),
        "undeclared field accepted"
    );
    let mut unknown = good.clone();
    unknown["code"] = json!("no_such_code");
    assert!(
        !schemas.errors(&error, &unknown).is_empty(),
        "unknown code accepted"
    );
    let ts = schemas.component("ServerTimestamp");
    assert!(schemas
        .errors(&ts, &json!("2026-11-25T06:32:44.658Z"))
        .is_empty());
    assert!(
        !schemas
            .errors(&ts, &json!("2026-13-25T06:32:44.658Z"))
            .is_empty(),
        "bad date-time accepted"
    );
    let delivery = schemas.component("DeliveryWithHistory");
    let mut d = doc["components"]["examples"]["DeliveryInProcess"]["value"].clone();
    assert!(schemas.errors(&delivery, &d).is_empty());
    d["policy"]["premium"] = json!(1);
    assert!(
        !schemas.errors(&delivery, &d).is_empty(),
        "undeclared nested field accepted"
    );
}

/// The text schemas (`RequiredName`, `OptionalName`, ...) accept exactly the strings the
/// validators of shared/src/validate.rs accept: whitespace-only, control characters, tab/CR/LF.
#[test]
fn text_schemas_accept_what_the_validators_accept() {
    let doc = load_document();
    let schemas = Schemas::new(&doc);
    let (_, base) = request_examples(&doc, "POST", "/api/v1/sme-deliveries")
        .into_iter()
        .next()
        .expect("a Submit example");
    let samples = [
        "a",
        " a ",
        "\ta\r\n",
        "é ü 漢字",
        "",
        " ",
        "\t\n",
        "\u{a0}",
        "a\u{0}",
        "a\u{1}b",
        "a\u{1f}",
        "a\u{7f}",
        "a\u{85}b",
        "\u{85}",
        "a\u{9f}",
        "a\u{a0}b",
        "a\u{200b}",
        "\u{feff}",
        "\u{2028}",
    ];
    let mut problems = Vec::new();
    for (field, schema) in [
        ("customer_name", "RequiredName"),
        ("goods_description", "RequiredText"),
    ]
    .into_iter()
    .chain([
        ("sender_name", "OptionalName"),
        ("recipient_name", "OptionalName"),
    ]) {
        for s in samples {
            let mut body = base.clone();
            body.insert(field.into(), json!(s));
            let code_accepts = match Submission::parse(&body) {
                Ok(_) => true,
                Err(e) => !e.to_string().starts_with(field),
            };
            let doc_accepts = schemas
                .errors(&schemas.component(schema), &json!(s))
                .is_empty();
            if code_accepts != doc_accepts {
                problems.push(format!(
                    "{field} = {s:?}: the code {} it, components.schemas.{schema} {} it",
                    if code_accepts { "accepts" } else { "rejects" },
                    if doc_accepts { "accepts" } else { "rejects" },
                ));
            }
        }
    }
    fail_on(problems, "text fields");
}
