//! Prints how long a certificate takes to render, as HTML and as PDF: the first render in the
//! process (what a Lambda cold start pays: font parsing included) and the median of the next ones.
//!
//! cargo run --release -p shared --example certificate_render

use std::time::Instant;

use shared::certificate::{pdf, Certificate};
use shared::domain::{DeliveryStatus, PolicyStatus, Submission};
use shared::store::{DeliveryRecord, PolicyRecord};

fn record() -> DeliveryRecord {
    let body = serde_json::json!({
        "tracking_number": "SPX0001", "product_code": "ahasme",
        "customer_name": "Công ty TNHH Thương mại Hải Âu", "customer_phone": "+84 901 234 567",
        "pickup_address": "1 Lê Lợi, Quận 1, TP.HCM", "drop_up_address": "2 Tràng Tiền, Hà Nội",
        "type_of_goods": "electronics", "cod_amount": 0, "item_value": 3000000,
        "premium_amount": 15000, "signature": "x", "order_created_time": "2026-11-25T06:05:00.528Z",
        "goods_description": "Điện thoại di động, hộp nguyên seal, kèm sạc và tai nghe", "good_quantity": 2
    });
    let (submission, _) = Submission::parse(body.as_object().unwrap()).unwrap();
    DeliveryRecord {
        partner_id: "ptn_1".into(),
        fingerprint: String::new(),
        policy: PolicyRecord {
            policy_id: "pol_01m88pg6bj7gvrmehq193tgtwg".into(),
            policy_status: PolicyStatus::Active,
            premium_amount: 15000,
            currency: "VND".into(),
            product_code: "ahasme".into(),
            premium_rate_bps: 50,
            min_premium: 5000,
            max_item_value: 30_000_000,
            issued_at: "2026-11-25T06:05:01.000Z".into(),
            cancellation: None,
            cancelled_at: None,
            loss_after_days: 7,
            damage_claim_days: 14,
        },
        submission,
        delivery_status: DeliveryStatus::InDelivery,
        created_at: "2026-11-25T06:05:01.000Z".into(),
        updated_at: "2026-11-25T06:05:01.000Z".into(),
        version: 1,
        batches: vec![],
        event_ids: vec![],
        claims: Default::default(),
    }
}

fn time<T>(f: impl Fn() -> T) -> (f64, f64, T) {
    let t = Instant::now();
    let first = f();
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut runs: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    (first_ms, runs[runs.len() / 2], first)
}

fn main() {
    let c = Certificate::new(
        &record(),
        "Giao Hàng Nhanh",
        "https://api.example/certificates/pol_01m88pg6bj7gvrmehq193tgtwg.dda9239a19210714b00e0eccb6c7b2d2",
        time::OffsetDateTime::now_utc(),
    );
    let (first, median, html) = time(|| c.html());
    println!(
        "html: first {first:.3} ms, median of 50 {median:.3} ms, {} bytes",
        html.len()
    );
    let (first, median, bytes) = time(|| pdf::render(&c).unwrap());
    println!(
        "pdf:  first {first:.3} ms, median of 50 {median:.3} ms, {} bytes",
        bytes.len()
    );
}
