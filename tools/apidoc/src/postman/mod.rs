//! The Postman collection and environments generated from the document (`docs/postman/`).

use super::*;

/// Variables a partner fills from the credentials kit (the kit's own field names).
pub const KIT_VARIABLES: [(&str, bool); 5] = [
    ("api_base_url", false),
    ("token_url", false),
    ("client_id", false),
    ("client_secret", true),
    ("api_token_key", true),
];

/// The environments: name and the base URL partners get in their kit.
pub fn environments() -> Vec<(&'static str, &'static str)> {
    vec![
        ("local", "http://127.0.0.1:8080"),
        (
            "staging",
            "https://REPLACE-WITH-API-ID.execute-api.ap-southeast-1.amazonaws.com/staging",
        ),
        (
            "production",
            "https://REPLACE-WITH-API-ID.execute-api.ap-southeast-1.amazonaws.com/production",
        ),
    ]
}

/// A stable id (Postman wants one; a random one would change the file at every generation).
fn stable_id(name: &str) -> String {
    // FNV-1a, twice with different seeds, laid out as a UUID.
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub fn environment_file(name: &str, base: &str) -> Value {
    let mut values: Vec<Value> = Vec::new();
    for (key, secret) in KIT_VARIABLES {
        let value = match key {
            "api_base_url" => format!("{base}/api/v1"),
            "token_url" => format!("{base}/oauth/token"),
            _ => String::new(),
        };
        values.push(json!({
            "key": key,
            "value": value,
            "type": if secret { "secret" } else { "default" },
            "enabled": true,
        }));
    }
    values.push(
        json!({"key": "auto_tracking_number", "value": "true", "type": "default", "enabled": true}),
    );
    json!({
        "id": stable_id(&format!("environment {name}")),
        "name": format!("Partner API - {name}"),
        "values": values,
        "_postman_variable_scope": "environment",
    })
}

/// The collection-level pre-request script: a token when there is none (or it is about to
/// expire), a fresh tracking number for Submit, and the request signature.
pub const PRE_REQUEST_SCRIPT: &str = include_str!("pre-request.js");

/// The test script of the claim calls: remember the claim, and the document's upload request.
const REMEMBER_CLAIM_SCRIPT: &str = include_str!("remember-claim.js");

/// The pre-request script of "File a claim": a delivery of its own, insured and tracked to
/// `fail` (a lost parcel can be claimed at once), so the flow's first delivery stays cancellable;
/// then the claim's signature over that delivery's tracking number and the claimed amount.
const CLAIM_SETUP_SCRIPT: &str = include_str!("claim-setup.js");

/// The upload step after "Add a document": the pre-signed PUT straight to S3 (not an API
/// operation, so not in the document's paths).
fn upload_item(rank: usize) -> Value {
    json!({
        "name": format!("{rank}b. Upload the document (pre-signed PUT to S3)"),
        "event": [script("test", "pm.test(\"S3 accepted the upload\", function () {\n    pm.expect(pm.response.code).to.equal(200);\n});\n")],
        "request": {
            "method": "PUT",
            "auth": {"type": "noauth"},
            "header": [{"key": "Content-Type", "value": "{{upload_content_type}}"}],
            "url": "{{upload_url}}",
            "body": {"mode": "raw", "raw": "(replace this body: Body > binary, and select your file)"},
            "description": "Sends the file to the pre-signed URL that \"Add a document\" answered (saved as upload_url), with the signed Content-Type. Choose Body > binary and select the file: its size must be exactly the size_bytes you declared (edit size_bytes in \"Add a document\" first), or S3 refuses it (403 SignatureDoesNotMatch). The link is valid 15 minutes. Then \"One claim with its history...\" shows the document with uploaded true. (The placeholder body is only accepted by the local S3, which does not check the signed size; the claim then does not count it as uploaded.)",
        },
        "response": [],
    })
}

/// The test script of Submit and of the control tower reads: remember what later calls need.
const REMEMBER_SCRIPT: &str = include_str!("remember.js");

/// The test script of the webhook requests (issue 14): remember the endpoint and an event for
/// the requests that follow; the event list is asked again (up to 20 times) until the events of
/// the delivery made above are there (they follow the write by the stream's latency).
const REMEMBER_WEBHOOKS_SCRIPT: &str = include_str!("remember-webhooks.js");

fn script(listen: &str, source: &str) -> Value {
    json!({
        "listen": listen,
        "script": {"type": "text/javascript", "exec": source.lines().collect::<Vec<_>>()},
    })
}

/// Number fields a body takes from variables: written `"{{name}}"` by `templated`, then
/// unquoted in the raw body by `unquote_numbers` (the pre-request script parses the body after
/// Postman substituted the variables, so it sees numbers).
const NUMBER_VARIABLES: [&str; 2] = ["item_value", "premium_amount"];

/// Replaces example values the collection takes from variables. A body with a `quote_id` (Submit
/// at a quote) takes the quote's id, product, item value and premium from the Quote request;
/// a claim's body takes the claim's delivery and an incident time of now.
fn templated(body: &Value, path: &str) -> Value {
    let mut body = body.clone();
    let claim = path.starts_with("/api/v1/claims");
    if let Some(o) = body.as_object_mut() {
        let quoted = o.contains_key("quote_id");
        for (field, var) in [
            (
                "tracking_number",
                if claim {
                    "{{claim_tracking_number}}"
                } else {
                    "{{tracking_number}}"
                },
            ),
            (
                "policy_id",
                if claim {
                    "{{claim_policy_id}}"
                } else {
                    "{{policy_id}}"
                },
            ),
            ("incident_time", "{{incident_time}}"),
            ("signature", "{{signature}}"),
            ("quote_id", "{{quote_id}}"),
        ] {
            if o.contains_key(field) {
                o.insert(field.into(), json!(var));
            }
        }
        if quoted {
            o.insert("product_code".into(), json!("{{product_code}}"));
            for field in NUMBER_VARIABLES {
                o.insert(field.into(), json!(format!("{{{{{field}}}}}")));
            }
        }
    }
    body
}

/// `"{{premium_amount}}"` -> `{{premium_amount}}` in a raw body (see `NUMBER_VARIABLES`).
fn unquote_numbers(raw: String) -> String {
    NUMBER_VARIABLES.iter().fold(raw, |raw, field| {
        raw.replace(&format!("\"{{{{{field}}}}}\""), &format!("{{{{{field}}}}}"))
    })
}

/// A JSON object pretty-printed with the schema's required fields first, in the order the
/// schema lists them (the source document's order), then the others by name.
fn pretty_in_order(value: &Value, required: &Value) -> String {
    let Some(o) = value.as_object() else {
        return serde_json::to_string_pretty(value).expect("JSON");
    };
    let mut keys: Vec<&String> = required
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|k| o.get_key_value(k).map(|(k, _)| k))
        .collect();
    keys.extend(o.keys().filter(|k| !keys.contains(k)).collect::<Vec<_>>());
    let fields: Vec<String> = keys
        .iter()
        .map(|k| {
            let v = serde_json::to_string_pretty(&o[k.as_str()]).expect("JSON");
            format!("  {}: {}", json!(k), v.replace('\n', "\n  "))
        })
        .collect();
    format!("{{\n{}\n}}", fields.join(",\n"))
}

