//! Schemathesis against the real local stack (`scripts/fuzz`): every operation of the OpenAPI
//! document the API serves, as an authenticated partner, with a bounded number of examples per
//! operation. Fails on any 5xx, undocumented status code or response that breaks the document.
//!
//! `FUZZ_EXAMPLES` (default 20) and `FUZZ_SEED` (default 20261125, so CI runs are reproducible;
//! `random` for a new seed) tune it. A longer run against `scripts/run`'s stack:
//! `scripts/fuzz --examples 1000`.

use std::process::Command;

use blackbox::stack;

#[test]
fn schemathesis_finds_no_server_error_and_no_response_breaking_the_document() {
    let stack = stack();
    let examples = std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "20".into());
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| "20261125".into());
    let mut cmd = Command::new(stack.workspace.join("scripts/fuzz"));
    cmd.current_dir(&stack.workspace)
        .arg("--base-url")
        .arg(&stack.base_url)
        .arg("--kit")
        .arg(&stack.kit_path)
        .arg("--examples")
        .arg(&examples);
    if seed != "random" {
        cmd.arg("--seed").arg(&seed);
    }
    let started = std::time::Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running scripts/fuzz: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary is what a reader of the CI log wants; everything on failure.
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("SUMMARY") && !l.contains("Summary"))
        .collect();
    let statistics = std::fs::read_to_string(stack.workspace.join("target/fuzz/statistics.json"))
        .unwrap_or_default();
    let statistics: serde_json::Value = serde_json::from_str(&statistics).unwrap_or_default();
    eprintln!(
        "scripts/fuzz ({examples} examples per operation, seed {seed}) took {:.0} s, {} requests\n{}",
        started.elapsed().as_secs_f64(),
        statistics["total"],
        summary.join("\n")
    );
    assert!(
        out.status.success(),
        "schemathesis failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}
