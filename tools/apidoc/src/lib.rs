//! Tooling around the OpenAPI document (`docs/openapi/openapi.yaml`, kept by hand, the one
//! source of truth): loading it, the routes of the SAM template it must match, and the Postman
//! collection and environments generated from it (`docs/postman/`).
//!
//! The tests under `tests/` fail when the document and the code disagree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub mod diagrams;
pub mod portal;
pub mod samples;

use serde_json::{json, Map, Value};

pub const DOC_PATH: &str = "docs/openapi/openapi.yaml";
pub const TEMPLATE_PATH: &str = "infra/template.yaml";
pub const POSTMAN_DIR: &str = "docs/postman";
pub const COLLECTION_FILE: &str = "partner-api.postman_collection.json";

/// The Cargo workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

fn read(rel: &str) -> String {
    let path = workspace_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The OpenAPI document as JSON (the same conversion `functions/openapi/build.rs` makes).
pub fn load_document() -> Value {
    serde_yaml::from_str(&read(DOC_PATH)).unwrap_or_else(|e| panic!("{DOC_PATH}: {e}"))
}

/// A route: upper-case method and resource path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// True when the route has no authorizer (`Auth.Authorizer: NONE`).
    pub public: bool,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.method,
            self.path,
            if self.public { "public" } else { "authorized" }
        )
    }
}

/// Every `Type: Api` event of every function in the SAM template.
pub fn template_routes() -> BTreeSet<Route> {
    // The template uses short-form intrinsics (`!Ref`), which serde_yaml reads as tagged values.
    let t: serde_yaml::Value = serde_yaml::from_str(&read(TEMPLATE_PATH))
        .unwrap_or_else(|e| panic!("{TEMPLATE_PATH}: {e}"));
    let default_auth = t["Resources"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Api"))
        .find_map(|(_, r)| r["Properties"]["Auth"]["DefaultAuthorizer"].as_str())
        .map(str::to_string);
    let mut routes = BTreeSet::new();
    for (_, res) in t["Resources"].as_mapping().into_iter().flatten() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for (_, ev) in res["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if ev["Type"].as_str() != Some("Api") {
                continue;
            }
            let p = &ev["Properties"];
            let authorizer = p["Auth"]["Authorizer"]
                .as_str()
                .map(str::to_string)
                .or(default_auth.clone());
            routes.insert(Route {
                method: p["Method"].as_str().unwrap_or("").to_ascii_uppercase(),
                path: p["Path"].as_str().unwrap_or("").to_string(),
                public: authorizer.is_none_or(|a| a == "NONE"),
            });
        }
    }
    routes
}

pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of the document: (method upper case, path, operation object).
pub fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((m.to_ascii_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

/// The document's routes, `public` when the operation's `security` is empty.
pub fn document_routes(doc: &Value) -> BTreeSet<Route> {
    operations(doc)
        .into_iter()
        .map(|(method, path, op)| {
            let security = op.get("security").or(doc.get("security"));
            let public = match security.and_then(Value::as_array) {
                None => true,
                Some(reqs) => {
                    reqs.is_empty()
                        // `[{}]` or a list containing `{}`: anonymous access allowed.
                        || reqs.iter().any(|r| r.as_object().is_some_and(Map::is_empty))
                }
            };
            Route {
                method,
                path,
                public,
            }
        })
        .collect()
}

/// Resolves a local `$ref` (`#/components/...`) once; other values are returned as they are.
pub fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local references are used: {r}"));
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("dangling reference {r}"))
        }
        None => v,
    }
}

/// The first example value of a media type object (`examples` map, or `example`). "First" is
/// by name (the JSON maps here are sorted): the Postman collection sends it, so name the example
/// a partner should send first accordingly (`toInProcess` before `toSuccess`).
pub fn first_example<'a>(doc: &'a Value, media: &'a Value) -> Option<&'a Value> {
    if let Some(examples) = media.get("examples").and_then(Value::as_object) {
        return examples
            .values()
            .next()
            .map(|e| deref(doc, e))
            .and_then(|e| e.get("value"));
    }
    media.get("example")
}

// ---- Postman --------------------------------------------------------------------------------

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
pub const PRE_REQUEST_SCRIPT: &str = r#"// Runs before every request of this collection.
// 1. Access token (OAuth 2.0 client credentials). The collection's auth is OAuth 2.0 with
//    "Current token" {{access_token}}; this script fills it (and renews it 60 s before it
//    expires), so every request works without clicking "Get New Access Token" (which works too).
// 2. Submit: a fresh tracking_number per send, unless auto_tracking_number is "false"
//    (send the same one again to see the safe retry: 200, same policy).
// 3. The request signature of write calls, as the contract defines it:
//    signature = lowercase_hex(MD5(api_token_key + tracking_number + premium_amount))
//    premium_amount: the body's (Submit), else the premium of the delivery's policy
//    (the variable premium_amount, saved by Submit and by the control tower reads).
const cryptoJs = require('crypto-js');
const path = pm.request.url.getPath();
const isPublic = path.endsWith('/oauth/token') || path.endsWith('/openapi.json');

