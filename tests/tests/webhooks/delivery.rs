//! Delivery: Standard Webhooks signatures checked by an independent verifier (PyPI
//! `standardwebhooks`), rotation, the retry schedule against a failing then recovering receiver,
//! disabling after persistent failure, no redirects, ping and redeliver, no secret in any log.

use std::time::Duration;

use base64::Engine;
use blackbox::receiver::{verify_with_standardwebhooks, Delivery, Mode, Receiver};
use blackbox::Partner;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{logged_events, partner, receiver_for, register, stack, DISABLE_AFTER_SECONDS};

const WAIT: Duration = Duration::from_secs(90);

fn of_tracking<'a>(got: &'a [Delivery], tn: &str) -> Vec<&'a Delivery> {
    got.iter()
        .filter(|d| d.json()["data"]["tracking_number"] == tn && (200..300).contains(&d.answered))
        .collect()
}

fn case(secret: &str, d: &Delivery) -> (String, String, String, String, String) {
    (
        secret.into(),
        d.id.clone(),
        d.timestamp.clone(),
        d.signature.clone(),
        d.body.clone(),
    )
}

/// `v1,` + base64 HMAC-SHA256 keyed with the secret's bytes, over `id.timestamp.body`.
fn sign(secret: &str, id: &str, ts: i64, body: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let tag = aws_lc_rs::hmac::sign(&k, format!("{id}.{ts}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_signed_as_standard_webhooks_verify_independently_and_rotation_signs_twice() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-sign").await;
    let (r, id, secret) = receiver_for(&p).await;
    let d = p.create_delivery().await;
    p.advance(&d, &["in_process"]).await;
    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
    let got = r
        .wait_for(
            WAIT,
            "policy.issued, delivery.status_changed, policy.cancelled",
            |g| of_tracking(g, &d.tracking_number).len() >= 3,
        )
        .await;
    let mine = of_tracking(&got, &d.tracking_number);
    let mut types: Vec<String> = mine
        .iter()
        .map(|x| x.json()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(
        types,
        [
            "delivery.status_changed",
            "policy.cancelled",
            "policy.issued"
        ],
        "{types:?}"
    );
    for x in &mine {
        let body = x.json();
        assert_eq!(x.content_type, "application/json");
        assert_eq!(body["id"], x.id.as_str(), "webhook-id is the event id");
        assert!(x.id.starts_with("evt_"));
        assert_eq!(body["api_version"], "v1");
        assert_eq!(body["data"]["policy"]["policy_id"], d.policy_id.as_str());
        assert!(
            x.signature.starts_with("v1,") && !x.signature.contains(' '),
            "{}",
            x.signature
        );
        let status_change = body["type"] == "delivery.status_changed";
        assert_eq!(
            body["data"]["previous_status"].is_string(),
            status_change,
            "{body}"
        );
    }
    let version = |t: &str| {
        mine.iter().find(|x| x.json()["type"] == t).unwrap().json()["data"]["version"]
            .as_u64()
            .unwrap()
    };
    assert!(version("policy.issued") < version("delivery.status_changed"));
    assert!(version("delivery.status_changed") < version("policy.cancelled"));
    let changed = mine
        .iter()
        .find(|x| x.json()["type"] == "delivery.status_changed")
        .unwrap()
        .json();
    assert_eq!(
        (
            changed["data"]["previous_status"].clone(),
            changed["data"]["delivery_status"].clone()
        ),
        (json!("created"), json!("in_process"))
    );

    // The independent verifier accepts every delivery, and refuses a tampered body, another
    // secret, and a correctly signed message whose timestamp is 10 minutes old.
    let cases: Vec<_> = mine.iter().map(|x| case(&secret, x)).collect();
    let results = verify_with_standardwebhooks(&cases);
    assert!(results.iter().all(|r| r == "ok"), "{results:?}");
    let x = mine[0];
    let tampered = (
        secret.clone(),
        x.id.clone(),
        x.timestamp.clone(),
        x.signature.clone(),
        x.body.replacen("\"v1\"", "\"v2\"", 1),
    );
    let other_secret = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
        x.id.clone(),
        x.timestamp.clone(),
        x.signature.clone(),
        x.body.clone(),
    );
    let old_ts = blackbox::jwt::now() - 600;
    let old = (
        secret.clone(),
        x.id.clone(),
        old_ts.to_string(),
        sign(&secret, &x.id, old_ts, &x.body),
        x.body.clone(),
    );
    let fresh = (
        secret.clone(),
        x.id.clone(),
        blackbox::jwt::now().to_string(),
        sign(&secret, &x.id, blackbox::jwt::now(), &x.body),
        x.body.clone(),
    );
    let results = verify_with_standardwebhooks(&[tampered, other_secret, old, fresh]);
    assert_ne!(results[0], "ok", "tampered body");
    assert_ne!(results[1], "ok", "another secret");
    assert!(
        results[2].contains("old") || results[2].contains("Too"),
        "old timestamp: {}",
        results[2]
    );
    assert_eq!(results[3], "ok", "the test's own signing is right");

    // Rotation: a new secret, shown once; both sign for 24 hours.
    let rotated = p
        .post_json(
            &format!("/webhook-endpoints/{id}/rotate-secret"),
            &json!({}),
        )
        .await;
    let v = rotated.expect(200).clone();
    let secret2 = v["secret"].as_str().unwrap().to_string();
    assert!(secret2.starts_with("whsec_") && secret2 != secret);
    assert!(v["previous_secret_expires_at"].is_string(), "{v}");
    let d2 = p.create_delivery().await;
    let got = r
        .wait_for(WAIT, "an event after the rotation", |g| {
            !of_tracking(g, &d2.tracking_number).is_empty()
        })
        .await;
    let x = of_tracking(&got, &d2.tracking_number)[0].clone();
    assert_eq!(
        x.signature.split(' ').count(),
        2,
        "two signatures during the rotation: {}",
        x.signature
    );
    let results = verify_with_standardwebhooks(&[case(&secret, &x), case(&secret2, &x)]);
    assert_eq!(results, ["ok", "ok"]);

    // Neither secret is in any response since, nor in any log line of the stack.
    let shown = p.get(&format!("/webhook-endpoints/{id}")).await;
    assert!(!shown.text.contains(&secret) && !shown.text.contains(&secret2));
    let logs = stack.state_dir().join("logs");
    for entry in std::fs::read_dir(&logs).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for s in [&secret, &secret2] {
            let key = s.trim_start_matches("whsec_");
            assert!(
                !text.contains(key),
                "a webhook secret is in {}",
                path.display()
            );
        }
    }
}

