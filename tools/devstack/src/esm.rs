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

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{json, Value};
use serde_yaml::Mapping;

use crate::lambda::{Function, LogSink, ACCOUNT_ID, REGION};
use crate::template::{
    as_ref_target, err, key_str, parse_u64, scalar_string, FunctionDef, TemplateError,
};

/// An `AWS::SQS::Queue` of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub logical_id: String,
    pub visibility_timeout: Option<u64>,
    pub retention: Option<u64>,
    /// The dead-letter queue's logical id and `maxReceiveCount`.
    pub redrive: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `!GetAtt <Table>.StreamArn`.
    TableStream(String),
    /// `!GetAtt <Queue>.Arn`.
    Queue(String),
}

/// An `AWS::Lambda::EventSourceMapping` of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingDef {
    pub logical_id: String,
    /// The function's logical id (`FunctionName: !Ref <Function>`).
    pub function: String,
    pub source: Source,
    pub batch_size: usize,
    pub bisect: bool,
    /// `None`: retry until the record leaves the stream (`-1`).
    pub max_retries: Option<u64>,
    pub report_batch_item_failures: bool,
    pub filters: Vec<Value>,
    /// The on-failure destination queue's logical id.
    pub on_failure: Option<String>,
    pub max_concurrency: usize,
}

/// `!GetAtt X.Attr` (or `[X, Attr]`) -> (X, Attr).
fn getatt(v: &serde_yaml::Value) -> Option<(String, String)> {
    use serde_yaml::Value as Y;
    let inner = match v {
        Y::Tagged(t) if t.tag == "GetAtt" => &t.value,
        Y::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt")?,
        _ => return None,
    };
    match inner {
        Y::String(s) => s
            .split_once('.')
            .map(|(a, b)| (a.to_string(), b.to_string())),
        Y::Sequence(seq) if seq.len() == 2 => {
            Some((seq[0].as_str()?.to_string(), seq[1].as_str()?.to_string()))
        }
        _ => None,
    }
}

const MAPPING_PROPERTIES: [&str; 12] = [
    "FunctionName",
    "EventSourceArn",
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "FilterCriteria",
    "DestinationConfig",
    "ScalingConfig",
];

