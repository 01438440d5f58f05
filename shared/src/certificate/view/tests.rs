use super::*;
use crate::domain::Submission;
use crate::store::PolicyRecord;

pub fn record(policy: PolicyStatus, delivery: DeliveryStatus) -> DeliveryRecord {
    let body = serde_json::json!({
        "tracking_number": "SPX0001", "product_code": "ahasme", "customer_name": "x",
        "customer_phone": "+84 901 234 567", "pickup_address": "1 Le Loi, HCMC",
        "drop_up_address": "2 Tran Hung Dao, Hanoi", "type_of_goods": "electronics",
        "cod_amount": 0, "item_value": 3000000, "premium_amount": 15000, "signature": "abc",
        "order_created_time": "2026-11-25T06:05:00.528Z", "goods_description": "Phone",
        "good_quantity": 2
    });
    let (mut submission, _) = Submission::parse(body.as_object().unwrap()).unwrap();
    submission.customer_name = "Công ty <b>Hải Âu</b> & Co".into();
    submission.goods_description = "Điện thoại \"X\" <script>alert(1)</script>".into();
    DeliveryRecord {
        partner_id: "ptn_1".into(),
        fingerprint: "f".into(),
        policy: PolicyRecord {
            policy_id: "pol_01abc".into(),
            policy_status: policy,
            premium_amount: 15000,
            currency: "VND".into(),
            product_code: "ahasme".into(),
            premium_rate_bps: 50,
            min_premium: 5000,
            max_item_value: 30_000_000,
            issued_at: "2026-11-25T06:05:00.528Z".into(),
            cancellation: None,
            cancelled_at: (policy == PolicyStatus::Cancelled)
                .then(|| "2026-11-25T08:00:00.000Z".into()),
            loss_after_days: 7,
            damage_claim_days: 14,
        },
        submission,
        delivery_status: delivery,
        created_at: "2026-11-25T06:05:00.528Z".into(),
        updated_at: "2026-11-26T09:30:00.000Z".into(),
        version: 3,
        batches: vec![],
        event_ids: vec![],
        claims: Default::default(),
    }
}

pub fn cert(policy: PolicyStatus, delivery: DeliveryStatus) -> Certificate {
    Certificate::new(
        &record(policy, delivery),
        "Giao Hàng Nhanh",
        "https://api.example/certificates/pol_01abc.00112233445566778899aabbccddeeff",
        time::macros::datetime!(2026-11-27 10:00 UTC),
    )
}

#[test]
fn money_is_formatted_in_the_currency_s_units() {
    assert_eq!(format_money(3_000_000, "VND"), "3,000,000 VND");
    assert_eq!(format_money(15_000, "vnd"), "15,000 VND");
    assert_eq!(format_money(0, "VND"), "0 VND");
    assert_eq!(format_money(1250, "USD"), "12.50 USD");
    assert_eq!(format_money(5, "USD"), "0.05 USD");
    assert_eq!(format_money(123_456_789, "EUR"), "1,234,567.89 EUR");
    assert_eq!(format_money(1500, "KWD"), "1.500 KWD");
    assert_eq!(format_money(999, "JPY"), "999 JPY");
    assert_eq!(group_digits(1_000), "1,000");
    assert_eq!(group_digits(100), "100");
    assert_eq!(group_digits(u64::MAX), "18,446,744,073,709,551,615");
}

#[test]
fn times_are_shown_in_utc_for_people() {
    assert_eq!(
        format_time("2026-11-25T06:05:00.528Z"),
        "25 Nov 2026, 06:05 UTC"
    );
    assert_eq!(
        format_time("2022-04-06T13:05:00+07:00"),
        "6 Apr 2022, 06:05 UTC"
    );
    assert_eq!(format_time("not a time"), "not a time");
}

#[test]
fn coverage_follows_policy_then_delivery() {
    use DeliveryStatus::*;
    assert_eq!(
        Coverage::of(PolicyStatus::Cancelled, Created),
        Coverage::Cancelled
    );
    assert_eq!(
        Coverage::of(PolicyStatus::Active, Success),
        Coverage::Delivered
    );
    assert_eq!(
        Coverage::of(PolicyStatus::Active, Returned),
        Coverage::Returned
    );
    for d in [Created, InProcess, InDelivery, Fail, InReturn] {
        assert_eq!(
            Coverage::of(PolicyStatus::Active, d),
            Coverage::Active,
            "{d}"
        );
    }
}

