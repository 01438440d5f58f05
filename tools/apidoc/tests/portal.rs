//! The developer portal's generated content against the code: the code samples (every
//! operation, every language, syntax-checked where the machine has the tool), the CSV columns,
//! the delivery status machine, the webhook test vector, and the page holding every operation
//! and error code. The browser tests (tests/tests/portal) check the rendered page.

use std::collections::BTreeSet;
use std::process::Command;

use apidoc::portal::{error_catalogue, portal_document, Sources};
use apidoc::samples::{code_samples, LANGUAGES};
use apidoc::{load_document, operations, workspace_root};
use serde_json::Value;

fn portal_doc() -> Value {
    portal_document(&Sources::read(&workspace_root()))
}

#[test]
fn every_operation_has_a_sample_in_every_language_and_writes_sign() {
    let doc = load_document();
    let mut problems = Vec::new();
    for (method, path, op) in operations(&doc) {
        let samples = code_samples(&doc, &method, &path, op);
        let langs: Vec<&str> = samples.iter().filter_map(|s| s["label"].as_str()).collect();
        let want: Vec<&str> = LANGUAGES.iter().map(|(_, l)| *l).collect();
        if langs != want {
            problems.push(format!("{method} {path}: languages {langs:?}"));
        }
        let signed = apidoc::deref(
            &doc,
            &op["requestBody"]["content"]["application/json"]["schema"],
        )["properties"]
            .get("signature")
            .is_some();
        for s in &samples {
            let src = s["source"].as_str().unwrap_or("");
            let label = s["label"].as_str().unwrap_or("");
            let md5 = [
                "md5sum",
                "hashlib.md5",
                "createHash(\"md5\")",
                "md5.Sum",
                "\"MD5\"",
                "md5(",
                "MD5.HashData",
            ];
            if signed && !md5.iter().any(|m| src.contains(m)) {
                problems.push(format!(
                    "{method} {path} {label}: a signed write without the MD5 signature"
                ));
            }
            if !signed && src.contains("signature") {
                problems.push(format!(
                    "{method} {path} {label}: computes a signature it does not need"
                ));
            }
            for var in ["API_BASE_URL", "TOKEN_URL"] {
                let needed = if path == "/oauth/token" {
                    var == "TOKEN_URL"
                } else {
                    var == "API_BASE_URL"
                };
                if needed && !src.contains(var) {
                    problems.push(format!("{method} {path} {label}: does not use {var}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every sample of a language written to files and checked by the language's own tool.
fn check_language(label: &str, ext: &str, check: impl Fn(&std::path::Path, &str) -> Command) {
    let doc = load_document();
    let dir = workspace_root()
        .join("target/apidoc-samples")
        .join(label.to_lowercase());
    let _ = std::fs::remove_dir_all(&dir);
    let mut failures = Vec::new();
    for (method, path, op) in operations(&doc) {
        let sample = code_samples(&doc, &method, &path, op)
            .into_iter()
            .find(|s| s["label"] == label)
            .expect("the language has a sample");
        let name = op["operationId"].as_str().unwrap();
        let class = name[..1].to_uppercase() + &name[1..];
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let file = sub.join(format!("{class}.{ext}"));
        std::fs::write(&file, sample["source"].as_str().unwrap()).unwrap();
        let out = check(&file, &class).output().unwrap();
        if !out.status.success() {
            failures.push(format!(
                "{method} {path}: {}\n{}{}",
                file.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{label} samples do not compile:\n{}",
        failures.join("\n")
    );
}

#[test]
fn python_samples_compile() {
    check_language("Python", "py", |f, _| {
        let mut c = Command::new("python3");
        c.args(["-m", "py_compile"]).arg(f);
        c
    });
}

#[test]
fn javascript_samples_parse() {
    if !tool("node") {
        eprintln!("node not found: JavaScript samples not checked");
        return;
    }
    check_language("JavaScript", "js", |f, _| {
        let mut c = Command::new("node");
        c.arg("--check").arg(f);
        c
    });
}

#[test]
fn curl_samples_parse_as_shell() {
    check_language("curl", "sh", |f, _| {
        let mut c = Command::new("bash");
        c.arg("-n").arg(f);
        c
    });
}

#[test]
fn java_samples_compile() {
    if !Command::new("javac")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("javac not found: Java samples not checked");
        return;
    }
    check_language("Java", "java", |f, class| {
        // javac wants the public class in a file of its name.
        let renamed = f.with_file_name(format!("{class}.java"));
        std::fs::rename(f, &renamed).unwrap();
        let mut c = Command::new("javac");
        c.arg("-d").arg(f.parent().unwrap()).arg(renamed);
        c
    });
}

#[test]
fn go_php_and_csharp_samples_compile_where_their_tools_are_installed() {
    if tool("go") {
        check_language("Go", "go", |f, _| {
            let mut c = Command::new("go");
            c.arg("vet").arg(f);
            c
        });
    } else {
        eprintln!("go not found: Go samples not compiled (their shape is checked above)");
    }
    if tool("php") {
        check_language("PHP", "php", |f, _| {
            let mut c = Command::new("php");
            c.arg("-l").arg(f);
            c
        });
    } else {
        eprintln!("php not found: PHP samples not linted");
    }
}

#[test]
fn csv_columns_of_the_document_are_those_of_the_code() {
    let doc = load_document();
    let op = &doc["paths"]["/api/v1/sme-deliveries"]["get"];
    let documented: Vec<&str> = op["responses"]["200"]["content"]["text/csv"]["x-csv-columns"]
        .as_array()
        .expect("the list documents its CSV columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let code: Vec<&str> = shared::csv_export::DELIVERY_COLUMNS
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(documented, code);
}

#[test]
fn the_delivery_diagram_draws_exactly_the_moves_the_code_allows() {
    use shared::domain::DeliveryStatus;
    let mut code = BTreeSet::new();
    for a in DeliveryStatus::ALL {
        for b in DeliveryStatus::ALL {
            if a != b && a.can_move_to(b) {
                code.insert((a.as_str().to_string(), b.as_str().to_string()));
            }
        }
    }
    let drawn: BTreeSet<(String, String)> = apidoc::diagrams::DELIVERY
        .moves
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(drawn, code);
}

#[test]
fn the_webhook_vector_is_the_standard_webhooks_signature() {
    // The Standard Webhooks specification's own example (secret, id, timestamp, body).
    let got = apidoc::portal::webhook_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        r#"{"test": 2432232314}"#,
    );
    assert_eq!(got, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn the_portal_holds_every_operation_and_every_error_code_and_no_placeholder() {
    let doc = load_document();
    let portal = portal_doc();
    let text = portal["info"]["description"].as_str().unwrap();
    assert!(!text.contains("{{"), "a placeholder was left unfilled");
    for e in error_catalogue(&doc) {
        assert!(
            text.contains(&format!("id=\"error-{}\"", e.code)),
            "error code {} is not in the catalogue",
            e.code
        );
    }
    // The codes the code can answer are all in the document (doc_vs_code), so all are here.
    assert!(error_catalogue(&doc).len() >= 20);
    for (method, path, op) in operations(&portal) {
        assert_eq!(
            op["x-codeSamples"].as_array().map(Vec::len),
            Some(LANGUAGES.len()),
            "{method} {path}"
        );
    }
    for section in [
        "# Getting started",
        "# Authentication",
        "## Token renewal",
        "# Request signature",
        "# Webhooks",
        "# Errors",
        "# Status machines",
        "# Environments and base URLs",
        "## Rate limits",
        "# CSV for reporting tools",
        "# Versioning and changelog",
        "# Downloads",
        "# Rules and decisions",
    ] {
        assert!(
            text.contains(&format!("\n{section}\n")) || text.starts_with(&format!("{section}\n")),
            "no section {section}"
        );
    }
}
