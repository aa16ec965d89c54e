//! # Layout
//! The CRM: the customers staff work with and what they know about them. Built on
//! `nhip-core`; messaging, journeys and intake build on it.
//! - [`customers`]: the customer record, repository, lists, leads, staff routes, interactions,
//!   submissions and the bulk import.
//! - [`holdings`]: the products customers hold, the product catalogue, usage reasons.
//! - [`privacy`]: personal-data rights (export, erase, restrict, object, withdraw consent).
//! - [`next_actions`]: next calls, SMS, e-mails and meetings staff schedule with a customer.
//! - [`call_pops`]: the incoming-call pop-up on the screen of the staff member whose extension
//!   rang.
//! - [`notifications`]: the bell: a staff member's notifications and unread count.
//! - [`tickets`]: tickets for telesales, relationship managers and customer service.
//! - [`events_api`]: events in from the organisation's core systems (`POST /v1/events`).

pub mod call_pops;
pub mod customers;
pub mod events_api;
pub mod holdings;
pub mod next_actions;
pub mod notifications;
pub mod privacy;
pub mod staff;
pub mod tickets;
