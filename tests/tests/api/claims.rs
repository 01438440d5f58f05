//! Claims (issue 13) as a partner and an operator act: eligibility, every allowed and refused
//! status move, amounts at and over the limit, partial approval then payout, documents through
//! S3 (moto), another partner's claims, scopes and signatures. Races are in `claim_races.rs`.

use blackbox::claims::{days_from_now, upload};
use blackbox::{opsctl_json, opsctl_run, Partner};
use serde_json::{json, Value};

/// `opsctl claim <args...> --yes --json` (must succeed): the claim as the operator left it.
async fn operator(args: &[&str]) -> Value {
    let mut all = vec!["claim"];
    all.extend_from_slice(args);
    all.push("--yes");
    opsctl_json(&all).await
}

/// An operator move that must be refused; returns what opsctl said.
async fn operator_refused(args: &[&str]) -> String {
    let mut all = vec!["claim"];
    all.extend_from_slice(args);
    all.push("--yes");
    let out = opsctl_run(&all).await;
    assert!(!out.success, "opsctl {all:?} should fail: {}", out.stdout);
    out.stderr
}

#[tokio::test]
async fn file_a_loss_claim_follow_it_to_payout_and_see_it_on_the_delivery_and_the_certificate() {
    let p = Partner::claimant().await;
    let d = p.failed_delivery().await;
    let body = p.claim_body(&d, "loss", 3_000_000);
    let id = p.file_claim_ok(&body).await;
    assert!(id.starts_with("clm_"), "{id}");

    let c = p.claim_json(&id).await;
    assert_eq!(c["claim_status"], "submitted");
    assert_eq!(c["claimed_amount"], 3_000_000);
    assert_eq!(c["currency"], "VND");
    assert_eq!(c["tracking_number"], d.tracking_number.as_str());
    assert_eq!(c["history"][0]["claim_status"], "submitted");
    assert_eq!(c["history"][0]["by"], "partner");
    assert_eq!(c["documents"], json!([]));

    // The delivery and the policy carry the claim's summary.
    let delivery = p.stored(&d.tracking_number).await;
    assert_eq!(delivery["claims"][0]["claim_id"], id.as_str(), "{delivery}");
    assert_eq!(delivery["claims"][0]["claim_status"], "submitted");
    let policy = p.policy(&d.policy_id).await.expect(200).clone();
    assert_eq!(policy["claims"], delivery["claims"]);
    let cert = p
        .http
        .get(&d.url_certificate)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cert.contains("Claim open (submitted)"), "{cert}");

    // Operator: review, ask for information; the partner's note returns it to review.
    let v = operator(&["review", &id, "--message", "We are looking at it."]).await;
    assert_eq!(v["claim_status"], "in_review", "{v}");
    let v = operator(&["request-information", &id, "--message", "Send the invoice."]).await;
    assert_eq!(v["claim_status"], "information_requested");
    let resp = p.note(&c, "Invoice attached as a document.").await;
    assert_eq!(
        resp.expect_success(201)["claim_status"],
        "in_review",
        "{}",
        resp.text
    );

    // Partial approval, a refused over-payment, then the payout.
    let v = operator(&[
        "approve",
        &id,
        "--amount",
        "2000000",
        "--note",
        "Partial: the case was not insured.",
    ])
    .await;
    assert_eq!(v["claim_status"], "approved");
    assert_eq!(v["approved_amount"], 2_000_000);
    let err = operator_refused(&["pay", &id, "--amount", "2000001", "--reference", "TX-1"]).await;
    assert!(err.contains("more than the approved amount"), "{err}");
    let v = operator(&["pay", &id, "--amount", "2000000", "--reference", "TX-42"]).await;
    assert_eq!(v["claim_status"], "paid");

    let c = p.claim_json(&id).await;
    assert_eq!(c["claim_status"], "paid");
    assert_eq!(c["approved_amount"], 2_000_000);
    assert_eq!(c["paid_amount"], 2_000_000);
    assert_eq!(c["payment_reference"], "TX-42");
    assert!(c["paid_at"].is_string(), "{c}");
    let statuses: Vec<&str> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["claim_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "submitted",
            "in_review",
            "information_requested",
            "in_review",
            "approved",
            "paid"
        ]
    );
    // Operator messages are shown, never the operator's identity.
    assert_eq!(c["history"][2]["message"], "Send the invoice.");
    assert_eq!(c["history"][2]["by"], "operator");
    assert!(
        !c.to_string().contains("blackbox"),
        "the operator's identity leaked: {c}"
    );
    assert_eq!(c["notes"][0]["message"], "Invoice attached as a document.");

    let delivery = p.stored(&d.tracking_number).await;
    assert_eq!(delivery["claims"][0]["claim_status"], "paid");
    assert_eq!(delivery["claims"][0]["approved_amount"], 2_000_000);
    assert_eq!(delivery["claims"][0]["paid_amount"], 2_000_000);
    let cert = p
        .http
        .get(&d.url_certificate)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cert.contains("Claim paid: 2,000,000 VND"), "{cert}");

    // Each change has its audit entry (who, before, after).
    let audit = opsctl_json(&["audit", "list", "--target", &format!("claim:{id}")]).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "claim.review",
        "claim.request_information",
        "claim.approve",
        "claim.pay",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let pay = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "claim.pay")
        .unwrap();
    assert_eq!(pay["before"]["claim_status"], "approved");
    assert_eq!(pay["after"]["claim_status"], "paid");
    assert_eq!(pay["actor"], "blackbox");

    // A second claim may ask at most what is left of the insured value.
    let over = p.claim_body(&d, "loss", 1_000_001);
    p.file_claim(&over)
        .await
        .expect_validation("claimed_amount");
    let rest = p.claim_body(&d, "loss", 1_000_000);
    p.file_claim_ok(&rest).await;
}

