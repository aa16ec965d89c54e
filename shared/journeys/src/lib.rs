//! # Layout
//! Journeys: versioned definitions a marketer writes in YAML or JSON, checked when saved and
//! frozen when published; the seed journeys the product ships with; and the engine that moves
//! customers through them.
//! - [`definitions`]: the journey store and its staff routes (create, new version, publish,
//!   read as JSON or YAML, install a seed with its Vietnamese templates).
//! - [`engine`]: enrollments and the journey worker (`steps` queue): one step per job, under
//!   an optimistic-concurrency condition, its decision recorded before any side effect. Its
//!   files: the enrollment model, the decision (pure rules over what it looks up), the side
//!   effects and the worker.
//! - [`entry`]: enrolling customers (events, segments, by hand through the API or a CSV file)
//!   and routing events to the enrollments that wait for them.
//! - [`stats`]: counters per journey version and step.
//! - [`routes`]: enrollment and statistics routes for staff, thin over the use cases of
//!   [`entry`], [`engine`] and [`stats`].
//!
//! Below it: `nhip-messaging` (a send step goes through its pipeline), `nhip-crm` (tickets,
//! notifications, customers), `nhip-core`, the ports and the domain. The events consumer and
//! the scheduler tick that call into it are `nhip-api`'s.

pub mod definitions;
pub mod engine;
pub mod entry;
pub mod routes;
pub mod stats;
