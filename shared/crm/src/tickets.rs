//! Tickets for staff: a journey hands a warm lead or a stuck customer to Telesales, a
//! relationship manager or customer service, with a priority and a time to handle it (SLA).
//! This is the tickets' model and read side, shared by the crates that open, work and show
//! them: the journey engine puts a [`NewTicket`] on the `tickets` queue ([`enqueue`]); the
//! work crate (`nhip-work`) opens it, assigns it, counts its SLA in business hours,
//! escalates it and moves it along its workflow.
//!
//! `TCK#<id>` / `TCK` holds the ticket ([`to_item`] gives its index attributes): by queue on
//! gsi1 (`TCKQ#<queue>`, newest first), by assignee on gsi2 (`TCKU#<user>`) and by journey or
//! campaign on gsi3 (`TCKG#<group>`). `CUS#<customer>` / `TCK#<id>` points to it from the
//! customer (export, erase). The id is derived from the cause
//! (`journey#<enrollment>#<step>#<visit>`) and every write is create-only, so a repeated step
//! opens one ticket.

use chrono::{DateTime, Utc};
use nhip_domain::customer::Purpose;
use nhip_domain::ids::CustomerId;
use nhip_domain::journey::{Span, TicketPriority, TicketQueue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_ports::store::{Index, Item, Query, StoreError};

/// Kind attribute of ticket items.
pub const KIND: &str = "ticket";

/// A ticket to open, as it travels on the `tickets` queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    /// What opened it; the same cause opens one ticket.
    pub cause: String,
    /// The customer.
    pub customer_id: CustomerId,
    /// The team.
    pub queue: TicketQueue,
    /// How urgent.
    pub priority: TicketPriority,
    /// Time to handle it, counted in business hours (whole days in working days) from when
    /// it is opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Span>,
    /// When it should be handled by, when given as an instant instead of an SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// What to do.
    pub title: String,
    /// Where it came from (the journey, step and enrollment).
    pub source: Value,
    /// The staff member it goes to, when the requester names one; otherwise the queue's
    /// assignment rule decides.
    pub assignee: Option<String>,
    /// `care`, or `marketing` for an invitation call (Decree 91's advertising-call rules).
    #[serde(default = "care")]
    pub purpose: Purpose,
}

fn care() -> Purpose {
    Purpose::Care
}

/// A ticket as stored and listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    /// Id (from its cause).
    pub id: String,
    /// The customer.
    pub customer_id: String,
    /// `telesales`, `rm` or `cskh`.
    #[schema(value_type = String)]
    pub queue: TicketQueue,
    /// The team's name in Vietnamese.
    pub queue_label: String,
    /// `low`, `normal`, `high`, `urgent`.
    #[schema(value_type = String)]
    pub priority: TicketPriority,
    /// What to do.
    pub title: String,
    /// `new` (Mới) until staff take it.
    pub status: String,
    /// The status in Vietnamese.
    pub status_label: String,
    /// The staff member it goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The team working it (the assignee's, or the queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `care`, or `marketing` for an invitation call.
    #[serde(default = "care")]
    #[schema(value_type = String)]
    pub purpose: Purpose,
    /// Where it came from.
    #[schema(value_type = Object)]
    pub source: Value,
    /// Opened (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// To be handled by (UTC).
    #[schema(value_type = String)]
    pub due_at: DateTime<Utc>,
    /// The outcome staff recorded when closing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_note: Option<String>,
    /// When it was closed (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub closed_at: Option<DateTime<Utc>>,
    /// When it passed its due time still open and went to the team's manager (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub escalated_at: Option<DateTime<Utc>>,
    /// The call planned with the customer (UTC); for an invitation call, inside the
    /// advertising-call window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub call_at: Option<DateTime<Utc>>,
    /// Closed by its due time (`true`) or after it (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_met: Option<bool>,
    /// Optimistic-concurrency version: a status change names the one it read.
    #[serde(default = "first_version")]
    pub version: u64,
    /// Later requests of the same journey or campaign for the customer while this one was
    /// open: one ticket, with a note per request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<TicketNote>,
}

/// A later request folded into an open ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketNote {
    /// When it came (UTC).
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    /// What it asked.
    pub text: String,
    /// What caused it (the journey step or campaign), so a redelivery adds no second note.
    pub cause: String,
}

/// The group a ticket is one-open-at-a-time in, for its customer: its journey or campaign
/// (`journey:<key>`, `campaign:<id>`).
pub fn open_group(source: &Value) -> Option<String> {
    let text = |name: &str| {
        source
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    match text("kind") {
        Some("journey") => text("journey").map(|key| format!("journey:{key}")),
        Some("campaign") => text("campaign").map(|id| format!("campaign:{id}")),
        _ => None,
    }
}

fn first_version() -> u64 {
    1
}

/// Where a ticket stands: `new` until someone takes it, `in_progress` while it is worked,
/// then closed with an outcome: `won` (the customer registered), `lost` or `unreachable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Mới.
    New,
    /// Đang xử lý.
    InProgress,
    /// Thành công: the customer registered.
    Won,
    /// Không thành công.
    Lost,
    /// Không liên lạc được.
    Unreachable,
}

