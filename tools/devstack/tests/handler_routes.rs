//! The template's routes and the handlers' routes are the same set, function by function.
//!
//! API Gateway (and the local gateway, which reads the same template: tests/tests/api/gateway.rs
//! checks `devstack routes` against it) sends a function only the routes its `Events` declare;
//! the function dispatches on `"<METHOD> <resource path>"` (shared/src/http.rs `RequestMeta::route`).
//! A route in the template that the handler does not know answers 404 in production; a route the
//! handler knows but the template lacks is dead code that nothing can reach. Neither shows up until
//! a partner calls it, so this test reads both sides from the source.
//!
//! Handler side: the `"<METHOD> /<path>"` string literals in `functions/<Binary>/src/main.rs`. A
//! function with no such literal does not dispatch on the route (the token endpoint, a
//! single-route function) and must have at most one route in the template.

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `"GET /api/v1/x"`-shaped string literals of a Rust source file.
fn route_literals(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, piece) in src.split('"').enumerate() {
        // Odd pieces are inside a string literal (good enough for these small files, which
        // have no escaped quotes before their route constants).
        if i % 2 == 0 {
            continue;
        }
        if let Some((method, path)) = piece.split_once(' ') {
            if METHODS.contains(&method) && path.starts_with('/') && !path.contains(' ') {
                out.insert(piece.to_string());
            }
        }
    }
    out
}

/// Binary -> its template routes, as `"METHOD /path"`.
fn template_routes() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"));
        let routes = out.entry(binary.to_string()).or_default();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() != Some("Api") {
                continue;
            }
            let method = event["Properties"]["Method"].as_str().unwrap();
            let path = event["Properties"]["Path"].as_str().unwrap();
            routes.insert(format!("{} {path}", method.to_ascii_uppercase()));
        }
    }
    out
}

#[test]
fn literals_are_found() {
    let src =
        r#"const A: &str = "GET /api/v1/x/{id}"; const B: &str = "not a route"; f("POST /y");"#;
    assert_eq!(
        route_literals(src),
        BTreeSet::from(["GET /api/v1/x/{id}".to_string(), "POST /y".to_string()])
    );
}

#[test]
fn every_function_handles_exactly_its_template_routes() {
    let template = template_routes();
    assert!(
        template.contains_key("authorizer") && template.contains_key("token"),
        "template functions: {:?}",
        template.keys()
    );
    let mut failures = Vec::new();
    for (binary, declared) in &template {
        let main = root().join(format!("functions/{binary}/src/main.rs"));
        let src = std::fs::read_to_string(&main)
            .unwrap_or_else(|e| panic!("{}: {e} (Binary {binary})", main.display()));
        let handled = route_literals(&src);
        if handled.is_empty() {
            if declared.len() > 1 {
                failures.push(format!(
                    "{binary}: the template sends it {declared:?} but its main.rs dispatches on no route"
                ));
            }
            continue;
        }
        for missing in declared.difference(&handled) {
            failures.push(format!(
                "{binary}: the template routes {missing} to it, but functions/{binary}/src/main.rs does not handle it"
            ));
        }
        for extra in handled.difference(declared) {
            failures.push(format!(
                "{binary}: functions/{binary}/src/main.rs handles {extra}, which no template event routes to it"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_function_crate_is_in_the_template() {
    let template = template_routes();
    let mut crates = Vec::new();
    for entry in std::fs::read_dir(root().join("functions")).unwrap() {
        let entry = entry.unwrap();
        if entry.path().join("src/main.rs").exists() {
            crates.push(entry.file_name().to_string_lossy().to_string());
        }
    }
    for c in &crates {
        assert!(
            template.contains_key(c),
            "functions/{c} is not built by any AWS::Serverless::Function in infra/template.yaml"
        );
    }
}
