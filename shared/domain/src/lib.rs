//! # Layout
//! Nhịp's pure domain: types and rules with no I/O, no async and no AWS types.
//! - [`ids`]: typed, time-ordered identifiers (ULIDs) that validate on parse.
//! - [`time`]: instants in UTC, business time in Asia/Ho_Chi_Minh, minute buckets for due work.
//! - [`event`]: the domain-event envelope exchanged on the events queue.
//! - [`identifiers`]: Vietnamese identifiers that validate on parse (mobile phone, e-mail, CCCD,
//!   CMND, tax code).
//! - [`person`]: names (NFC, diacritic folding for search, the given name used to address
//!   someone) and gender.
//! - [`customer`]: the customer model: lifecycle, classification, source, consents.

pub mod customer;
pub mod event;
pub mod identifiers;
pub mod ids;
pub mod person;
pub mod time;
