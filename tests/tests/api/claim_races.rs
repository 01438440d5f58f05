//! Claim races with real concurrency, reconciled against the table (issue 13): identical
//! filings make one claim, different filings one claim and `409 claim_exists`, an operator's
//! decision racing the partner's withdraw has one winner, and racing payouts never exceed the
//! insured value.

use std::sync::Arc;

use blackbox::claims::{claim_items, delivery_item};
use blackbox::{opsctl_run, stack, Partner};
use serde_json::Value;

/// Claim items of this partner on one tracking number, as stored.
async fn stored_claims(p: &Partner, tn: &str) -> Vec<Value> {
    claim_items(&stack().stack_json(), &p.kit.partner_id)
        .await
        .into_iter()
        .filter(|i| i["tracking_number"]["S"] == tn)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_identical_filings_make_one_claim() {
    let p = Arc::new(Partner::claimant().await);
    let d = p.failed_delivery().await;
    let body = p.claim_body(&d, "loss", 1_500_000);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (p, body) = (p.clone(), body.clone());
        set.spawn(async move { p.file_claim(&body).await });
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        match r.status {
            201 => created += 1,
            200 => {}
            _ => r.fail("every identical filing is 201 (one) or 200 (the safe retry)"),
        }
        ids.insert(r.json["claim_id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1, "exactly one 201");
    assert_eq!(ids.len(), 1, "one claim id answered: {ids:?}");
    let items = stored_claims(&p, &d.tracking_number).await;
    assert_eq!(items.len(), 1, "one claim item: {items:?}");
    let delivery =
        delivery_item(&stack().stack_json(), &p.kit.partner_id, &d.tracking_number).await;
    assert_eq!(
        delivery["claims"]["M"].as_object().unwrap().len(),
        1,
        "{delivery}"
    );
    assert_eq!(
        delivery["open_claim"]["M"]["claim_id"]["S"].as_str(),
        ids.iter().next().map(String::as_str)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_different_concurrent_filings_make_one_claim_and_one_conflict() {
    let p = Arc::new(Partner::claimant().await);
    for _round in 0..3 {
        let d = p.failed_delivery().await;
        let a = p.claim_body(&d, "loss", 1000);
        let b = p.claim_body(&d, "loss", 2000);
        let (ra, rb) = tokio::join!(p.file_claim(&a), p.file_claim(&b));
        let (winner, loser) = if ra.status == 201 { (ra, rb) } else { (rb, ra) };
        winner.expect_success(201);
        let msg = loser.expect_error(409, "claim_exists");
        let id = winner.json["claim_id"].as_str().unwrap();
        assert!(msg.contains(id), "{msg}");
        let items = stored_claims(&p, &d.tracking_number).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["claim_id"]["S"], id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_decision_racing_a_withdraw_has_one_winner() {
    let p = Arc::new(Partner::claimant().await);
    for _round in 0..3 {
        let d = p.failed_delivery().await;
        let id = p.file_claim_ok(&p.claim_body(&d, "loss", 1000)).await;
        let c = p.claim_json(&id).await;
        let reject_args = ["claim", "reject", &id, "--reason", "no cover", "--yes"];
        let (withdraw, reject) = tokio::join!(p.withdraw(&c, "found it"), opsctl_run(&reject_args));
        let final_status = p.claim_json(&id).await["claim_status"].clone();
        match (withdraw.status, reject.success) {
            (200, false) => {
                assert_eq!(final_status, "withdrawn");
                assert!(reject.stderr.contains("withdrawn"), "{}", reject.stderr);
            }
            (409, true) => {
                assert_eq!(final_status, "rejected");
                withdraw.expect_error(409, "invalid_claim_transition");
            }
            other => panic!(
                "one winner expected, got withdraw {} and reject success {}: {} / {}",
                other.0, other.1, withdraw.text, reject.stderr
            ),
        }
        let history = p.claim_json(&id).await["history"].as_array().unwrap().len();
        assert_eq!(history, 2, "one decision recorded");
        let delivery = p.stored(&d.tracking_number).await;
        assert_eq!(delivery["claims"][0]["claim_status"], final_status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_payouts_never_exceed_the_insured_value() {
    let p = Arc::new(Partner::claimant().await);
    let d = p.failed_delivery().await;
    let id = p.file_claim_ok(&p.claim_body(&d, "loss", 3_000_000)).await;
    for args in [
        vec!["claim", "review", id.as_str(), "--yes"],
        vec![
            "claim",
            "approve",
            id.as_str(),
            "--amount",
            "3000000",
            "--yes",
        ],
    ] {
        let out = opsctl_run(&args).await;
        assert!(out.success, "{}", out.stderr);
    }
    let pay = |reference: &'static str| {
        let id = id.clone();
        async move {
            opsctl_run(&[
                "claim",
                "pay",
                &id,
                "--amount",
                "3000000",
                "--reference",
                reference,
                "--yes",
            ])
            .await
        }
    };
    let (a, b, c) = tokio::join!(pay("TX-A"), pay("TX-B"), pay("TX-C"));
    let wins = [&a, &b, &c].iter().filter(|o| o.success).count();
    assert_eq!(
        wins, 1,
        "one payout: {} / {} / {}",
        a.stderr, b.stderr, c.stderr
    );
    let delivery =
        delivery_item(&stack().stack_json(), &p.kit.partner_id, &d.tracking_number).await;
    assert_eq!(delivery["claims_paid_total"]["N"], "3000000", "{delivery}");
    let audit = blackbox::opsctl_json(&[
        "audit",
        "list",
        "--target",
        &format!("claim:{id}"),
        "--action",
        "claim.pay",
    ])
    .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
    // Nothing is left to claim on this policy.
    p.file_claim(&p.claim_body(&d, "loss", 1))
        .await
        .expect_validation("claimed_amount");
}
