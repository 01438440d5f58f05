//! The sender function: the webhook delivery queue (SQS event source with
//! `ReportBatchItemFailures`; infra/template.yaml) -> the partner's URL, signed (Standard
//! Webhooks). The work is `shared::service::sender`; this answers the partial batch response.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::lambda::Runtime;
use shared::service::sender::{self, Received, Sender};
use shared::webhooks::retry;
use shared::webhooks::target::UrlPolicy;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rt = Runtime::from_env().await?;
    let policy = UrlPolicy::from_env(&rt.config.environment);
    let sender: &'static Sender = Box::leak(Box::new(Sender {
        http: sender::http_client(policy)?,
        keys: rt.webhook_keys()?,
        queue: rt.queue()?,
        store: rt.store.clone(),
        policy,
        delays: retry::delays(),
        disable_after_seconds: sender::disable_after_seconds(),
    }));
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let messages: Vec<Received> = event
            .payload
            .records
            .into_iter()
            .map(|m| Received {
                receive_count: m
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect();
        let failed = Box::pin(sender.deliver_batch(&messages)).await;
        let mut response = SqsBatchResponse::default();
        for id in failed {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
        Ok::<_, Error>(response)
    }))
    .await
}
