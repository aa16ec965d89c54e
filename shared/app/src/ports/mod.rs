//! Ports: the async traits the use cases are written against. Adapters live in `nhip-aws`
//! (DynamoDB, SQS, SES v2, SNS, S3) and `nhip-local` (SQLite, durable local queues, simulated clock, the outbox, a blob folder).

pub mod blob;
pub mod bus;
pub mod channel;
pub mod clock;
pub mod queue;
pub mod store;

pub use blob::{Blob, BlobError, BlobStore};
pub use bus::{BusError, EventBus};
pub use channel::{Accepted, Channel, ChannelError, Envelope, Outgoing};
pub use clock::{Clock, SystemClock};
pub use queue::{OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage};
pub use store::{
    Condition, Cursor, Index, Item, ItemStore, Key, Page, Query, SortKey, StoreError, Update,
    WriteOp,
};
