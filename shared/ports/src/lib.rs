//! # Layout
//! Ports: the async traits the use cases (`nhip-core` and the feature crates above it) are written against, and the rules every
//! adapter must apply the same way. Adapters live in `nhip-aws` (DynamoDB, SQS, SES v2, SNS,
//! S3, EventBridge) and `nhip-local` (SQLite, durable local queues, simulated clock, the
//! outbox, a blob folder); both depend on this crate alone, so an edit in a use case does not
//! rebuild them.
//! - [`store`]: the single-table item store, its keys, indexes, conditions and updates.
//! - [`queue`]: the SQS-shaped queues between steps.
//! - [`channel`]: a message channel (e-mail, SMS, push, ZNS, webhook) and what it accepts.
//! - [`blob`]: files (attachments, reports).
//! - [`bus`]: the event bus domain events are forwarded to.
//! - [`clock`]: the time every rule reads.
//! - [`certificates`]: SNS signing certificates, and the SNS addresses they may come from.

pub mod blob;
pub mod bus;
pub mod certificates;
pub mod channel;
pub mod clock;
pub mod identity;
pub mod queue;
pub mod store;
pub mod zalo;

pub use blob::{Blob, BlobError, BlobStore};
pub use bus::{BusError, EventBus};
pub use channel::{Accepted, Channel, ChannelError, Envelope, Outgoing};
pub use clock::{Clock, SystemClock};
pub use identity::{IdentityError, IdentityProvider};
pub use queue::{OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage};
pub use store::{
    Condition, Cursor, Index, Item, ItemStore, Key, Page, Query, SortKey, StoreError, Update,
    WriteOp,
};
