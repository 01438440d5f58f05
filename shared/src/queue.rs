//! The webhook delivery queue (SQS): what the events function, the redeliver and test routes put
//! in, and the sender's backoff lever (a failed message's visibility timeout).

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// SQS's batch size.
const BATCH: usize = 10;

/// One delivery to do: an event to one endpoint. The body is the event exactly as logged, so the
/// sender needs no read of the log and every attempt sends the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub partner_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
}

#[derive(Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Queue {
            client,
            url: url.into(),
        }
    }

    /// Enqueue jobs (batches of 10). `Err` names what failed; jobs already sent stay sent (a
    /// retry sends them again: delivery is at least once).
    pub async fn send(&self, jobs: &[DeliveryJob]) -> Result<(), ApiError> {
        for chunk in jobs.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job).expect("job serialises"))
                        .build()
                        .map_err(|e| ApiError::Internal(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    ApiError::Unavailable(format!(
                        "SQS SendMessageBatch: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    ))
                })?;
            if !out.failed().is_empty() {
                return Err(ApiError::Unavailable(format!(
                    "SQS SendMessageBatch: {} of {} messages failed",
                    out.failed().len(),
                    chunk.len()
                )));
            }
        }
        Ok(())
    }

    /// Make a received message visible again in `seconds` (the retry's backoff).
    pub async fn delay(&self, receipt_handle: &str, seconds: u32) -> Result<(), ApiError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                ApiError::Unavailable(format!(
                    "SQS ChangeMessageVisibility: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                ))
            })
    }
}
