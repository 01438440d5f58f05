//! The claim events of the document's `webhooks` section versus the code: every `claim.*`
//! webhook's examples are exactly the bodies the events function derives
//! (`shared::service::events::claim_record_events`) for the changes of one sample claim's life,
//! built from the document's File claim example through the real parser, and their `webhook-id`
//! header examples are those events' ids. (Every webhook example is also validated against its
//! schema by `doc_vs_code.rs`.)
//!
//! After a change of the code, the failure prints each type's examples as YAML to paste (keep
//! the `summary` lines); `APIDOC_PRINT_CLAIM_EVENTS=1 cargo test -p apidoc --test
//! webhook_events -- --nocapture` prints them all as JSON.

use std::collections::BTreeMap;

use apidoc::{deref, load_document};
use serde_json::{json, Map, Value};
use shared::domain::claim::{ClaimRequest, DocumentRequest};
use shared::domain::ClaimStatus;
use shared::store::{ClaimActor, ClaimRecord, DocumentRecord, NoteRecord};

/// The claim event types (every subscribable `claim.*`).
fn claim_types() -> Vec<&'static str> {
    shared::webhooks::event::EventType::SUBSCRIBABLE
        .into_iter()
        .map(|t| t.as_str())
        .filter(|t| t.starts_with("claim."))
        .collect()
}

/// An operator's move at `at`, as `opsctl claim ...` makes it.
fn operator(c: &ClaimRecord, to: ClaimStatus, message: Option<&str>, at: &str) -> ClaimRecord {
    c.moved(to, ClaimActor::Operator, message.map(str::to_string), at)
}

/// The changes of one claim's life, as (example name, old, new): filed, a document, review,
/// information requested, the partner's note answering it, partial approval, payout; and the
/// two other endings, a rejection in review and a withdrawal while submitted.
fn claim_life(request: ClaimRequest) -> Vec<(&'static str, Option<ClaimRecord>, ClaimRecord)> {
    let filed = ClaimRecord::filed(
        "clm_01m8b2x6q3f9r7t5v4w2y0z8a6".into(),
        "ptn_01m88pg6bj7gvrmehq193tgtwg".into(),
        request,
        "VND".into(),
        "2026-11-26T02:10:11.204Z",
    );
    let photo = DocumentRequest::parse(
        json!({"file_name": "parcel.jpg", "content_type": "image/jpeg", "size_bytes": 245760,
               "document_type": "photo", "signature": "x"})
        .as_object()
        .unwrap(),
    )
    .expect("a document request")
    .0;
    let mut documented = filed.next("2026-11-26T02:11:00.000Z");
    documented.documents.push(DocumentRecord::new(
        "doc_01m8b39zq4k2n6p8r0t2v4x6y8".into(),
        &photo,
        "2026-11-26T02:11:00.000Z",
    ));
    let reviewing = operator(
        &documented,
        ClaimStatus::InReview,
        None,
        "2026-11-26T03:00:00.000Z",
    );
    let asked = operator(
        &reviewing,
        ClaimStatus::InformationRequested,
        Some("Please upload the invoice of the parcel's contents."),
        "2026-11-26T09:30:00.000Z",
    );
    let note_at = "2026-11-27T01:15:00.000Z";
    let mut answered = asked.moved(ClaimStatus::InReview, ClaimActor::Partner, None, note_at);
    answered.notes.push(NoteRecord {
        note_id: "nte_01m8b3a0c1d2e3f4g5h6j7k8m9".into(),
        at: note_at.into(),
        by: ClaimActor::Partner,
        message: "The invoice is uploaded as a document.".into(),
    });
    let mut approved = operator(
        &answered,
        ClaimStatus::Approved,
        Some("Partial approval: the accessories were not declared."),
        "2026-11-27T08:00:00.000Z",
    );
    approved.approved_amount = Some(1_000_000);
    let paid_at = "2026-11-28T09:00:00.000Z";
    let mut paid = operator(
        &approved,
        ClaimStatus::Paid,
        Some("payment reference TX-42"),
        paid_at,
    );
    paid.paid_amount = Some(1_000_000);
    paid.payment_reference = Some("TX-42".into());
    paid.paid_at = Some(paid_at.into());
    let reason = "The carrier holds a signed proof of delivery.";
    let mut rejected = operator(
        &reviewing,
        ClaimStatus::Rejected,
        Some(reason),
        "2026-11-26T10:00:00.000Z",
    );
    rejected.decision_reason = Some(reason.into());
    let withdrawn = documented.moved(
        ClaimStatus::Withdrawn,
        ClaimActor::Partner,
        Some("The parcel was found and delivered.".into()),
        "2026-11-26T04:00:00.000Z",
    );
    vec![
        ("event", None, filed.clone()),
        ("document_added", Some(filed), documented.clone()),
        (
            "review_started",
            Some(documented.clone()),
            reviewing.clone(),
        ),
        ("event", Some(reviewing.clone()), asked.clone()),
        ("information_answered", Some(asked), answered.clone()),
        ("event", Some(answered), approved.clone()),
        ("event", Some(approved), paid),
        ("event", Some(reviewing), rejected),
        ("event", Some(documented), withdrawn),
    ]
}