fn request_item(doc: &Value, method: &str, path: &str, op: &Value) -> Value {
    let name = op["summary"].as_str().unwrap_or(path).to_string();
    let is_token = path == "/oauth/token";
    let rel = path.strip_prefix("/api/v1").unwrap_or(path);
    let rel = rel
        .replace("{tracking_number}", "{{tracking_number}}")
        .replace("{policy_id}", "{{policy_id}}")
        .replace("{endpoint_id}", "{{endpoint_id}}")
        .replace("{event_id}", "{{event_id}}")
        .replace("{claim_id}", "{{claim_id}}")
        .replace("{product_code}", "{{product_code}}");
    // The certificate lives outside /api/v1, at the link Submit answered (`url_certificate`).
    let is_certificate = path.starts_with("/certificates/");
    let (host, segments): (String, Vec<String>) = if is_token {
        ("{{token_url}}".into(), vec![])
    } else if is_certificate {
        ("{{url_certificate}}".into(), vec![])
    } else {
        (
            "{{api_base_url}}".into(),
            rel.trim_start_matches('/')
                .split('/')
                .map(str::to_string)
                .collect(),
        )
    };
    let mut query = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = deref(doc, p);
        // The certificate's link is used as Submit answered it (append `.pdf` for the PDF).
        if p["in"] == "query" && !is_certificate {
            let example = p.get("example").cloned().unwrap_or(Value::Null);
            let value = match example {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            query.push(json!({
                "key": p["name"],
                "value": value,
                "description": p["description"].as_str().unwrap_or("").trim(),
                // Only `limit` is sent by default; tick the others to filter.
                "disabled": p["name"] != "limit",
            }));
        }
    }
    let raw_url = if segments.is_empty() {
        host.clone()
    } else {
        format!("{host}/{}", segments.join("/"))
    };
    let mut url = if segments.is_empty() {
        // A bare variable: Postman would add a trailing `/` to an empty path.
        json!(raw_url)
    } else {
        json!({"raw": raw_url, "host": [host], "path": segments})
    };
    if !query.is_empty() {
        let q: Vec<String> = query
            .iter()
            .filter(|q| q["disabled"] == false)
            .map(|q| {
                format!(
                    "{}={}",
                    q["key"].as_str().unwrap_or(""),
                    q["value"].as_str().unwrap_or("")
                )
            })
            .collect();
        if !q.is_empty() {
            url["raw"] = json!(format!("{raw_url}?{}", q.join("&")));
        }
        url["query"] = json!(query);
    }
    let mut request = json!({
        "method": method,
        "header": [],
        "url": url,
        "description": op["description"].as_str().unwrap_or("").trim(),
    });
    if let Some(content) = op["requestBody"]["content"].as_object() {
        if let Some(media) = content.get("application/json") {
            let example = first_example(doc, media).cloned().unwrap_or(json!({}));
            request["header"] = json!([{"key": "Content-Type", "value": "application/json"}]);
            let schema = deref(doc, &media["schema"]);
            request["body"] = json!({
                "mode": "raw",
                "raw": unquote_numbers(pretty_in_order(&templated(&example, path), &schema["required"])),
                "options": {"raw": {"language": "json"}},
            });
        } else if let Some(media) = content.get("application/x-www-form-urlencoded") {
            let example = first_example(doc, media).cloned().unwrap_or(json!({}));
            let fields: Vec<Value> = example
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| json!({"key": k, "value": v.as_str().unwrap_or_default(), "type": "text"}))
                .collect();
            request["header"] =
                json!([{"key": "Content-Type", "value": "application/x-www-form-urlencoded"}]);
            request["body"] = json!({"mode": "urlencoded", "urlencoded": fields});
        }
    }
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.is_empty() || s.iter().all(|r| r.as_object().is_none_or(Map::is_empty)));
    if is_token {
        request["auth"] = json!({"type": "basic", "basic": [
            {"key": "username", "value": "{{client_id}}", "type": "string"},
            {"key": "password", "value": "{{client_secret}}", "type": "string"},
        ]});
    } else if public {
        request["auth"] = json!({"type": "noauth"});
    }

    // Saved example responses, one per documented example.
    let mut responses = Vec::new();
    for (status, resp) in op["responses"].as_object().into_iter().flatten() {
        let resp = deref(doc, resp);
        let Ok(code) = status.parse::<u16>() else {
            continue;
        };
        let Some(media) = resp["content"].get("application/json") else {
            continue;
        };
        for (ex_name, ex) in media["examples"].as_object().into_iter().flatten() {
            let ex = deref(doc, ex);
            let Some(value) = ex.get("value") else {
                continue;
            };
            responses.push(json!({
                "name": format!("{status} {ex_name}"),
                "originalRequest": {"method": method, "header": request["header"], "url": request["url"]},
                "status": reason(code),
                "code": code,
                "_postman_previewlanguage": "json",
                "header": [{"key": "Content-Type", "value": "application/json"}],
                "body": serde_json::to_string_pretty(value).expect("JSON"),
            }));
        }
    }

    let mut events = Vec::new();
    if method == "POST" && path == "/api/v1/claims" {
        events.push(script("prerequest", CLAIM_SETUP_SCRIPT));
    }
    let mut expected: Vec<u16> = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.parse::<u16>().ok())
        .filter(|s| (200..300).contains(s))
        .collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.iter().map(u16::to_string).collect();
    let title = serde_json::to_string(&format!("{name} answers {}", expected.join(" or ")))
        .expect("JSON string");
    let mut test = format!(
        "pm.test({title}, function () {{\n    pm.expect(pm.response.code).to.be.oneOf([{}]);\n}});\n",
        expected.join(", "),
    );
    let remembers = path.starts_with("/api/v1/sme-deliveries")
        && (method == "POST" && path == "/api/v1/sme-deliveries" || method == "GET")
        || (method == "POST" && path == "/api/v1/quotes");
    if remembers {
        test.push_str(REMEMBER_SCRIPT);
    }
    if path.starts_with("/api/v1/webhook-endpoints") || path.starts_with("/api/v1/events") {
        test.push_str(REMEMBER_WEBHOOKS_SCRIPT);
    }
    if path.starts_with("/api/v1/claims") && method == "POST" {
        test.push_str(REMEMBER_CLAIM_SCRIPT);
    }
    events.push(script("test", &test));
    json!({
        "name": format!("{}. {name}", flow_rank(method, path) + 1),
        "event": events,
        "request": request,
        "response": responses,
    })
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The order a partner follows: token, the catalogue, a quote, submit (at the quote), track,
/// read, list, cancel, the document. Operations not listed here come last, in path order.
fn flow_rank(method: &str, path: &str) -> usize {
    const ORDER: [(&str, &str); 28] = [
        ("POST", "/oauth/token"),
        ("GET", "/api/v1/products"),
        ("GET", "/api/v1/products/{product_code}"),
        ("POST", "/api/v1/quotes"),
        ("POST", "/api/v1/sme-deliveries"),
        ("POST", "/api/v1/tracking-details"),
        ("GET", "/api/v1/sme-deliveries/{tracking_number}"),
        ("GET", "/api/v1/policies/{policy_id}"),
        ("GET", "/api/v1/sme-deliveries"),
        // Claims on the delivery tracked to `fail` above (then the upload step, see `upload_item`).
        ("POST", "/api/v1/claims"),
        ("POST", "/api/v1/claims/{claim_id}/documents"),
        ("POST", "/api/v1/claims/{claim_id}/notes"),
        ("GET", "/api/v1/claims/{claim_id}"),
        ("GET", "/api/v1/claims"),
        ("POST", "/api/v1/claims/{claim_id}/withdraw"),
        ("POST", "/api/v1/sme-deliveries/cancel"),
        // Webhooks: register, look, change, test; the log and a redelivery; delete last.
        ("POST", "/api/v1/webhook-endpoints"),
        ("GET", "/api/v1/webhook-endpoints"),
        ("GET", "/api/v1/webhook-endpoints/{endpoint_id}"),
        ("PATCH", "/api/v1/webhook-endpoints/{endpoint_id}"),
        (
            "POST",
            "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        ),
        ("POST", "/api/v1/webhook-endpoints/{endpoint_id}/test"),
        ("GET", "/api/v1/events"),
        ("GET", "/api/v1/events/{event_id}"),
        ("POST", "/api/v1/events/{event_id}/redeliver"),
        ("GET", "/api/v1/webhook-endpoints/{endpoint_id}/deliveries"),
        ("DELETE", "/api/v1/webhook-endpoints/{endpoint_id}"),
        ("GET", "/api/v1/openapi.json"),
    ];
    ORDER
        .iter()
        .position(|(m, p)| *m == method && *p == path)
        .unwrap_or(ORDER.len())
}

/// The Postman collection (format v2.1) generated from the document.
pub fn postman_collection(doc: &Value) -> Value {
    let mut ops = operations(doc);
    // The developer portal is a web page for people, not a call of the API: not in the collection.
    ops.retain(|(_, p, _)| !p.starts_with("/docs"));
    ops.sort_by_key(|(m, p, _)| (flow_rank(m, p), m.clone(), p.clone()));
    // One flat list in the order a partner follows (token, submit, track, read, cancel), so that
    // "Run collection" (or newman) goes through a delivery's life from the top.
    let mut items: Vec<Value> = Vec::new();
    for (method, path, op) in &ops {
        items.push(request_item(doc, method, path, op));
        if method == "POST" && path == "/api/v1/claims/{claim_id}/documents" {
            items.push(upload_item(flow_rank(method, path) + 1));
        }
    }
    let scopes: Vec<&str> = doc["components"]["securitySchemes"]["partnerOAuth"]["flows"]
        ["clientCredentials"]["scopes"]
        .as_object()
        .map(|s| s.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let description = format!(
        "{}\n\nGenerated from `docs/openapi/openapi.yaml` (version {}) by `cargo run -p apidoc -- postman`; do not edit by hand.\n\n\
         Setup: import this collection and the environment of your stage (`docs/postman/*.postman_environment.json`), \
         select the environment, and copy the values of your credentials kit into it: `api_base_url`, `token_url`, \
         `client_id`, `client_secret`, `api_token_key`. Then send the requests from the top: the collection gets the token \
         itself, gives every Submit a new tracking number, signs every write call, and remembers the quote, the policy id \
         and the premium for the calls that follow (Submit sends the quote's quote_id, item value and premium).",
        doc["info"]["summary"].as_str().unwrap_or(""),
        doc["info"]["version"].as_str().unwrap_or(""),
    );
    json!({
        "info": {
            "_postman_id": stable_id("partner-api collection"),
            "name": doc["info"]["title"],
            "description": description,
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "auth": {
            "type": "oauth2",
            "oauth2": [
                {"key": "grant_type", "value": "client_credentials", "type": "string"},
                {"key": "accessTokenUrl", "value": "{{token_url}}", "type": "string"},
                {"key": "clientId", "value": "{{client_id}}", "type": "string"},
                {"key": "clientSecret", "value": "{{client_secret}}", "type": "string"},
                {"key": "scope", "value": scopes.join(" "), "type": "string"},
                {"key": "client_authentication", "value": "header", "type": "string"},
                {"key": "tokenName", "value": "partner-api", "type": "string"},
                {"key": "accessToken", "value": "{{access_token}}", "type": "string"},
                {"key": "tokenType", "value": "Bearer", "type": "string"},
                {"key": "headerPrefix", "value": "Bearer", "type": "string"},
                {"key": "addTokenTo", "value": "header", "type": "string"},
            ],
        },
        "event": [script("prerequest", PRE_REQUEST_SCRIPT)],
        "variable": [
            {"key": "access_token", "value": ""},
            {"key": "access_token_expires_at", "value": "0"},
            {"key": "tracking_number", "value": "PM-0001"},
            {"key": "policy_id", "value": ""},
            {"key": "url_certificate", "value": ""},
            {"key": "premium_amount", "value": "15000"},
            {"key": "product_code", "value": "ahasme"},
            {"key": "item_value", "value": "3000000"},
            {"key": "quote_id", "value": ""},
            {"key": "signature", "value": ""},
            {"key": "endpoint_id", "value": ""},
            {"key": "event_id", "value": ""},
            {"key": "event_list_tries", "value": "0"},
            {"key": "claim_id", "value": ""},
            {"key": "claim_tracking_number", "value": ""},
            {"key": "claim_policy_id", "value": ""},
            {"key": "incident_time", "value": ""},
            {"key": "claimed_amount", "value": "1500000"},
            {"key": "upload_url", "value": ""},
            {"key": "upload_content_type", "value": "image/jpeg"},
        ],
        "item": items,
    })
}

/// Every generated file: (path relative to the workspace, content).
pub fn postman_files(doc: &Value) -> Vec<(String, String)> {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON") + "\n";
    let mut files = vec![(
        format!("{POSTMAN_DIR}/{COLLECTION_FILE}"),
        pretty(&postman_collection(doc)),
    )];
    for (name, base) in environments() {
        files.push((
            format!("{POSTMAN_DIR}/{name}.postman_environment.json"),
            pretty(&environment_file(name, base)),
        ));
    }
    files
}
