//! Calls on a ticket. An invitation call (a ticket whose purpose is marketing) is advertising
//! by phone under Decree 91 (Nghị định 91/2020/NĐ-CP): only inside the advertising-call window
//! of the rules in force (08:00–17:00 by default, or the customer's agreement) on a working
//! day, at most one advertising call per number per 24 hours, and never to a number on the
//! do-not-call list. [`next_allowed`] says when the agent may call next; planning a call
//! ([`plan`]) outside it is refused with that time; logging a call ([`log_call`]) puts it on
//! the customer's timeline with the ticket, counts it against the number's 24 hours, and
//! takes a new ticket into progress.

use chrono::{DateTime, Utc};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::customers::interactions::{self, CallOutcome, Direction, Kind, NewInteraction};
use nhip_crm::next_actions::{self, ActionKind, NewNextAction};
use nhip_crm::tickets::{Ticket, TicketStatus, is_open, status_of};
use nhip_domain::compliance::AdChannel;
use nhip_domain::customer::Purpose;
use nhip_messaging::pipeline;
use nhip_ports::store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::workflow::{StatusChange, StatusError, announce, change, commit, visible, write};

/// When the agent may call the ticket's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum CallWindow {
    /// From this instant (the asked-for one when it is allowed).
    From {
        /// The earliest allowed instant.
        #[schema(value_type = String)]
        at: DateTime<Utc>,
    },
    /// Not at all: the number is on the do-not-call list, or the customer has no mobile.
    Never {
        /// `do_not_call` or `no_phone`.
        reason: &'static str,
    },
}

/// Searches at most this many window openings and freed limits for an allowed instant.
const MAX_STEPS: usize = 8;

/// The first instant at or after `from` when the ticket's customer may be called: any time
/// for a care ticket; for an invitation call, inside the advertising-call window on a working
/// day and once the number's 24-hour advertising call is free.
pub async fn next_allowed(
    deps: &Deps,
    ticket: &Ticket,
    from: DateTime<Utc>,
) -> Result<CallWindow, StoreError> {
    if ticket.purpose != Purpose::Marketing {
        return Ok(CallWindow::From { at: from });
    }
    let customer = match ticket.customer_id.parse() {
        Ok(id) => nhip_crm::customers::repo::get(&*deps.store, id).await?,
        Err(_) => None,
    };
    let Some(customer) = customer else {
        return Ok(CallWindow::Never { reason: "no_phone" });
    };
    let Some(phone) = customer.phone().map(|p| p.as_str().to_owned()) else {
        return Ok(CallWindow::Never { reason: "no_phone" });
    };
    if pipeline::on_do_not_call_list(deps, &phone).await? {
        return Ok(CallWindow::Never {
            reason: "do_not_call",
        });
    }
    let rules = pipeline::advertising_rules(deps).await?;
    let agreement = customer.advertising_agreement.as_ref();
    let calendar = crate::calendar::in_force(deps).await?;
    let recent = pipeline::advertising_calls(deps, &phone).await?;
    let window = rules.window(agreement, AdChannel::Call);
    let mut at = from;
    for _ in 0..MAX_STEPS {
        at = match window {
            Some(window) => calendar.next_window_opening(at, window).unwrap_or(at),
            None => at,
        };
        match rules.check(agreement, AdChannel::Call, at, &recent) {
            nhip_domain::compliance::AdVerdict::Allowed => return Ok(CallWindow::From { at }),
            nhip_domain::compliance::AdVerdict::Deferred { until } => at = until,
            nhip_domain::compliance::AdVerdict::Capped { frees_at } => at = frees_at.max(at),
        }
    }
    Ok(CallWindow::From { at })
}

/// Why a call was not planned or logged.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The ticket's own refusal (not found, stale, closed).
    #[error(transparent)]
    Ticket(#[from] StatusError),
    /// An invitation call outside the advertising-call window or the 24-hour limit.
    #[error("an invitation call is allowed from {next}")]
    NotYet {
        /// The earliest allowed instant.
        next: DateTime<Utc>,
    },
    /// The number may never get an invitation call.
    #[error("the customer may not be called for advertising: {0}")]
    Never(&'static str),
    /// A plan in the past.
    #[error("a call is planned in the future")]
    InPast,
    /// The interaction was refused (its own validation).
    #[error("{}", .0.message)]
    Interaction(ApiError),
}

impl From<StoreError> for CallError {
    fn from(error: StoreError) -> Self {
        CallError::Ticket(StatusError::Store(error))
    }
}

impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        use axum::http::StatusCode;
        match error {
            CallError::Ticket(error) => error.into(),
            CallError::NotYet { next } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "outside_call_window",
                format!(
                    "An invitation call is allowed from {}.",
                    nhip_core::keys::instant(next)
                ),
            )
            .field(
                "at",
                format!(
                    "Ngoài khung giờ gọi quảng cáo (Nghị định 91). Gọi được từ {}.",
                    nhip_domain::time::to_vn(next).format("%H:%M %d/%m/%Y")
                ),
            )
            .field(
                "next_allowed_at",
                next.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            CallError::Never(reason) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                reason,
                "The customer may not be called for advertising.",
            )
            .field(
                "at",
                if reason == "do_not_call" {
                    "Số điện thoại trong danh sách không nhận cuộc gọi quảng cáo."
                } else {
                    "Khách hàng chưa có số di động."
                },
            ),
            CallError::InPast => nhip_core::form::invalid("at", "Thời điểm phải ở tương lai."),
            CallError::Interaction(error) => error,
        }
    }
}

