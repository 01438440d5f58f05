//! Faults and load on a stack of its own, started with fault-injecting proxies between the
//! functions and DynamoDB Local / the Secrets Manager emulator (`devstack up --dynamodb-faults
//! off --secretsmanager-faults off`; each test sets the faults it needs at run time through the
//! proxies' `/__faults`). The tests take turns (one lock), since faults are stack-wide.
//!
//! What they prove: every call ends in success or 503 with `Retry-After` (never another 5xx,
//! never a timeout of the function), and after the run every answer is reconciled with what is
//! stored: nothing lost, nothing doubled, no half-done write.
//!
//! The load run's size: `LOAD_DELIVERIES` (default 200) lifecycles at `LOAD_CLIENTS` (default
//! 16) concurrent clients. The longer run:
//! `LOAD_DELIVERIES=10000 LOAD_CLIENTS=32 cargo test -p blackbox --test resilience load -- --nocapture`.

mod faults;
mod load;

use std::sync::OnceLock;

use blackbox::{jwt, send, Partner, Resp, Stack};
use serde_json::{json, Value};

/// The stack of this binary, and what happened when its functions first started while Secrets
/// Manager was unreachable (only a fresh stack has cold functions, so that is checked first).
pub struct FaultStack {
    pub stack: Stack,
    pub cold_start_failures: Vec<String>,
    pub cold_start_log: Vec<String>,
}

static STACK: OnceLock<Option<FaultStack>> = OnceLock::new();
/// Faults are stack-wide: one test at a time.
pub static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `None` when the tests run against an external stack (`PARTNER_API_BASE_URL`).
pub fn fault_stack() -> Option<&'static FaultStack> {
    STACK
        .get_or_init(|| {
            let stack = Stack::start_private_with(&[
                "--dynamodb-faults",
                "off",
                "--secretsmanager-faults",
                "off",
            ])?;
            // Called from inside a test's runtime: run the checks on a thread of their own.
            let (cold_start_failures, cold_start_log) = std::thread::scope(|s| {
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(cold_start(&stack))
                })
                .join()
                .expect("cold start checks panicked")
            });
            Some(FaultStack {
                stack,
                cold_start_failures,
                cold_start_log,
            })
        })
        .as_ref()
}

/// The fault stack for one test at a time (faults are stack-wide); `None`, after saying the test
/// is skipped, when the tests run against an external stack.
pub async fn take_turn() -> Option<(tokio::sync::MutexGuard<'static, ()>, &'static FaultStack)> {
    let turn = TURN.lock().await;
    let Some(fs) = fault_stack() else {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
        return None;
    };
    Some((turn, fs))
}

/// A count from the environment (`FAULT_DELIVERIES`, `LOAD_CLIENTS`, ...), else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sets the faults of one proxy (`dynamodb` or `secretsmanager`); returns its counts so far.
pub async fn set_faults(stack: &Stack, service: &str, spec: &str) -> Value {
    let url = proxy(stack, service);
    let resp = reqwest::Client::new()
        .put(format!("{url}/__faults"))
        .body(spec.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("setting {service} faults: {e}"));
    assert!(resp.status().is_success(), "{service} faults `{spec}`");
    resp.json().await.unwrap()
}

/// The counts of one proxy.
pub async fn fault_counts(stack: &Stack, service: &str) -> Value {
    reqwest::get(format!("{}/__faults", proxy(stack, service)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn proxy(stack: &Stack, service: &str) -> String {
    let info = stack.stack_json();
    info[format!("{service}_fault_proxy")]
        .as_str()
        .unwrap_or_else(|| panic!("stack.json has no {service}_fault_proxy: {info}"))
        .to_string()
}

pub fn is_503_with_retry_after(resp: &Resp) -> bool {
    resp.status == 503
        && resp
            .header("retry-after")
            .is_some_and(|v| v.trim().parse::<u64>().is_ok())
}

/// With Secrets Manager unreachable (every connection reset), each function's first request
/// is 503 with `Retry-After` and writes nothing; once it is back, the same calls succeed.
async fn cold_start(stack: &Stack) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut log = Vec::new();
    let p = Partner::from_kit(stack.demo_kit_json());
    let mut check = |what: &str, resp: &Resp, ok: bool| {
        log.push(format!("{what}: {} {}", resp.status, resp.text));
        if !ok {
            failures.push(format!("{what}: {} {}", resp.status, resp.text));
        }
    };

    set_faults(stack, "secretsmanager", "reset=1").await;
    // The token function needs the signing key.
    let resp = p.token_resp(None).await;
    check(
        "token, Secrets Manager unreachable",
        &resp,
        is_503_with_retry_after(&resp),
    );
    // The authorizer needs the verification keys; a well-formed token with the right kid.
    let forged = {
        let key = jwt::fresh_key();
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "unknown-at-cold-start"});
        let now = jwt::now();
        let claims = json!({"iss": "partner-api/local", "aud": "partner-api", "sub": "x",
            "partner_id": "x", "scope": "control_tower", "iat": now, "nbf": now, "exp": now + 600, "jti": "j"});
        jwt::sign_eddsa(&header, &claims, &key)
    };
    let resp = p.get_with("/sme-deliveries", Some(&forged)).await;
    check(
        "authorizer, Secrets Manager unreachable",
        &resp,
        is_503_with_retry_after(&resp),
    );

    set_faults(stack, "secretsmanager", "off").await;
    let token = p.token_with_scope(None).await;
    // Warms the authorizer and the control tower.
    let resp = p.get_with("/sme-deliveries?limit=1", Some(&token)).await;
    check("list, Secrets Manager back", &resp, resp.status == 200);

    // The deliveries function starts cold with the link key unreachable: nothing written.
    set_faults(stack, "secretsmanager", "reset=1").await;
    let body = p.submit_body();
    let tn = body["tracking_number"].as_str().unwrap().to_string();
    let resp = p.submit(&body).await;
    check(
        "submit, Secrets Manager unreachable at the function's cold start",
        &resp,
        is_503_with_retry_after(&resp),
    );
    set_faults(stack, "secretsmanager", "off").await;
    let resp = p.delivery(&tn).await;
    check("nothing stored after that 503", &resp, resp.status == 404);
    let resp = p.submit(&body).await;
    check("the retry succeeds", &resp, resp.status == 201);
    let resp = p.submit(&body).await;
    check("and is then a safe retry", &resp, resp.status == 200);
    (failures, log)
}

#[tokio::test]
async fn secrets_manager_unreachable_at_cold_start_is_503_and_nothing_is_written() {
    let Some((_turn, fs)) = take_turn().await else {
        return;
    };
    for line in &fs.cold_start_log {
        eprintln!("{line}");
    }
    assert!(
        fs.cold_start_failures.is_empty(),
        "{:#?}",
        fs.cold_start_failures
    );
    // And the same client gets a token now.
    let p = Partner::from_kit(fs.stack.demo_kit_json());
    let resp = send(
        "POST token".into(),
        p.http
            .post(&p.kit.token_url)
            .header("Authorization", p.basic_auth_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials"),
    )
    .await;
    resp.expect(200);
}
