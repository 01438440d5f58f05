//! Embeds the OpenAPI document: `docs/openapi/openapi.yaml` (the one source of truth, kept by
//! hand) is converted to JSON here, at compile time, so the function serves exactly the document
//! in the repository and a document that is not valid YAML fails the build.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let source = manifest.join("../../docs/openapi/openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
    let doc: serde_json::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", source.display()));
    assert!(
        doc.get("openapi").and_then(|v| v.as_str()).is_some(),
        "{} has no `openapi` version",
        source.display()
    );
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("openapi.json");
    std::fs::write(&out, serde_json::to_vec(&doc).expect("JSON serialises"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