if (!isPublic) {
    const token = pm.collectionVariables.get('access_token');
    const expiresAt = Number(pm.collectionVariables.get('access_token_expires_at') || 0);
    if (!token || Date.now() > expiresAt - 60000) {
        const basic = cryptoJs.enc.Base64.stringify(cryptoJs.enc.Utf8.parse(
            pm.variables.get('client_id') + ':' + pm.variables.get('client_secret')));
        pm.sendRequest({
            url: pm.variables.get('token_url'),
            method: 'POST',
            header: [
                { key: 'Authorization', value: 'Basic ' + basic },
                { key: 'Content-Type', value: 'application/x-www-form-urlencoded' }
            ],
            body: { mode: 'urlencoded', urlencoded: [{ key: 'grant_type', value: 'client_credentials' }] }
        }, function (err, res) {
            if (err || res.code !== 200) {
                console.error('token request failed', err || res.text());
                return;
            }
            const t = res.json();
            pm.collectionVariables.set('access_token', t.access_token);
            pm.collectionVariables.set('access_token_expires_at', String(Date.now() + t.expires_in * 1000));
        });
    }
}

// A claim's incident time: now (it may be neither in the future nor before the policy).
pm.variables.set('incident_time', new Date().toISOString());

if (pm.request.method === 'POST' && path.endsWith('/sme-deliveries')
        && pm.variables.get('auto_tracking_number') !== 'false') {
    pm.collectionVariables.set('tracking_number', 'PM-' + Date.now());
}

const raw = pm.request.body && pm.request.body.mode === 'raw' ? pm.variables.replaceIn(pm.request.body.raw) : '';
let body = null;
try { body = raw ? JSON.parse(raw) : null; } catch (e) { body = null; }
if (body && typeof body === 'object' && 'signature' in body && path.includes('/claims')) {
    // Claim writes (issue 13): MD5(api_token_key + tracking_number + claimed_amount), over the
    // claim's tracking number and claimed amount (saved by "File a claim" for the calls on it).
    const tn = typeof body.tracking_number === 'string' ? body.tracking_number : pm.variables.get('claim_tracking_number');
    const amount = body.claimed_amount !== undefined ? body.claimed_amount : pm.variables.get('claimed_amount');
    pm.variables.set('signature', cryptoJs.MD5(pm.variables.get('api_token_key') + tn + String(amount)).toString());
} else if (body && typeof body === 'object' && 'signature' in body && typeof body.tracking_number === 'string') {
    const premium = body.premium_amount !== undefined ? body.premium_amount : pm.variables.get('premium_amount');
    const signature = cryptoJs.MD5(pm.variables.get('api_token_key') + body.tracking_number + String(premium)).toString();
    pm.variables.set('signature', signature);
}
"#;

/// The test script of the claim calls: remember the claim, and the document's upload request.
const REMEMBER_CLAIM_SCRIPT: &str = r#"// Remember the claim (and the upload request of a document) for the next requests.
if (pm.response.code === 200 || pm.response.code === 201) {
    const res = pm.response.json();
    let req = {};
    try { req = JSON.parse(pm.variables.replaceIn(pm.request.body ? pm.request.body.raw || '{}' : '{}')); } catch (e) { }
    if (res.claim_id) { pm.collectionVariables.set('claim_id', res.claim_id); }
    if (req.claimed_amount !== undefined) { pm.collectionVariables.set('claimed_amount', String(req.claimed_amount)); }
    if (res.upload) {
        pm.collectionVariables.set('upload_url', res.upload.url);
        pm.collectionVariables.set('upload_content_type', res.upload.headers['Content-Type']);
    }
}
"#;

