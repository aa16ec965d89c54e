//! Opening a ticket: once per cause, one open ticket per customer per journey or campaign,
//! assigned by the queue's rule, due after its SLA in business hours.

use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::{self, Work};
use nhip_crm::tickets::{self, NewTicket, Ticket, TicketNote, TicketStatus, open_group};
use nhip_domain::event::DomainEvent;
use nhip_ports::store::{Condition, StoreError, WriteOp};
use serde_json::json;

use super::{assign, count, load};

/// Handles one batch from the `tickets` queue (the `ticket-creator` function): each record
/// opens its ticket once, however often it is delivered.
#[tracing::instrument(skip_all, fields(records = event.records.len()))]
pub async fn handle_batch(
    deps: &Deps,
    event: aws_lambda_events::sqs::SqsEvent,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    use nhip_core::consumer::{Failure, process_batch};
    process_batch(event, |record| async move {
        let body = record.body.as_deref().unwrap_or_default();
        let ticket: NewTicket = serde_json::from_str(body).map_err(|error| {
            tracing::warn!(%error, "ticket request is malformed");
            Failure::Poison
        })?;
        match create(deps, ticket).await {
            Ok(fresh) => {
                tracing::info!(fresh, "ticket");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "opening a ticket failed");
                Err(if error.is_retryable() {
                    Failure::Retryable
                } else {
                    Failure::Poison
                })
            }
        }
    })
    .await
}

/// The due-work id of a ticket's due time (one per ticket and due time).
pub(crate) fn due_work_id(ticket: &Ticket) -> nhip_domain::ids::DueWorkId {
    scheduler::derived_id(ticket.due_at, &format!("ticket-due#{}", ticket.id))
}

/// Opens the ticket once. Returns whether it was new.
pub async fn create(deps: &Deps, new: NewTicket) -> Result<bool, StoreError> {
    let id = tickets::ticket_id(&new.cause);
    if let Some(stored) = tickets::get(deps, &id).await? {
        // Opened before (a redelivery): the steps after the write are each kept once, so they
        // are done again in case the first delivery stopped before them.
        announce(deps, &stored).await?;
        return Ok(false);
    }
    let now = deps.clock.now();
    let calendar = crate::calendar::in_force(deps).await?;
    let due_at = match (new.sla, new.due_at) {
        (Some(sla), _) => crate::calendar::due_after(&calendar, now, sla),
        (None, Some(at)) => at,
        (None, None) => {
            crate::calendar::due_after(&calendar, now, nhip_domain::journey::Span::from_days(1))
        }
    };
    let choice = assign::choose(deps, &new).await?;
    let ticket = Ticket {
        id: id.clone(),
        customer_id: new.customer_id.to_string(),
        queue: new.queue,
        queue_label: new.queue.label().to_owned(),
        priority: new.priority,
        title: new.title.clone(),
        status: TicketStatus::New.as_str().into(),
        status_label: TicketStatus::New.label().into(),
        assignee: choice.assignee.clone(),
        team: choice.team,
        purpose: new.purpose,
        source: new.source.clone(),
        created_at: now,
        due_at,
        outcome_note: None,
        closed_at: None,
        escalated_at: None,
        call_at: None,
        sla_met: None,
        version: 1,
        notes: Vec::new(),
    };
    let mut pointer = keys::customer_ticket(new.customer_id, &id).to_item();
    pointer.insert("kind".into(), "ticket_ref".into());
    pointer.insert("ticket_id".into(), id.clone().into());
    let mut writes = vec![
        WriteOp::Put {
            item: tickets::to_item(&ticket)?,
            condition: Condition::NotExists,
        },
        WriteOp::Put {
            item: pointer,
            condition: Condition::NotExists,
        },
    ];
    // At most one open ticket per customer per journey or campaign: the guard is created with
    // the ticket, so of two requests at once one opens it and the other adds its note.
    let group = open_group(&new.source);
    if let Some(group) = &group {
        let mut guard = keys::open_ticket(new.customer_id, group).to_item();
        guard.insert("kind".into(), "open_ticket".into());
        guard.insert("ticket_id".into(), id.clone().into());
        writes.push(WriteOp::Put {
            item: guard,
            condition: Condition::NotExists,
        });
    }
    writes.push(count(new.queue.as_str(), &[("new", 1), ("opened", 1)]));
    if let Some(assignee) = &ticket.assignee {
        writes.push(load(assignee, 1));
    }
    writes.push(scheduler::schedule(
        due_work_id(&ticket),
        due_at,
        now,
        &Work::TicketDue {
            ticket_id: id.clone(),
        },
    ));
    match deps.store.transact(writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { op: Some(2) }) if group.is_some() => {
            let group = group.as_deref().unwrap_or_default();
            return add_to_open(deps, &new, group).await;
        }
        // Opened by a delivery running at the same moment.
        Err(StoreError::ConditionFailed { .. }) => return Ok(false),
        Err(other) => return Err(other),
    }
    announce(deps, &ticket).await?;
    Ok(true)
}

