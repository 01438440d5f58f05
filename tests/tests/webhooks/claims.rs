//! Claim events: a claim's whole life (filed, a document, review, information requested, the
//! partner's note, approval, payout; operator moves through `opsctl` as an operator makes
//! them), and a withdrawal, each deliver exactly the expected claim events, once each in the
//! event log and at the receiver, signed (checked by the independent `standardwebhooks`
//! verifier); the claims-summary changes the same writes make on the delivery item are no
//! delivery events.

use std::collections::BTreeMap;
use std::time::Duration;

use blackbox::claims::upload;
use blackbox::receiver::{verify_with_standardwebhooks, Delivery, Receiver};
use blackbox::{Partner, Stack};
use serde_json::{json, Value};

use crate::{log_index, logged_events, partner, receiver_for, resource_of, stack, wait_logged};

const WAIT: Duration = Duration::from_secs(90);

/// `opsctl claim <args...> --yes --json` on the webhook stack (must succeed): the claim after.
async fn operator(stack: &Stack, args: &[&str]) -> Value {
    let mut all = vec!["claim"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--yes", "--json"]);
    let out = blackbox::opsctl_run_on(stack, &all).await;
    assert!(
        out.success,
        "opsctl {all:?}:\n{}\n{}",
        out.stdout, out.stderr
    );
    out.json()
}

/// (resource, type, version, previous_status) of an event, as the tests expect them.
type Expected = (String, String, u64, Option<String>);

fn expected(resource: &str, t: &str, version: u64, previous: Option<&str>) -> Expected {
    (
        resource.to_string(),
        t.to_string(),
        version,
        previous.map(str::to_string),
    )
}

/// The delivery events of `Partner::failed_delivery` (issued, in_delivery, fail), and no other:
/// the claims-summary changes of the delivery item (filing, every status move) are no events.
fn failed_delivery_events(tn: &str) -> Vec<Expected> {
    vec![
        expected(tn, "policy.issued", 1, None),
        expected(tn, "delivery.status_changed", 2, Some("created")),
        expected(tn, "delivery.status_changed", 3, Some("in_delivery")),
    ]
}

/// Waits for the partner's log to hold `want` (and, a moment later, nothing more); asserts it
/// holds exactly those events, once each; returns the logged events, oldest first.
async fn logged_exactly(p: &Partner, want: &[Expected]) -> Vec<Value> {
    let events = wait_logged(p, want.len(), WAIT).await;
    // Anything the pipeline would add wrongly (a second event of a change, a delivery event of
    // a claims-summary change) is logged within this second too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = if events.len() == want.len() {
        logged_events(p).await
    } else {
        events
    };
    let index = log_index(&events);
    assert!(
        index.values().all(|n| *n == 1),
        "an event twice in the log: {index:?}"
    );
    let mut got: Vec<Expected> = events
        .iter()
        .map(|e| {
            expected(
                resource_of(e),
                e["type"].as_str().unwrap(),
                e["data"]["version"].as_u64().unwrap(),
                e["data"]["previous_status"].as_str(),
            )
        })
        .collect();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(
        got, want,
        "the log's events are not exactly the changes made"
    );
    let mut events = events;
    events.reverse();
    events
}

/// Waits until every logged event reached the receiver (2xx); asserts every delivery is a logged
/// event, byte for byte, and verifies each with the independent verifier.
async fn received_and_verified(r: &Receiver, secret: &str, logged: &[Value]) -> Vec<Delivery> {
    let ids: Vec<&str> = logged.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let got = r
        .wait_for(WAIT, "every logged event", |g| {
            ids.iter().all(|i| {
                g.iter()
                    .any(|d| d.id == *i && (200..300).contains(&d.answered))
            })
        })
        .await;
    let by_id: BTreeMap<&str, &Value> = logged
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e))
        .collect();
    for d in &got {
        let logged = by_id
            .get(d.id.as_str())
            .unwrap_or_else(|| panic!("invented event {} {}", d.id, d.body));
        assert_eq!(
            &&d.json(),
            logged,
            "a delivery differs from its logged event"
        );
        assert_eq!(d.json()["id"], d.id.as_str(), "webhook-id is the event id");
        assert_eq!(d.content_type, "application/json");
    }
    let cases: Vec<_> = got
        .iter()
        .map(|d| {
            (
                secret.to_string(),
                d.id.clone(),
                d.timestamp.clone(),
                d.signature.clone(),
                d.body.clone(),
            )
        })
        .collect();
    let results = verify_with_standardwebhooks(&cases);
    assert!(
        results.iter().all(|r| r == "ok"),
        "standardwebhooks refused a claim event: {results:?}"
    );
    got
}

/// The logged event of `t` at `version` of a resource.
fn find<'a>(logged: &'a [Value], resource: &str, t: &str, version: u64) -> &'a Value {
    logged
        .iter()
        .find(|e| resource_of(e) == resource && e["type"] == t && e["data"]["version"] == version)
        .unwrap_or_else(|| panic!("no {t} v{version} of {resource}"))
}

