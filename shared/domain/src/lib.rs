//! # Layout
//! Nhịp's pure domain: types and rules with no I/O, no async and no AWS types.
//! - [`ids`]: typed, time-ordered identifiers (ULIDs) that validate on parse.
//! - [`time`]: instants in UTC, business time in Asia/Ho_Chi_Minh, minute buckets for due work.
//! - [`event`]: the domain-event envelope exchanged on the events queue.

pub mod event;
pub mod ids;
pub mod time;
