//! Interactions staff log with a customer: calls (direction, time, duration, outcome, notes,
//! the customer's feedback), notes and meetings. Each lands on the timeline; the first one on
//! a `new` lead moves it to `consulting`, off the "not yet consulted" list, in the same write.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::customer::{Classification, after_first_interaction};
use serde::Deserialize;
use serde_json::json;
use ulid::Ulid;

use super::repo::{self, SaveError};
use super::routes::load_visible;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::invalid;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::timeline;

/// The interaction routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(log_interaction))
}

/// What kind of interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A phone call.
    Call,
    /// A note.
    Note,
    /// A meeting.
    Meeting,
    /// An SMS exchanged outside Nhịp's messaging (from the consultant's phone).
    Sms,
    /// An e-mail exchanged outside Nhịp's messaging.
    Email,
}

impl Kind {
    /// Every kind, in the order the console offers them.
    pub const ALL: [Kind; 5] = [
        Kind::Call,
        Kind::Sms,
        Kind::Email,
        Kind::Meeting,
        Kind::Note,
    ];

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Note => "note",
            Kind::Meeting => "meeting",
            Kind::Sms => "sms",
            Kind::Email => "email",
        }
    }

    /// The Vietnamese label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Call => "Cuộc gọi",
            Kind::Note => "Ghi chú",
            Kind::Meeting => "Gặp mặt",
            Kind::Sms => "SMS",
            Kind::Email => "Email",
        }
    }
}

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The consultant called.
    Outbound,
    /// The customer called.
    Inbound,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Talked.
    Answered,
    /// Nobody picked up.
    NoAnswer,
    /// Line busy.
    Busy,
    /// Asked to be called back.
    CallbackRequested,
    /// Not the customer's number.
    WrongNumber,
}

/// A logged interaction.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInteraction {
    /// Call, note or meeting.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// When it happened (default: now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Calls: which way.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Calls and meetings: length in seconds.
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    /// Calls: how it ended.
    #[serde(default)]
    pub outcome: Option<CallOutcome>,
    /// What was said or done.
    #[serde(default)]
    pub notes: Option<String>,
    /// What the customer said about the offer ("phản hồi của khách").
    #[serde(default)]
    pub feedback: Option<String>,
    /// Reclassify the lead at the same time.
    #[serde(default)]
    #[schema(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<Classification>,
    /// The ticket the interaction works, if any (it shows on the ticket and the timeline).
    #[serde(default)]
    #[schema(max_length = 40)]
    pub ticket_id: Option<String>,
}

impl NewInteraction {
    fn validate(&self, now: DateTime<Utc>) -> Result<(), ApiError> {
        if self.kind == Kind::Call && self.direction.is_none() {
            return Err(invalid(
                "direction",
                "Cuộc gọi cần chiều: outbound hoặc inbound.",
            ));
        }
        if self.kind != Kind::Call && (self.direction.is_some() || self.outcome.is_some()) {
            return Err(invalid("type", "Chiều và kết quả chỉ dành cho cuộc gọi."));
        }
        if self.kind == Kind::Note && self.notes.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(invalid("notes", "Ghi chú không được để trống."));
        }
        if self.ticket_id.as_ref().is_some_and(|t| t.len() > 40) {
            return Err(invalid("ticket_id", "Mã phiếu không hợp lệ."));
        }
        if self.duration_seconds.is_some_and(|d| d > 24 * 3600) {
            return Err(invalid("duration_seconds", "Tối đa 24 giờ."));
        }
        for (field, text) in [("notes", &self.notes), ("feedback", &self.feedback)] {
            if text.as_ref().is_some_and(|t| t.chars().count() > 5000) {
                return Err(invalid(field, "Tối đa 5000 ký tự."));
            }
        }
        if self
            .at
            .is_some_and(|at| at > now + chrono::Duration::minutes(5))
        {
            return Err(invalid(
                "at",
                "Không thể ghi nhận tương tác trong tương lai.",
            ));
        }
        Ok(())
    }
}

/// The answer to a logged interaction.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct InteractionLogged {
    /// The interaction's id (a ULID), also on the timeline entry.
    pub interaction_id: String,
    /// The customer as it now is (a `new` lead is now `consulting`).
    pub customer: super::routes::CustomerView,
}

/// `POST /v1/customers/{id}/interactions`: 201 with the interaction's id and the customer as
/// it now is.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/interactions",
    tag = "interactions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = NewInteraction),
    responses(
        (status = 201, description = "Logged.", body = InteractionLogged),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn log_interaction(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<NewInteraction>,
) -> Result<Response, ApiError> {
    let logged = log(&deps, &principal, &id, &request).await?;
    Ok((StatusCode::CREATED, Json(logged)).into_response())
}

/// Logs an interaction with the customer `id` (in the caller's scope) and moves a `new` lead
/// to `consulting`: the use case behind the route and the console's quick form.
pub async fn log(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    request: &NewInteraction,
) -> Result<InteractionLogged, ApiError> {
    let now = deps.clock.now();
    request.validate(now)?;
    let at = request.at.unwrap_or(now);
    let interaction_id = Ulid::from_datetime(now.into()).to_string();
    let event_type = format!("interaction.{}", request.kind.as_str());
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let before = load_visible(deps, principal, id).await?;
        let mut after = before.clone();
        after.lifecycle = after_first_interaction(before.lifecycle);
        after.first_interaction_at = before.first_interaction_at.or(Some(at));
        after.last_activity_at = Some(before.last_activity_at.map_or(at, |last| last.max(at)));
        after.updated_at = now;
        if let Some(classification) = request.classification {
            after.classification = Some(classification);
        }
        let entry = timeline::Entry {
            customer: before.id,
            at,
            cause: format!("interaction#{interaction_id}"),
            event_type: event_type.clone(),
            source: "staff_api".into(),
            actor: Some(principal.user.clone()),
            data: json!({
                "interaction_id": interaction_id,
                "direction": request.direction,
                "duration_seconds": request.duration_seconds,
                "outcome": request.outcome,
                "notes": request.notes,
                "feedback": request.feedback,
                "ticket_id": request.ticket_id,
                "lifecycle_before": before.lifecycle,
                "lifecycle_after": after.lifecycle,
            }),
        };
        match repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await {
            Ok(()) => {
                return Ok(InteractionLogged {
                    interaction_id,
                    customer: super::routes::CustomerView::from(&after),
                });
            }
            Err(SaveError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(SaveError::Conflict.into())
}
