//! Claim events derived from stream records of the claim item (`claim_change_events`), and the
//! delivery item's claims-summary change that derives none: each move of the claim status
//! machine, notes, documents, a note answering an information request, and replays.

use serde_json::{json, Value};

use super::*;
use crate::domain::claim::{ClaimRequest, DocumentRequest};
use crate::domain::{ClaimStatus, DeliveryStatus, PolicyStatus};
use crate::store::{ClaimActor, ClaimSummary, DocumentRecord, NoteRecord, OpenClaim};
use crate::webhooks::event::{delivery_events, is_event_id, EventType};

const T0: &str = "2026-12-03T05:15:07.383Z";

/// The time of the `n`th change after T0 (one second apart).
fn at(n: u64) -> String {
    crate::time_fmt::format(crate::time_fmt::parse(T0).unwrap() + time::Duration::seconds(n as i64))
}

/// A claim as `file_claim` writes it: version 1, submitted, filed by the partner.
fn filed() -> ClaimRecord {
    let body = json!({
        "tracking_number": "TN001", "policy_id": "pol_01m88pg6bj7gvrmehq193tgtwg",
        "claim_type": "loss", "claimed_amount": 3000000,
        "incident_time": "2026-12-02T09:00:00Z", "description": "The parcel never arrived.",
        "claimant_name": "Cong ty ABC", "claimant_phone": "+84 901 234 567",
        "signature": "x",
    });
    let (request, _) = ClaimRequest::parse(body.as_object().unwrap()).unwrap();
    ClaimRecord::filed(
        "clm_01m8y0a3k5n7q9s1v3x5z7b9d1".into(),
        "ptn_01m88peg49gbkevwrbsr2jsfq1".into(),
        request,
        "VND".into(),
        T0,
    )
}

/// The stream record of a change of the claim item, images as the store writes the item.
fn record(old: Option<&ClaimRecord>, new: &ClaimRecord) -> StreamChange {
    let image = |c: &ClaimRecord| Item::from(Store::claim_item(c).unwrap());
    StreamChange {
        sequence_number: format!("{}", new.version),
        event_name: if old.is_some() { "MODIFY" } else { "INSERT" }.into(),
        old_image: old.map(image).unwrap_or_default(),
        new_image: image(new),
    }
}

/// The one event of a change of the claim item.
fn one(old: Option<&ClaimRecord>, new: &ClaimRecord) -> Event {
    let mut events = claim_change_events(&record(old, new)).unwrap();
    assert_eq!(events.len(), 1, "one change, one event: {events:?}");
    events.remove(0)
}

/// `claim_json` of the claim (what GET answers, without `uploaded`) plus `previous_status`.
fn expected_data(c: &ClaimRecord, previous: Option<ClaimStatus>) -> Value {
    let mut v = claim_json(c, None);
    if let Some(p) = previous {
        v["previous_status"] = json!(p);
    }
    v
}

/// The partner's note `n` (answering an information request moves the claim to in_review).
fn with_note(c: &ClaimRecord, n: u64) -> ClaimRecord {
    let now = at(n);
    let mut next = if c.claim_status == ClaimStatus::InformationRequested {
        c.moved(ClaimStatus::InReview, ClaimActor::Partner, None, &now)
    } else {
        c.next(&now)
    };
    next.notes.push(NoteRecord {
        note_id: format!("nte_01m8y0a3k5n7q9s1v3x5z7b9{n:02}"),
        at: now.clone(),
        by: ClaimActor::Partner,
        message: "The invoice is attached.".into(),
    });
    next
}

/// The document `n` added (a photo).
fn with_document(c: &ClaimRecord, n: u64) -> ClaimRecord {
    let body = json!({"file_name": "parcel.jpg", "content_type": "image/jpeg", "size_bytes": 245760, "document_type": "photo", "signature": "x"});
    let (req, _) = DocumentRequest::parse(body.as_object().unwrap()).unwrap();
    let now = at(n);
    let mut next = c.next(&now);
    next.documents.push(DocumentRecord::new(
        format!("doc_01m8y0a3k5n7q9s1v3x5z7b9{n:02}"),
        &req,
        &now,
    ));
    next
}

