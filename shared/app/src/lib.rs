//! # Layout
//! Nhịp's application layer: everything that is neither a pure rule (`nhip-domain`) nor an
//! adapter (`nhip-aws`, `nhip-local`). No AWS SDK here, so the everyday build stays fast.
//! - [`ports`]: the async traits use cases are written against (item store, queue, clock),
//!   with the backend-independent rules both adapters share.
//! - [`keys`]: the key scheme of the single table; the only place key strings are built.
//! - [`deps`]: the context value (`Deps`) holding the ports, shared by functions, runner and tests.
//! - [`http`]: the axum router served by the `api` function and the local runner; the error body.
//! - [`auth`]: staff authentication (JWT) and the role scopes every staff route applies.
//! - [`consumer`]: partial-batch-response glue shared by every SQS consumer.
//! - [`events`]: the events consumer, recording domain events on customer timelines.

pub mod auth;
pub mod consumer;
pub mod deps;
pub mod events;
pub mod http;
pub mod keys;
pub mod ports;

pub use deps::{BuildInfo, Deps, Queues};
