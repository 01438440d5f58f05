//! The events function: the table's DynamoDB Stream (event source mapping with filter criteria,
//! `ReportBatchItemFailures`, bisect on error and an on-failure destination; infra/template.yaml)
//! -> the partner's event log -> the webhook delivery queue. The work is
//! `shared::service::events`; this answers the partial batch response.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::lambda::Runtime;
use shared::service::events::{EventsProcessor, StreamChange};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rt = Runtime::from_env().await?;
    let base_url =
        rt.config.public_base_url.clone().ok_or(
            "environment variable PUBLIC_BASE_URL is not set (url_certificate in event data)",
        )?;
    let processor: &'static EventsProcessor = Box::leak(Box::new(EventsProcessor {
        queue: rt.queue()?,
        links: rt.link_keys(),
        store: rt.store.clone(),
        base_url,
    }));
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        let changes: Vec<StreamChange> = event
            .payload
            .records
            .into_iter()
            .map(|r| StreamChange {
                sequence_number: r.change.sequence_number.unwrap_or_default(),
                event_name: r.event_name,
                old_image: r.change.old_image,
                new_image: r.change.new_image,
            })
            .collect();
        let failed = Box::pin(processor.process_changes(&changes)).await;
        tracing::info!(
            records = changes.len(),
            failed = failed.is_some(),
            "stream batch"
        );
        let mut response = DynamoDbEventResponse::default();
        if let Some(sequence_number) = failed {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(sequence_number);
            response.batch_item_failures.push(f);
        }
        Ok::<_, Error>(response)
    }))
    .await
}
