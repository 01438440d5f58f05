//! The DynamoDB Streams poller: one per shard, batches handed to the function as a
//! `DynamodbEvent`, retried, bisected and sent to the on-failure queue as Lambda does (`super`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{failed_ids, filter::matches, invoke, note, Context, MappingDef};
use crate::lambda::{ACCOUNT_ID, REGION};

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

pub(super) async fn run_stream(ctx: Arc<Context>, m: MappingDef, stream_arn: String) {
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
