//! Tickets worked to an outcome. A journey's ticket step (or a campaign) puts a request on the
//! `tickets` queue; the ticket creator opens it ([`open`]): one open ticket per customer per
//! journey or campaign, assigned by the queue's rule ([`assign`]), due after its SLA counted
//! in business hours ([`crate::calendar`]), with its due-work item so an overdue ticket
//! escalates to the team's manager ([`escalate`]). Staff take it, plan the call (an invitation
//! call only inside the advertising-call window, [`calls`]) and close it with an outcome
//! ([`workflow`]); the views and counts are in [`views`].

pub mod assign;
pub mod calls;
pub mod escalate;
pub mod open;
pub mod routes;
pub mod views;
pub mod workflow;

pub use nhip_crm::tickets::{NewTicket, Ticket, TicketNote, TicketStatus, is_open};
pub use open::{create, handle_batch};
pub use routes::router;
pub use views::{TicketView, list};
pub use workflow::{StatusChange, StatusError, change};

use nhip_core::keys;
use nhip_ports::store::{Update, WriteOp};

/// The counter changes of a queue's statistics, as one write of a transaction.
pub(crate) fn count(queue: &str, changes: &[(&str, i64)]) -> WriteOp {
    let mut update = Update::new();
    for (name, amount) in changes {
        update = update.add(*name, *amount);
    }
    WriteOp::Update {
        key: keys::ticket_stats(queue),
        update,
        condition: nhip_ports::store::Condition::Always,
    }
}

/// A staff member's open-ticket count moved by `amount`, as one write of a transaction.
pub(crate) fn load(user: &str, amount: i64) -> WriteOp {
    WriteOp::Update {
        key: keys::ticket_load(user),
        update: Update::new().add("open", amount),
        condition: nhip_ports::store::Condition::Always,
    }
}
