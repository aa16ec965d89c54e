//! The queue port: at-least-once delivery between functions, implemented by SQS
//! (`nhip-aws`) and by a durable queue in the local SQLite file (`nhip-local`).
//!
//! The contract both adapters keep: a received message stays invisible for the visibility
//! timeout and comes back if it is not deleted in time; each receive increments its receive
//! count; once a message has been received `max_receives` times without being deleted, the
//! next receive moves it to the dead-letter queue instead of returning it. Consumers must be
//! idempotent because any message may arrive more than once.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Most messages in one send or receive call.
pub const MAX_BATCH: usize = 10;
/// Longest delivery delay SQS allows.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Longest visibility timeout SQS allows (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// Most attributes on one message, as SQS allows.
pub const MAX_ATTRIBUTES: usize = 10;
/// Largest message body SQS accepts (bytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The body, usually JSON.
    pub body: String,
    /// String message attributes (e.g. `type`, `trace`).
    pub attributes: BTreeMap<String, String>,
    /// Hold the message back this long before it becomes visible (at most 15 minutes).
    pub delay: Duration,
}

impl OutgoingMessage {
    /// A message with this body, no attributes and no delay.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    /// Adds a string attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// Delays delivery.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A received message, invisible to other consumers until its visibility timeout ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The queue's id for the message (stable across redeliveries).
    pub message_id: String,
    /// The handle for deleting or extending this receipt (new on every receive).
    pub receipt_handle: String,
    /// The body as sent.
    pub body: String,
    /// The attributes as sent.
    pub attributes: BTreeMap<String, String>,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    /// When it was first sent.
    pub sent_at: DateTime<Utc>,
}

/// Approximate message counts, for health reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
    /// Sent with a delay that has not run out.
    pub delayed: u64,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The request is malformed (too many messages, body too large, delay too long…).
    #[error("invalid queue request: {reason}")]
    Invalid {
        /// What was wrong.
        reason: String,
    },
    /// The receipt handle is unknown or no longer current (the message was deleted, or was
    /// received again by someone else after its visibility timeout).
    #[error("receipt handle is not current")]
    ReceiptNotCurrent,
    /// Some messages of a batch were not accepted; the rest were sent.
    #[error("{failed} of {total} messages were not sent")]
    PartiallySent {
        /// How many failed.
        failed: usize,
        /// How many were in the batch.
        total: usize,
    },
    /// The backend is rejecting requests for now.
    #[error("queue throttled the request")]
    Throttled {
        /// What the backend said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The backend failed or could not be reached.
    #[error("queue unavailable")]
    Unavailable {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl QueueError {
    /// A [`QueueError::Invalid`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        QueueError::Invalid {
            reason: reason.into(),
        }
    }

    /// A [`QueueError::Unavailable`] wrapping `source`.
    pub fn unavailable(source: impl StdError + Send + Sync + 'static) -> Self {
        QueueError::Unavailable {
            source: Box::new(source),
        }
    }
}

/// One queue.
#[async_trait]
pub trait Queue: Send + Sync {
    /// The queue's logical name (`events`, `steps`, …).
    fn name(&self) -> &str;

    /// Sends up to [`MAX_BATCH`] messages; returns their message ids in order.
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError>;

    /// Receives up to `max` (1 to 10) messages, hiding them for `visibility`; waits up to
    /// `wait` for the first one to arrive (long polling, at most 20 s).
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Acknowledges a message: it is never delivered again. Deleting twice succeeds.
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;

    /// Acknowledges several messages (a consumer's handled batch); one by one unless the
    /// queue can do it in one request.
    async fn delete_batch(&self, receipt_handles: &[String]) -> Result<(), QueueError> {
        for handle in receipt_handles {
            self.delete(handle).await?;
        }
        Ok(())
    }

    /// Changes how long a received message stays hidden, counted from now (0 makes it visible).
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError>;

    /// Approximate counts.
    async fn depth(&self) -> Result<QueueDepth, QueueError>;
}

/// Checks a batch before sending: 1 to 10 messages, bodies non-empty and within size, at
/// most 10 non-empty attributes, delays within 15 minutes.
pub fn validate_batch(messages: &[OutgoingMessage]) -> Result<(), QueueError> {
    if messages.is_empty() || messages.len() > MAX_BATCH {
        return Err(QueueError::invalid(format!(
            "a batch holds 1 to {MAX_BATCH} messages, not {}",
            messages.len()
        )));
    }
    for message in messages {
        let size = message.body.len()
            + message
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        if message.body.is_empty() {
            return Err(QueueError::invalid("a message body must not be empty"));
        }
        if size > MAX_BODY_BYTES {
            return Err(QueueError::invalid(format!(
                "a message is {size} bytes, over the {MAX_BODY_BYTES}-byte limit"
            )));
        }
        if message.attributes.len() > MAX_ATTRIBUTES {
            return Err(QueueError::invalid(format!(
                "a message carries at most {MAX_ATTRIBUTES} attributes"
            )));
        }
        if message
            .attributes
            .iter()
            .any(|(name, value)| name.is_empty() || value.is_empty())
        {
            return Err(QueueError::invalid(
                "message attribute names and values must not be empty",
            ));
        }
        if message.delay > MAX_DELAY {
            return Err(QueueError::invalid("a delay is at most 15 minutes"));
        }
    }
    Ok(())
}

/// Checks a receive request: 1 to 10 messages, visibility within 12 hours.
pub fn validate_receive(max: usize, visibility: Duration) -> Result<(), QueueError> {
    if max == 0 || max > MAX_BATCH {
        return Err(QueueError::invalid("receive asks for 1 to 10 messages"));
    }
    validate_visibility(visibility)
}

/// Checks a visibility timeout: at most 12 hours.
pub fn validate_visibility(visibility: Duration) -> Result<(), QueueError> {
    if visibility > MAX_VISIBILITY {
        return Err(QueueError::invalid(
            "a visibility timeout is at most 12 hours",
        ));
    }
    Ok(())
}

/// Sends each item as a JSON message with the attribute `type` = `kind`, in batches of
/// [`MAX_BATCH`].
pub async fn send_json<T: serde::Serialize>(
    queue: &dyn Queue,
    items: &[T],
    kind: &str,
) -> Result<(), QueueError> {
    let messages = items
        .iter()
        .map(|item| {
            OutgoingMessage::new(serde_json::to_string(item).expect("a queue item serialises"))
                .attribute("type", kind)
        })
        .collect();
    send_all(queue, messages).await.map(|_| ())
}

/// Sends any number of messages in batches of [`MAX_BATCH`].
pub async fn send_all(
    queue: &dyn Queue,
    messages: Vec<OutgoingMessage>,
) -> Result<Vec<String>, QueueError> {
    let mut ids = Vec::with_capacity(messages.len());
    let mut rest = messages.into_iter().peekable();
    while rest.peek().is_some() {
        let batch: Vec<_> = rest.by_ref().take(MAX_BATCH).collect();
        ids.extend(queue.send_batch(batch).await?);
    }
    Ok(ids)
}
