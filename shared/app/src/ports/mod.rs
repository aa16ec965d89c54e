//! Ports: the async traits the use cases are written against. Adapters live in `nhip-aws`
//! (DynamoDB, SQS) and `nhip-local` (SQLite, durable local queues, simulated clock).

pub mod clock;
pub mod queue;
pub mod store;

pub use clock::{Clock, SystemClock};
pub use queue::{OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage};
pub use store::{
    Condition, Cursor, Index, Item, ItemStore, Key, Page, Query, SortKey, StoreError, Update,
    WriteOp,
};
