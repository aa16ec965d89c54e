//! # Layout
//! Work management: what staff work to an outcome. Built on the CRM (customers, the staff
//! directory, the bell) and on messaging's advertising rules; the api and the console put its
//! routes and screens in front of it.
//! - [`tickets`]: tickets opened by journeys and campaigns, assigned by each queue's rule,
//!   due in business hours, escalated when late, worked new → in progress → won / lost /
//!   unreachable, with views and counts.
//! - [`tasks`]: tasks managers give (or people give themselves), with reminders, completion
//!   comments, comments, views by day, week and month, and progress per person.
//! - [`agenda`]: "Lịch làm việc", one's next actions across customers and tasks by day or week.
//! - [`calendar`]: the working calendar in force (hours, Vietnam's public holidays, the
//!   government's days off and make-up working days), as the admin keeps it.

pub mod agenda;
pub mod calendar;
pub mod tickets;

pub mod tasks;

/// An instant as staff read it: `HH:MM dd/mm/yyyy` in Vietnamese time.
pub(crate) fn format_vn(at: chrono::DateTime<chrono::Utc>) -> String {
    nhip_domain::time::to_vn(at)
        .format("%H:%M %d/%m/%Y")
        .to_string()
}
