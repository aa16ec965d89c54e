//! The stand-in for Lambda's SQS event-source mapping: each consumer long-polls its local
//! queue, hands the batch to the same handler the Lambda function runs (as an `SqsEvent`),
//! and deletes the records the handler did not report in `batchItemFailures`. Failed
//! records reappear after the visibility timeout and are dead-lettered after
//! [`crate::MAX_RECEIVES`] receives, as with SQS.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use futures::future::BoxFuture;
use nhip_core::Deps;
use nhip_ports::{Queue, ReceivedMessage};
use tokio::sync::watch;

/// A batch handler, as the Lambda function's `service_fn` calls it.
pub type Handler =
    Arc<dyn Fn(Arc<Deps>, SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// How long a received batch stays hidden: the events queue's VisibilityTimeout in template.yaml.
const VISIBILITY: Duration = Duration::from_secs(120);
/// Long-poll wait per receive.
const WAIT: Duration = Duration::from_secs(1);

/// One queue and the function consuming it.
pub struct Consumer {
    /// Function name, for logs.
    pub function: &'static str,
    queue: Arc<dyn Queue>,
    handler: Handler,
    deps: Arc<Deps>,
}

/// Every consumer of the platform, wired as in template.yaml.
pub fn all(deps: &Arc<Deps>) -> Vec<Consumer> {
    vec![
        Consumer {
            function: "events-consumer",
            queue: deps.queues.events.clone(),
            handler: Arc::new(|deps, event| {
                Box::pin(async move { nhip_api::events_consumer::handle_batch(&deps, event).await })
            }),
            deps: deps.clone(),
        },
        Consumer {
            function: "message-sender",
            queue: deps.queues.sends.clone(),
            handler: Arc::new(|deps, event| {
                Box::pin(async move { nhip_messaging::pipeline::handle_batch(&deps, event).await })
            }),
            deps: deps.clone(),
        },
        Consumer {
            function: "customer-importer",
            queue: deps.queues.imports.clone(),
            handler: Arc::new(|deps, event| {
                Box::pin(async move {
                    nhip_crm::customers::import::queued::handle_batch(&deps, event).await
                })
            }),
            deps: deps.clone(),
        },
        Consumer {
            function: "ticket-creator",
            queue: deps.queues.tickets.clone(),
            handler: Arc::new(|deps, event| {
                Box::pin(async move { nhip_work::tickets::handle_batch(&deps, event).await })
            }),
            deps: deps.clone(),
        },
        Consumer {
            function: "journey-worker",
            queue: deps.queues.steps.clone(),
            handler: Arc::new(|deps, event| {
                Box::pin(async move { nhip_journeys::engine::handle_batch(&deps, event).await })
            }),
            deps: deps.clone(),
        },
    ]
}

impl Consumer {
    /// The name of the queue it consumes.
    pub fn queue_name(&self) -> &str {
        self.queue.name()
    }

    /// Polls until `stop` turns true, finishing the batch in hand first.
    pub async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        while !*stop.borrow() {
            // The receive is never raced against `stop`: dropping it midway could discard a
            // batch already marked in flight, delaying it by a whole visibility timeout.
            // Its long poll is short, so a stop is noticed within `WAIT`.
            let messages = match self.queue.receive(10, VISIBILITY, WAIT).await {
                Ok(messages) if messages.is_empty() => continue,
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(function = self.function, %error, "receive failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.deliver(messages).await;
        }
        Ok(())
    }

    /// Invokes the handler on one batch and acknowledges what succeeded, as one commit group
    /// when the store has them (the local file: one commit for the batch's writes and its
    /// acknowledgement).
    pub async fn deliver(&self, messages: Vec<ReceivedMessage>) {
        match &self.deps.groups {
            Some(groups) => groups.group(Box::pin(self.handle(messages))).await,
            None => self.handle(messages).await,
        }
    }

    async fn handle(&self, messages: Vec<ReceivedMessage>) {
        let receipts: HashMap<String, String> = messages
            .iter()
            .map(|m| (m.message_id.clone(), m.receipt_handle.clone()))
            .collect();
        let mut event = SqsEvent::default();
        event.records = messages
            .into_iter()
            .map(|m| to_record(self.queue.name(), m))
            .collect();
        // Run the handler in its own task: a panic fails this batch (nothing is deleted, so it
        // is retried and eventually dead-lettered), as a crashed Lambda invocation would,
        // instead of ending the runner.
        let response = match tokio::spawn((self.handler)(self.deps.clone(), event)).await {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(function = self.function, %error, "handler panicked; batch will be retried");
                return;
            }
        };
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        if failed.contains("") {
            // An unidentifiable failure fails the whole batch, as Lambda treats it.
            return;
        }
        let handled: Vec<String> = receipts
            .iter()
            .filter(|(id, _)| !failed.contains(id.as_str()))
            .map(|(_, receipt)| receipt.clone())
            .collect();
        if let Err(error) = self.queue.delete_batch(&handled).await {
            tracing::warn!(function = self.function, %error, "acknowledging failed");
        }
    }
}

/// A received message in the shape Lambda hands an SQS-triggered function.
pub fn to_record(queue: &str, message: ReceivedMessage) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message.message_id);
    record.receipt_handle = Some(message.receipt_handle);
    record.body = Some(message.body);
    record.attributes = HashMap::from([
        (
            "ApproximateReceiveCount".to_owned(),
            message.receive_count.to_string(),
        ),
        (
            "SentTimestamp".to_owned(),
            message.sent_at.timestamp_millis().to_string(),
        ),
    ]);
    record.message_attributes = message
        .attributes
        .into_iter()
        .map(|(name, value)| {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = Some(value);
            attribute.data_type = Some("String".to_owned());
            (name, attribute)
        })
        .collect();
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue}"));
    record.aws_region = Some("local".to_owned());
    record
}

/// Records of the change feed read at a time (a DynamoDB stream batch is up to 1,000 too).
const FEED_BATCH: usize = 1000;
/// How often the change feed is looked at when it was empty.
const FEED_POLL: Duration = Duration::from_millis(200);

/// The stand-in for Lambda's DynamoDB-stream mapping of the `journey-stats` function: folds
/// the change feed's records into the journey counters until the feed is empty, acknowledging
/// each batch after it was folded; returns how many records it read.
pub async fn fold_feed(deps: &Deps) -> Result<usize, nhip_ports::store::StoreError> {
    let Some(feed) = &deps.feed else {
        return Ok(0);
    };
    let mut read = 0;
    loop {
        let records = feed.read(FEED_BATCH).await?;
        if records.is_empty() {
            return Ok(read);
        }
        nhip_journeys::stats::fold(deps, &records).await?;
        feed.acknowledge(&records).await?;
        read += records.len();
    }
}

/// Folds the change feed as it fills, until `stop`.
pub async fn run_feed(deps: Arc<Deps>, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    loop {
        match fold_feed(&deps).await {
            Ok(_) => {}
            // The batch is read again next time; marks keep it from counting twice.
            Err(error) => tracing::warn!(function = "journey-stats", %error, "feed not folded"),
        }
        tokio::select! {
            _ = tokio::time::sleep(FEED_POLL) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}