/// A call to plan.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallPlan {
    /// When (UTC or with an offset, e.g. `2026-12-07T08:00:00+07:00`).
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    /// The ticket's version read.
    pub version: u64,
}

/// Plans the ticket's call at `plan.at`: refused for an invitation call outside what Decree 91
/// allows (with the earliest allowed time). The plan is a next action of the assignee's
/// agenda, so the bell rings when it falls due.
pub async fn plan(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    plan: &CallPlan,
) -> Result<Ticket, CallError> {
    let mut ticket = visible(deps, principal, id).await?;
    if ticket.version != plan.version {
        return Err(StatusError::Stale(ticket.version).into());
    }
    if !is_open(&ticket) {
        return Err(StatusError::NotAllowed {
            from: ticket.status.clone(),
            to: "call_planned",
        }
        .into());
    }
    let now = deps.clock.now();
    if plan.at < now - chrono::Duration::minutes(1) {
        return Err(CallError::InPast);
    }
    match next_allowed(deps, &ticket, plan.at).await? {
        CallWindow::Never { reason } => return Err(CallError::Never(reason)),
        CallWindow::From { at } if at != plan.at => return Err(CallError::NotYet { next: at }),
        CallWindow::From { .. } => {}
    }
    let read = ticket.version;
    ticket.call_at = Some(plan.at);
    ticket.version += 1;
    commit(deps, vec![write(&ticket, read)?], read).await?;
    if let Ok(customer) = ticket.customer_id.parse() {
        let action = NewNextAction {
            kind: ActionKind::Call,
            at: plan.at,
            note: Some(ticket.title.clone()),
        };
        next_actions::schedule(deps, principal, customer, &action)
            .await
            .map_err(|e| CallError::Interaction(e.into()))?;
    }
    announce(
        deps,
        &ticket,
        nhip_core::event_types::TICKET_CALL_PLANNED,
        now,
        json!({"ticket_id": id, "at": nhip_core::keys::instant(plan.at), "by": principal.user}),
    )
    .await?;
    Ok(ticket)
}

/// A call made on the ticket.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallLog {
    /// How it ended.
    pub outcome: CallOutcome,
    /// Length in seconds.
    #[serde(default)]
    #[schema(maximum = 86400)]
    pub duration_seconds: Option<u32>,
    /// What was said.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
}

/// Logs a call the agent made on the ticket: on the customer's timeline with the ticket's id,
/// counted against the number's advertising call of 24 hours for an invitation call; a `new`
/// ticket is taken (in progress) by the caller.
pub async fn log_call(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    call: &CallLog,
) -> Result<Ticket, CallError> {
    let ticket = visible(deps, principal, id).await?;
    if !is_open(&ticket) {
        return Err(StatusError::NotAllowed {
            from: ticket.status.clone(),
            to: "call_logged",
        }
        .into());
    }
    let interaction = NewInteraction {
        kind: Kind::Call,
        at: None,
        direction: Some(Direction::Outbound),
        duration_seconds: call.duration_seconds,
        outcome: Some(call.outcome),
        notes: call.notes.clone(),
        feedback: None,
        classification: None,
        ticket_id: Some(ticket.id.clone()),
    };
    let logged = interactions::log(deps, principal, &ticket.customer_id, &interaction)
        .await
        .map_err(CallError::Interaction)?;
    if ticket.purpose == Purpose::Marketing
        && let Ok(customer) = ticket.customer_id.parse()
        && let Some(customer) = nhip_crm::customers::repo::get(&*deps.store, customer).await?
        && let Some(phone) = customer.phone()
    {
        // A fact, counted even when it was not allowed: the next call waits 24 hours.
        pipeline::count_advertising_call(
            deps,
            customer.advertising_agreement.as_ref(),
            phone.as_str(),
            &format!("ticket#{}#{}", ticket.id, logged.interaction_id),
        )
        .await?;
    }
    if status_of(&ticket) == TicketStatus::New {
        let take = StatusChange {
            status: TicketStatus::InProgress,
            note: None,
            version: ticket.version,
        };
        return match change(deps, principal, id, &take).await {
            Ok(taken) => Ok(taken),
            // Taken by someone else meanwhile: the call is logged all the same.
            Err(StatusError::Stale(_) | StatusError::NotAllowed { .. }) => {
                Ok(visible(deps, principal, id).await?)
            }
            Err(other) => Err(other.into()),
        };
    }
    Ok(ticket)
}
