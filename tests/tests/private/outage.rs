//! A dependency that stops answering is 503 `service_unavailable` with `Retry-After` (never a
//! 500, a 504 or an authentication error), and a retry after it recovers completes the write
//! exactly once. It freezes its own stack's DynamoDB Local with SIGSTOP (devstack stops
//! everything if DynamoDB Local dies).

use std::sync::Arc;

use blackbox::{event, send, Partner, Resp, Stack};

/// Children of `parent` whose command line contains `needle`.
fn children_matching(parent: u32, needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(ok.success(), "kill {sig} {pid}");
}

/// Freezes a process until dropped.
struct Frozen(u32);

impl Frozen {
    fn new(pid: u32) -> Frozen {
        signal(pid, "-STOP");
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "-CONT");
    }
}

fn expect_unavailable(resp: &Resp) {
    if resp.status != 503 {
        resp.fail("an unavailable dependency must be 503");
    }
    let retry = resp.header("retry-after").unwrap_or("");
    if retry.trim().is_empty() {
        resp.fail("503 must carry Retry-After");
    }
    resp.request_id();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unavailable_dynamodb_is_503_with_retry_after_and_a_retry_completes_once() {
    let Some(stack) = Stack::start_private() else {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
        return;
    };
    let p = Arc::new(Partner::from_kit(stack.demo_kit_json()));
    // Warm every function (and its caches) while the table answers.
    let tracked = p.create_delivery().await;
    let cancelled = p.create_delivery().await;
    p.get(&format!("/sme-deliveries/{}", tracked.tracking_number))
        .await
        .expect(200);
    p.track(&p.tracking_body(&tracked, "in_process", vec![event("warm", 0)]))
        .await
        .expect_success(200);

    let devstack = stack.devstack_pid().expect("this test started devstack");
    let ddb = children_matching(devstack, "DynamoDBLocal");
    assert_eq!(ddb.len(), 1, "DynamoDB Local child of devstack {devstack}");

    let submit = p.submit_body();
    let track = p.tracking_body(&tracked, "in_delivery", vec![event("outage", 1)]);
    let cancel = p.cancel_body(&cancelled);
    {
        let _frozen = Frozen::new(ddb[0]);
        let mut calls = tokio::task::JoinSet::new();
        {
            let (p, b) = (p.clone(), submit.clone());
            calls.spawn(async move { ("submit", p.submit(&b).await) });
        }
        {
            let (p, b) = (p.clone(), track.clone());
            calls.spawn(async move { ("tracking", p.track(&b).await) });
        }
        {
            let (p, b) = (p.clone(), cancel.clone());
            calls.spawn(async move { ("cancel", p.cancel(&b).await) });
        }
        for path in [
            format!("/sme-deliveries/{}", tracked.tracking_number),
            format!("/policies/{}", tracked.policy_id),
            "/sme-deliveries".to_string(),
        ] {
            let p = p.clone();
            calls.spawn(async move { ("read", p.get(&path).await) });
        }
        {
            // The token endpoint cannot tell whether an unknown client exists: 503, not 401.
            let p = p.clone();
            calls.spawn(async move {
                let resp = send(
                    "POST token (unknown client, table frozen)".to_string(),
                    p.http
                        .post(&p.kit.token_url)
                        .header(
                            "Authorization",
                            blackbox::partner::basic("no-such-client", "secret"),
                        )
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body("grant_type=client_credentials"),
                )
                .await;
                ("token", resp)
            });
        }
        while let Some(done) = calls.join_next().await {
            let (what, resp) = done.expect("call panicked");
            expect_unavailable(&resp);
            if what != "token" {
                resp.expect_error(503, "service_unavailable");
            }
        }
    }

    // Recovered: each retry completes, exactly once.
    let resp = p.submit(&submit).await;
    if resp.status != 201 && resp.status != 200 {
        resp.fail("retrying the submission after the outage must succeed");
    }
    let tn = submit["tracking_number"].as_str().unwrap();
    let stored = p.stored(tn).await;
    assert_eq!(stored["policy"]["policy_id"], resp.json["policy_id"]);
    assert_eq!(stored["delivery_status"], "created");
    assert_eq!(stored["policy"]["policy_status"], "active");
    p.submit(&submit).await.expect_success(200);

    p.track(&track).await.expect_success(200);
    let stored = p.stored(&tracked.tracking_number).await;
    assert_eq!(stored["delivery_status"], "in_delivery");
    assert_eq!(
        stored["tracking_history"].as_array().map(Vec::len),
        Some(2),
        "the outage event must be stored once: {stored}"
    );

    p.cancel(&cancel).await.expect_success(200);
    assert_eq!(
        p.stored(&cancelled.tracking_number).await["policy"]["policy_status"],
        "cancelled"
    );
}
