//! What each request's log line tells an operator on call: found by the `x-request-id` the
//! partner was answered with, it gives the status, the time taken and what the request cost in
//! DynamoDB (round trips, request units, and the time its attempts took, `dynamodb_ms`).

use std::time::{Duration, Instant};

use blackbox::{stack, Partner, Resp};
use serde_json::Value;

/// The fields of the line `function` logged for the request `resp` answers, waiting up to 5 s
/// for the function to flush it.
pub(crate) async fn request_line(function: &str, resp: &Resp) -> Value {
    let request_id = resp
        .header("x-request-id")
        .unwrap_or_else(|| resp.fail("no x-request-id header"))
        .to_string();
    let log = stack()
        .state_dir()
        .join("logs")
        .join(format!("{function}.log"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let line = text.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["fields"]["request_id"] == request_id.as_str()).then(|| v["fields"].clone())
        });
        match line {
            Some(fields) => return fields,
            None if Instant::now() > deadline => {
                panic!("no line for request {request_id} in {}", log.display())
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub(crate) fn number(fields: &Value, name: &str) -> f64 {
    fields[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} missing or not a number: {fields}"))
}

#[tokio::test]
async fn each_request_line_gives_its_dynamodb_round_trips_units_and_time() {
    let p = Partner::demo().await;
    let body = p.submit_body();
    let resp = p.submit(&body).await;
    resp.expect(201);
    let f = request_line("deliveries", &resp).await;
    assert_eq!(f["status"], 201, "{f}");
    assert_eq!(f["route"], "POST /api/v1/sme-deliveries", "{f}");
    assert!(number(&f, "dynamodb_round_trips") >= 1.0, "{f}");
    assert!(number(&f, "dynamodb_write_units") >= 1.0, "{f}");
    // The time of the DynamoDB attempts is part of the request's time, never more.
    let dynamodb_ms = number(&f, "dynamodb_ms");
    assert!(
        dynamodb_ms > 0.0 && dynamodb_ms <= number(&f, "latency_ms"),
        "{f}"
    );

    // A read of that delivery: its Query is timed too.
    let resp = p
        .delivery(body["tracking_number"].as_str().expect("a tracking number"))
        .await;
    resp.expect(200);
    let f = request_line("control-tower", &resp).await;
    assert!(number(&f, "dynamodb_round_trips") >= 1.0, "{f}");
    assert!(number(&f, "dynamodb_ms") > 0.0, "{f}");

    // Then, on the control tower function now warm with that read's counts, a request refused
    // before any storage read (a tracking number that cannot exist): no round trip and no
    // DynamoDB time, so each request's counts start from zero.
    let resp = p.delivery(&"A".repeat(65)).await;
    resp.expect_error(404, "not_found");
    let f = request_line("control-tower", &resp).await;
    assert_eq!(f["status"], 404, "{f}");
    assert_eq!(number(&f, "dynamodb_round_trips"), 0.0, "{f}");
    assert_eq!(number(&f, "dynamodb_ms"), 0.0, "{f}");
}
