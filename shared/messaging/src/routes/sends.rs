//! Sending one message to a customer through the pipeline, and reading a customer's
//! messages and one message with its history.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{
    Cause, CauseKind, Message, MessageChannel, RequestData, SendPurpose, SendRequest, Target,
};
use crate::{pipeline, templates};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_crm::customers::routes::load_visible;
use nhip_ports::store::{Index, Query, SortKey};

use super::{not_found, unprocessable};

/// One way to reach the customer, as a request names it: a channel and the code of a
/// published template of that channel (the schema of [`Target`]).
#[derive(utoipa::ToSchema)]
pub struct TargetInput {
    /// The channel.
    #[schema(value_type = crate::schemas::MessageChannelSchema)]
    pub channel: String,
    /// The template's code; its channel must be this channel.
    #[schema(example = "tra-gop-moi-email", min_length = 1)]
    pub template: String,
    /// A fixed version; the published one when absent.
    #[schema(minimum = 1, nullable = false)]
    pub version: Option<u32>,
}

/// A one-off send to a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// Channels with their template, in order of preference (1–5, one per channel).
    #[schema(value_type = Vec<TargetInput>, min_items = 1, max_items = 5, example = json!([{"channel": "email", "template": "tra-gop-moi-email"}]))]
    pub targets: Vec<Target>,
    /// `care`, `marketing` or `consent_request`.
    #[schema(value_type = crate::schemas::SendPurposeSchema, example = "marketing")]
    pub purpose: SendPurpose,
    /// Your key for this send; the same key never sends twice. Generated when absent.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Holding, journey and event data to merge.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: RequestData,
}

pub(super) async fn check_targets(deps: &Deps, targets: &[Target]) -> Result<(), ApiError> {
    if targets.is_empty() || targets.len() > MessageChannel::ALL.len() {
        return Err(unprocessable(
            "targets",
            "Chọn 1 đến 5 kênh, mỗi kênh một mẫu.",
        ));
    }
    for (i, target) in targets.iter().enumerate() {
        if targets[..i].iter().any(|t| t.channel == target.channel) {
            return Err(unprocessable("targets", "Mỗi kênh chỉ một lần."));
        }
        let field = format!("targets.{i}.template");
        let meta = templates::meta(deps, &target.template)
            .await?
            .ok_or_else(|| unprocessable(&field, "Không có mẫu tin này."))?;
        if meta.channel != target.channel {
            return Err(unprocessable(&field, "Mẫu tin thuộc kênh khác."));
        }
        match target.version {
            Some(number)
                if templates::version(deps, &target.template, number)
                    .await?
                    .is_none() =>
            {
                return Err(unprocessable(&field, "Không có phiên bản này."));
            }
            None if meta.published_version.is_none() => {
                return Err(unprocessable(&field, "Mẫu tin chưa được phát hành."));
            }
            _ => {}
        }
    }
    Ok(())
}

fn message_view(message: &Message) -> Value {
    let mut view = json!(message);
    if let Some(object) = view.as_object_mut() {
        object.insert("status_label".into(), message.status.label().into());
        object.remove("lease_until");
    }
    view
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
        (status = 202, description = "Queued: `{message_id}`; the decision follows on the message and the timeline.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn send_to_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<SendInput>,
) -> Result<Response, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    check_targets(&deps, &body.targets).await?;
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
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "message_id": request.message_id(), "status": "queued" })),
    )
        .into_response())
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
        (status = 200, description = "`{items}`.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn customer_messages(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    nhip_core::http::ListQuery(paging): nhip_core::http::ListQuery<MessagePage>,
) -> Result<Json<Value>, ApiError> {
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
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(Message::from_item)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .map(message_view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /v1/messages/{id}`: a message, its decision and its history of signals.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id.")),
    responses(
        (status = 200, description = "The message with `history`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn get_message(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
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
    let history: Vec<Value> = page
        .items
        .into_iter()
        .map(|item| {
            json!({
                "signal": item.get("signal"),
                "at": item.get("at"),
                "details": item.get("details"),
            })
        })
        .collect();
    let mut view = message_view(&message);
    view["history"] = json!(history);
    Ok(Json(view))
}
