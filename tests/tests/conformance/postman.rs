//! The Postman collection of `docs/postman/` runs against the stack with newman, from a local
//! environment filled with nothing but the demo partner's credentials kit: token, submit,
//! tracking, reads, list, cancel and the document, every write signed by the collection's
//! pre-request script. What a partner does from Postman, without writing code.

use std::process::Command;

use blackbox::stack;
use serde_json::Value;

#[test]
fn the_postman_collection_runs_from_a_credentials_kit() {
    let stack = stack();
    let root = &stack.workspace;
    let newman = root.join("target/tools/newman/node_modules/.bin/newman");
    assert!(
        newman.exists(),
        "{} is missing: run scripts/install",
        newman.display()
    );
    let kit = stack.demo_kit_json();
    let env_path = root.join("docs/postman/local.postman_environment.json");
    let mut env: Value = serde_json::from_str(&std::fs::read_to_string(&env_path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", env_path.display()));
    for v in env["values"].as_array_mut().expect("environment values") {
        let key = v["key"].as_str().unwrap_or_default().to_string();
        if let Some(value) = kit.get(&key) {
            v["value"] = value.clone();
        }
    }
    let dir = root.join("target/postman");
    std::fs::create_dir_all(&dir).unwrap();
    let filled = dir.join("local-from-kit.postman_environment.json");
    std::fs::write(&filled, serde_json::to_vec_pretty(&env).unwrap()).unwrap();
    let report = dir.join("newman-report.json");
    let out = Command::new(&newman)
        .arg("run")
        .arg(root.join("docs/postman/partner-api.postman_collection.json"))
        .arg("--environment")
        .arg(&filled)
        .args(["--reporters", "cli,json", "--reporter-json-export"])
        .arg(&report)
        .args(["--color", "off", "--disable-unicode"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running newman: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "newman failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Every request of the collection ran and passed its assertion.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let stats = &report["run"]["stats"];
    let collection: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/postman/partner-api.postman_collection.json"))
            .unwrap(),
    )
    .unwrap();
    let requests = collection["item"].as_array().map_or(0, Vec::len) as u64;
    assert_eq!(stats["assertions"]["failed"], 0, "{stdout}");
    assert_eq!(stats["assertions"]["total"], requests, "{stdout}");
    assert_eq!(stats["prerequestScripts"]["failed"], 0, "{stdout}");
    assert_eq!(stats["testScripts"]["failed"], 0, "{stdout}");
}
