//! # Layout
//! Contracts and schedules: what customers hold that runs on dates. Built on the CRM (customers,
//! holdings, the staff directory, the bell) and on messaging's send pipeline; the api puts its
//! routes in front of it and the `reminders` function runs its daily run.
//! - [`rates`]: investment products' base rate and fee tiers, admin-only, every change kept.
//! - [`contracts`]: investment contracts signed at the rates in force, activated, settled and
//!   renewed (a renewal chain), and the "Đã lấy HĐ về và scan" tick.
//! - [`bonus`]: consultants' monthly bonus statements, counted and official.
//! - [`plans`]: instalment plans: schedules exact to the đồng, payments, standing.
//! - [`settings`]: the reminders' ladder, channels and greetings.
//! - [`reminders`]: the daily run: instalment reminders, expiry alerts, birthday and holiday
//!   greetings, found through date-keyed pointers.
//! - [`routes`]: the HTTP routes.

pub mod bonus;
pub mod contracts;
pub mod plans;
pub mod rates;
pub mod reminders;
pub mod routes;
pub mod settings;

pub use routes::router;
