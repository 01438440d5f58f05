use super::ClaimStatus::*;
use super::*;
use serde_json::json;
use time::macros::datetime;

const TERMS: ClaimTerms = ClaimTerms {
    loss_after_days: 7,
    damage_claim_days: 14,
};

fn facts(status: DeliveryStatus) -> DeliveryFacts {
    DeliveryFacts {
        delivery_status: status,
        policy_status: PolicyStatus::Active,
        last_event: datetime!(2026-11-01 00:00 UTC),
        success_at: (status == DeliveryStatus::Success).then_some(datetime!(2026-11-01 00:00 UTC)),
    }
}

/// The whole claim status table, row = from, column = to, in `ALL` order.
#[test]
fn transition_table() {
    let table: [[u8; 7]; 7] = [
        // su ir iq ap rj wd pd
        [0, 1, 0, 0, 1, 1, 0], // submitted
        [0, 0, 1, 1, 1, 1, 0], // in_review
        [0, 1, 0, 0, 0, 1, 0], // information_requested
        [0, 0, 0, 0, 0, 0, 1], // approved
        [0, 0, 0, 0, 0, 0, 0], // rejected (final)
        [0, 0, 0, 0, 0, 0, 0], // withdrawn (final)
        [0, 0, 0, 0, 0, 0, 0], // paid (final)
    ];
    for (i, from) in ClaimStatus::ALL.into_iter().enumerate() {
        for (j, to) in ClaimStatus::ALL.into_iter().enumerate() {
            assert_eq!(from.can_move_to(to), table[i][j] == 1, "{from} -> {to}");
        }
        assert_eq!(from.is_final(), from.next().is_empty(), "{from}");
    }
    let e = check_move(Paid, Withdrawn).unwrap_err();
    assert_eq!(e.code(), "invalid_claim_transition");
    assert!(e.to_string().contains("current status is paid"), "{e}");
    assert!(Submitted.accepts_changes() && InformationRequested.accepts_changes());
    assert!(!Approved.accepts_changes() && !Paid.accepts_changes());
    assert!(Approved.is_open() && !Rejected.is_open());
}

#[test]
fn loss_after_a_failure_or_after_days_without_an_event() {
    let now = datetime!(2026-11-05 00:00 UTC);
    for s in [
        DeliveryStatus::Fail,
        DeliveryStatus::InReturn,
        DeliveryStatus::Returned,
    ] {
        assert!(check_eligible(ClaimType::Loss, &facts(s), TERMS, now).is_ok());
    }
    let moving = facts(DeliveryStatus::InDelivery);
    let e = check_eligible(ClaimType::Loss, &moving, TERMS, now).unwrap_err();
    assert_eq!(e.code(), "claim_not_eligible");
    assert!(e.to_string().contains("2026-11-08T00:00:00.000Z"), "{e}");
    // Exactly loss_after_days after the last event: eligible.
    let later = datetime!(2026-11-08 00:00 UTC);
    assert!(check_eligible(ClaimType::Loss, &moving, TERMS, later).is_ok());
    assert!(check_eligible(
        ClaimType::Loss,
        &facts(DeliveryStatus::Created),
        TERMS,
        later
    )
    .is_ok());
    // A delivered parcel is never lost.
    let e = check_eligible(
        ClaimType::Loss,
        &facts(DeliveryStatus::Success),
        TERMS,
        later,
    )
    .unwrap_err();
    assert_eq!(e.code(), "claim_not_eligible");
    let zero = ClaimTerms {
        loss_after_days: 0,
        ..TERMS
    };
    assert!(check_eligible(ClaimType::Loss, &moving, zero, now).is_ok());
}

#[test]
fn damage_within_the_window_after_delivery() {
    let d = facts(DeliveryStatus::Success);
    assert!(check_eligible(
        ClaimType::Damage,
        &d,
        TERMS,
        datetime!(2026-11-15 00:00 UTC)
    )
    .is_ok());
    let e = check_eligible(
        ClaimType::Damage,
        &d,
        TERMS,
        datetime!(2026-11-15 00:00:01 UTC),
    )
    .unwrap_err();
    assert_eq!(e.code(), "claim_not_eligible");
    assert!(e.to_string().contains("14 days"), "{e}");
    for s in [
        DeliveryStatus::InDelivery,
        DeliveryStatus::Fail,
        DeliveryStatus::Returned,
    ] {
        let e = check_eligible(
            ClaimType::Damage,
            &facts(s),
            TERMS,
            datetime!(2026-11-02 00:00 UTC),
        )
        .unwrap_err();
        assert!(e.to_string().contains(s.as_str()), "{e}");
    }
}

#[test]
fn a_cancelled_policy_cannot_be_claimed_on() {
    let mut d = facts(DeliveryStatus::Fail);
    d.policy_status = PolicyStatus::Cancelled;
    let e =
        check_eligible(ClaimType::Loss, &d, TERMS, datetime!(2026-12-01 00:00 UTC)).unwrap_err();
    assert_eq!(e.code(), "policy_cancelled");
    assert_eq!(e.status(), 409);
}

