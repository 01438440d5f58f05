//! An expired quote: a stack whose quotes are valid a few seconds (`devstack --function-env
//! QUOTE_VALIDITY_SECONDS=...`, honoured only in the local environment; deployed quotes are
//! valid 15 minutes). Once `valid_until` has passed, a Submit with the quote is
//! `409 quote_expired`, and nothing is stored; a submission accepted before then is still a
//! safe retry afterwards.

use std::time::Duration;

use blackbox::{names_field, parse_time, Partner, Stack};

/// Long enough for a first Submit on a loaded machine (cold debug functions), short for a test.
const VALIDITY_SECONDS: u64 = 8;

#[tokio::test]
async fn an_expired_quote_is_409_quote_expired_and_an_accepted_one_stays_a_safe_retry() {
    let validity = format!("QUOTE_VALIDITY_SECONDS={VALIDITY_SECONDS}");
    let Some(st) = Stack::start_private_with(&["--function-env", &validity]) else {
        eprintln!("skipped: PARTNER_API_BASE_URL points at an external stack");
        return;
    };
    let p = Partner::from_kit(st.demo_kit_json());
    let before = time::OffsetDateTime::now_utc();
    let used = p.quote("ahasme", 3_000_000).await;
    let unused = p.quote("ahasme", 3_000_000).await;
    let valid_until = unused["valid_until"]
        .as_str()
        .and_then(parse_time)
        .expect("valid_until");
    let ahead = (valid_until - before).whole_seconds();
    assert!(
        (VALIDITY_SECONDS as i64 - 2..=VALIDITY_SECONDS as i64 + 1).contains(&ahead),
        "valid_until {valid_until} should be about {VALIDITY_SECONDS} s ahead"
    );

    // Accepted while valid.
    let accepted_body = p.submit_body_quoted(&used);
    let accepted = p.create_from(accepted_body.clone()).await;

    // After valid_until.
    let wait = valid_until - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(500);
    if wait.is_positive() {
        tokio::time::sleep(Duration::from_millis(wait.whole_milliseconds() as u64)).await;
    }
    let body = p.submit_body_quoted(&unused);
    let resp = p.submit(&body).await;
    let message = resp.expect_error(409, "quote_expired").to_string();
    assert!(names_field(&message, "quote_id"), "{message}");
    assert!(
        message.contains(unused["valid_until"].as_str().unwrap()),
        "{message}"
    );
    p.assert_not_stored(body["tracking_number"].as_str().unwrap())
        .await;
    // The same with the quote that was used: a new delivery is refused ...
    p.submit(&p.submit_body_quoted(&used))
        .await
        .expect_error(409, "quote_expired");
    // ... while the submission accepted in time is still a safe retry.
    let retry = p.submit(&accepted_body).await;
    let out = retry.expect_success(200);
    assert_eq!(out["policy_id"], accepted.policy_id.as_str(), "{out}");
}