/// The queues and event source mappings of the template's resources.
pub fn parse(
    resources: &Mapping,
    functions: &BTreeMap<String, FunctionDef>,
) -> Result<(BTreeMap<String, QueueDef>, Vec<MappingDef>), TemplateError> {
    let mut queues = BTreeMap::new();
    let mut tables = BTreeSet::new();
    for (key, r) in resources {
        let id = key_str(key)?;
        match r.get("Type").and_then(serde_yaml::Value::as_str) {
            Some("AWS::DynamoDB::Table") => {
                tables.insert(id.to_string());
            }
            Some("AWS::SQS::Queue") => {
                let p = r.get("Properties");
                let num = |k: &str| -> Result<Option<u64>, TemplateError> {
                    p.and_then(|p| p.get(k))
                        .map(|v| parse_u64(v, &format!("{id}.{k}")))
                        .transpose()
                };
                let redrive = match p.and_then(|p| p.get("RedrivePolicy")) {
                    None => None,
                    Some(rp) => {
                        let (dlq, attr) = rp
                            .get("deadLetterTargetArn")
                            .and_then(getatt)
                            .filter(|(_, a)| a == "Arn")
                            .ok_or_else(|| TemplateError(format!("{id}.RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn")))?;
                        let _ = attr;
                        let max = rp
                            .get("maxReceiveCount")
                            .map(|v| parse_u64(v, &format!("{id}.RedrivePolicy.maxReceiveCount")))
                            .transpose()?
                            .ok_or_else(|| {
                                TemplateError(format!(
                                    "{id}.RedrivePolicy.maxReceiveCount is missing"
                                ))
                            })?;
                        Some((dlq, max))
                    }
                };
                if p.and_then(|p| p.get("FifoQueue")).is_some() {
                    return err(format!("{id}: FIFO queues are not emulated"));
                }
                queues.insert(
                    id.to_string(),
                    QueueDef {
                        logical_id: id.to_string(),
                        visibility_timeout: num("VisibilityTimeout")?,
                        retention: num("MessageRetentionPeriod")?,
                        redrive,
                    },
                );
            }
            _ => {}
        }
    }
    for q in queues.values() {
        if let Some((dlq, _)) = &q.redrive {
            if !queues.contains_key(dlq) {
                return err(format!(
                    "{}: dead-letter queue {dlq} is not an AWS::SQS::Queue of this template",
                    q.logical_id
                ));
            }
        }
    }
    let mut mappings = Vec::new();
    for (key, r) in resources {
        let id = key_str(key)?;
        if r.get("Type").and_then(serde_yaml::Value::as_str)
            != Some("AWS::Lambda::EventSourceMapping")
        {
            continue;
        }
        let p = r
            .get("Properties")
            .and_then(serde_yaml::Value::as_mapping)
            .ok_or_else(|| TemplateError(format!("{id}: Properties is missing")))?;
        for k in p.keys() {
            let k = key_str(k)?;
            if !MAPPING_PROPERTIES.contains(&k) {
                return err(format!(
                    "{id}: {k} is not emulated by devstack (tools/devstack/src/esm.rs)"
                ));
            }
        }
        let function = p
            .get("FunctionName")
            .and_then(as_ref_target)
            .filter(|f| functions.contains_key(*f))
            .ok_or_else(|| TemplateError(format!("{id}: FunctionName must be !Ref <an AWS::Serverless::Function of this template>")))?
            .to_string();
        let source = match p.get("EventSourceArn").and_then(getatt) {
            Some((t, a)) if a == "StreamArn" && tables.contains(&t) => Source::TableStream(t),
            Some((q, a)) if a == "Arn" && queues.contains_key(&q) => Source::Queue(q),
            _ => {
                return err(format!(
                    "{id}: EventSourceArn must be !GetAtt <Table>.StreamArn or !GetAtt <Queue>.Arn"
                ))
            }
        };
        let batch_size = p
            .get("BatchSize")
            .map(|v| parse_u64(v, &format!("{id}.BatchSize")))
            .transpose()?
            .unwrap_or(match source {
                Source::TableStream(_) => 100,
                Source::Queue(_) => 10,
            }) as usize;
        let bisect = p
            .get("BisectBatchOnFunctionError")
            .and_then(serde_yaml::Value::as_bool)
            .unwrap_or(false);
        let max_retries = match p.get("MaximumRetryAttempts") {
            None => None,
            Some(v) => match v.as_i64() {
                Some(-1) => None,
                Some(n) if n >= 0 => Some(n as u64),
                _ => return err(format!("{id}.MaximumRetryAttempts must be -1 or a count")),
            },
        };
        let report_batch_item_failures = match p.get("FunctionResponseTypes") {
            None => false,
            Some(v) => v.as_sequence().is_some_and(|s| {
                s.iter()
                    .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
            }),
        };
        let mut filters = Vec::new();
        if let Some(fs) = p
            .get("FilterCriteria")
            .and_then(|f| f.get("Filters"))
            .and_then(serde_yaml::Value::as_sequence)
        {
            for f in fs {
                let text = f
                    .get("Pattern")
                    .map(|v| scalar_string(v, &format!("{id}.FilterCriteria")))
                    .transpose()?
                    .unwrap_or_default();
                let pattern: Value = serde_json::from_str(&text).map_err(|e| {
                    TemplateError(format!("{id}: a FilterCriteria pattern is not JSON: {e}"))
                })?;
                filters.push(pattern);
            }
        }
        if matches!(source, Source::Queue(_)) && !filters.is_empty() {
            return err(format!("{id}: filters on an SQS source are not emulated"));
        }
        let on_failure = match p.get("DestinationConfig").and_then(|d| d.get("OnFailure")).and_then(|o| o.get("Destination")) {
            None => None,
            Some(v) => match getatt(v) {
                Some((q, a)) if a == "Arn" && queues.contains_key(&q) => Some(q),
                _ => return err(format!("{id}: DestinationConfig.OnFailure.Destination must be !GetAtt <Queue>.Arn (other destinations are not emulated)")),
            },
        };
        let max_concurrency = p
            .get("ScalingConfig")
            .and_then(|s| s.get("MaximumConcurrency"))
            .map(|v| parse_u64(v, &format!("{id}.ScalingConfig.MaximumConcurrency")))
            .transpose()?
            .unwrap_or(5)
            .clamp(1, 5) as usize;
        mappings.push(MappingDef {
            logical_id: id.to_string(),
            function,
            source,
            batch_size: batch_size.max(1),
            bisect,
            max_retries,
            report_batch_item_failures,
            filters,
            on_failure,
            max_concurrency,
        });
    }
    Ok((queues, mappings))
}

