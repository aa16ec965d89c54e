//! # Layout
//! The top floor: what calls into every feature. Nothing below imports from here.
//! - [`routes`]: every feature's routes, declared once, in the staff list and the public list.
//! - [`router`]: the served routers, the staff router and the whole router (staff, intake,
//!   public tracking), with the fallbacks and the body limit.
//! - [`system`]: `GET /health` and `GET /v1/version`.
//! - [`openapi`]: the OpenAPI document, assembled from every feature's handlers and served at
//!   `/v1/openapi.json`.
//! - [`tick`]: the scheduler's tick, running due work (next actions, deferred messages,
//!   journey steps and segments).
//! - [`events_consumer`]: the `events` queue consumer: timeline, journeys, the event bus.
//!
//! The floors below, from the ground: `nhip-domain` (pure rules), `nhip-ports` (the traits
//! adapters implement), `nhip-core` (keys, `Deps`, HTTP, auth, events, due work), `nhip-crm`
//! (customers and what staff know of them), `nhip-messaging` (templates, pipeline, tracking),
//! then `nhip-journeys` and `nhip-intake` side by side.

pub mod events_consumer;
pub mod openapi;
pub mod router;
pub mod routes;
pub mod system;
pub mod tick;

pub use router::{router, staff_router};
