//! Counting AWS round trips (every HTTP attempt, retries included) and DynamoDB consumed capacity
//! with SDK interceptors. A Lambda process handles one event at a time, so process-wide counters
//! reset at the start of each request count exactly that request's work; the request log line
//! reports them (`dynamodb_round_trips`, `dynamodb_read_units`, `dynamodb_write_units`,
//! `secretsmanager_round_trips`), and `scripts/bench` reads them from there.
//!
//! `dynamodb_ms` is the time during which at least one of the request's DynamoDB attempts was in
//! flight, each from going on the wire to its answer read (or its failure): attempts one after
//! the other add up, attempts side by side (a list's shard queries) count once, so the request's
//! `latency_ms` less `dynamodb_ms` is the handler's own time (serialising and signing requests
//! included), measured per request.
//!
//! Consumed capacity is what DynamoDB itself reports (`ReturnConsumedCapacity=TOTAL`, which the
//! interceptor sets on every data-plane call: free, and a few bytes in the response), so the logs
//! show the request units that are billed, not an estimate. A write whose condition fails reports
//! no capacity through the SDK (DynamoDB still bills it), so such requests under-count.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

static DYNAMODB_ROUND_TRIPS: AtomicU32 = AtomicU32::new(0);
static SECRETSMANAGER_ROUND_TRIPS: AtomicU32 = AtomicU32::new(0);
static S3_ROUND_TRIPS: AtomicU32 = AtomicU32::new(0);
/// Capacity units in thousandths (DynamoDB reports multiples of 0.5).
static READ_MILLIUNITS: AtomicU64 = AtomicU64::new(0);
static WRITE_MILLIUNITS: AtomicU64 = AtomicU64::new(0);
/// Time with DynamoDB attempts in flight.
static DYNAMODB_BUSY: Mutex<Busy> = Mutex::new(Busy {
    in_flight: 0,
    since: None,
    total: Duration::ZERO,
});

/// How many attempts are in flight, since when the count is above zero, and the time it was.
struct Busy {
    in_flight: u32,
    since: Option<Instant>,
    total: Duration,
}

fn busy() -> std::sync::MutexGuard<'static, Busy> {
    DYNAMODB_BUSY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The current attempt of an operation is on the wire (counted in `DYNAMODB_BUSY`). Kept in that
/// operation's config bag, so that each attempt of operations running side by side leaves the
/// in-flight count once.
#[derive(Debug, Clone)]
struct InFlight;

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

/// Which service a client talks to (the interceptor trait is the same for every SDK crate).
#[derive(Debug, Clone, Copy)]
pub enum Service {
    DynamoDb,
    SecretsManager,
    /// The claims bucket (issue 13): counted as `s3_round_trips`.
    S3,
}

/// Counts every HTTP attempt of the client it is installed on; on a DynamoDB client it also asks
/// for, and adds up, the consumed capacity.
#[derive(Debug)]
pub struct CountRoundTrips(pub Service);

/// Set `ReturnConsumedCapacity=TOTAL` on the operations that take it (when the caller did not).
macro_rules! ask_capacity {
    ($input:expr, $($op:ident :: $ty:ident),+) => {
        $(
            if let Some(i) = $input.downcast_mut::<aws_sdk_dynamodb::operation::$op::$ty>() {
                i.return_consumed_capacity.get_or_insert(ReturnConsumedCapacity::Total);
            } else
        )+
        {}
    };
}

/// Add up the capacity an operation's output reports (reads or writes).
macro_rules! take_capacity {
    ($output:expr, $($op:ident :: $ty:ident => $write:expr, $many:tt),+) => {
        $(
            if let Some(o) = $output.downcast_ref::<aws_sdk_dynamodb::operation::$op::$ty>() {
                take_capacity!(@add o, $write, $many);
            } else
        )+
        {}
    };
    (@add $o:ident, $write:expr, one) => { add_capacity($o.consumed_capacity.iter(), $write) };
    (@add $o:ident, $write:expr, many) => { add_capacity($o.consumed_capacity.iter().flatten(), $write) };
}

fn add_capacity<'a>(caps: impl Iterator<Item = &'a ConsumedCapacity>, write: bool) {
    let units: f64 = caps.filter_map(|c| c.capacity_units).sum();
    let milli = (units * 1000.0).round() as u64;
    if write {
        WRITE_MILLIUNITS.fetch_add(milli, Ordering::Relaxed);
    } else {
        READ_MILLIUNITS.fetch_add(milli, Ordering::Relaxed);
    }
}