#[test]
fn phones_are_masked() {
    assert_eq!(
        mask_phone("+84 901 234 567").as_deref(),
        Some("ending in 567")
    );
    assert_eq!(mask_phone("12345"), None);
}

#[test]
fn page_shows_the_policy_and_its_status_and_escapes_partner_text() {
    let c = cert(PolicyStatus::Active, DeliveryStatus::InDelivery);
    let html = c.html();
    assert!(html.contains("<span class=\"mono\" id=\"policy-id\">pol_01abc</span>"));
    assert!(html.contains("data-status=\"active\""));
    assert!(html.contains("3,000,000 VND") && html.contains("15,000 VND"));
    assert!(html.contains("Giao Hàng Nhanh"));
    assert!(html.contains("Công ty &lt;b&gt;Hải Âu&lt;/b&gt; &amp; Co"));
    assert!(!html.contains("<script>"), "partner text must be escaped");
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("@page"));
    assert!(html.contains("name=\"viewport\""));
    // No external assets: nothing is fetched from anywhere.
    for external in ["src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "{external}");
    }
    // The full phone number never appears.
    assert!(!html.contains("901234567") && !html.contains("901 234"));
    assert!(html.contains("ending in 567"));
    assert!(html.contains("Verification:"));
}

#[test]
fn a_cancelled_policy_says_so() {
    let c = cert(PolicyStatus::Cancelled, DeliveryStatus::Created);
    let html = c.html();
    assert!(html.contains("data-status=\"cancelled\""));
    assert!(html.contains(">CANCELLED<"));
    assert!(html.contains("25 Nov 2026, 08:00 UTC"));
    let delivered = cert(PolicyStatus::Active, DeliveryStatus::Success).html();
    assert!(delivered.contains(">DELIVERED<") && delivered.contains("Journey ended"));
    let returned = cert(PolicyStatus::Active, DeliveryStatus::Returned).html();
    assert!(returned.contains(">RETURNED<"));
}

#[test]
fn etag_changes_with_what_is_shown_but_not_with_the_check_time() {
    let a = cert(PolicyStatus::Active, DeliveryStatus::Created);
    let mut later = a.clone();
    later.checked_at = "2030-01-01T00:00:00.000Z".into();
    assert_eq!(a.etag("html"), later.etag("html"));
    assert_ne!(a.etag("html"), a.etag("pdf"));
    let cancelled = cert(PolicyStatus::Cancelled, DeliveryStatus::Created);
    assert_ne!(a.etag("html"), cancelled.etag("html"));
    assert!(a.etag("html").starts_with("W/\""));
    assert_eq!(a.pdf_file_name(), "certificate-pol_01abc.pdf");
}

#[test]
fn an_open_or_paid_claim_is_shown() {
    use crate::domain::{ClaimStatus, ClaimType};
    use crate::store::{ClaimSummary, OpenClaim};
    let mut rec = record(PolicyStatus::Active, DeliveryStatus::Fail);
    assert_eq!(claim_line(&rec), None);
    let summary = |status| ClaimSummary {
        claim_id: "clm_1".into(),
        claim_type: ClaimType::Loss,
        claim_status: status,
        claimed_amount: 1_000_000,
        approved_amount: None,
        paid_amount: None,
        created_at: "2026-11-26T10:00:00.000Z".into(),
    };
    rec.claims
        .claims
        .insert("clm_1".into(), summary(ClaimStatus::InReview));
    rec.claims.open_claim = Some(OpenClaim {
        claim_id: "clm_1".into(),
        fingerprint: "f".into(),
    });
    let open = claim_line(&rec).unwrap();
    assert!(open.contains("Claim open (in review)"), "{open}");
    rec.claims.open_claim = None;
    rec.claims
        .claims
        .insert("clm_1".into(), summary(ClaimStatus::Paid));
    rec.claims.claims_paid_total = 900_000;
    let c = Certificate::new(
        &rec,
        "P",
        "https://x/certificates/t",
        time::macros::datetime!(2026-11-27 10:00 UTC),
    );
    assert!(c.html().contains("Claim paid: 900,000 VND"));
    assert_ne!(
        c.etag("html"),
        cert(PolicyStatus::Active, DeliveryStatus::Fail).etag("html")
    );
}

#[test]
fn escaping() {
    assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    assert_eq!(esc("x\u{0}y"), "x\u{FFFD}y");
}
