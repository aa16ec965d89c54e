//! # Layout
//! Nhịp's adapters over the AWS SDK, implementing the ports of `nhip-ports`, its only Nhịp
//! dependency besides the domain. Only this crate, `nhip-wiring` (which assembles them into
//! a function's `Deps`) and the Lambda functions link the SDK.
//! - [`dynamo`]: [`DynamoStore`], the item store on one DynamoDB table, and [`create_table`]
//!   for emulators and tests.
//! - [`sqs`]: [`SqsQueue`], the queue port on SQS, and [`create_queue_with_dlq`] for emulators
//!   and tests.
//! - [`ses`]: [`SesChannel`], e-mail on SES v2 (simple content, or raw MIME built with
//!   `mail-builder` when there are attachments or extra headers), tagged with the message id.
//! - [`sns`]: [`SnsSmsChannel`] (SMS with type and sender id) and [`SnsPushChannel`] (app
//!   push to platform endpoints, per-platform JSON) on SNS `Publish`.
//! - [`zalo`]: [`ZaloZnsChannel`], Zalo ZNS template messages over Zalo's HTTPS API, and
//!   [`ZaloOAuthEndpoint`], Zalo's OAuth v4 endpoint issuing the Official Account's tokens.
//! - [`secrets`]: secrets read from Secrets Manager when a function starts.
//! - [`webhook`]: [`WebhookChannel`], other OTT bridges through an HMAC-signed webhook, and
//!   the HTTP client the HTTPS channels share.
//! - [`eventbridge`]: [`EventBridgeBus`], the event-bus port on one EventBridge bus
//!   (`PutEvents`, one entry per domain event: source, type as detail-type, the event as
//!   detail, its time).
//! - [`s3`]: [`S3BlobStore`], the blob store on one S3 bucket.
//! - [`lazy`]: clients built on their first use, so a function's start builds none it does
//!   not use.
//!
//! Every adapter validates requests with the shared rules of `nhip_ports` before calling
//! the provider and maps its errors to the ports' errors, keeping the SDK or HTTP error whole
//! as the source (a channel's `Rejected` carries the provider's reason, without recipients).

pub mod cognito;
pub mod dynamo;
pub mod eventbridge;
pub mod lazy;
pub mod s3;
pub mod secrets;
pub mod ses;
pub mod sns;
pub mod sqs;
pub mod webhook;
pub mod zalo;

pub use dynamo::{DynamoStore, create_table};
pub use eventbridge::EventBridgeBus;
pub use s3::S3BlobStore;
pub use ses::SesChannel;
pub use sns::{SnsPushChannel, SnsSmsChannel};
pub use sqs::{SqsQueue, create_queue_with_dlq};
pub use webhook::{WebhookChannel, WebhookTarget};
pub use zalo::{ZaloOAuthEndpoint, ZaloZnsChannel};
