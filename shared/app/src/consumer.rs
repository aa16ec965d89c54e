//! Glue shared by every SQS consumer: run a handler on each record of a batch concurrently and
//! report the records that failed as `batchItemFailures`, so one poison message is retried
//! (and, after the queue's receive limit, dead-lettered) without blocking the rest.

use std::future::Future;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};

/// Records of one batch handled at the same time.
const CONCURRENCY: usize = 10;

/// Whether a failed record is worth retrying. Either way it is reported as a batch item
/// failure; the distinction is for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A transient problem (throttling, the store unavailable): the retry should succeed.
    Retryable,
    /// The message itself is bad: it will end in the dead-letter queue.
    Poison,
}

/// Runs `handle` on every record and collects the ids of those that failed.
pub async fn process_batch<F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let results: Vec<(Option<String>, Result<(), Failure>)> = stream::iter(event.records)
        .map(|record| {
            let id = record.message_id.clone();
            let outcome = handle(record);
            async move { (id, outcome.await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (id, result) in results {
        if let Err(failure) = result {
            // A record without an id cannot be reported alone; an empty identifier makes
            // Lambda retry the whole batch, which loses nothing (consumers are idempotent).
            let id = id.unwrap_or_default();
            tracing::warn!(message_id = %id, ?failure, "record failed");
            response.add_failure(id);
        }
    }
    response
}