#[tokio::test]
async fn every_eligibility_refusal_names_its_reason() {
    let p = Partner::claimant().await;
    // loss: still moving, last event recent.
    let moving = p.create_delivery().await;
    p.track_at(&moving, "in_delivery", &days_from_now(-1)).await;
    let e = p.file_claim(&p.claim_body(&moving, "loss", 1000)).await;
    let msg = e.expect_error(409, "claim_not_eligible");
    assert!(
        msg.contains("in_delivery") && msg.contains("7 days"),
        "{msg}"
    );
    // loss: no event for 8 days (the product's loss_after_days is 7) is eligible.
    let quiet = p.create_delivery().await;
    p.track_at(&quiet, "in_delivery", &days_from_now(-8)).await;
    p.file_claim_ok(&p.claim_body(&quiet, "loss", 1000)).await;
    // damage before delivery.
    let e = p.file_claim(&p.claim_body(&moving, "damage", 1000)).await;
    assert!(e
        .expect_error(409, "claim_not_eligible")
        .contains("success"));
    // damage 15 days after delivery (the window is 14) ...
    let late = p.delivered(15).await;
    let e = p.file_claim(&p.claim_body(&late, "damage", 1000)).await;
    assert!(e
        .expect_error(409, "claim_not_eligible")
        .contains("14 days"));
    // ... and a delivered parcel is not lost.
    let e = p.file_claim(&p.claim_body(&late, "loss", 1000)).await;
    e.expect_error(409, "claim_not_eligible");
    // damage within the window.
    let recent = p.delivered(13).await;
    p.file_claim_ok(&p.claim_body(&recent, "damage", 1000))
        .await;
    // A cancelled policy.
    let cancelled = p.create_delivery().await;
    p.cancel(&p.cancel_body(&cancelled))
        .await
        .expect_success(200);
    let e = p.file_claim(&p.claim_body(&cancelled, "loss", 1000)).await;
    e.expect_error(409, "policy_cancelled");
    // Amounts: the insured value is the most; more is 400 naming claimed_amount.
    let failed = p.failed_delivery().await;
    p.file_claim(&p.claim_body(&failed, "loss", 3_000_001))
        .await
        .expect_validation("claimed_amount");
    // incident_time in the future or before the policy.
    let mut b = p.claim_body(&failed, "loss", 3_000_000);
    b["incident_time"] = json!(days_from_now(1));
    p.file_claim(&b).await.expect_validation("incident_time");
    b["incident_time"] = json!("2020-01-01T00:00:00Z");
    p.file_claim(&b).await.expect_validation("incident_time");
    // A policy id of another delivery is 404.
    let mut b = p.claim_body(&failed, "loss", 3_000_000);
    b["policy_id"] = json!(moving.policy_id);
    p.file_claim(&b).await.expect_error(404, "not_found");
    // Nothing of a refused filing is stored.
    let stored = p.stored(&failed.tracking_number).await;
    assert_eq!(stored["claims"], json!([]), "{stored}");
    // At the limit exactly: accepted.
    p.file_claim_ok(&p.claim_body(&failed, "loss", 3_000_000))
        .await;
}

