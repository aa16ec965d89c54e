//! # Layout
//! Nhịp's application layer: everything that is neither a pure rule (`nhip-domain`) nor an
//! adapter (`nhip-aws`, `nhip-local`). No AWS SDK here, so the everyday build stays fast.
//! - [`ports`]: the `nhip-ports` crate, re-exported: the async traits use cases are written
//!   against (item store, queue, clock, …), with the backend-independent rules both adapters
//!   share. The adapters depend on it alone.
//! - [`keys`]: the key scheme of the single table; the only place key strings are built.
//! - [`deps`]: the context value (`Deps`) holding the ports, shared by functions, runner and tests.
//! - [`http`]: the axum router served by the `api` function and the local runner; the error body
//!   and the extractors that answer it.
//! - [`openapi`]: the OpenAPI document generated from the handlers, served at `/v1/openapi.json`.
//! - [`auth`]: staff authentication (JWT) and the role scopes every staff route applies.
//! - [`customers`]: the customer core: record, repository, lists, leads, staff routes,
//!   interactions.
//! - [`intake`]: the public lead-intake route (website forms, landing pages).
//! - [`holdings`]: the products customers hold, the product catalogue, usage reasons.
//! - [`privacy`]: personal-data rights (export, erase, restrict, object, withdraw consent).
//! - [`telephony`]: the call centre's incoming-call webhook.
//! - [`next_actions`]: next calls, SMS, e-mails and meetings staff schedule with a customer.
//! - [`notifications`]: the bell: a staff member's notifications and unread count.
//! - [`records`]: typed records to stored items and back, for every plain repository.
//! - [`scheduler`]: due work in minute buckets, run by a tick every minute.
//! - [`timeline`]: a customer's timeline and recent activities.
//! - [`consumer`]: partial-batch-response glue shared by every SQS consumer.
//! - [`journeys`]: journeys as versioned data, their store and routes, the seed journeys.
//! - [`messaging`]: templates, the send pipeline with Decree 91, channels, engagement tracking.
//! - [`events`]: the events consumer, recording domain events on customer timelines.
//! - [`events_api`]: events in from the organisation's core systems (`POST /v1/events`).

pub mod auth;
pub mod consumer;
pub mod customers;
pub mod deps;
pub mod events;
pub mod events_api;
pub mod holdings;
pub mod http;
pub mod intake;
pub mod journeys;
pub mod keys;
pub mod messaging;
pub mod next_actions;
pub mod notifications;
pub mod openapi;
pub use nhip_ports as ports;
pub mod privacy;
pub mod records;
pub mod scheduler;
pub mod telephony;
pub mod tickets;
pub mod timeline;

pub use deps::{BuildInfo, Channels, Deps, Queues, Settings, SettingsError};
