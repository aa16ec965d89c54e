//! # Layout
//! The CRM: the customers staff work with and what they know about them. Built on
//! `nhip-core`; messaging, journeys and intake build on it.
//! - [`customers`]: the customer record, repository, lists, leads, staff routes, interactions,
//!   submissions and the bulk import.
//! - [`holdings`]: the products customers hold, the product catalogue, usage reasons.
//! - [`privacy`]: personal-data rights (export, erase, restrict, object, withdraw consent).
//! - [`next_actions`]: next calls, SMS, e-mails and meetings staff schedule with a customer.
//! - [`notifications`]: the bell: a staff member's notifications and unread count.
//! - [`tickets`]: tickets for telesales, relationship managers and customer service.
//! - [`events_api`]: events in from the organisation's core systems (`POST /v1/events`).

pub mod customers;
pub mod events_api;
pub mod holdings;
pub mod next_actions;
pub mod notifications;
pub mod privacy;
pub mod tickets;

/// The 422 `validation_failed` answer of field problems a use case returned. `FieldErrors`
/// builds it only when it holds a problem; a use case returns it only then.
pub(crate) fn validation_failed(errors: nhip_core::form::FieldErrors) -> nhip_core::http::ApiError {
    match errors.into_result() {
        Err(error) => error,
        Ok(()) => nhip_core::http::ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Thông tin chưa hợp lệ; xem chi tiết từng trường.",
        ),
    }
}
