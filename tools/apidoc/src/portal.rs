//! The developer portal's content, built from the repository at compile time
//! (`functions/portal/build.rs`): the OpenAPI document with code samples on every operation,
//! whose `info.description` becomes the guides (`docs/portal/guides/*.md`, in file-name order)
//! with their generated parts filled in, followed by the document's own description under
//! "Rules and decisions"; and the HTML page that renders it with the vendored renderer.
//!
//! Generated parts (placeholders `{{name}}` in the guides): the error catalogue, the status
//! machines, the signature calculator and test vectors, the webhook event list and test vector,
//! the environments (from `servers`), the rate limits (from the SAM template's `Mappings`), the
//! CSV columns, the changelog (`docs/CHANGELOG.md`) and the downloads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};

use crate::{
    deref, diagrams, operations, samples, COLLECTION_FILE, DOC_PATH, POSTMAN_DIR, TEMPLATE_PATH,
};

pub const GUIDES_DIR: &str = "docs/portal/guides";
pub const CHANGELOG_PATH: &str = "docs/CHANGELOG.md";

/// Everything the portal is built from, read from the repository.
pub struct Sources {
    pub doc: Value,
    pub template: serde_yaml::Value,
    /// (file name, markdown), in file-name order.
    pub guides: Vec<(String, String)>,
    pub changelog: String,
}

/// The files `Sources::read` reads (for `cargo:rerun-if-changed`).
pub fn source_paths(root: &Path) -> Vec<PathBuf> {
    let mut paths = vec![
        root.join(DOC_PATH),
        root.join(TEMPLATE_PATH),
        root.join(CHANGELOG_PATH),
        root.join(GUIDES_DIR),
    ];
    paths.extend(guide_files(root));
    paths
}