// ---- filter patterns --------------------------------------------------------------------------

/// Whether a record matches a filter pattern (Lambda's event filtering, the subset used here).
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(p) = pattern.as_object() else {
        return false;
    };
    p.iter().all(|(k, sub)| {
        let v = event.get(k);
        match sub {
            Value::Array(options) => options.iter().any(|o| leaf(o, v)),
            Value::Object(_) => v.is_some_and(|v| matches(sub, v)),
            _ => false,
        }
    })
}

fn leaf(option: &Value, v: Option<&Value>) -> bool {
    let equal = |x: &Value| match v {
        Some(Value::Array(items)) => items.contains(x),
        Some(y) => y == x,
        None => false,
    };
    match option {
        Value::Object(o) => {
            if let Some(e) = o.get("exists") {
                return e.as_bool() == Some(v.is_some());
            }
            if let Some(Value::String(prefix)) = o.get("prefix") {
                return v
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with(prefix.as_str()));
            }
            if let Some(but) = o.get("anything-but") {
                let excluded: Vec<&Value> = match but {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                return v.is_some() && !excluded.into_iter().any(equal);
            }
            false
        }
        other => equal(other),
    }
}

// ---- running them -----------------------------------------------------------------------------

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
pub async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    defs: &BTreeMap<String, QueueDef>,
    visibility_override: Option<u64>,
) -> Result<BTreeMap<String, LocalQueue>, String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut out: BTreeMap<String, LocalQueue> = BTreeMap::new();
    let mut order: Vec<&QueueDef> = defs.values().filter(|q| q.redrive.is_none()).collect();
    order.extend(defs.values().filter(|q| q.redrive.is_some()));
    for q in order {
        let mut req = sqs.create_queue().queue_name(&q.logical_id);
        if let Some(v) = visibility_override.or(q.visibility_timeout) {
            req = req.attributes(A::VisibilityTimeout, v.to_string());
        }
        if let Some(v) = q.retention {
            req = req.attributes(A::MessageRetentionPeriod, v.to_string());
        }
        if let Some((dlq, max)) = &q.redrive {
            let arn = &out[dlq].arn;
            req = req.attributes(
                A::RedrivePolicy,
                json!({"deadLetterTargetArn": arn, "maxReceiveCount": max.to_string()}).to_string(),
            );
        }
        let url = req
            .send()
            .await
            .map_err(|e| {
                format!(
                    "creating queue {}: {}",
                    q.logical_id,
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?
            .queue_url
            .ok_or_else(|| format!("creating queue {}: no URL in the answer", q.logical_id))?;
        out.insert(
            q.logical_id.clone(),
            LocalQueue {
                url,
                arn: format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{}", q.logical_id),
            },
        );
    }
    Ok(out)
}

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
                tasks.push(tokio::spawn(async move { run_stream(ctx, m, arn).await }));
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
                        run_queue(ctx, m, queue, poller).await
                    }));
                }
            }
        }
    }
    Ok(tasks)
}

fn note(ctx: &Context, m: &MappingDef, line: &str) {
    ctx.log
        .line(format!("{} -> {}: {line}", m.logical_id, m.function).as_bytes());
}