/// The claim as GET returns it, without what events leave out (`uploaded`, which is S3's).
fn without_uploaded(mut claim: Value) -> Value {
    for d in claim["documents"].as_array_mut().into_iter().flatten() {
        d.as_object_mut().unwrap().remove("uploaded");
    }
    claim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_whole_life_delivers_exactly_its_events_once_each_signed() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-claim").await;
    let (r, _, secret) = receiver_for(&p).await;
    let d = p.failed_delivery().await;
    let tn = d.tracking_number.as_str();

    // The partner files, adds a photo (and uploads it: no change of the claim, no event).
    let id = p.file_claim_ok(&p.claim_body(&d, "loss", 3_000_000)).await;
    let c = p.claim_json(&id).await;
    let added = p.add_document(&c, "parcel.jpg", "image/jpeg", 2048).await;
    let document_id = added.expect_success(201)["document_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        upload(&added.expect(201)["upload"], vec![0xd8; 2048], None).await,
        200
    );
    // The operator reviews and asks for information; the partner's note answers it.
    operator(
        stack,
        &["review", &id, "--message", "We are looking at it."],
    )
    .await;
    operator(
        stack,
        &["request-information", &id, "--message", "Send the invoice."],
    )
    .await;
    let note = p.note(&c, "The invoice is attached as a document.").await;
    assert_eq!(note.expect_success(201)["claim_status"], "in_review");
    // Partial approval, then the payout.
    operator(
        stack,
        &[
            "approve",
            &id,
            "--amount",
            "2000000",
            "--note",
            "Partial approval.",
        ],
    )
    .await;
    operator(
        stack,
        &["pay", &id, "--amount", "2000000", "--reference", "TX-42"],
    )
    .await;

    let mut want = failed_delivery_events(tn);
    want.extend([
        expected(&id, "claim.submitted", 1, None),
        expected(&id, "claim.updated", 2, None),
        expected(&id, "claim.in_review", 3, Some("submitted")),
        expected(&id, "claim.information_requested", 4, Some("in_review")),
        // The note that answered the request: ONE event, of its status move.
        expected(&id, "claim.in_review", 5, Some("information_requested")),
        expected(&id, "claim.approved", 6, Some("in_review")),
        expected(&id, "claim.paid", 7, Some("approved")),
    ]);
    let logged = logged_exactly(&p, &want).await;
    received_and_verified(&r, &secret, &logged).await;

    // Each event's data is the claim at that change, as GET shows it (without `uploaded`).
    let submitted = find(&logged, &id, "claim.submitted", 1);
    assert_eq!(submitted["data"]["claim_status"], "submitted");
    assert_eq!(submitted["data"]["tracking_number"], tn);
    assert_eq!(submitted["data"]["documents"], json!([]));
    let updated = find(&logged, &id, "claim.updated", 2);
    let doc = &updated["data"]["documents"][0];
    assert_eq!(doc["document_id"], document_id.as_str(), "{updated}");
    assert!(doc.get("uploaded").is_none(), "{doc}");
    assert_eq!(updated["data"]["claim_status"], "submitted");
    let asked = find(&logged, &id, "claim.information_requested", 4);
    let last = asked["data"]["history"].as_array().unwrap().last().unwrap();
    assert_eq!(last["message"], "Send the invoice.");
    assert_eq!(last["by"], "operator");
    let answered = find(&logged, &id, "claim.in_review", 5);
    assert_eq!(
        answered["data"]["notes"][0]["message"],
        "The invoice is attached as a document."
    );
    let last = answered["data"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(
        (&last["claim_status"], &last["by"]),
        (&json!("in_review"), &json!("partner"))
    );
    assert_eq!(
        find(&logged, &id, "claim.approved", 6)["data"]["approved_amount"],
        2_000_000
    );
    let paid = find(&logged, &id, "claim.paid", 7);
    let mut now = without_uploaded(p.claim_json(&id).await);
    now["previous_status"] = json!("approved");
    assert_eq!(
        paid["data"], now,
        "claim.paid carries the claim as GET shows it"
    );
    assert_eq!(paid["created_at"], now["updated_at"]);
    assert!(
        !paid.to_string().contains("blackbox"),
        "the operator's identity leaked into an event: {paid}"
    );
    // Event ids sort in the order of the claim's changes (their time is the change's).
    let ids: Vec<&str> = (1..=7)
        .map(|v| {
            logged
                .iter()
                .find(|e| resource_of(e) == id && e["data"]["version"] == v)
                .unwrap()["id"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // The event log's type filter finds the claim's events.
    let reviews = p.get("/events?type=claim.in_review").await;
    assert_eq!(reviews.expect(200)["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_claim_delivers_claim_submitted_then_claim_withdrawn_and_a_retry_nothing() {
    let Some(stack) = stack() else { return };
    let p = partner(stack, "wh-withdraw").await;
    let (r, _, secret) = receiver_for(&p).await;
    let d = p.failed_delivery().await;
    let body = p.claim_body(&d, "loss", 1_000_000);
    let id = p.file_claim_ok(&body).await;
    // The identical body again is a safe retry: no change, no event.
    let again = p.file_claim(&body).await;
    assert_eq!(again.expect_success(200)["claim_id"], id.as_str());
    let c = p.claim_json(&id).await;
    p.withdraw(&c, "The parcel was found.")
        .await
        .expect_success(200);
    // Withdrawing again answers the withdrawn claim and changes nothing.
    p.withdraw(&c, "The parcel was found.")
        .await
        .expect_success(200);

    let mut want = failed_delivery_events(&d.tracking_number);
    want.extend([
        expected(&id, "claim.submitted", 1, None),
        expected(&id, "claim.withdrawn", 2, Some("submitted")),
    ]);
    let logged = logged_exactly(&p, &want).await;
    let got = received_and_verified(&r, &secret, &logged).await;
    let withdrawn = find(&logged, &id, "claim.withdrawn", 2);
    let last = withdrawn["data"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(last["message"], "The parcel was found.");
    assert_eq!(last["by"], "partner");
    let mut now = without_uploaded(p.claim_json(&id).await);
    now["previous_status"] = json!("submitted");
    assert_eq!(withdrawn["data"], now);
    let claim_deliveries = got
        .iter()
        .filter(|x| x.json()["data"]["claim_id"] == id.as_str())
        .count();
    assert!(claim_deliveries >= 2, "{claim_deliveries}");
}
