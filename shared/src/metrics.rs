//! Counting DynamoDB round trips (every HTTP attempt, retries included) with an SDK interceptor.
//! A Lambda process handles one event at a time, so a process-wide counter reset at the start of
//! each request counts exactly that request's round trips; the request log line reports it.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

static DYNAMODB_ROUND_TRIPS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub struct CountRoundTrips;

impl Intercept for CountRoundTrips {
    fn name(&self) -> &'static str {
        "CountRoundTrips"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        DYNAMODB_ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Start counting a new request.
pub fn reset() {
    DYNAMODB_ROUND_TRIPS.store(0, Ordering::Relaxed);
}

/// Round trips since the last `reset`.
pub fn dynamodb_round_trips() -> u32 {
    DYNAMODB_ROUND_TRIPS.load(Ordering::Relaxed)
}