async fn invoke(ctx: &Context, m: &MappingDef, payload: Value) -> Result<Value, String> {
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
fn failed_ids(response: &Value) -> Result<Vec<Option<String>>, ()> {
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

// ---- DynamoDB Streams -------------------------------------------------------------------------

fn attr_json(v: &aws_sdk_dynamodbstreams::types::AttributeValue) -> Value {
    use aws_sdk_dynamodbstreams::types::AttributeValue as A;
    use base64::Engine;
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match v {
        A::S(s) => json!({"S": s}),
        A::N(n) => json!({"N": n}),
        A::B(b) => json!({"B": b64(b)}),
        A::Bool(b) => json!({"BOOL": b}),
        A::Null(n) => json!({"NULL": n}),
        A::M(m) => json!({"M": image_json(m)}),
        A::L(l) => json!({"L": l.iter().map(attr_json).collect::<Vec<_>>()}),
        A::Ss(s) => json!({"SS": s}),
        A::Ns(n) => json!({"NS": n}),
        A::Bs(b) => json!({"BS": b.iter().map(b64).collect::<Vec<_>>()}),
        _ => Value::Null,
    }
}

fn image_json(m: &HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), attr_json(v))).collect())
}

/// A stream record in the form Lambda hands to a function (`DynamodbEvent.Records[]`).
fn lambda_record(r: &aws_sdk_dynamodbstreams::types::Record, stream_arn: &str) -> Value {
    let d = r.dynamodb.as_ref();
    let mut change = json!({
        "SequenceNumber": d.and_then(|d| d.sequence_number.clone()),
        "SizeBytes": d.and_then(|d| d.size_bytes),
        "StreamViewType": d.and_then(|d| d.stream_view_type.as_ref()).map(|v| v.as_str().to_string()),
        "Keys": d.and_then(|d| d.keys.as_ref()).map(image_json).unwrap_or(json!({})),
    });
    if let Some(t) = d.and_then(|d| d.approximate_creation_date_time) {
        change["ApproximateCreationDateTime"] = json!(t.secs() as f64);
    }
    if let Some(img) = d.and_then(|d| d.new_image.as_ref()) {
        change["NewImage"] = image_json(img);
    }
    if let Some(img) = d.and_then(|d| d.old_image.as_ref()) {
        change["OldImage"] = image_json(img);
    }
    json!({
        "eventID": r.event_id,
        "eventName": r.event_name.as_ref().map(|n| n.as_str().to_string()),
        "eventVersion": r.event_version.clone().unwrap_or_else(|| "1.1".into()),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    })
}

struct Shard {
    iterator: Option<String>,
    buffer: VecDeque<Value>,
    /// Failed attempts of the batch at the head of the buffer.
    attempts: u64,
    /// The batch size in force (halved by bisection, restored after a success).
    limit: usize,
}

