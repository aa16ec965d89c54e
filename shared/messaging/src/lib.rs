//! # Layout
//! Messaging: every message Nhịp sends to a customer goes through one pipeline, and every
//! signal that comes back lands on the message, the customer's timeline and the journeys.
//! - [`model`]: send requests, messages, their statuses and reasons.
//! - [`templates`]: versioned Liquid templates per channel, checked at save, with previews.
//! - [`pipeline`]: the `sends` queue consumer: idempotency, consent, suppression, Decree 91,
//!   rendering, sending, recording.
//! - [`links`]: signed tokens of tracked links and unsubscribe pages.
//! - [`tracking`]: engagement signals, suppression, clicks, unsubscribes and refusals.
//! - [`callbacks`]: the signed provider callbacks over HTTP (SES via SNS, Zalo ZNS).
//! - [`tracker`]: the `engagement-tracker` function's handler (SES events via SNS).
//! - [`stats`]: counters per template and campaign.
//! - [`targets`]: a request's channels and templates checked against the catalogue.
//! - [`campaigns`]: campaigns previewed, stored and queued through the pipeline; their report.
//! - [`routes`]: staff messaging routes and the public tracking routes.
//! - [`sns`]: SNS messages over HTTP and their signature check.
//! - [`ses_events`]: SES event-publishing records.
//! - [`zalo`]: Zalo ZNS delivery callbacks and their signature.
//!
//! Its settings (senders, links, rates) are `nhip_core::messaging_settings`, as `Deps` carries
//! them. Below it: `nhip-crm` (the customers it writes to), `nhip-core`, the ports and the
//! domain; above it: journeys and intake, which send through [`pipeline`].

pub mod callbacks;
pub mod campaigns;
pub mod links;
pub mod model;
pub mod pipeline;
pub mod routes;
pub mod ses_events;
pub mod sns;
pub mod stats;
pub mod targets;
pub mod templates;
pub mod tracker;
pub mod tracking;
pub mod zalo;
pub mod zalo_tokens;
