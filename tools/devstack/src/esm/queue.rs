//! The template's queues in moto, and the SQS pollers that hand their messages to the function
//! as an `SqsEvent` (`super`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{failed_ids, invoke, note, Context, LocalQueue, MappingDef, QueueDef};
use crate::lambda::{ACCOUNT_ID, REGION};

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

pub(super) async fn run_queue(ctx: Arc<Context>, m: MappingDef, queue: LocalQueue, poller: usize) {
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
