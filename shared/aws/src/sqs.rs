//! `SqsQueue`: the queue port on one SQS standard queue, plus [`create_queue_with_dlq`] for
//! emulators and tests.
//!
//! SQS counts in whole seconds: delays and visibility timeouts are rounded up (a message is
//! never released early), long-polling waits are capped at 20 s.

use crate::lazy::Lazy;
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use chrono::{DateTime, TimeZone, Utc};
use nhip_ports::queue::{self, OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage};

/// Longest long-polling wait SQS allows.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// How long a dead-letter queue keeps messages: SQS's maximum, 14 days.
const DLQ_RETENTION_SECONDS: u32 = 14 * 24 * 3600;
/// Most receives SQS accepts in a redrive policy.
const MAX_RECEIVES_LIMIT: u32 = 1000;

/// One SQS queue behind the queue port.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Lazy<Client>,
    name: String,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`, known to the application as `name` (e.g. `events`).
    pub fn new(client: Client, name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::shared(crate::lazy::ready(client), name, url)
    }

    /// [`SqsQueue::new`] through a client shared with other queues and perhaps not built yet
    /// ([`crate::lazy::sdk_client`]).
    pub fn shared(client: Lazy<Client>, name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
            url: url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQS client, for setup code and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        queue::validate_batch(&messages)?;
        let total = messages.len();
        let mut entries = Vec::with_capacity(total);
        for (i, message) in messages.into_iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(message.body)
                .delay_seconds(whole_seconds(message.delay));
            for (name, value) in message.attributes {
                // SQS rejects empty attribute values, which would fail the whole batch
                // with an opaque error; say which attribute instead.
                if value.is_empty() {
                    return Err(QueueError::invalid(format!(
                        "message attribute '{name}' is empty; SQS needs a value"
                    )));
                }
                let value = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(QueueError::unavailable)?;
                entry = entry.message_attributes(name, value);
            }
            entries.push(entry.build().map_err(QueueError::unavailable)?);
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(map_error)?;
        if !out.failed.is_empty() {
            for failure in &out.failed {
                tracing::warn!(
                    queue = %self.name,
                    entry = %failure.id,
                    code = %failure.code,
                    sender_fault = failure.sender_fault,
                    "SQS did not accept a message"
                );
            }
            return Err(QueueError::PartiallySent {
                failed: out.failed.len(),
                total,
            });
        }
        let mut ids = vec![None; total];
        for sent in out.successful {
            if let Some(slot) = sent.id.parse::<usize>().ok().and_then(|i| ids.get_mut(i)) {
                *slot = Some(sent.message_id);
            }
        }
        ids.into_iter()
            .map(|id| id.ok_or_else(|| malformed("a sent message has no message id")))
            .collect()
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        queue::validate_receive(max, visibility)?;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max as i32)
            .visibility_timeout(whole_seconds(visibility))
            .wait_time_seconds(whole_seconds(wait.min(MAX_WAIT)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(map_error)?;
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(received)
            .collect()
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        // SQS accepts a handle of a message already deleted; only a handle that was never
        // valid fails.
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(map_receipt_error)?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        receipt_handle: &str,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        queue::validate_visibility(timeout)?;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(whole_seconds(timeout))
            .send()
            .await
            .map_err(map_receipt_error)?;
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(map_error)?;
        let attributes = out.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_default()
        };
        Ok(QueueDepth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

/// A duration in whole seconds for SQS, rounded up.
fn whole_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

/// A received SQS message in the port's terms.
fn received(message: Message) -> Result<ReceivedMessage, QueueError> {
    let system = message.attributes.unwrap_or_default();
    let receive_count = system
        .get(&MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let sent_at = system
        .get(&MessageSystemAttributeName::SentTimestamp)
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let attributes: BTreeMap<String, String> = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        // Only string (and number) attributes are sent by the port; binary ones are skipped.
        .filter_map(|(name, value)| value.string_value.map(|v| (name, v)))
        .collect();
    Ok(ReceivedMessage {
        message_id: message
            .message_id
            .ok_or_else(|| malformed("a received message has no message id"))?,
        receipt_handle: message
            .receipt_handle
            .ok_or_else(|| malformed("a received message has no receipt handle"))?,
        body: message.body.unwrap_or_default(),
        attributes,
        receive_count,
        sent_at,
    })
}

/// An SQS answer that lacks something it always carries.
#[derive(Debug)]
struct MalformedResponse(&'static str);

impl fmt::Display for MalformedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed SQS response: {}", self.0)
    }
}

impl StdError for MalformedResponse {}

fn malformed(what: &'static str) -> QueueError {
    QueueError::unavailable(MalformedResponse(what))
}

/// Error codes SQS (and KMS behind it) uses when it sheds load. With the JSON protocol the
/// SDK reports the legacy query code when SQS sends one, so both spellings appear.
fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "RequestThrottled"
            | "ThrottlingException"
            | "Throttling"
            | "KmsThrottled"
            | "KMS.ThrottlingException"
    ) || code.ends_with(".RequestThrottled")
}

/// Whether the error says the receipt handle is not (or no longer) usable.
fn is_stale_receipt(code: &str) -> bool {
    code.ends_with("ReceiptHandleIsInvalid")
        || code.ends_with("MessageNotInflight")
        || code.ends_with("InvalidIdFormat")
}

fn map_error<E>(err: SdkError<E, HttpResponse>) -> QueueError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err.code() {
        Some(code) if is_throttling(code) => QueueError::Throttled {
            source: Box::new(err),
        },
        _ => QueueError::Unavailable {
            source: Box::new(err),
        },
    }
}

fn map_receipt_error<E>(err: SdkError<E, HttpResponse>) -> QueueError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err.code() {
        Some(code) if is_stale_receipt(code) => QueueError::ReceiptNotCurrent,
        _ => map_error(err),
    }
}

/// Creates `<name>-dlq` and then `<name>`, whose messages move to the former after
/// `max_receives` receives without a delete. Returns the two queue URLs (queue, dead-letter
/// queue). Succeeds if both already exist with the same settings. For emulators and tests;
/// in AWS the SAM template creates the queues.
pub async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    max_receives: u32,
) -> Result<(String, String), QueueError> {
    if !(1..=MAX_RECEIVES_LIMIT).contains(&max_receives) {
        return Err(QueueError::invalid(format!(
            "max_receives is 1 to {MAX_RECEIVES_LIMIT}, not {max_receives}"
        )));
    }
    let dlq_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECONDS.to_string(),
        )
        .send()
        .await
        .map_err(map_error)?
        .queue_url
        .ok_or_else(|| malformed("a created queue has no URL"))?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(map_error)?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| malformed("a queue has no ARN"))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives,
    });
    let url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(map_error)?
        .queue_url
        .ok_or_else(|| malformed("a created queue has no URL"))?;
    Ok((url, dlq_url))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::retry::RetryConfig;

    use super::*;

    #[derive(Debug, Clone)]
    struct Canned {
        status: u16,
        body: &'static str,
        query_error: Option<&'static str>,
        calls: Arc<AtomicUsize>,
    }

    impl HttpConnector for Canned {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut response = HttpResponse::new(
                StatusCode::try_from(self.status).expect("a valid status"),
                SdkBody::from(self.body),
            );
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            if let Some(query_error) = self.query_error {
                response
                    .headers_mut()
                    .insert("x-amzn-query-error", query_error);
            }
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    fn canned(
        status: u16,
        body: &'static str,
        query_error: Option<&'static str>,
    ) -> (SqsQueue, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let connector = Canned {
            status,
            body,
            query_error,
            calls: calls.clone(),
        };
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-southeast-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(connector.clone())
            }))
            .build();
        let queue = SqsQueue::new(
            Client::from_conf(config),
            "events",
            "http://127.0.0.1:9/123456789012/events",
        );
        (queue, calls)
    }

    #[tokio::test]
    async fn throttling_is_reported_as_throttled() {
        let (queue, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}"#,
            Some("RequestThrottled;Sender"),
        );
        let err = queue.depth().await.unwrap_err();
        assert!(matches!(err, QueueError::Throttled { .. }), "{err:?}");
        let (queue, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"#,
            None,
        );
        let err = queue
            .send_batch(vec![OutgoingMessage::new("{}")])
            .await
            .unwrap_err();
        assert!(matches!(err, QueueError::Throttled { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn stale_receipts_are_not_current() {
        for (body, header) in [
            (
                r#"{"__type":"com.amazonaws.sqs#ReceiptHandleIsInvalid","message":"The input receipt handle is invalid."}"#,
                Some("ReceiptHandleIsInvalid;Sender"),
            ),
            (
                r#"{"__type":"com.amazonaws.sqs#MessageNotInflight","message":"Message not inflight."}"#,
                Some("AWS.SimpleQueueService.MessageNotInflight;Sender"),
            ),
            (
                r#"{"__type":"com.amazonaws.sqs#MessageNotInflight","message":"Message not inflight."}"#,
                None,
            ),
        ] {
            let (queue, _) = canned(400, body, header);
            let err = queue
                .change_visibility("handle", Duration::from_secs(5))
                .await
                .unwrap_err();
            assert!(matches!(err, QueueError::ReceiptNotCurrent), "{err:?}");
        }
        let (queue, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.sqs#ReceiptHandleIsInvalid","message":"The input receipt handle is invalid."}"#,
            Some("ReceiptHandleIsInvalid;Sender"),
        );
        assert!(matches!(
            queue.delete("garbage").await,
            Err(QueueError::ReceiptNotCurrent)
        ));
    }

    #[tokio::test]
    async fn other_failures_keep_the_sdk_error() {
        let (queue, _) = canned(
            400,
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
            Some("AWS.SimpleQueueService.NonExistentQueue;Sender"),
        );
        let err = queue.depth().await.unwrap_err();
        let QueueError::Unavailable { source } = &err else {
            panic!("expected Unavailable, got {err:?}");
        };
        assert!(
            source
                .downcast_ref::<SdkError<
                    aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError,
                    HttpResponse,
                >>()
                .is_some_and(|e| e.code() == Some("AWS.SimpleQueueService.NonExistentQueue")),
            "the SDK error is the source: {source:?}"
        );
    }

    #[tokio::test]
    async fn failed_entries_are_partially_sent() {
        let (queue, _) = canned(
            200,
            r#"{"Successful":[{"Id":"0","MessageId":"m0","MD5OfMessageBody":"x"}],"Failed":[{"Id":"1","SenderFault":false,"Code":"InternalError"}]}"#,
            None,
        );
        let err = queue
            .send_batch(vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                QueueError::PartiallySent {
                    failed: 1,
                    total: 2
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn ids_come_back_in_the_order_sent() {
        let (queue, _) = canned(
            200,
            r#"{"Successful":[{"Id":"1","MessageId":"m1","MD5OfMessageBody":"x"},{"Id":"0","MessageId":"m0","MD5OfMessageBody":"x"}]}"#,
            None,
        );
        let ids = queue
            .send_batch(vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")])
            .await
            .unwrap();
        assert_eq!(ids, ["m0", "m1"]);
    }

    #[tokio::test]
    async fn received_messages_carry_count_time_and_attributes() {
        let (queue, _) = canned(
            200,
            r#"{"Messages":[{"MessageId":"m0","ReceiptHandle":"r0","Body":"{}","MD5OfBody":"99914b932bd37a50b983c5e7c90ae93b","Attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1795420800000"},"MessageAttributes":{"type":{"DataType":"String","StringValue":"lead.created"}}}]}"#,
            None,
        );
        let messages = queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(message.receive_count, 3);
        assert_eq!(message.sent_at.timestamp_millis(), 1_795_420_800_000);
        assert_eq!(message.attributes["type"], "lead.created");
        assert_eq!(
            (message.message_id.as_str(), message.receipt_handle.as_str()),
            ("m0", "r0")
        );
    }

    #[tokio::test]
    async fn invalid_requests_are_rejected_before_any_call() {
        let (queue, calls) = canned(500, "{}", None);
        assert!(matches!(
            queue.send_batch(vec![]).await,
            Err(QueueError::Invalid { .. })
        ));
        assert!(matches!(
            queue
                .send_batch(vec![OutgoingMessage::new("a").attribute("type", "")])
                .await,
            Err(QueueError::Invalid { .. })
        ));
        assert!(matches!(
            queue
                .receive(11, Duration::from_secs(1), Duration::ZERO)
                .await,
            Err(QueueError::Invalid { .. })
        ));
        assert!(matches!(
            queue
                .change_visibility("r", Duration::from_secs(13 * 3600))
                .await,
            Err(QueueError::Invalid { .. })
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(20)), 20);
    }
}