async fn attempts_of(p: &Partner, path: &str) -> Vec<Value> {
    p.get(path).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_refuses_fails_and_times_out_then_recovers_gets_every_event() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-retry").await;
    let r = Receiver::closed().await;
    let (id, _) = register(&p, &r.url("/hooks"), None).await;
    let a = p.create_delivery().await;
    p.create_delivery().await; // a second delivery: its policy.issued is among the events
    p.advance(&a, &["in_process", "in_delivery"]).await;
    // Connection refused: attempts are recorded as errors and retried.
    let path = format!("/webhook-endpoints/{id}/deliveries?limit=100");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let items = attempts_of(&p, &path).await;
        if items
            .iter()
            .filter(|i| {
                i["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("connection"))
            })
            .count()
            >= 6
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no refused attempts recorded: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Then 500s, then it recovers.
    r.set(Mode::Status(500));
    r.listen().await;
    r.wait_for(WAIT, "a 500", |g| g.iter().any(|d| d.answered == 500))
        .await;
    r.set(Mode::Ok);
    let expected: Vec<Value> = logged_events(&p).await;
    assert_eq!(
        expected.len(),
        4,
        "issued x2 + 2 status changes: {expected:?}"
    );
    let ids: std::collections::BTreeSet<String> = expected
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let got = r
        .wait_for(WAIT, "every event delivered", |g| {
            let ok: std::collections::BTreeSet<&str> = g
                .iter()
                .filter(|d| d.answered == 200)
                .map(|d| d.id.as_str())
                .collect();
            ids.iter().all(|i| ok.contains(i.as_str()))
        })
        .await;
    // None invented: everything received is one of the partner's logged events, byte for byte.
    for d in &got {
        let logged = expected
            .iter()
            .find(|e| e["id"] == d.id.as_str())
            .unwrap_or_else(|| panic!("invented event {}", d.id));
        assert_eq!(&d.json(), logged);
    }
    // The schedule is observable: one event's attempts go 1, 2, 3, ... at least ~1 s apart.
    let items = attempts_of(&p, &path).await;
    let one = ids.iter().next().unwrap();
    let mut mine: Vec<&Value> = items
        .iter()
        .filter(|i| i["event_id"] == one.as_str())
        .collect();
    mine.sort_by_key(|i| i["attempt"].as_u64());
    assert!(mine.len() >= 3, "{mine:?}");
    assert!(mine.last().unwrap()["success"] == json!(true), "{mine:?}");
    assert!(mine
        .iter()
        .take(mine.len() - 1)
        .all(|i| i["success"] == json!(false)));
    let attempts: Vec<u64> = mine
        .iter()
        .map(|i| i["attempt"].as_u64().unwrap())
        .collect();
    assert!(attempts.windows(2).all(|w| w[1] > w[0]), "{attempts:?}");
    let times: Vec<time::OffsetDateTime> = mine
        .iter()
        .map(|i| blackbox::parse_time(i["attempted_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        times
            .windows(2)
            .all(|w| (w[1] - w[0]) >= time::Duration::milliseconds(900)),
        "{times:?}"
    );
    // A receiver that does not answer within 10 s: the attempt is a timeout, and retried.
    r.set(Mode::Hang(Duration::from_secs(12)));
    p.post_json(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await
        .expect(202);
    r.wait_for(Duration::from_secs(30), "the ping", |g| {
        g.iter().any(|d| d.json()["type"] == "ping")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    r.set(Mode::Ok);
    let items = attempts_of(&p, &path).await;
    assert!(
        items
            .iter()
            .any(|i| i["error"].as_str().is_some_and(|e| e.contains("10 s"))),
        "{items:?}"
    );
    r.wait_for(WAIT, "the ping answered in time", |g| {
        g.iter().filter(|d| d.json()["type"] == "ping").count() >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_every_attempt_is_disabled_with_its_reason_and_resumes_with_new_events()
{
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-disable").await;
    let r = Receiver::start().await;
    r.set(Mode::Status(503));
    let (id, _) = register(&p, &r.url("/hooks"), None).await;
    let d = p.create_delivery().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(DISABLE_AFTER_SECONDS + 60);
    let disabled = loop {
        let v = p
            .get(&format!("/webhook-endpoints/{id}"))
            .await
            .expect(200)
            .clone();
        if v["enabled"] == json!(false) {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "not disabled: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("failed") && reason.contains("503"),
        "{reason}"
    );
    assert!(disabled["disabled_at"].is_string());
    let failed = r.got().len();
    assert!(failed >= 3, "retried before disabling: {failed}");
    // Disabled: a test ping is refused, nothing more is sent.
    p.post_json(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await
        .expect_error(409, "endpoint_disabled");
    // Enabled again: new events arrive; the old one only if redelivered.
    r.set(Mode::Ok);
    p.call(
        Method::PATCH,
        &format!("/webhook-endpoints/{id}"),
        Some(&json!({"enabled": true})),
    )
    .await
    .expect(200);
    let d2 = p.create_delivery().await;
    r.wait_for(WAIT, "the new event", |g| {
        !of_tracking(g, &d2.tracking_number).is_empty()
    })
    .await;
    assert!(
        of_tracking(&r.got(), &d.tracking_number).is_empty(),
        "the dropped event is not sent by itself"
    );
    let old = logged_events(&p)
        .await
        .into_iter()
        .find(|e| e["data"]["tracking_number"] == d.tracking_number.as_str())
        .unwrap();
    let resp = p
        .post_json(
            &format!("/events/{}/redeliver", old["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(resp.expect(202)["endpoint_ids"], json!([id]));
    r.wait_for(WAIT, "the redelivered event", |g| {
        !of_tracking(g, &d.tracking_number).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_redeliver_and_redirects_that_are_not_followed() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-ping").await;
    let (r, id, _) = receiver_for(&p).await;
    let ping = p
        .post_json(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await;
    let ping_id = ping.expect(202)["event_id"].as_str().unwrap().to_string();
    let got = r
        .wait_for(WAIT, "the ping", |g| g.iter().any(|d| d.id == ping_id))
        .await;
    let body = got.iter().find(|d| d.id == ping_id).unwrap().json();
    assert_eq!(
        (body["type"].clone(), body["data"]["endpoint_id"].clone()),
        (json!("ping"), json!(id))
    );
    // Redeliver: the same id and body again.
    let d = p.create_delivery().await;
    let got = r
        .wait_for(WAIT, "policy.issued", |g| {
            !of_tracking(g, &d.tracking_number).is_empty()
        })
        .await;
    let first = of_tracking(&got, &d.tracking_number)[0].clone();
    p.post_json(&format!("/events/{}/redeliver", first.id), &json!({}))
        .await
        .expect(202);
    let got = r
        .wait_for(WAIT, "the redelivery", |g| {
            of_tracking(g, &d.tracking_number).len() >= 2
        })
        .await;
    let again = of_tracking(&got, &d.tracking_number);
    assert!(again
        .iter()
        .all(|x| x.id == first.id && x.body == first.body));
    p.post_json(
        "/events/evt_01ARZ3NDEKTSV4RRFFQ69G5FAV/redeliver",
        &json!({}),
    )
    .await
    .expect_error(404, "not_found");
    // An endpoint that does not subscribe to the type gets nothing; with none, 409.
    p.call(
        Method::PATCH,
        &format!("/webhook-endpoints/{id}"),
        Some(&json!({"event_types": ["claim.paid"]})),
    )
    .await
    .expect(200);
    p.post_json(&format!("/events/{}/redeliver", first.id), &json!({}))
        .await
        .expect_error(409, "no_subscribed_endpoint");
    // A redirect is an answer, not followed: recorded with its status and never reached.
    let target = Receiver::start().await;
    let hop = Receiver::start().await;
    hop.set(Mode::Redirect(target.url("/stolen")));
    let (hop_id, _) = register(&p, &hop.url("/hooks"), None).await;
    p.post_json(&format!("/webhook-endpoints/{hop_id}/test"), &json!({}))
        .await
        .expect(202);
    hop.wait_for(WAIT, "the ping at the redirecting endpoint", |g| {
        !g.is_empty()
    })
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    let attempts = loop {
        let items = p
            .get(&format!("/webhook-endpoints/{hop_id}/deliveries"))
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .clone();
        if !items.is_empty() {
            break items;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(attempts[0]["status_code"], json!(302), "{attempts:?}");
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("redirect"),
        "{attempts:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(target.got().is_empty(), "the redirect was followed");
}

/// The README's receiver (docs/webhooks/receiver.py, standard library Python) verifies and prints
/// what the stack sends, and refuses a forged delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_receiver_verifies_and_prints_events_and_refuses_forgeries() {
    use std::io::BufRead;
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-readme").await;
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let (_, secret) = register(&p, &format!("http://127.0.0.1:{port}/webhooks"), None).await;
    let mut child = std::process::Command::new("python3")
        .arg(stack.workspace.join("docs/webhooks/receiver.py"))
        .arg(port.to_string())
        .env("WEBHOOK_SECRET", &secret)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 docs/webhooks/receiver.py");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // A delivery, and a claim on it (the receiver prints a claim event with its claim id).
    let d = p.failed_delivery().await;
    let claim_id = p.file_claim_ok(&p.claim_body(&d, "loss", 1_000_000)).await;
    let deadline = std::time::Instant::now() + WAIT;
    let mut lines: Vec<String> = Vec::new();
    let found = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                lines.push(line);
                let printed =
                    |t: &str, what: &str| lines.iter().any(|l| l.contains(t) && l.contains(what));
                if printed("policy.issued", &d.tracking_number)
                    && printed("claim.submitted", &format!("{claim_id} submitted  v1"))
                {
                    break true;
                }
            }
            Err(_) if std::time::Instant::now() > deadline => break false,
            Err(_) => {}
        }
    };
    // A forged delivery (right headers, wrong signature) is refused with 401.
    let forged = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks"))
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", blackbox::jwt::now().to_string())
        .header(
            "webhook-signature",
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .body("{\"id\":\"evt_forged\"}")
        .send()
        .await
        .map(|r| r.status().as_u16());
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "the receiver did not print the events: {lines:?}");
    assert_eq!(forged.ok(), Some(401));
}
