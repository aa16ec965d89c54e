//! Sending one message to a customer through the pipeline, and reading a customer's
//! messages and one message with its history.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{
    Cause, CauseKind, Message, MessageChannel, RequestData, SendPurpose, SendRequest, Status,
    Target,
};
use crate::{pipeline, targets};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_crm::customers::routes::load_visible;
use nhip_ports::store::{Index, Item, Query, SortKey};

use super::{not_found, unprocessable};

/// A one-off send to a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// Channels with their template, in order of preference (1–5, one per channel).
    #[schema(min_items = 1, max_items = 5, example = json!([{"channel": "email", "template": "tra-gop-moi-email"}]))]
    pub targets: Vec<Target>,
    /// `care`, `marketing` or `consent_request`.
    #[schema(example = "marketing")]
    pub purpose: SendPurpose,
    /// Your key for this send; the same key never sends twice. Generated when absent.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Holding, journey and event data to merge.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: RequestData,
}

/// A message as staff read it: the stored message without the consumer's lease, with the
/// status's label.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    /// The channel chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<nhip_core::openapi::MessageChannelSchema>)]
    pub channel: Option<MessageChannel>,
    /// What was sent, as the channel took it (attachments without their bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub content: Option<Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The customer.
    pub customer_id: String,
    /// When a deferred message may go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<DateTime<Utc>>,
    /// Engagement so far: signal name → first time seen.
    pub engagement: BTreeMap<String, DateTime<Utc>>,
    /// Id.
    pub id: String,
    /// Original URLs of the tracked links, by index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// The provider's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Machine-readable reason for the status (`quiet_hours`, `hard_bounce`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reason in Vietnamese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_text: Option<String>,
    /// The request it came from.
    pub request: SendRequest,
    /// When it was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// SMS segments, for SMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sms_segments: Option<Value>,
    /// Where it is.
    pub status: Status,
    /// The status as staff read it.
    pub status_label: String,
    /// The template rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The version rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_version: Option<u32>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

impl From<&Message> for MessageView {
    fn from(message: &Message) -> Self {
        let message = message.clone();
        Self {
            channel: message.channel,
            content: message.content,
            created_at: message.created_at,
            customer_id: message.customer_id,
            defer_until: message.defer_until,
            engagement: message.engagement,
            id: message.id,
            links: message.links,
            provider_id: message.provider_id,
            reason: message.reason,
            reason_text: message.reason_text,
            request: message.request,
            sent_at: message.sent_at,
            sms_segments: message.sms_segments,
            status: message.status,
            status_label: message.status.label().to_owned(),
            template: message.template,
            template_version: message.template_version,
            updated_at: message.updated_at,
            version: message.version,
        }
    }
}

/// A queued send.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// The message it becomes.
    pub message_id: String,
    /// Always `queued`: the decision follows on the message.
    #[schema(example = "queued")]
    pub status: &'static str,
}

/// A customer's messages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageList {
    /// Newest first.
    pub items: Vec<MessageView>,
}

/// One signal in a message's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignalView {
    /// When it happened.
    pub at: Option<String>,
    /// What the provider said about it.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// `delivered`, `opened`, `clicked`, `bounced`, `complained` or `unsubscribed`.
    pub signal: Option<String>,
}

impl From<&Item> for SignalView {
    fn from(item: &Item) -> Self {
        let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            at: text("at"),
            details: item.get("details").cloned(),
            signal: text("signal"),
        }
    }
}

/// A message with its history of signals.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageDetail {
    /// The message.
    #[serde(flatten)]
    pub message: MessageView,
    /// Its signals, oldest first (at most 200).
    pub history: Vec<SignalView>,
}

/// `POST /v1/customers/{id}/messages`: queues one message to a customer you can see.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/messages",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id.")),
    request_body(content = SendInput, description = "Channels, templates, purpose."),
    responses(
        (status = 202, description = "Queued: `{message_id}`; the decision follows on the message and the timeline.", body = Queued),
        nhip_core::openapi::ActErrors,
    )
)]
pub async fn send_to_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<SendInput>,
) -> Result<Response, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    targets::check(&deps, &body.targets).await?;
    let now = deps.clock.now();
    // Scoped to the customer, so a key can never land on another cause's message.
    let key = match body.idempotency_key {
        Some(key) => format!("staff#{}#{key}", customer.id),
        None => format!(
            "staff#{}#{}#{}",
            customer.id,
            principal.user,
            ulid::Ulid::new()
        ),
    };
    let request = SendRequest {
        idempotency_key: key,
        customer_id: customer.id.to_string(),
        targets: body.targets,
        purpose: body.purpose,
        cause: Cause {
            kind: CauseKind::Staff,
            id: principal.user.clone(),
            actor: Some(principal.user.clone()),
        },
        campaign: None,
        data: body.data,
        system: None,
        requested_at: now,
        guard: None,
    };
    pipeline::validate(&request).map_err(|m| unprocessable("idempotency_key", &m))?;
    pipeline::enqueue(&deps, std::slice::from_ref(&request))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Hàng đợi gửi tin đang bận; thử lại sau.",
            )
        })?;
    let queued = Queued {
        message_id: request.message_id(),
        status: "queued",
    };
    Ok((StatusCode::ACCEPTED, Json(queued)).into_response())
}

/// How many of a customer's messages to list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagePage {
    /// Most returned, newest first (1–100, default 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl nhip_core::http::ListParams for MessagePage {
    const DEFAULT_LIMIT: u32 = 100;
    const MAX_LIMIT: u32 = 100;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }
}

/// `GET /v1/customers/{id}/messages`: the customer's messages, newest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/messages",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id."), MessagePage),
    responses(
        (status = 200, description = "`{items}`.", body = MessageList),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub async fn customer_messages(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    nhip_core::http::ListQuery(paging): nhip_core::http::ListQuery<MessagePage>,
) -> Result<Json<MessageList>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let page = deps
        .store
        .query(
            Query::partition(
                Index::Gsi2,
                keys::messages_of_customer(&customer.id.to_string()),
            )
            .descending()
            .limit(nhip_core::http::ListParams::limit(&paging)),
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(Message::from_item)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .map(MessageView::from)
        .collect();
    Ok(Json(MessageList { items }))
}

/// `GET /v1/messages/{id}`: a message, its decision and its history of signals.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id.")),
    responses(
        (status = 200, description = "The message with `history`.", body = MessageDetail),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn get_message(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageDetail>, ApiError> {
    if id.len() != 26 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(not_found("tin"));
    }
    let message = pipeline::load(&deps, &id)
        .await?
        .ok_or_else(|| not_found("tin"))?;
    load_visible(&deps, &principal, &message.customer_id)
        .await
        .map_err(|_| not_found("tin"))?;
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, keys::message_pk(&id))
                .sk(SortKey::BeginsWith("EV#".into()))
                .limit(200),
        )
        .await?;
    Ok(Json(MessageDetail {
        message: MessageView::from(&message),
        history: page.items.iter().map(SignalView::from).collect(),
    }))
}