/// type -> example name -> the event body the code derives.
fn derived(doc: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    let file = &doc["paths"]["/api/v1/claims"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"];
    let (_, first) = file
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("a File claim example");
    let body: Map<String, Value> = deref(doc, first)["value"]
        .as_object()
        .cloned()
        .expect("an object example");
    let (request, _) = ClaimRequest::parse(&body).expect("the File claim example parses");
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (name, old, new) in claim_life(request) {
        let events = shared::service::events::claim_record_events(old.as_ref(), &new);
        assert_eq!(events.len(), 1, "one change, one event: {events:?}");
        let body: Value = serde_json::from_str(&events[0].body()).expect("a JSON body");
        let slot = out
            .entry(events[0].event_type.as_str().to_string())
            .or_default();
        assert!(
            slot.insert(name.to_string(), body).is_none(),
            "{name} twice"
        );
    }
    out
}

#[test]
fn every_claim_event_example_is_the_body_the_code_derives_for_its_change() {
    let doc = load_document();
    let derived = derived(&doc);
    if std::env::var_os("APIDOC_PRINT_CLAIM_EVENTS").is_some() {
        println!("{}", serde_json::to_string_pretty(&derived).unwrap());
    }
    let types = claim_types();
    assert_eq!(
        derived.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut t = types.clone();
            t.sort();
            t
        },
        "the sample life makes an event of every claim type"
    );
    let mut problems = Vec::new();
    for t in types {
        let post = &doc["webhooks"][t]["post"];
        let media = &post["requestBody"]["content"]["application/json"];
        let documented: BTreeMap<String, Value> = media["examples"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, ex)| (name.clone(), deref(&doc, ex)["value"].clone()))
            .collect();
        if documented != derived[t] {
            // What to paste under `webhooks.<t>.post.requestBody.content.application/json`.
            let examples: BTreeMap<&String, Value> = derived[t]
                .iter()
                .map(|(name, body)| (name, json!({"value": body})))
                .collect();
            problems.push(format!(
                "webhooks.{t} examples differ from the code's events; the code's:\n{}",
                serde_yaml::to_string(&json!({"examples": examples})).unwrap()
            ));
        }
        let data_ref = media["schema"]["allOf"][1]["properties"]["data"]["$ref"].as_str();
        if data_ref != Some("#/components/schemas/EventClaimData") {
            problems.push(format!(
                "webhooks.{t}: data is not EventClaimData ({data_ref:?})"
            ));
        }
        let id_example = post["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "webhook-id")
            .map(|p| p["example"].clone());
        let ids: Vec<&Value> = derived[t].values().map(|b| &b["id"]).collect();
        if !id_example.as_ref().is_some_and(|i| ids.contains(&i)) {
            problems.push(format!(
                "webhooks.{t}: the webhook-id example {id_example:?} is none of its events' ids {ids:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/openapi/openapi.yaml vs the claim events:\n  - {}",
        problems.join("\n  - ")
    );
}