impl Intercept for CountRoundTrips {
    fn name(&self) -> &'static str {
        "CountRoundTrips"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Service::DynamoDb = self.0 {
            let input = context.input_mut();
            ask_capacity!(
                input,
                get_item::GetItemInput,
                put_item::PutItemInput,
                update_item::UpdateItemInput,
                delete_item::DeleteItemInput,
                query::QueryInput,
                scan::ScanInput,
                transact_write_items::TransactWriteItemsInput,
                transact_get_items::TransactGetItemsInput,
                batch_get_item::BatchGetItemInput,
                batch_write_item::BatchWriteItemInput
            );
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match self.0 {
            Service::DynamoDb => {
                DYNAMODB_ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                let mut b = busy();
                if b.in_flight == 0 {
                    b.since = Some(now);
                }
                b.in_flight += 1;
                cfg.interceptor_state().store_put(InFlight);
            }
            Service::SecretsManager => {
                SECRETSMANAGER_ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
            }
            Service::S3 => {
                S3_ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
            }
        };
        Ok(())
    }

    /// After every attempt, answered or not (a timeout or a reset counts its time too). The
    /// marker is taken out of the bag, so that an attempt that fails before it is sent cannot
    /// leave the in-flight count for a previous attempt again.
    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if cfg.load::<InFlight>().is_some() {
            let mut b = busy();
            b.in_flight = b.in_flight.saturating_sub(1);
            if b.in_flight == 0 {
                if let Some(since) = b.since.take() {
                    b.total += since.elapsed();
                }
            }
            cfg.interceptor_state().unset::<InFlight>();
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let (Service::DynamoDb, Ok(output)) = (self.0, context.output_or_error()) {
            take_capacity!(
                output,
                get_item::GetItemOutput => false, one,
                query::QueryOutput => false, one,
                scan::ScanOutput => false, one,
                transact_get_items::TransactGetItemsOutput => false, many,
                batch_get_item::BatchGetItemOutput => false, many,
                put_item::PutItemOutput => true, one,
                update_item::UpdateItemOutput => true, one,
                delete_item::DeleteItemOutput => true, one,
                transact_write_items::TransactWriteItemsOutput => true, many,
                batch_write_item::BatchWriteItemOutput => true, many
            );
        }
        Ok(())
    }
}

/// Start counting a new request.
pub fn reset() {
    DYNAMODB_ROUND_TRIPS.store(0, Ordering::Relaxed);
    SECRETSMANAGER_ROUND_TRIPS.store(0, Ordering::Relaxed);
    S3_ROUND_TRIPS.store(0, Ordering::Relaxed);
    READ_MILLIUNITS.store(0, Ordering::Relaxed);
    WRITE_MILLIUNITS.store(0, Ordering::Relaxed);
    *busy() = Busy {
        in_flight: 0,
        since: None,
        total: Duration::ZERO,
    };
}

/// DynamoDB round trips since the last `reset`.
pub fn dynamodb_round_trips() -> u32 {
    DYNAMODB_ROUND_TRIPS.load(Ordering::Relaxed)
}

/// Secrets Manager round trips since the last `reset`.
pub fn secretsmanager_round_trips() -> u32 {
    SECRETSMANAGER_ROUND_TRIPS.load(Ordering::Relaxed)
}

/// S3 round trips since the last `reset`.
pub fn s3_round_trips() -> u32 {
    S3_ROUND_TRIPS.load(Ordering::Relaxed)
}

/// DynamoDB read capacity units (on demand: read request units) since the last `reset`.
pub fn dynamodb_read_units() -> f64 {
    READ_MILLIUNITS.load(Ordering::Relaxed) as f64 / 1000.0
}

/// DynamoDB write capacity units (on demand: write request units) since the last `reset`.
pub fn dynamodb_write_units() -> f64 {
    WRITE_MILLIUNITS.load(Ordering::Relaxed) as f64 / 1000.0
}

/// Milliseconds the DynamoDB attempts took since the last `reset` (see the module's comment).
pub fn dynamodb_ms() -> f64 {
    busy().total.as_secs_f64() * 1000.0
}
