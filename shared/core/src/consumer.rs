//! Glue shared by every SQS consumer: run a handler on each record of a batch concurrently and
//! report the records that failed as `batchItemFailures`, so one poison message is retried
//! (and, after the queue's receive limit, dead-lettered) without blocking the rest.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
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

/// Runs `handle` on every record and collects the ids of those that failed. A record whose
/// handler panics is a failed record like any other (logged with the panic's message): the
/// rest of the batch is unaffected and is not redelivered.
pub async fn process_batch<F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let results: Vec<(Option<String>, Result<(), Failure>)> = stream::iter(event.records)
        .map(|record| {
            let id = record.message_id.clone();
            let outcome = AssertUnwindSafe(handle(record)).catch_unwind();
            async move {
                let result = outcome.await.unwrap_or_else(|panic| {
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".to_owned());
                    tracing::error!(message_id = ?id, %reason, "record handler panicked");
                    // Most likely the record itself (it panics again on retry and ends in
                    // the dead-letter queue); the batch's other records are not touched.
                    Err(Failure::Poison)
                });
                (id, result)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(bodies: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for (i, body) in bodies.iter().enumerate() {
            let mut message = SqsMessage::default();
            message.message_id = Some(format!("m{i}"));
            message.body = Some((*body).to_owned());
            event.records.push(message);
        }
        event
    }

    #[tokio::test]
    async fn a_record_that_panics_fails_alone_and_the_rest_of_the_batch_is_handled() {
        let handled = std::sync::Mutex::new(Vec::new());
        let response = process_batch(batch(&["ok", "boom", "ok", "bad", "ok"]), |record| {
            let handled = &handled;
            async move {
                let body = record.body.unwrap_or_default();
                match body.as_str() {
                    "boom" => panic!("a record that breaks an invariant"),
                    "bad" => Err(Failure::Poison),
                    _ => {
                        handled.lock().unwrap().push(record.message_id.unwrap());
                        Ok(())
                    }
                }
            }
        })
        .await;
        let mut failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        failed.sort();
        assert_eq!(failed, ["m1", "m3"]);
        let mut handled = handled.into_inner().unwrap();
        handled.sort();
        assert_eq!(handled, ["m0", "m2", "m4"]);
    }
}