#[tokio::test]
async fn one_open_claim_per_policy_a_retry_returns_it_and_a_closed_claim_makes_room() {
    let p = Partner::claimant().await;
    let d = p.failed_delivery().await;
    let body = p.claim_body(&d, "loss", 500_000);
    let id = p.file_claim_ok(&body).await;
    // The identical body again (any key order, fresh signature text case): 200, same claim.
    let mut again = body.clone();
    again["signature"] = json!(body["signature"].as_str().unwrap().to_uppercase());
    let r = p.file_claim(&again).await;
    assert_eq!(r.expect_success(200)["claim_id"], id.as_str());
    // A different body while it is open: 409 naming the open claim.
    let other = p.claim_body(&d, "loss", 400_000);
    let r = p.file_claim(&other).await;
    assert!(r.expect_error(409, "claim_exists").contains(&id));
    // Withdrawn, the policy can be claimed on again.
    let c = p.claim_json(&id).await;
    let r = p.withdraw(&c, "Parcel found.").await;
    assert_eq!(r.expect_success(200)["claim_status"], "withdrawn");
    // A retried withdraw returns the withdrawn claim.
    p.withdraw(&c, "Parcel found.").await.expect_success(200);
    let c = p.claim_json(&id).await;
    assert_eq!(c["history"][1]["message"], "Parcel found.");
    let second = p.file_claim_ok(&other).await;
    assert_ne!(second, id);
    let delivery = p.stored(&d.tracking_number).await;
    let statuses: Vec<&str> = delivery["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["claim_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["withdrawn", "submitted"]);
}