#[test]
fn a_new_claim_item_is_claim_submitted_with_the_claim_as_get_returns_it() {
    let c = filed();
    let e = one(None, &c);
    assert_eq!(e.event_type, EventType::ClaimSubmitted);
    assert_eq!(e.data, expected_data(&c, None));
    assert_eq!(e.data["version"], 1);
    assert!(e.data.get("previous_status").is_none());
    assert_eq!(
        (e.resource_kind, e.resource_id.as_str(), e.version),
        ("claim", c.claim_id.as_str(), 1)
    );
    assert_eq!(
        (e.partner_id.as_str(), e.created_at.as_str()),
        (c.partner_id.as_str(), T0)
    );
    assert!(is_event_id(&e.id), "{}", e.id);
    assert_eq!(
        e.id,
        event::event_id(
            (crate::time_fmt::parse(T0).unwrap().unix_timestamp_nanos() / 1_000_000) as u64,
            &c.partner_id,
            "claim",
            &c.claim_id,
            1,
            EventType::ClaimSubmitted
        ),
        "the id of a delivery event's making: time of the change, hash of the change"
    );
    let body: Value = serde_json::from_str(&e.body()).unwrap();
    assert_eq!(body["type"], "claim.submitted");
    assert_eq!(body["created_at"], T0);
    assert_eq!(body["api_version"], "v1");
    assert_eq!(body["data"], e.data);
}

#[test]
fn every_move_of_the_claim_status_machine_is_one_event_of_its_new_status() {
    // Each allowed move, from a claim that reached `from` by allowed moves.
    let path_to = |to: ClaimStatus| -> Vec<ClaimStatus> {
        use ClaimStatus::*;
        match to {
            Submitted => vec![],
            InReview => vec![InReview],
            InformationRequested => vec![InReview, InformationRequested],
            Approved => vec![InReview, Approved],
            _ => unreachable!("final"),
        }
    };
    let mut moves = Vec::new();
    for from in ClaimStatus::ALL.into_iter().filter(|s| s.is_open()) {
        let mut c = filed();
        for (i, s) in path_to(from).into_iter().enumerate() {
            c = c.moved(s, ClaimActor::Operator, None, &at(i as u64 + 1));
        }
        assert_eq!(c.claim_status, from);
        for to in from.next() {
            let by = if to == ClaimStatus::Withdrawn {
                ClaimActor::Partner
            } else {
                ClaimActor::Operator
            };
            let mut next = c.moved(to, by, Some("A reason.".into()), &at(10));
            match to {
                ClaimStatus::Approved => next.approved_amount = Some(2_000_000),
                ClaimStatus::Rejected => next.decision_reason = Some("A reason.".into()),
                ClaimStatus::Paid => {
                    next.paid_amount = Some(2_000_000);
                    next.payment_reference = Some("TX-42".into());
                    next.paid_at = Some(at(10));
                }
                _ => {}
            }
            let e = one(Some(&c), &next);
            assert_eq!(
                e.event_type.as_str(),
                format!("claim.{to}"),
                "{from} -> {to}"
            );
            assert_eq!(e.data, expected_data(&next, Some(from)), "{from} -> {to}");
            assert_eq!(e.data["previous_status"], json!(from));
            assert_eq!(e.data["claim_status"], json!(to));
            assert_eq!(e.data["version"], json!(c.version + 1));
            assert_eq!(e.created_at, at(10));
            moves.push(format!("{from}->{to}"));
        }
    }
    moves.sort();
    assert_eq!(
        moves,
        [
            "approved->paid",
            "in_review->approved",
            "in_review->information_requested",
            "in_review->rejected",
            "in_review->withdrawn",
            "information_requested->in_review",
            "information_requested->withdrawn",
            "submitted->in_review",
            "submitted->rejected",
            "submitted->withdrawn",
        ],
        "the contract's status machine, every move of it"
    );
}

