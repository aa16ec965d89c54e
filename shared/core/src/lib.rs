//! # Layout
//! The ground floor of Nhịp's use cases: what every feature needs and none owns. Written
//! against `nhip-ports` (no AWS SDK); every feature crate (`nhip-crm`, `nhip-messaging`,
//! `nhip-journeys`, `nhip-intake`) and the top floor (`nhip-api`) build on it.
//! - [`keys`]: the key scheme of the single table; the only place key strings are built.
//! - [`records`]: typed records to stored items and back, for every plain repository.
//! - [`cache`]: saved versions kept in memory (they never change once saved).
//! - [`deps`]: the context value (`Deps`) holding the ports and the settings, shared by
//!   functions, runner and tests; [`messaging_settings`]: the messaging part of the settings;
//!   [`env`]: the error naming an unusable environment variable.
//! - [`auth`]: staff authentication (JWT) and the role scopes every staff route applies.
//! - [`http`]: the error answer and the extractors that answer it; [`form`]: field-by-field
//!   reading with Vietnamese problems; [`openapi`]: the shared error responses and the
//!   domain's enumerations as schemas; [`webhook`]: HMAC-signed webhooks.
//! - [`consumer`]: partial-batch-response glue shared by every SQS consumer; [`retry`]: the
//!   one policy of optimistic-concurrency retries.
//! - [`events`]: recording domain events on timelines and publishing Nhịp's own;
//!   [`event_types`]: the types they carry, with their Vietnamese labels.
//! - [`timeline`]: a customer's timeline and recent activities.
//! - [`versioned`]: the one repository of versioned documents (templates, journeys).
//! - [`scheduler`]: due work placed in hour buckets, and the step jobs it releases.
//! - [`stats`]: journey counters and the journey-step cause of a message.

pub mod auth;
pub mod cache;
pub mod consumer;
pub mod deps;
pub mod env;
pub mod event_types;
pub mod events;
pub mod form;
pub mod http;
pub mod keys;
pub mod messaging_settings;
pub mod openapi;
pub mod records;
pub mod retry;
pub mod scheduler;
pub mod stats;
pub mod timeline;
pub mod versioned;
pub mod webhook;

pub use deps::{BuildInfo, Channels, Deps, Queues, Settings};
pub use env::SettingsError;