async fn run_stream(ctx: Arc<Context>, m: MappingDef, stream_arn: String) {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    note(&ctx, &m, &format!("polling {stream_arn}"));
    let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
    let mut last_listing = std::time::Instant::now() - Duration::from_secs(10);
    loop {
        if last_listing.elapsed() >= Duration::from_secs(1) {
            last_listing = std::time::Instant::now();
            match ctx
                .streams
                .describe_stream()
                .stream_arn(&stream_arn)
                .send()
                .await
            {
                Ok(out) => {
                    for s in out
                        .stream_description
                        .map(|d| d.shards.unwrap_or_default())
                        .unwrap_or_default()
                    {
                        let Some(id) = s.shard_id else { continue };
                        if shards.contains_key(&id) {
                            continue;
                        }
                        let it = ctx
                            .streams
                            .get_shard_iterator()
                            .stream_arn(&stream_arn)
                            .shard_id(&id)
                            .shard_iterator_type(ShardIteratorType::TrimHorizon)
                            .send()
                            .await;
                        match it {
                            Ok(o) => {
                                note(&ctx, &m, &format!("shard {id}"));
                                shards.insert(
                                    id,
                                    Shard {
                                        iterator: o.shard_iterator,
                                        buffer: VecDeque::new(),
                                        attempts: 0,
                                        limit: m.batch_size,
                                    },
                                );
                            }
                            Err(e) => note(
                                &ctx,
                                &m,
                                &format!(
                                    "GetShardIterator {id}: {}",
                                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                                ),
                            ),
                        }
                    }
                }
                Err(e) => note(
                    &ctx,
                    &m,
                    &format!(
                        "DescribeStream: {}",
                        aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                    ),
                ),
            }
        }
        let mut busy = false;
        for (id, shard) in shards.iter_mut() {
            if shard.buffer.is_empty() {
                let Some(it) = shard.iterator.clone() else {
                    continue;
                };
                match ctx
                    .streams
                    .get_records()
                    .shard_iterator(&it)
                    .limit(1000)
                    .send()
                    .await
                {
                    Ok(out) => {
                        shard.iterator = out.next_shard_iterator;
                        for r in out.records.unwrap_or_default() {
                            let rec = lambda_record(&r, &stream_arn);
                            // Filtered out before batching: such records never reach the function.
                            if m.filters.is_empty() || m.filters.iter().any(|p| matches(p, &rec)) {
                                shard.buffer.push_back(rec);
                            }
                        }
                    }
                    Err(e) => {
                        note(
                            &ctx,
                            &m,
                            &format!(
                                "GetRecords {id}: {}",
                                aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)
                            ),
                        );
                        shard.iterator = None;
                    }
                }
            }
            if shard.buffer.is_empty() {
                continue;
            }
            busy = true;
            process_stream_batch(&ctx, &m, &stream_arn, id, shard).await;
        }
        if !busy {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn process_stream_batch(
    ctx: &Context,
    m: &MappingDef,
    stream_arn: &str,
    shard_id: &str,
    shard: &mut Shard,
) {
    let batch: Vec<Value> = shard.buffer.iter().take(shard.limit).cloned().collect();
    let seq = |r: &Value| r["dynamodb"]["SequenceNumber"].as_str().map(str::to_string);
    let result = invoke(ctx, m, json!({"Records": batch})).await;
    // How many records of the batch are done, or the error.
    let outcome: Result<usize, String> = match result {
        Ok(resp) if m.report_batch_item_failures => match failed_ids(&resp) {
            Ok(ids) if ids.is_empty() => Ok(batch.len()),
            Ok(ids) => {
                let positions: Vec<Option<usize>> = ids
                    .iter()
                    .map(|id| {
                        id.as_ref().and_then(|id| {
                            batch
                                .iter()
                                .position(|r| seq(r).as_deref() == Some(id.as_str()))
                        })
                    })
                    .collect();
                match positions.iter().copied().collect::<Option<Vec<usize>>>() {
                    Some(p) => Ok(p.into_iter().min().unwrap_or(0)),
                    None => Err(format!(
                        "batchItemFailures names an unknown or empty identifier: {ids:?}"
                    )),
                }
            }
            Err(()) => Err("the response's batchItemFailures is not a list".into()),
        },
        Ok(_) => Ok(batch.len()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(done) if done == batch.len() => {
            shard.buffer.drain(..done);
            shard.attempts = 0;
            shard.limit = m.batch_size;
            note(ctx, m, &format!("{done} record(s) done"));
        }
        Ok(done) => {
            shard.buffer.drain(..done);
            shard.attempts = if done > 0 { 1 } else { shard.attempts + 1 };
            note(
                ctx,
                m,
                &format!(
                    "{done} record(s) done; retrying from {} (attempt {})",
                    seq(&shard.buffer[0]).unwrap_or_default(),
                    shard.attempts + 1
                ),
            );
            give_up_or_wait(ctx, m, stream_arn, shard_id, shard, 1).await;
        }
        Err(e) => {
            shard.attempts += 1;
            if m.bisect && batch.len() > 1 {
                shard.limit = batch.len().div_ceil(2);
            }
            note(
                ctx,
                m,
                &format!(
                    "batch of {} failed ({e}); retrying {} record(s)",
                    batch.len(),
                    shard.limit.min(shard.buffer.len())
                ),
            );
            give_up_or_wait(ctx, m, stream_arn, shard_id, shard, batch.len()).await;
        }
    }
}

/// After a failure: past `MaximumRetryAttempts`, the failed batch's description goes to the
/// on-failure destination and the records are skipped; otherwise a short wait.
async fn give_up_or_wait(
    ctx: &Context,
    m: &MappingDef,
    stream_arn: &str,
    shard_id: &str,
    shard: &mut Shard,
    failed: usize,
) {
    if m.max_retries.is_some_and(|max| shard.attempts > max) {
        let n = failed.min(shard.buffer.len());
        let records: Vec<Value> = shard.buffer.drain(..n).collect();
        let seq = |r: &Value| r["dynamodb"]["SequenceNumber"].clone();
        let info = json!({
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{}", m.function), "approximateInvokeCount": shard.attempts},
            "responseContext": {"statusCode": 200},
            "version": "1.0",
            "timestamp": crate::ids::uuid(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records.first().map(seq),
                "endSequenceNumber": records.last().map(seq),
                "batchSize": records.len(),
                "streamArn": stream_arn,
            },
        });
        note(
            ctx,
            m,
            &format!(
                "gave up on {} record(s) after {} attempts",
                records.len(),
                shard.attempts
            ),
        );
        if let Some(q) = m.on_failure.as_ref().and_then(|q| ctx.queues.get(q)) {
            if let Err(e) = ctx
                .sqs
                .send_message()
                .queue_url(&q.url)
                .message_body(info.to_string())
                .send()
                .await
            {
                note(
                    ctx,
                    m,
                    &format!(
                        "on-failure destination: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    ),
                );
            }
        }
        shard.attempts = 0;
        shard.limit = m.batch_size;
        return;
    }
    tokio::time::sleep(Duration::from_millis((200 * shard.attempts).min(2000))).await;
}

// ---- SQS ------------------------------------------------------------------------------------------

async fn run_queue(ctx: Arc<Context>, m: MappingDef, queue: LocalQueue, poller: usize) {
    use aws_sdk_sqs::types::{
        DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    };
    if poller == 0 {
        note(
            &ctx,
            &m,
            &format!("polling {} with {} poller(s)", queue.url, m.max_concurrency),
        );
    }
    loop {
        #[allow(deprecated)]
        let received = ctx
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(m.batch_size.min(10) as i32)
            .wait_time_seconds(1)
            .attribute_names(QueueAttributeName::All)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(o) => o.messages.unwrap_or_default(),
            Err(e) => {
                note(
                    &ctx,
                    &m,
                    &format!(
                        "ReceiveMessage: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    ),
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|msg| {
                let attributes: serde_json::Map<String, Value> = msg
                    .attributes
                    .as_ref()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": msg.message_id,
                    "receiptHandle": msg.receipt_handle,
                    "body": msg.body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": msg.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue.arn,
                    "awsRegion": REGION,
                })
            })
            .collect();
        let result = invoke(&ctx, &m, json!({"Records": records})).await;
        let failed: Option<BTreeSet<String>> = match result {
            Ok(resp) if m.report_batch_item_failures => match failed_ids(&resp) {
                Ok(ids) if ids.iter().all(Option::is_some) => {
                    Some(ids.into_iter().flatten().collect())
                }
                _ => None,
            },
            Ok(_) => Some(BTreeSet::new()),
            Err(e) => {
                note(&ctx, &m, &format!("batch of {} failed ({e}); the messages return after their visibility timeout", messages.len()));
                None
            }
        };
        let Some(failed) = failed else { continue };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, msg)| {
                !msg.message_id
                    .as_ref()
                    .is_some_and(|id| failed.contains(id))
            })
            .filter_map(|(i, msg)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(msg.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        note(
            &ctx,
            &m,
            &format!(
                "{} message(s): {} done, {} to retry",
                messages.len(),
                entries.len(),
                failed.len()
            ),
        );
        if !entries.is_empty() {
            if let Err(e) = ctx
                .sqs
                .delete_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                note(
                    &ctx,
                    &m,
                    &format!(
                        "DeleteMessageBatch: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        let p: Value = serde_json::from_str(r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["DELIVERY", "CLAIM"]}}}}"#).unwrap();
        let rec = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": "x"}, "sk": {"S": sk}}}});
        assert!(matches(&p, &rec("INSERT", "DELIVERY")));
        assert!(matches(&p, &rec("MODIFY", "CLAIM")));
        assert!(!matches(&p, &rec("REMOVE", "DELIVERY")));
        assert!(!matches(&p, &rec("INSERT", "EVENTS#0000000001")));
        let prefix: Value = serde_json::from_str(
            r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "DELIVERY#"}]}}}}"#,
        )
        .unwrap();
        assert!(matches(
            &prefix,
            &json!({"dynamodb": {"Keys": {"pk": {"S": "DELIVERY#p#t"}}}})
        ));
        assert!(!matches(
            &prefix,
            &json!({"dynamodb": {"Keys": {"pk": {"S": "EVENTS#p"}}}})
        ));
        let exists: Value =
            serde_json::from_str(r#"{"dynamodb": {"OldImage": [{"exists": false}]}}"#).unwrap();
        assert!(matches(&exists, &json!({"dynamodb": {}})));
        assert!(!matches(&exists, &json!({"dynamodb": {"OldImage": {}}})));
        let but: Value =
            serde_json::from_str(r#"{"eventName": [{"anything-but": "REMOVE"}]}"#).unwrap();
        assert!(matches(&but, &json!({"eventName": "INSERT"})));
        assert!(!matches(&but, &json!({"eventName": "REMOVE"})));
    }

    #[test]
    fn the_real_templates_mappings() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        let t = crate::template::Template::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let stream = t
            .event_source_mappings
            .iter()
            .find(|m| m.function == "EventsFunction")
            .expect("events mapping");
        assert_eq!(stream.source, Source::TableStream("Table".into()));
        assert!(stream.bisect && stream.report_batch_item_failures && stream.max_retries.is_none());
        assert_eq!(stream.on_failure.as_deref(), Some("StreamFailureQueue"));
        assert_eq!(stream.filters.len(), 1);
        // It passes the changes of the two resource items (delivery: policy and delivery
        // events; claim: claim events), and none of the items the pipeline writes itself.
        let rec = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": "x"}, "sk": {"S": sk}}}});
        for (name, sk, passes) in [
            ("INSERT", "DELIVERY", true),
            ("MODIFY", "DELIVERY", true),
            ("INSERT", "CLAIM", true),
            ("MODIFY", "CLAIM", true),
            ("REMOVE", "CLAIM", false),
            ("INSERT", "evt_01M8ASW54411C72P09316YJ308", false),
            ("INSERT", "ENDPOINT#we_01m8x57tckd32tcwh6zgb3z309", false),
            ("INSERT", "EVENTS#0000000001", false),
        ] {
            assert_eq!(
                matches(&stream.filters[0], &rec(name, sk)),
                passes,
                "{name} {sk}"
            );
        }
        let queue = t
            .event_source_mappings
            .iter()
            .find(|m| m.function == "SenderFunction")
            .expect("sender mapping");
        assert_eq!(queue.source, Source::Queue("WebhookQueue".into()));
        assert!(queue.report_batch_item_failures);
        assert_eq!(
            t.queues["WebhookQueue"].redrive,
            Some(("WebhookDeadLetterQueue".into(), 13))
        );
        assert_eq!(
            t.queues["WebhookQueue"]
                .redrive
                .as_ref()
                .map(|r| r.1 as u32),
            Some(shared_retry_attempts()),
            "maxReceiveCount is the retry schedule's attempt count"
        );
    }

    /// `shared::webhooks::retry::ATTEMPTS`, without devstack depending on shared: 12 delays + 1.
    fn shared_retry_attempts() -> u32 {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/src/webhooks/retry.rs"
        ))
        .unwrap();
        let delays = src.split("pub const DELAYS: [u32; ").nth(1).unwrap();
        delays.split(']').next().unwrap().parse::<u32>().unwrap() + 1
    }
}