#[test]
fn a_note_or_a_document_is_claim_updated_and_a_note_answering_a_request_is_one_claim_in_review() {
    let c = filed();
    let noted = with_note(&c, 1);
    let e = one(Some(&c), &noted);
    assert_eq!(e.event_type, EventType::ClaimUpdated);
    assert_eq!(e.data, expected_data(&noted, None));
    assert_eq!(e.data["notes"][0]["message"], "The invoice is attached.");
    assert_eq!(e.data["claim_status"], "submitted");
    assert!(e.data.get("previous_status").is_none());

    let documented = with_document(&noted, 2);
    let e = one(Some(&noted), &documented);
    assert_eq!(e.event_type, EventType::ClaimUpdated);
    assert_eq!(e.data, expected_data(&documented, None));
    assert_eq!(e.data["version"], 3);
    let doc = &e.data["documents"][0];
    assert_eq!(doc["file_name"], "parcel.jpg");
    assert!(
        doc.get("uploaded").is_none(),
        "uploaded is S3's state at read time, not part of the change: {doc}"
    );

    // in_review -> information_requested (operator), then the partner's note answers it:
    // one change, one event, with the type of its status move and the note in its data.
    let reviewing = documented.moved(ClaimStatus::InReview, ClaimActor::Operator, None, &at(3));
    let asked = reviewing.moved(
        ClaimStatus::InformationRequested,
        ClaimActor::Operator,
        Some("Send the invoice.".into()),
        &at(4),
    );
    let e = one(Some(&reviewing), &asked);
    assert_eq!(e.event_type, EventType::ClaimInformationRequested);
    assert_eq!(
        e.data["history"].as_array().unwrap().last().unwrap()["message"],
        "Send the invoice."
    );
    let answered = with_note(&asked, 5);
    let e = one(Some(&asked), &answered);
    assert_eq!(e.event_type, EventType::ClaimInReview);
    assert_eq!(e.data["previous_status"], "information_requested");
    assert_eq!(e.data["notes"].as_array().unwrap().len(), 2);
    assert_eq!(
        e.data,
        expected_data(&answered, Some(ClaimStatus::InformationRequested))
    );
}

#[test]
fn a_replayed_record_gives_the_same_event_and_a_record_without_a_new_version_none() {
    let c = filed();
    let next = with_note(&c, 1);
    let rec = record(Some(&c), &next);
    let a = claim_change_events(&rec).unwrap();
    let b = claim_change_events(&rec.clone()).unwrap();
    assert_eq!(a, b, "the same record, the same event (id and body)");
    assert_eq!(a[0].body(), b[0].body());
    assert_eq!(
        claim_change_events(&record(None, &c)).unwrap()[0].id,
        one(None, &c).id
    );
    // Every change of one claim has its own id, and ids sort in the order of the changes.
    let later = with_note(&next, 2);
    let ids = [
        one(None, &c).id,
        a[0].id.clone(),
        one(Some(&next), &later).id,
    ];
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // Nothing committed (same version), or an older image after a newer: no event.
    assert!(claim_change_events(&record(Some(&next), &next))
        .unwrap()
        .is_empty());
    assert!(claim_change_events(&record(Some(&later), &next))
        .unwrap()
        .is_empty());
    // An image that is not a claim is an error (the record is retried), not a silent skip.
    let mut broken = record(None, &c);
    broken.new_image.remove("claim_status");
    assert!(claim_change_events(&broken).is_err());
}

#[test]
fn the_claims_summary_change_of_the_delivery_item_is_no_delivery_event() {
    let old = crate::certificate::view::tests::record(PolicyStatus::Active, DeliveryStatus::Fail);
    let c = filed();
    let view = json!({"tracking_number": "SPX0001"});
    // Filing: the summary, the open claim and the version; updated_at stays.
    let mut filing = old.clone();
    filing.version += 1;
    filing.claims.claims.insert(c.claim_id.clone(), c.summary());
    filing.claims.open_claim = Some(OpenClaim {
        claim_id: c.claim_id.clone(),
        fingerprint: c.fingerprint.clone(),
    });
    assert!(delivery_events(Some(&old), &filing, &view).is_empty());
    // An operator's move, and the payout that closes the claim.
    let mut paid = filing.clone();
    paid.version += 1;
    paid.claims.claims.insert(
        c.claim_id.clone(),
        ClaimSummary {
            claim_status: ClaimStatus::Paid,
            approved_amount: Some(2_000_000),
            paid_amount: Some(2_000_000),
            ..c.summary()
        },
    );
    paid.claims.open_claim = None;
    paid.claims.claims_paid_total = 2_000_000;
    assert!(delivery_events(Some(&filing), &paid, &view).is_empty());
    // The same kind of write with a status move is an event (the test above is not vacuous).
    let mut moved = filing.clone();
    moved.version += 1;
    moved.delivery_status = DeliveryStatus::InReturn;
    let events = delivery_events(Some(&filing), &moved, &view);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, EventType::DeliveryStatusChanged);
}

#[test]
fn claim_and_delivery_events_of_the_same_version_have_different_ids() {
    let c = filed();
    let a = event::event_id(
        1,
        &c.partner_id,
        "claim",
        "TN001",
        1,
        EventType::ClaimSubmitted,
    );
    let b = event::event_id(
        1,
        &c.partner_id,
        "delivery",
        "TN001",
        1,
        EventType::ClaimSubmitted,
    );
    assert_ne!(a, b, "the resource kind is part of the hash");
}
