//! Tooling around the OpenAPI document (`docs/openapi/openapi.yaml`, kept by hand, the one
//! source of truth): loading it, the routes of the SAM template it must match, and the Postman
//! collection and environments generated from it (`docs/postman/`).
//!
//! The tests under `tests/` fail when the document and the code disagree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub mod diagrams;
pub mod portal;
mod postman;
pub mod samples;

pub use postman::*;

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