fn guide_files(root: &Path) -> Vec<PathBuf> {
    let dir = root.join(GUIDES_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

impl Sources {
    pub fn read(root: &Path) -> Sources {
        let doc = serde_yaml::from_str(&read(&root.join(DOC_PATH)))
            .unwrap_or_else(|e| panic!("{DOC_PATH}: {e}"));
        let template = serde_yaml::from_str(&read(&root.join(TEMPLATE_PATH)))
            .unwrap_or_else(|e| panic!("{TEMPLATE_PATH}: {e}"));
        let guides = guide_files(root)
            .into_iter()
            .map(|p| {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                (name, read(&p))
            })
            .collect();
        Sources {
            doc,
            template,
            guides,
            changelog: read(&root.join(CHANGELOG_PATH)),
        }
    }
}

/// The document the portal renders.
pub fn portal_document(src: &Sources) -> Value {
    let mut doc = samples::with_code_samples(&src.doc);
    let mut text = String::new();
    for (name, md) in &src.guides {
        let filled = fill(src, md)
            .unwrap_or_else(|p| panic!("{GUIDES_DIR}/{name}: unknown placeholder {{{{{p}}}}}"));
        text.push_str(filled.trim_end());
        text.push_str("\n\n");
    }
    text.push_str("# Rules and decisions\n\nThe details every operation below relies on, as the OpenAPI document states them.\n\n");
    text.push_str(src.doc["info"]["description"].as_str().unwrap_or(""));
    doc["info"]["description"] = json!(text);
    doc
}

/// The guide with its placeholders replaced; `Err(name)` for an unknown one.
fn fill(src: &Sources, md: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = md;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| after.chars().take(20).collect::<String>())?;
        let name = &after[..end];
        out.push_str(&generated(src, name).ok_or_else(|| name.to_string())?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn generated(src: &Sources, name: &str) -> Option<String> {
    let doc = &src.doc;
    Some(match name {
        "claims_availability" => {
            if doc["paths"]
                .as_object()
                .is_some_and(|p| p.keys().any(|k| k.starts_with("/api/v1/claims")))
            {
                String::new()
            } else {
                "\n> Claims are being rolled out: the claim routes appear in the reference below once this environment serves them.\n".into()
            }
        }
        "signature_calculator" => CALCULATOR.to_string(),
        "signature_vectors" => signature_vectors(doc),
        "webhook_events" => webhook_events(doc),
        "webhook_vector" => webhook_vector(),
        "error_catalogue" => error_catalogue_table(doc),
        "status_machines" => {
            diagrams::section(&[&diagrams::DELIVERY, &diagrams::POLICY, &diagrams::CLAIM])
        }
        "environments" => environments(doc),
        "rate_limits" => rate_limits(&src.template),
        "csv_columns" => csv_columns(doc),
        "changelog" => changelog(&src.changelog),
        "downloads" => DOWNLOADS.to_string(),
        _ => return None,
    })
}

const CALCULATOR: &str = r#"<form class="portal-calculator" id="signature-calculator" autocomplete="off" novalidate>
<p><label for="sig-key">api_token_key</label><input id="sig-key" name="api_token_key" type="text" spellcheck="false" autocapitalize="off" placeholder="from your kit"></p>
<p><label for="sig-tracking">tracking_number</label><input id="sig-tracking" name="tracking_number" type="text" spellcheck="false" autocapitalize="off" placeholder="TN001"></p>
<p><label for="sig-amount">premium_amount or claimed_amount</label><input id="sig-amount" name="amount" type="text" inputmode="numeric" spellcheck="false" placeholder="15000"></p>
<p><span class="portal-calc-label">MD5 input</span> <code id="sig-input" class="portal-calc-value"></code></p>
<p><label for="sig-result">signature</label> <output id="sig-result" for="sig-key sig-tracking sig-amount" class="portal-calc-value" aria-live="polite"></output></p>
<p id="sig-problem" class="portal-calc-problem" role="status"></p>
</form>"#;

const DOWNLOADS: &str = r#"| what | link |
|---|---|
| OpenAPI 3.1 document, JSON, as this deployment serves it (this deployment listed first in `servers`) | <a href="api/v1/openapi.json" download="openapi.json">openapi.json</a> |
| OpenAPI 3.1 document, YAML, as kept in the repository | <a href="docs/openapi.yaml" download="openapi.yaml">openapi.yaml</a> |
| Postman collection (gets and renews the token, signs every write, remembers the policy between requests) | <a href="docs/partner-api.postman_collection.json" download="partner-api.postman_collection.json">partner-api.postman_collection.json</a> |
| Postman environments, one per stage: copy your kit's values into yours | <a href="docs/local.postman_environment.json" download="local.postman_environment.json">local</a>, <a href="docs/staging.postman_environment.json" download="staging.postman_environment.json">staging</a>, <a href="docs/production.postman_environment.json" download="production.postman_environment.json">production</a> |

With Postman: import the collection and your environment, select the environment, paste your
kit's `api_base_url`, `token_url`, `client_id`, `client_secret` and `api_token_key` into it,
then send the requests from the top."#;

/// The files the Downloads section links to under `/docs/` (besides `api/v1/openapi.json`):
/// (name, path in the repository).
pub fn download_files() -> Vec<(String, String)> {
    let mut files = vec![
        ("openapi.yaml".to_string(), DOC_PATH.to_string()),
        (
            COLLECTION_FILE.to_string(),
            format!("{POSTMAN_DIR}/{COLLECTION_FILE}"),
        ),
    ];
    for (name, _) in crate::environments() {
        let file = format!("{name}.postman_environment.json");
        files.push((file.clone(), format!("{POSTMAN_DIR}/{file}")));
    }
    files
}

fn signature_vectors(doc: &Value) -> String {
    let mut out = String::from("| api_token_key | tracking_number | amount | MD5 input | signature |\n|---|---|---|---|---|\n");
    for v in doc["x-signature-test-vectors"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = v["api_token_key"].as_str().unwrap_or("");
        let tn = v["tracking_number"].as_str().unwrap_or("");
        let amount = v["premium_amount"].to_string();
        out.push_str(&format!(
            "| `{key}` | `{tn}` | `{amount}` | `{key}{tn}{amount}` | <code class=\"portal-vector\">{}</code> |\n",
            v["signature"].as_str().unwrap_or("")
        ));
    }
    out
}

/// The contract's event types, shown until the document describes its `webhooks`.
pub const CONTRACT_EVENT_TYPES: [&str; 12] = [
    "policy.issued",
    "policy.cancelled",
    "delivery.status_changed",
    "claim.submitted",
    "claim.in_review",
    "claim.information_requested",
    "claim.approved",
    "claim.rejected",
    "claim.paid",
    "claim.withdrawn",
    "claim.updated",
    "ping",
];

fn webhook_events(doc: &Value) -> String {
    match doc["webhooks"].as_object().filter(|w| !w.is_empty()) {
        Some(hooks) => {
            let mut out = String::from("| event type | when |\n|---|---|\n");
            for (name, item) in hooks {
                let op = item.as_object().and_then(|o| o.values().find(|v| v.is_object())).unwrap_or(item);
                // The description's first sentence (the summary is the type's name).
                let text = op["description"].as_str().or(op["summary"].as_str()).unwrap_or("");
                let first = text.lines().next().unwrap_or("");
                let when = first.find(". ").map_or(first, |i| &first[..=i]);
                out.push_str(&format!("| `{name}` | {when} |\n"));
            }
            out.push_str("\nEach event's body is in the reference below, under *Webhooks*.\n");
            out
        }
        None => format!(
            "Event types: {}. The body of each appears in the reference below once this environment sends webhooks.\n",
            CONTRACT_EVENT_TYPES.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A worked example of the Standard Webhooks signature (the tests check it with the
/// `standardwebhooks` reference library too).
pub const WEBHOOK_VECTOR: (&str, &str, &str, &str) = (
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "evt_01JDQ7Y3ZV0000000000000000",
    "1764057600",
    r#"{"id":"evt_01JDQ7Y3ZV0000000000000000","type":"ping","created_at":"2025-11-25T08:00:00.000Z","api_version":"v1","data":{}}"#,
);

pub fn webhook_signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("the vector's secret is base64");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

fn webhook_vector() -> String {
    let (secret, id, ts, body) = WEBHOOK_VECTOR;
    format!(
        "| | |\n|---|---|\n| secret | `{secret}` |\n| `webhook-id` | `{id}` |\n| `webhook-timestamp` | `{ts}` |\n| body (exact bytes) | `{body}` |\n| `webhook-signature` | `{}` |\n",
        webhook_signature(secret, id, ts, body)
    )
}

/// One error code the API answers.
#[derive(Debug, Default, Clone)]
pub struct ErrorCode {
    pub code: String,
    /// OAuth-style body (`error`) rather than the API body (`code`).
    pub oauth: bool,
    pub statuses: BTreeSet<u16>,
    pub operations: BTreeSet<String>,
    pub example: Option<String>,
}

fn codes_of(doc: &Value, schema: &Value, out: &mut Vec<(String, bool)>) {
    let schema = deref(doc, schema);
    for (field, oauth) in [("code", false), ("error", true)] {
        let p = &schema["properties"][field];
        if let Some(c) = p["const"].as_str() {
            out.push((c.to_string(), oauth));
        }
        for c in p["enum"].as_array().into_iter().flatten() {
            out.push((c.as_str().unwrap_or_default().to_string(), oauth));
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            if s.get("$ref").is_some() {
                continue;
            }
            codes_of(doc, s, out);
        }
    }
}

/// Every error code of every operation's responses, with its statuses, operations and an
/// example message.
pub fn error_catalogue(doc: &Value) -> Vec<ErrorCode> {
    let mut codes: BTreeMap<String, ErrorCode> = BTreeMap::new();
    for (method, path, op) in operations(doc) {
        for (status, resp) in op["responses"].as_object().into_iter().flatten() {
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let resp = deref(doc, resp);
            let Some(media) = resp["content"].get("application/json") else {
                continue;
            };
            let mut found = Vec::new();
            codes_of(doc, &media["schema"], &mut found);
            let mut examples: Vec<&Value> = Vec::new();
            for ex in media["examples"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, e)| deref(doc, e))
            {
                if let Some(v) = ex.get("value") {
                    examples.push(v);
                }
            }
            if let Some(v) = media.get("example") {
                examples.push(v);
            }
            for (code, oauth) in found {
                let e = codes.entry(code.clone()).or_insert_with(|| ErrorCode {
                    code: code.clone(),
                    oauth,
                    ..Default::default()
                });
                e.statuses.insert(status);
                e.operations.insert(format!("{method} {path}"));
                if e.example.is_none() {
                    e.example = examples.iter().find_map(|v| {
                        let matches = v["code"] == code.as_str() || v["error"] == code.as_str();
                        matches.then(|| {
                            v["message"]
                                .as_str()
                                .or(v["error_description"].as_str())
                                .unwrap_or("")
                                .to_string()
                        })
                    });
                }
            }
        }
    }
    codes.into_values().collect()
}

fn error_catalogue_table(doc: &Value) -> String {
    let mut out = String::from(
        "| code | status | body | example message | answered by |\n|---|---|---|---|---|\n",
    );
    let total = operations(doc).len();
    for e in error_catalogue(doc) {
        let statuses: Vec<String> = e.statuses.iter().map(u16::to_string).collect();
        let ops = if e.operations.len() == total {
            "every operation".to_string()
        } else if e.operations.len() > 6 {
            format!("{} operations", e.operations.len())
        } else {
            e.operations
                .iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| <code id=\"error-{code}\">{code}</code> | {} | {} | {} | {ops} |\n",
            statuses.join(", "),
            if e.oauth {
                "OAuth (`error`)"
            } else {
                "API (`code`)"
            },
            e.example
                .as_deref()
                .map(|m| m.replace('|', "\\|"))
                .unwrap_or_default(),
            code = e.code,
        ));
    }
    out
}

fn environments(doc: &Value) -> String {
    let mut out = String::from("| environment | base URL | notes |\n|---|---|---|\n");
    out.push_str("| this deployment | <code class=\"portal-base-url\">the address of this page without /docs</code> | the one that served this page |\n");
    for s in doc["servers"].as_array().into_iter().flatten() {
        let desc = s["description"].as_str().unwrap_or("");
        let name = desc.split([' ', '(']).next().unwrap_or("");
        let note = desc
            .strip_prefix(name)
            .unwrap_or("")
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')');
        out.push_str(&format!(
            "| {name} | `{}` | {} |\n",
            s["url"].as_str().unwrap_or(""),
            note.replace('|', "\\|")
        ));
    }
    out
}

fn rate_limits(template: &serde_yaml::Value) -> String {
    let mut out = String::from("| environment | all partners together (requests/s, burst) | per partner, once usage plans are switched on (requests/s, burst) |\n|---|---|---|\n");
    out.push_str("| local | none (the local gateway does not throttle unless started with `--stage-throttle`) | none |\n");
    if let Some(envs) = template["Mappings"]["Environments"].as_mapping() {
        for (name, v) in envs {
            let n = |k: &str| {
                v[k].as_u64()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "?".into())
            };
            out.push_str(&format!(
                "| {} | {} / {} | {} / {} |\n",
                name.as_str().unwrap_or(""),
                n("StageRateLimit"),
                n("StageBurstLimit"),
                n("PartnerRateLimit"),
                n("PartnerBurstLimit")
            ));
        }
    }
    out
}

/// The CSV columns of the lists, from `x-csv-columns` on their `text/csv` responses.
fn csv_columns(doc: &Value) -> String {
    let mut out = String::new();
    for (method, path, op) in operations(doc) {
        let media = &op["responses"]["200"]["content"]["text/csv"];
        let Some(cols) = media["x-csv-columns"].as_array() else {
            continue;
        };
        out.push_str(&format!(
            "Columns of `{method} {path}`, in this order:\n\n| column | from |\n|---|---|\n"
        ));
        for c in cols {
            out.push_str(&format!(
                "| `{}` | {} |\n",
                c["name"].as_str().unwrap_or(""),
                c["description"].as_str().unwrap_or("")
            ));
        }
        out.push('\n');
    }
    out
}

fn changelog(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("# ") {
            continue;
        }
        // Its entries nest under "Versioning and changelog" (the menu shows levels 1 and 2).
        if let Some(h) = line.strip_prefix("## ") {
            out.push_str(&format!("### {h}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `/docs` page: the document inline (a JSON data block: no request, no inline script) and
/// the scripts, all from this origin. `assets` gives each asset's name and version (a content
/// hash) for the `?v=` that lets browsers cache them for a year.
pub fn page_html(doc: &Value, asset: impl Fn(&str) -> String) -> String {
    let json = serde_json::to_string(doc)
        .expect("JSON")
        // Nothing in the data block may close the script element or open a comment.
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--");
    let title = html_escape(doc["info"]["title"].as_str().unwrap_or("API"));
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: developer portal</title>
<meta name="description" content="Guides, reference and code samples of the partner API: from the credentials kit to a first insured delivery.">
<link rel="icon" href="{favicon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
</head>
<body>
<header class="portal-header"><a class="portal-home" href="docs">{title}</a> <span class="portal-tagline">developer portal</span></header>
<main id="portal-main">
<noscript><p>This page needs JavaScript to render the reference. Without it: the <a href="api/v1/openapi.json">OpenAPI document</a> and the <a href="docs/partner-api.postman_collection.json">Postman collection</a>.</p></noscript>
<div id="redoc"><p class="portal-loading">Loading the API reference…</p></div>
</main>
<script type="application/json" id="portal-spec">{json}</script>
<script src="{md5}"></script>
<script src="{redoc}"></script>
<script src="{portal}"></script>
</body>
</html>
"#,
        favicon = asset("favicon.svg"),
        css = asset("portal.css"),
        md5 = asset("md5.min.js"),
        redoc = asset("redoc.standalone.js"),
        portal = asset("portal.js"),
    )
}
