//! Inputs that broke the API during the fuzzing work, kept as regression tests.

use blackbox::{names_field, Partner};
use serde_json::json;

/// A timestamp whose UTC instant is after the year 9999 made `time` panic while converting it
/// (the function crashed: 502 from the gateway). It is a validation error naming the field.
#[tokio::test]
async fn timestamps_beyond_year_9999_in_utc_are_400_naming_the_field() {
    let p = Partner::demo().await;
    let late = "9999-12-31T23:59:59.999999999-23:59";
    let resp = p.list(&[("created_from", late)]).await;
    let body = resp.expect(400);
    assert!(
        names_field(body["message"].as_str().unwrap(), "created_from"),
        "{body}"
    );
    let resp = p.list(&[("created_to", late)]).await;
    let body = resp.expect(400);
    assert!(
        names_field(body["message"].as_str().unwrap(), "created_to"),
        "{body}"
    );

    let mut submit = p.submit_body();
    submit["order_created_time"] = json!(late);
    let resp = p.submit(&submit).await;
    let body = resp.expect(400);
    assert!(
        names_field(body["message"].as_str().unwrap(), "order_created_time"),
        "{body}"
    );

    let d = p.create_delivery().await;
    let mut track = p.tracking_body(&d, "in_process", vec![json!({"tracking_time": late})]);
    track["tracking_detail"][0]["tracking_status"] = json!("picked_up");
    let resp = p.track(&track).await;
    let body = resp.expect(400);
    assert!(
        names_field(
            body["message"].as_str().unwrap(),
            "tracking_detail[0].tracking_time"
        ),
        "{body}"
    );
    let mut cancel = p.cancel_body(&d);
    cancel["cancellation_time"] = json!(late);
    let resp = p.cancel(&cancel).await;
    let body = resp.expect(400);
    assert!(
        names_field(body["message"].as_str().unwrap(), "cancellation_time"),
        "{body}"
    );
}
