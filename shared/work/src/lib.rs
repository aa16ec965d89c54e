//! # Layout
//! Work management: what staff work to an outcome. Built on the CRM (customers, the staff
//! directory, the bell) and on messaging's advertising rules; the api and the console put its
//! routes and screens in front of it.
//! - [`tickets`]: tickets opened by journeys and campaigns, assigned by each queue's rule,
//!   due in business hours, escalated when late, worked new → in progress → won / lost /
//!   unreachable, with views and counts.
//! - [`calendar`]: the working calendar in force (hours, Vietnam's public holidays, the
//!   government's days off and make-up working days), as the admin keeps it.

pub mod calendar;
pub mod tickets;