/// The pre-request script of "File a claim": a delivery of its own, insured and tracked to
/// `fail` (a lost parcel can be claimed at once), so the flow's first delivery stays cancellable;
/// then the claim's signature over that delivery's tracking number and the claimed amount.
const CLAIM_SETUP_SCRIPT: &str = r#"// A delivery for the claim: insured, then tracked to `fail` (claimable as lost at once).
const cryptoJs = require('crypto-js');
const key = pm.variables.get('api_token_key');
const base = pm.variables.get('api_base_url');
const tn = 'PM-CLAIM-' + Date.now();
const headers = [
    { key: 'Authorization', value: 'Bearer ' + pm.collectionVariables.get('access_token') },
    { key: 'Content-Type', value: 'application/json' }
];
const premiumSignature = cryptoJs.MD5(key + tn + '15000').toString();
const submit = {
    tracking_number: tn, product_code: 'ahasme', customer_name: 'Cong ty ABC',
    customer_phone: '+84 901 234 567', pickup_address: '1 Le Loi, District 1, Ho Chi Minh City',
    drop_up_address: '2 Trang Tien, Hoan Kiem, Ha Noi', type_of_goods: 'electronics', cod_amount: 0,
    item_value: 3000000, premium_amount: 15000, order_created_time: new Date().toISOString(),
    goods_description: 'Mobile phone', good_quantity: 1, signature: premiumSignature
};
pm.sendRequest({ url: base + '/sme-deliveries', method: 'POST', header: headers,
                 body: { mode: 'raw', raw: JSON.stringify(submit) } }, function (err, res) {
    if (err || res.code !== 201) { console.error('claim setup: submit failed', err || res.text()); return; }
    pm.collectionVariables.set('claim_tracking_number', tn);
    pm.collectionVariables.set('claim_policy_id', res.json().policy_id);
    const fail = { tracking_number: tn, delivery_status: 'fail', signature: premiumSignature,
                   tracking_detail: [{ tracking_time: new Date().toISOString(), tracking_status: 'fail' }] };
    pm.sendRequest({ url: base + '/tracking-details', method: 'POST', header: headers,
                     body: { mode: 'raw', raw: JSON.stringify(fail) } }, function (err2, res2) {
        if (err2 || res2.code !== 200) { console.error('claim setup: tracking failed', err2 || res2.text()); }
    });
    let amount = pm.variables.get('claimed_amount');
    try { amount = JSON.parse(pm.variables.replaceIn(pm.request.body.raw)).claimed_amount; } catch (e) { }
    pm.variables.set('signature', cryptoJs.MD5(key + tn + String(amount)).toString());
});
"#;

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
const REMEMBER_SCRIPT: &str = r#"// Remember the delivery for the next requests (Insert Tracking Detail, Cancel, reads).
if (pm.response.code === 200 || pm.response.code === 201) {
    const res = pm.response.json();
    let req = {};
    try { req = JSON.parse(pm.variables.replaceIn(pm.request.body ? pm.request.body.raw || '{}' : '{}')); } catch (e) { }
    if (res.policy_id) { pm.collectionVariables.set('policy_id', res.policy_id); }
    if (res.url_certificate) { pm.collectionVariables.set('url_certificate', res.url_certificate); }
    if (req.premium_amount !== undefined) { pm.collectionVariables.set('premium_amount', String(req.premium_amount)); }
    if (res.premium_amount !== undefined) { pm.collectionVariables.set('premium_amount', String(res.premium_amount)); }
    if (res.policy && res.policy.policy_id) { pm.collectionVariables.set('policy_id', res.policy.policy_id); }
    // A quote: Submit then sends its quote_id, product, item value and premium.
    if (res.quote_id && res.valid_until) {
        pm.collectionVariables.set('quote_id', res.quote_id);
        pm.collectionVariables.set('product_code', res.product_code);
        pm.collectionVariables.set('item_value', String(res.item_value));
    }
}
"#;

/// The test script of the webhook requests (issue 14): remember the endpoint and an event for
/// the requests that follow; the event list is asked again (up to 20 times) until the events of
/// the delivery made above are there (they follow the write by the stream's latency).
const REMEMBER_WEBHOOKS_SCRIPT: &str = r#"// Remember the webhook endpoint and an event for the next requests.
if (pm.response.code >= 200 && pm.response.code < 300) {
    const res = pm.response.json();
    if (typeof res.id === 'string' && res.id.startsWith('we_')) { pm.collectionVariables.set('endpoint_id', res.id); }
    if (Array.isArray(res.items) && res.items.length > 0 && typeof res.items[0].id === 'string') {
        if (res.items[0].id.startsWith('we_')) { pm.collectionVariables.set('endpoint_id', res.items[0].id); }
        if (res.items[0].id.startsWith('evt_')) { pm.collectionVariables.set('event_id', res.items[0].id); }
    }
    if (pm.request.url.getPath().endsWith('/events') && Array.isArray(res.items) && res.items.length === 0) {
        const tries = Number(pm.collectionVariables.get('event_list_tries') || '0');
        if (tries < 20) {
            pm.collectionVariables.set('event_list_tries', String(tries + 1));
            setTimeout(function () {}, 250);
            postman.setNextRequest(pm.info.requestName);
        }
    }
}
"#;

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