#[test]
fn claimed_amount_at_and_over_the_limit() {
    assert!(check_claimed_amount(3_000_000, 3_000_000, 0).is_ok());
    let e = check_claimed_amount(3_000_001, 3_000_000, 0).unwrap_err();
    assert!(e.to_string().starts_with("claimed_amount "), "{e}");
    assert!(check_claimed_amount(1_000_000, 3_000_000, 2_000_000).is_ok());
    let e = check_claimed_amount(1_000_001, 3_000_000, 2_000_000).unwrap_err();
    assert!(e.to_string().contains("1000000"), "{e}");
    assert_eq!(claim_limit(10, 20), 0);
}

#[test]
fn approvals_and_payouts_are_bounded() {
    assert!(check_approved_amount(100, 100).is_ok());
    assert!(check_approved_amount(50, 100).is_ok());
    assert!(check_approved_amount(0, 100).is_err());
    assert!(check_approved_amount(101, 100).is_err());
    assert!(check_paid_amount(100, 100, 1000, 900).is_ok());
    assert!(check_paid_amount(101, 200, 1000, 900).is_err());
    assert!(check_paid_amount(101, 100, 1000, 0).is_err());
    assert!(check_paid_amount(0, 100, 1000, 0).is_err());
}

fn claim_body() -> Value {
    json!({
        "tracking_number": "SPX1", "policy_id": "pol_1", "claim_type": "loss",
        "claimed_amount": 100, "incident_time": "2026-11-02T07:00:00+07:00",
        "description": "Parcel not delivered", "claimant_name": "Shop",
        "claimant_phone": "0901234567", "signature": "s"
    })
}

#[test]
fn claim_bodies_name_their_fields() {
    let (r, sig) = ClaimRequest::parse(claim_body().as_object().unwrap()).unwrap();
    assert_eq!(sig, "s");
    assert_eq!(r.claim_type, ClaimType::Loss);
    for field in [
        "tracking_number",
        "policy_id",
        "claim_type",
        "claimed_amount",
        "incident_time",
        "description",
        "claimant_name",
        "claimant_phone",
    ] {
        let mut b = claim_body();
        b.as_object_mut().unwrap().remove(field);
        let e = ClaimRequest::parse(b.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with(field), "{field}: {e}");
    }
    for (field, v) in [
        ("claim_type", json!("theft")),
        ("claimed_amount", json!(0)),
        ("description", json!("x".repeat(2001))),
        ("claimant_email", json!("nope")),
    ] {
        let mut b = claim_body();
        b[field] = v;
        let e = ClaimRequest::parse(b.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with(field), "{field}: {e}");
    }
    let mut b = claim_body();
    b.as_object_mut().unwrap().remove("signature");
    assert_eq!(
        ClaimRequest::parse(b.as_object().unwrap())
            .unwrap_err()
            .code(),
        "invalid_signature"
    );
}

#[test]
fn incident_time_is_bounded_by_issue_and_now() {
    let (r, _) = ClaimRequest::parse(claim_body().as_object().unwrap()).unwrap();
    let issued = datetime!(2026-11-01 00:00 UTC);
    assert!(r
        .check_incident_time(issued, datetime!(2026-11-03 00:00 UTC))
        .is_ok());
    let e = r
        .check_incident_time(issued, datetime!(2026-11-01 23:00 UTC))
        .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("incident_time must not be in the future"));
    let e = r
        .check_incident_time(
            datetime!(2026-11-03 00:00 UTC),
            datetime!(2026-11-04 00:00 UTC),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("before the policy was issued"),
        "{e}"
    );
}

#[test]
fn fingerprints_tell_a_retry_from_another_claim() {
    let a = ClaimRequest::parse(claim_body().as_object().unwrap())
        .unwrap()
        .0;
    let mut b = claim_body();
    b["incident_time"] = json!("2026-11-02T00:00:00Z");
    b["unknown"] = json!(1);
    b["signature"] = json!("other");
    let b = ClaimRequest::parse(b.as_object().unwrap()).unwrap().0;
    assert_eq!(a.fingerprint(), b.fingerprint());
    let mut c = claim_body();
    c["claimed_amount"] = json!(101);
    let c = ClaimRequest::parse(c.as_object().unwrap()).unwrap().0;
    assert_ne!(a.fingerprint(), c.fingerprint());
}

#[test]
fn document_bodies() {
    let ok = json!({"file_name": "parcel.jpg", "content_type": "image/jpeg", "size_bytes": 1024, "signature": "s"});
    let (d, _) = DocumentRequest::parse(ok.as_object().unwrap()).unwrap();
    assert_eq!(d.document_type, "other");
    for (field, v) in [
        ("content_type", json!("image/gif")),
        ("size_bytes", json!(0)),
        ("size_bytes", json!(MAX_DOCUMENT_BYTES + 1)),
        ("document_type", json!("selfie")),
        ("file_name", json!("")),
    ] {
        let mut b = ok.clone();
        b[field] = v;
        let e = DocumentRequest::parse(b.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().starts_with(field), "{field}: {e}");
    }
    let mut b = ok.clone();
    b["size_bytes"] = json!(MAX_DOCUMENT_BYTES);
    assert!(DocumentRequest::parse(b.as_object().unwrap()).is_ok());
}

#[test]
fn ids() {
    let id = new_claim_id();
    assert!(plausible_id(&id, "clm_"), "{id}");
    assert!(!plausible_id(&id, "doc_"));
    assert!(!plausible_id("clm_x", "clm_"));
    assert!(!plausible_id(&id.to_uppercase(), "clm_"));
    assert!(plausible_id(&new_document_id(), "doc_"));
}
