//! # Layout
//! Nhịp's adapters over the AWS SDK, implementing the ports of `nhip_app::ports`. Only this
//! crate and the Lambda functions link the SDK.
//! - [`config`]: [`Config`] read from the environment (`NHIP_TABLE`, `NHIP_EVENTS_QUEUE_URL`,
//!   `AWS_REGION`, `NHIP_AWS_ENDPOINT`), the SDK configuration built from it, and
//!   [`build_deps`], which assembles the ports a function runs on.
//! - [`dynamo`]: [`DynamoStore`], the item store on one DynamoDB table, and [`create_table`]
//!   for emulators and tests.
//! - [`sqs`]: [`SqsQueue`], the queue port on SQS, and [`create_queue_with_dlq`] for emulators
//!   and tests.
//!
//! Both adapters validate requests with the shared rules of `nhip_app::ports` before calling
//! AWS and map SDK errors to the ports' errors, keeping the SDK error whole as the source.

pub mod config;
pub mod dynamo;
pub mod sqs;

pub use config::{Config, ConfigError, build_deps, sdk_config};
pub use dynamo::{DynamoStore, create_table};
pub use sqs::{SqsQueue, create_queue_with_dlq};
