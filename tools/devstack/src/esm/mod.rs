//! Lambda event source mappings, locally (webhooks, issue 14): the template's
//! `AWS::Lambda::EventSourceMapping` resources run against DynamoDB Local's stream of the table
//! and moto's SQS queues (`AWS::SQS::Queue` resources, created in moto at start-up), invoking the
//! real function binaries through the Runtime API (`lambda`) with real `DynamodbEvent` /
//! `SqsEvent` payloads.
//!
//! Emulated, as Lambda does it:
//! - stream: one poller per shard from `TRIM_HORIZON`, batches of up to `BatchSize` records in
//!   stream order; `FilterCriteria` (the pattern subset: exact values, `prefix`, `exists`,
//!   `anything-but`, nested objects) applied before batching, filtered-out records skipped;
//!   `ReportBatchItemFailures` (the batch is retried from the first failed sequence number; an
//!   unknown or empty identifier fails the whole batch); a function error, crash or timeout
//!   retries the batch, split in two each time when `BisectBatchOnFunctionError`; after
//!   `MaximumRetryAttempts` (-1: until the record leaves the stream) the batch's description goes
//!   to the `DestinationConfig.OnFailure` queue, in Lambda's on-failure record form;
//! - queue: `ScalingConfig.MaximumConcurrency` pollers (at most 5, as Lambda starts) receiving up
//!   to `BatchSize` messages with their system attributes (`ApproximateReceiveCount`, ...);
//!   messages of a successful invocation are deleted except those named in `batchItemFailures`;
//!   a failed invocation deletes nothing, so the messages come back after the visibility timeout;
//!   the queue's `RedrivePolicy` (moto applies it) moves a message received `maxReceiveCount`
//!   times to the dead-letter queue.
//!
//! Not emulated: `MaximumBatchingWindowInSeconds` (batches go as soon as records are there),
//! `MaximumRecordAgeInSeconds` (DynamoDB Local keeps records as long as it runs), the order of
//! parent and child shards after a split (DynamoDB Local's streams rarely split), checkpoints
//! across restarts (the stack is in memory), `ParallelizationFactor`, tumbling windows, filters
//! on SQS sources, Lambda's own retry delays (a failed stream batch is retried after 0.2 s times
//! its attempt count, at most 2 s), and the IteratorAge / concurrency metrics.
//!
//! The pieces: `definition` (the template's queues and mappings), `filter` (filter criteria),
//! `stream` (the DynamoDB Streams poller), `queue` (the queues in moto and their pollers).

mod definition;
mod filter;
mod queue;
mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use serde_json::Value;

use crate::lambda::{Function, LogSink};

pub use definition::{parse, MappingDef, QueueDef, Source};
pub use queue::create_queues;

/// A queue as created in moto.
#[derive(Debug, Clone)]
pub struct LocalQueue {
    pub url: String,
    pub arn: String,
}

pub struct Context {
    pub functions: BTreeMap<String, Arc<Function>>,
    pub ddb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table_name: String,
    pub queues: BTreeMap<String, LocalQueue>,
    pub log: Arc<LogSink>,
}

/// Creates the template's queues in moto (dead-letter queues first); returns them by logical id.
/// Starts a poller task for every mapping; the caller aborts them to stop.
pub async fn start(
    ctx: Arc<Context>,
    mappings: &[MappingDef],
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    for m in mappings {
        if !ctx.functions.contains_key(&m.function) {
            return Err(format!(
                "{}: function {} is not running",
                m.logical_id, m.function
            ));
        }
        match &m.source {
            Source::TableStream(_) => {
                let table = ctx
                    .ddb
                    .describe_table()
                    .table_name(&ctx.table_name)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "{}: describing the table: {}",
                            m.logical_id,
                            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                        )
                    })?;
                let arn = table
                    .table
                    .and_then(|t| t.latest_stream_arn)
                    .ok_or_else(|| format!("{}: the table has no stream (StreamSpecification in the template's Table)", m.logical_id))?;
                let (ctx, m) = (ctx.clone(), m.clone());
                tasks.push(tokio::spawn(async move {
                    stream::run_stream(ctx, m, arn).await
                }));
            }
            Source::Queue(q) => {
                let queue = ctx
                    .queues
                    .get(q)
                    .cloned()
                    .ok_or_else(|| format!("{}: queue {q} was not created", m.logical_id))?;
                for poller in 0..m.max_concurrency {
                    let (ctx, m, queue) = (ctx.clone(), m.clone(), queue.clone());
                    tasks.push(tokio::spawn(async move {
                        queue::run_queue(ctx, m, queue, poller).await
                    }));
                }
            }
        }
    }
    Ok(tasks)
}

pub(super) fn note(ctx: &Context, m: &MappingDef, line: &str) {
    ctx.log
        .line(format!("{} -> {}: {line}", m.logical_id, m.function).as_bytes());
}

pub(super) async fn invoke(ctx: &Context, m: &MappingDef, payload: Value) -> Result<Value, String> {
    let f = &ctx.functions[&m.function];
    let rx = f.invoke(Bytes::from(payload.to_string()), crate::ids::trace_id(0));
    match rx.await {
        Err(_) => Err("the invocation was dropped".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(bytes)) => Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null)),
    }
}

/// The identifiers named in `batchItemFailures`; `Err` when the answer does not say (a whole
/// batch failure for Lambda).
pub(super) fn failed_ids(response: &Value) -> Result<Vec<Option<String>>, ()> {
    match response.get("batchItemFailures") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .map(|i| {
                i.get("itemIdentifier")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()),
        Some(_) => Err(()),
    }
}