/// The ticket's `ticket.created` on the customer's timeline and the bus, and the assignee's
/// bell: each kept once, so a redelivery may do them again.
async fn announce(deps: &Deps, ticket: &Ticket) -> Result<(), StoreError> {
    let Ok(customer) = ticket.customer_id.parse() else {
        return Ok(());
    };
    let event = DomainEvent {
        id: format!("tck-{}", ticket.id),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: nhip_core::event_types::TICKET_CREATED.into(),
        customer_id: Some(customer),
        occurred_at: ticket.created_at,
        data: json!({
            "ticket_id": ticket.id,
            "queue": ticket.queue,
            "queue_label": ticket.queue.label(),
            "priority": ticket.priority,
            "title": ticket.title,
            "due_at": keys::instant(ticket.due_at),
            "assignee": ticket.assignee,
            "purpose": ticket.purpose,
            "source": ticket.source,
        }),
    };
    nhip_core::events::record(deps, &event).await?;
    if let Err(error) = nhip_core::events::publish_recorded(deps, &[event]).await {
        tracing::warn!(%error, "ticket.created not published");
    }
    if let Some(assignee) = &ticket.assignee {
        nhip_crm::notifications::notify(
            deps,
            assignee,
            &format!("ticket#{}", ticket.id),
            nhip_crm::notifications::Notice {
                title: ticket.title.clone(),
                body: format!("Ticket mới cho {}", ticket.queue.label()),
                customer_id: Some(customer),
                link: format!("/app/tickets/{}", ticket.id),
            },
        )
        .await?;
    }
    Ok(())
}

/// Folds a request into the customer's open ticket of its group as a note (once per cause).
/// A guard left by a ticket closed meanwhile is cleared and the request opens a new ticket.
async fn add_to_open(deps: &Deps, new: &NewTicket, group: &str) -> Result<bool, StoreError> {
    let guard_key = keys::open_ticket(new.customer_id, group);
    for attempt in nhip_core::retry::attempts(nhip_core::retry::CONTENDED) {
        attempt.pause().await;
        let Some(open_id) = deps
            .store
            .get(&guard_key)
            .await?
            .and_then(|guard| guard.get("ticket_id")?.as_str().map(str::to_owned))
        else {
            // Closed meanwhile: open a new one.
            return Box::pin(create(deps, new.clone())).await;
        };
        let Some(mut open) = tickets::get(deps, &open_id).await? else {
            return Ok(false);
        };
        if !tickets::is_open(&open) {
            let _ = deps
                .store
                .delete(
                    &guard_key,
                    Condition::Equals("ticket_id".into(), open_id.clone().into()),
                )
                .await;
            continue;
        }
        if open.notes.iter().any(|n| n.cause == new.cause) {
            return Ok(false);
        }
        let read = open.version;
        open.notes.push(TicketNote {
            at: deps.clock.now(),
            text: new.title.clone(),
            cause: new.cause.clone(),
        });
        open.version += 1;
        match deps
            .store
            .put(tickets::to_item(&open)?, Condition::version_is(read))
            .await
        {
            Ok(()) => return Ok(false),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::TransactionConflict)
}