#[tokio::test]
async fn every_refused_move_says_the_current_status() {
    let p = Partner::claimant().await;
    let d = p.failed_delivery().await;
    let id = p.file_claim_ok(&p.claim_body(&d, "loss", 100_000)).await;
    // The operator cannot approve, ask for information or pay before review.
    let err = operator_refused(&["approve", &id, "--amount", "100"]).await;
    assert!(
        err.contains("is submitted") && err.contains("claim review"),
        "{err}"
    );
    operator_refused(&["request-information", &id, "--message", "x"]).await;
    operator_refused(&["pay", &id, "--amount", "1", "--reference", "r"]).await;
    operator(&["review", &id]).await;
    operator_refused(&["review", &id]).await;
    // Approve more than claimed: refused.
    let err = operator_refused(&["approve", &id, "--amount", "100001"]).await;
    assert!(err.contains("more than the claimed amount"), "{err}");
    operator(&["approve", &id, "--amount", "100000"]).await;
    // Approved: the partner can no longer withdraw, add notes or documents.
    let c = p.claim_json(&id).await;
    let r = p.withdraw(&c, "changed my mind").await;
    assert!(r
        .expect_error(409, "invalid_claim_transition")
        .contains("current status is approved"));
    p.note(&c, "hello").await.expect_error(409, "claim_locked");
    p.add_document(&c, "a.jpg", "image/jpeg", 10)
        .await
        .expect_error(409, "claim_locked");
    operator_refused(&["reject", &id, "--reason", "late"]).await;
    operator(&["pay", &id, "--amount", "100000", "--reference", "TX"]).await;
    // Paid is final.
    let err = operator_refused(&["review", &id]).await;
    assert!(err.contains("paid is final"), "{err}");
    let r = p.withdraw(&c, "x").await;
    r.expect_error(409, "invalid_claim_transition");

    // Rejected from review, with the reason shown; final too.
    let d2 = p.failed_delivery().await;
    let id2 = p.file_claim_ok(&p.claim_body(&d2, "loss", 100)).await;
    operator(&["reject", &id2, "--reason", "Not covered: prohibited goods."]).await;
    let c2 = p.claim_json(&id2).await;
    assert_eq!(c2["claim_status"], "rejected");
    assert_eq!(c2["decision_reason"], "Not covered: prohibited goods.");
    p.withdraw(&c2, "x")
        .await
        .expect_error(409, "invalid_claim_transition");
    // A withdraw from information_requested is allowed.
    let d3 = p.failed_delivery().await;
    let id3 = p.file_claim_ok(&p.claim_body(&d3, "loss", 100)).await;
    operator(&["review", &id3]).await;
    operator(&["request-information", &id3, "--message", "Photos?"]).await;
    let c3 = p.claim_json(&id3).await;
    p.withdraw(&c3, "No photos.").await.expect_success(200);
    // Without --yes (and no terminal), a money-moving command refuses.
    let d4 = p.failed_delivery().await;
    let id4 = p.file_claim_ok(&p.claim_body(&d4, "loss", 100)).await;
    operator(&["review", &id4]).await;
    let out = opsctl_run(&["claim", "approve", &id4, "--amount", "100"]).await;
    assert!(
        !out.success && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
    assert_eq!(p.claim_json(&id4).await["claim_status"], "in_review");
}

#[tokio::test]
async fn documents_upload_straight_to_s3_bound_to_their_type_and_size() {
    let p = Partner::claimant().await;
    let d = p.failed_delivery().await;
    let id = p.file_claim_ok(&p.claim_body(&d, "loss", 100_000)).await;
    let c = p.claim_json(&id).await;
    let photo = vec![0xFFu8; 2048];
    let r = p
        .add_document(&c, "parcel.jpg", "image/jpeg", photo.len())
        .await;
    let out = r.expect_success(201).clone();
    let doc_id = out["document_id"].as_str().unwrap().to_string();
    assert!(doc_id.starts_with("doc_"), "{out}");
    let up = &out["upload"];
    assert_eq!(up["method"], "PUT");
    assert_eq!(up["headers"]["Content-Type"], "image/jpeg");
    assert_eq!(up["headers"]["Content-Length"], "2048");
    // Signed into the URL: type, size, at most 15 minutes.
    let url = up["url"].as_str().unwrap();
    let signed = url
        .split(['?', '&'])
        .find_map(|q| q.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap()
        .replace("%3B", ";");
    assert!(
        signed.contains("content-length") && signed.contains("content-type"),
        "{signed}"
    );
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    let expires = blackbox::parse_time(up["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires <= time::OffsetDateTime::now_utc() + time::Duration::minutes(15));
    // The object key holds only ids the API made: the partner's, the claim's and the document's.
    assert!(
        url.contains(&format!("/claims/{}/{id}/{doc_id}?", p.kit.partner_id)),
        "{url}"
    );

    let before = p.claim_json(&id).await;
    assert_eq!(before["documents"][0]["uploaded"], false);
    assert_eq!(upload(up, photo.clone(), None).await, 200);
    let after = p.claim_json(&id).await;
    assert_eq!(after["documents"][0]["uploaded"], true, "{after}");
    assert_eq!(after["documents"][0]["file_name"], "parcel.jpg");

    // The same request again, not uploaded yet: the same document with a fresh link (200).
    let r = p
        .add_document(&c, "invoice.pdf", "application/pdf", 10)
        .await;
    let first = r.expect_success(201)["document_id"].clone();
    let r = p
        .add_document(&c, "invoice.pdf", "application/pdf", 10)
        .await;
    assert_eq!(r.expect_success(200)["document_id"], first);

    // Another size than signed: moto stores it (only real S3 refuses it, README "Claims"), and
    // the claim does not count it as uploaded: the object must have the declared size.
    let r = p.add_document(&c, "big.png", "image/png", 100).await;
    let out = r.expect_success(201).clone();
    // (Asserted stored, or the check below would hold without testing the size rule.)
    assert_eq!(
        upload(&out["upload"], vec![1u8; 5000], Some("image/png")).await,
        200
    );
    let claim = p.claim_json(&id).await;
    let big = claim["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["document_id"] == out["document_id"])
        .unwrap();
    assert_eq!(big["uploaded"], false, "{claim}");

    // Bad requests name their field.
    for (field, body) in [
        (
            "content_type",
            json!({"file_name": "a.gif", "content_type": "image/gif", "size_bytes": 1}),
        ),
        (
            "size_bytes",
            json!({"file_name": "a.pdf", "content_type": "application/pdf", "size_bytes": 10_485_761}),
        ),
        (
            "file_name",
            json!({"content_type": "application/pdf", "size_bytes": 1}),
        ),
    ] {
        let mut b = body.clone();
        b["signature"] = json!(p.claim_signature(&c));
        p.claim_post(&id, "documents", &b)
            .await
            .expect_validation(field);
    }
}

#[tokio::test]
async fn another_partners_claims_are_not_found_and_never_listed() {
    let a = Partner::claimant().await;
    let b = Partner::claimant().await;
    let d = a.failed_delivery().await;
    let id = a.file_claim_ok(&a.claim_body(&d, "loss", 1000)).await;
    let c = a.claim_json(&id).await;
    b.claim(&id).await.expect_error(404, "not_found");
    for action in ["documents", "notes", "withdraw"] {
        let body = json!({"message": "x", "reason": "x", "file_name": "a.jpg", "content_type": "image/jpeg", "size_bytes": 1, "signature": b.claim_signature(&c)});
        b.claim_post(&id, action, &body)
            .await
            .expect_error(404, "not_found");
    }
    // B cannot claim on A's delivery either: A's tracking number is unknown to B.
    let body = b.claim_body(&d, "loss", 1000);
    b.file_claim(&body).await.expect_error(404, "not_found");
    let list = b.list_claims(&[]).await.expect(200).clone();
    assert_eq!(list["items"], json!([]), "{list}");
    let list = a.list_claims(&[]).await.expect(200).clone();
    assert_eq!(list["items"][0]["claim_id"], id.as_str());
    // Ids that cannot exist are 404 without a lookup.
    for bad in ["clm_x", "pol_1", "CLM_01", &id.to_uppercase()] {
        a.claim(bad).await.expect_error(404, "not_found");
    }
    // A's list, filtered; its cursor is refused to B and when altered.
    let d2 = a.failed_delivery().await;
    let id2 = a.file_claim_ok(&a.claim_body(&d2, "loss", 1000)).await;
    let page = a.list_claims(&[("limit", "1")]).await.expect(200).clone();
    assert_eq!(page["items"][0]["claim_id"], id2.as_str());
    assert!(page["items"][0].get("history").is_none(), "{page}");
    assert_eq!(page["items"][0]["document_count"], 0);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let next = a
        .list_claims(&[("limit", "1"), ("cursor", &cursor)])
        .await
        .expect(200)
        .clone();
    assert_eq!(next["items"][0]["claim_id"], id.as_str());
    b.list_claims(&[("limit", "1"), ("cursor", &cursor)])
        .await
        .expect_error(400, "invalid_cursor");
    a.list_claims(&[("claim_status", "paid"), ("cursor", &cursor)])
        .await
        .expect_error(400, "invalid_cursor");
    let by_tn = a
        .list_claims(&[("tracking_number", &d2.tracking_number)])
        .await
        .expect(200)
        .clone();
    let ids: Vec<&Value> = by_tn["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["claim_id"])
        .collect();
    assert_eq!(ids, [&json!(id2)]);
    let by_status = a
        .list_claims(&[("claim_status", "in_review")])
        .await
        .expect(200)
        .clone();
    assert_eq!(by_status["items"], json!([]));
    a.list_claims(&[("claim_status", "lost")])
        .await
        .expect_validation("claim_status");
}

#[tokio::test]
async fn scopes_and_signatures() {
    let p = Partner::claimant().await;
    let d = p.failed_delivery().await;
    let body = p.claim_body(&d, "loss", 1000);
    // A token without claims cannot file; control_tower alone can read.
    let ct = p.token_with_scope(Some("control_tower")).await;
    p.post_json_with("/claims", Some(&ct), &body)
        .await
        .expect_insufficient_scope();
    let id = p.file_claim_ok(&body).await;
    p.get_with(&format!("/claims/{id}"), Some(&ct))
        .await
        .expect(200);
    p.get_with("/claims", Some(&ct)).await.expect(200);
    let ins = p.token_with_scope(Some("insurance")).await;
    p.get_with(&format!("/claims/{id}"), Some(&ins))
        .await
        .expect_insufficient_scope();
    // A partner without the claims subscription gets no claims token at all.
    let old = Partner::full().await;
    old.token_resp(Some("claims"))
        .await
        .expect_token_error(400, "invalid_scope");
    // The signature is over the tracking number and the claimed amount.
    let mut wrong = p.claim_body(&d, "loss", 2000);
    wrong["signature"] = json!(p.sign(&d.tracking_number, 1000));
    p.file_claim(&wrong)
        .await
        .expect_error(403, "invalid_signature");
    let c = p.claim_json(&id).await;
    let bad = json!({"message": "hi", "signature": p.sign(&d.tracking_number, d.premium)});
    p.claim_post(&id, "notes", &bad)
        .await
        .expect_error(403, "invalid_signature");
    p.note(&c, "hi").await.expect_success(201);
    // Body framing as on every POST.
    p.expect_body_framing_refused("/claims", &body).await;
}

#[tokio::test]
async fn filing_costs_one_read_and_one_write_and_a_read_one_query() {
    let p = Partner::demo().await;
    let d = p.failed_delivery().await;
    let resp = p.file_claim(&p.claim_body(&d, "loss", 1000)).await;
    resp.expect(201);
    let f = crate::logs::request_line("claims", &resp).await;
    assert_eq!(f["route"], "POST /api/v1/claims", "{f}");
    // A warm container: 1 GetItem + 1 TransactWriteItems (plus, at most once per 10 s, the caller re-check).
    let trips = f["dynamodb_round_trips"].as_f64().unwrap();
    assert!(trips == 2.0 || trips == 3.0, "{f}");
    let id = resp.json["claim_id"].as_str().unwrap().to_string();
    let resp = p.claim(&id).await;
    resp.expect(200);
    let f = crate::logs::request_line("claims", &resp).await;
    assert!(f["dynamodb_round_trips"].as_f64().unwrap() <= 2.0, "{f}");
    assert_eq!(
        f["s3_round_trips"].as_f64(),
        Some(0.0),
        "no documents, no S3 call: {f}"
    );
}

#[tokio::test]
async fn product_claim_terms_apply_and_a_claimed_policy_cannot_be_cancelled() {
    // A product whose deliveries may be claimed as lost at once (loss_after_days 0).
    let code = blackbox::unique_name("fastloss");
    opsctl_json(&[
        "product",
        "put",
        "--code",
        &code,
        "--currency",
        "VND",
        "--max-item-value",
        "30000000",
        "--premium-rate-bps",
        "50",
        "--min-premium",
        "5000",
        "--loss-after-days",
        "0",
        "--damage-claim-days",
        "1",
    ])
    .await;
    let p = Partner::claimant().await;
    let mut body = p.submit_body_for(&blackbox::unique_tn(), 3_000_000, 15_000);
    body["product_code"] = json!(code);
    // The new product reaches a warm container within its product cache (60 s).
    let mut d = None;
    for _ in 0..40 {
        let r = p.submit(&body).await;
        if r.status == 201 {
            d = Some(blackbox::Delivery {
                tracking_number: body["tracking_number"].as_str().unwrap().into(),
                policy_id: r.json["policy_id"].as_str().unwrap().into(),
                url_certificate: r.json["url_certificate"].as_str().unwrap().into(),
                premium: 15_000,
                body: body.clone(),
            });
            break;
        }
        r.expect_error(400, "unknown_product");
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    let d = d.expect("the new product was accepted within 80 s");
    // Still `created`, never tracked: with loss_after_days 0 a loss may be claimed.
    let id = p.file_claim_ok(&p.claim_body(&d, "loss", 1000)).await;
    let r = p.cancel(&p.cancel_body(&d)).await;
    assert!(r
        .expect_error(409, "cancellation_not_allowed")
        .contains(&id));
    // Withdrawn, the policy may be cancelled again.
    let c = p.claim_json(&id).await;
    p.withdraw(&c, "filed by mistake").await.expect_success(200);
    p.cancel(&p.cancel_body(&d)).await.expect_success(200);
}