impl TicketStatus {
    /// Every status.
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::New,
        TicketStatus::InProgress,
        TicketStatus::Won,
        TicketStatus::Lost,
        TicketStatus::Unreachable,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::Won => "won",
            TicketStatus::Lost => "lost",
            TicketStatus::Unreachable => "unreachable",
        }
    }

    /// What staff see.
    pub fn label(self) -> &'static str {
        match self {
            TicketStatus::New => "Mới",
            TicketStatus::InProgress => "Đang xử lý",
            TicketStatus::Won => "Thành công (đã đăng ký)",
            TicketStatus::Lost => "Không thành công",
            TicketStatus::Unreachable => "Không liên lạc được",
        }
    }

    /// Whether it is an outcome (closed).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            TicketStatus::Won | TicketStatus::Lost | TicketStatus::Unreachable
        )
    }

    /// The status of a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        TicketStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// The pseudo-user whose bell is a queue's shared inbox (`queue:telesales`).
pub fn queue_inbox(queue: TicketQueue) -> String {
    format!("queue:{}", queue.as_str())
}

/// The ticket id of a cause: 128 bits of SHA-256, in ULID form.
pub fn ticket_id(cause: &str) -> String {
    nhip_core::keys::derived_ulid(&format!("ticket#{cause}"))
}

/// Puts tickets to open on the `tickets` queue.
pub async fn enqueue(
    deps: &Deps,
    tickets: &[NewTicket],
) -> Result<(), nhip_ports::queue::QueueError> {
    nhip_ports::queue::send_json(&*deps.queues.tickets, tickets, "ticket").await
}

/// Whether a ticket is still to be worked (its assignee may see its customer).
pub fn is_open(ticket: &Ticket) -> bool {
    TicketStatus::parse(&ticket.status).is_none_or(|status| !status.is_closed())
}

/// The ticket's status (`new` for anything unreadable).
pub fn status_of(ticket: &Ticket) -> TicketStatus {
    TicketStatus::parse(&ticket.status).unwrap_or(TicketStatus::New)
}

/// The ticket as stored, with its index attributes: by queue (gsi1), by assignee (gsi2) and by
/// journey or campaign (gsi3), each newest first.
pub fn to_item(ticket: &Ticket) -> Result<Item, StoreError> {
    let mut item = nhip_core::records::to_item(keys::ticket(&ticket.id), KIND, ticket)?;
    let sort = format!("{}#{}", keys::instant(ticket.created_at), ticket.id);
    let mut index = |index: Index, pk: String| {
        item.insert(index.pk_attr().into(), pk.into());
        item.insert(index.sk_attr().into(), sort.clone().into());
    };
    index(Index::Gsi1, keys::ticket_queue(ticket.queue.as_str()));
    if let Some(assignee) = &ticket.assignee {
        index(Index::Gsi2, keys::tickets_of_assignee(assignee));
    }
    if let Some(group) = open_group(&ticket.source) {
        index(Index::Gsi3, keys::tickets_of_group(&group));
    }
    Ok(item)
}

/// Ticket `id`, if it exists.
pub async fn get(deps: &Deps, id: &str) -> Result<Option<Ticket>, StoreError> {
    nhip_core::records::get::<Ticket>(&*deps.store, &keys::ticket(id), KIND).await
}

/// The tickets `principal` may see: those whose customer is in their scope, those assigned to
/// them (open or closed: the agent's own history; the customer itself stays visible to them
/// only while the ticket is open, [`is_assignee`]), and for a manager those their team works.
/// Customers are read in one batch.
pub async fn visible_tickets(
    deps: &Deps,
    principal: &Principal,
    tickets: Vec<Ticket>,
) -> Result<Vec<Ticket>, StoreError> {
    if principal.is_admin() || tickets.is_empty() {
        return Ok(tickets);
    }
    let in_scope = crate::customers::list::visible_ids(
        &*deps.store,
        principal,
        tickets.iter().filter_map(|t| t.customer_id.parse().ok()),
    )
    .await?;
    Ok(tickets
        .into_iter()
        .filter(|t| {
            t.customer_id
                .parse::<CustomerId>()
                .is_ok_and(|id| in_scope.contains(&id))
                || t.assignee.as_deref() == Some(principal.user.as_str())
                || (principal.role == nhip_core::auth::Role::Manager
                    && t.team.is_some()
                    && t.team == principal.team)
        })
        .collect())
}

/// Whether `user` is the assignee of an open ticket on `customer`: such a user may work that
/// customer (see and record the call) although the customer is outside their scope.
pub async fn is_assignee(
    deps: &Deps,
    customer: CustomerId,
    user: &str,
) -> Result<bool, StoreError> {
    Ok(open_of_customer(deps, customer)
        .await?
        .iter()
        .any(|ticket| ticket.assignee.as_deref() == Some(user)))
}

/// The customer's open tickets (new or in progress), newest first: for the caller's card and
/// to know who works the customer.
pub async fn open_of_customer(
    deps: &Deps,
    customer: CustomerId,
) -> Result<Vec<Ticket>, StoreError> {
    let refs = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::customer_pk(customer))
                .sk(nhip_ports::store::SortKey::BeginsWith("TCK#".into())),
        )
        .await?;
    let keys: Vec<_> = refs
        .items
        .iter()
        .filter_map(|item| item.get("ticket_id")?.as_str().map(keys::ticket))
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut open = Vec::new();
    for item in deps.store.batch_get(&keys).await? {
        let ticket: Ticket = nhip_core::records::from_item(item, KIND)?;
        if is_open(&ticket) {
            open.push(ticket);
        }
    }
    open.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    Ok(open)
}
