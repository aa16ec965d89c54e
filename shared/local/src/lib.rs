//! # Layout
//! Nhịp's embedded adapters, the default when running locally: no AWS account, no Docker.
//! - [`db`]: the one SQLite file (WAL) shared by the store and the queues, with its schema.
//! - [`store`]: `SqliteStore`, the item-store port with DynamoDB's semantics and the same keys.
//! - [`queue`]: `LocalQueue`, durable at-least-once queues in the same file, with visibility
//!   timeouts, receive counts and dead-letter queues like SQS.
//! - [`outbox`]: `Outbox`, the channel for every kind of message: records each send whole
//!   instead of delivering it (the `/outbox` page and JSON, and a folder of files).
//! - [`feed`]: `LocalFeed`, the change feed of items created with a `feed` attribute (the
//!   stand-in for the table's DynamoDB stream).
//! - [`bus`]: `LocalEventBus`, Nhịp's outgoing events kept in a table of the same file.
//! - [`blob`]: `FolderBlobStore`, the blob-store port over a folder.
//! - [`clock`]: `SimulatedClock`, which runs at a chosen speed and can be advanced, so a
//!   30-day journey plays in seconds.

pub mod blob;
pub mod bus;
pub mod clock;
pub mod db;
pub mod feed;
pub mod outbox;
pub mod queue;
pub mod store;

pub use blob::FolderBlobStore;
pub use bus::LocalEventBus;
pub use clock::SimulatedClock;
pub use db::Database;
pub use feed::LocalFeed;
pub use outbox::{Outbox, OutboxEntry};
pub use queue::{LocalQueue, Redrive};
pub use store::SqliteStore;
