//! # Layout
//! Nhịp's adapters over the AWS SDK, implementing the ports of `nhip_app::ports`. Only this
//! crate and the Lambda functions link the SDK.
//! - [`config`]: [`Config`] read from the environment (`NHIP_TABLE`, `NHIP_EVENTS_QUEUE_URL`,
//!   `NHIP_SENDS_QUEUE_URL`, `NHIP_STEPS_QUEUE_URL`, `NHIP_TICKETS_QUEUE_URL`, `NHIP_EVENT_BUS_NAME`,
//!   `NHIP_BLOB_BUCKET`, `AWS_REGION`, `NHIP_AWS_ENDPOINT`, and the
//!   optional channel settings `NHIP_SES_CONFIGURATION_SET`, `NHIP_ZNS_ACCESS_TOKEN`,
//!   `NHIP_ZNS_ENDPOINT`, `NHIP_WEBHOOK_URL`, `NHIP_WEBHOOK_SECRET`), the SDK configuration
//!   built from it, and [`build_deps`], which assembles the ports a function runs on.
//! - [`dynamo`]: [`DynamoStore`], the item store on one DynamoDB table, and [`create_table`]
//!   for emulators and tests.
//! - [`sqs`]: [`SqsQueue`], the queue port on SQS, and [`create_queue_with_dlq`] for emulators
//!   and tests.
//! - [`ses`]: [`SesChannel`], e-mail on SES v2 (simple content, or raw MIME built with
//!   `mail-builder` when there are attachments or extra headers), tagged with the message id.
//! - [`sns`]: [`SnsSmsChannel`] (SMS with type and sender id) and [`SnsPushChannel`] (app
//!   push to platform endpoints, per-platform JSON) on SNS `Publish`.
//! - [`zalo`]: [`ZaloZnsChannel`], Zalo ZNS template messages over Zalo's HTTPS API.
//! - [`webhook`]: [`WebhookChannel`], other OTT bridges through an HMAC-signed webhook, and
//!   the HTTP client the HTTPS channels share.
//! - [`eventbridge`]: [`EventBridgeBus`], the event-bus port on one EventBridge bus
//!   (`PutEvents`, one entry per domain event: source, type as detail-type, the event as
//!   detail, its time).
//! - [`s3`]: [`S3BlobStore`], the blob store on one S3 bucket.
//!
//! Every adapter validates requests with the shared rules of `nhip_app::ports` before calling
//! the provider and maps its errors to the ports' errors, keeping the SDK or HTTP error whole
//! as the source (a channel's `Rejected` carries the provider's reason, without recipients).

pub mod config;
pub mod dynamo;
pub mod eventbridge;
pub mod s3;
pub mod ses;
pub mod sns;
pub mod sqs;
pub mod webhook;
pub mod zalo;

pub use config::{Config, ConfigError, build_deps, sdk_config};
pub use dynamo::{DynamoStore, create_table};
pub use eventbridge::EventBridgeBus;
pub use s3::S3BlobStore;
pub use ses::SesChannel;
pub use sns::{SnsPushChannel, SnsSmsChannel};
pub use sqs::{SqsQueue, create_queue_with_dlq};
pub use webhook::{WebhookChannel, WebhookTarget};
pub use zalo::ZaloZnsChannel;
