//! The operator's side in the tests: `opsctl` runs against a stack (shared or private), and
//! what the tests make with it (partners onboarded with their kit, products).

use serde_json::Value;

use crate::partner::{unique_name, ALL_SUBSCRIPTIONS};
use crate::stack::stack;

/// What one `opsctl` run printed.
#[derive(Debug)]
pub struct OpsOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl OpsOutput {
    /// stdout as one JSON value (`--json` output).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "opsctl printed no JSON ({e}):\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `opsctl --stack-file <stack.json> ARGS...` against `stack`, with stdin closed (so a
/// command that asks for confirmation refuses unless `--yes`).
pub async fn opsctl_run_on(stack: &crate::stack::Stack, args: &[&str]) -> OpsOutput {
    let bin = stack.bin("opsctl");
    let out = tokio::process::Command::new(&bin)
        .arg("--stack-file")
        .arg(&stack.stack_file)
        .args(args)
        // opsctl reads its own PARTNER_API_* variables (PARTNER_API_BASE_URL there means the
        // /api/v1 base); the stack file must decide, whatever the tests were started with.
        .env_remove("PARTNER_API_BASE_URL")
        .env_remove("PARTNER_API_TOKEN_URL")
        .env_remove("PARTNER_API_TABLE")
        .env_remove("PARTNER_API_SIGNING_KEYS_SECRET_ID")
        .env_remove("PARTNER_API_LINK_KEY_SECRET_ID")
        .env_remove("PARTNER_API_ENV")
        .env_remove("PARTNER_API_STACK_FILE")
        .env("OPSCTL_ACTOR", "blackbox")
        .current_dir(&stack.workspace)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    OpsOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `opsctl` against the shared stack, whatever its outcome.
pub async fn opsctl_run(args: &[&str]) -> OpsOutput {
    opsctl_run_on(stack(), args).await
}

/// Runs `opsctl --stack-file <stack.json> ARGS...`; panics with its output unless it succeeds.
pub async fn opsctl(args: &[&str]) -> String {
    opsctl_on(stack(), args).await
}

/// [`opsctl`] against a given stack (a private one).
pub async fn opsctl_on(stack: &crate::stack::Stack, args: &[&str]) -> String {
    let out = opsctl_run_on(stack, args).await;
    if !out.success {
        panic!(
            "opsctl {} failed:\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
    }
    out.stdout
}

/// `opsctl ARGS... --json` on the shared stack; panics unless it succeeds; the printed JSON.
pub async fn opsctl_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = opsctl_run(&all).await;
    if !out.success {
        panic!(
            "opsctl {} failed:\nstdout: {}\nstderr: {}",
            all.join(" "),
            out.stdout,
            out.stderr
        );
    }
    out.json()
}

/// Onboards a partner with `opsctl partner onboard --json`; returns the kit as JSON.
pub async fn onboard_kit_json(name: &str, subscriptions: &[&str]) -> Value {
    onboard_kit_json_with(stack(), name, subscriptions).await
}

/// A partner with every subscription, onboarded on a given stack (a private one).
pub async fn onboard_kit_json_on(stack: &crate::stack::Stack, prefix: &str) -> Value {
    onboard_kit_json_with(stack, &unique_name(prefix), &ALL_SUBSCRIPTIONS).await
}

pub async fn onboard_kit_json_with(
    stack: &crate::stack::Stack,
    name: &str,
    subscriptions: &[&str],
) -> Value {
    let subs = subscriptions.join(",");
    let out = opsctl_on(
        stack,
        &[
            "partner",
            "onboard",
            "--name",
            name,
            "--subscriptions",
            &subs,
            "--json",
        ],
    )
    .await;
    // The kit is one JSON object; tolerate log lines around it.
    serde_json::from_str(out.trim())
        .ok()
        .or_else(|| {
            out.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
                .find(Value::is_object)
        })
        .unwrap_or_else(|| panic!("opsctl partner onboard --json printed no JSON kit:\n{out}"))
}

/// Creates or updates a product with `opsctl product put`.
pub async fn put_product(
    code: &str,
    currency: &str,
    max_item_value: i64,
    rate_bps: i64,
    min_premium: i64,
) {
    opsctl(&[
        "product",
        "put",
        "--code",
        code,
        "--currency",
        currency,
        "--max-item-value",
        &max_item_value.to_string(),
        "--premium-rate-bps",
        &rate_bps.to_string(),
        "--min-premium",
        &min_premium.to_string(),
    ])
    .await;
}
