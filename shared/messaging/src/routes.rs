//! Messaging over HTTP. Staff routes (behind the staff token): send one message or a campaign
//! through the pipeline, read messages with their history, statistics per template and
//! campaign, the advertising rules, a customer's agreement to other limits, the
//! do-not-advertise list, suppressions, and refusals entered by staff. Public routes (no staff
//! token; each checks its own signature): tracked links `/t/{token}`, unsubscribe pages
//! `/u/{token}`, SES events over SNS HTTP, Zalo ZNS delivery callbacks and inbound SMS.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use nhip_domain::compliance::{AdvertisingRules, Agreement};
use nhip_domain::identifiers::Phone;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{
    Cause, CauseKind, Message, MessageChannel, RequestData, SendPurpose, SendRequest, Target,
};
use crate::{pipeline, stats, templates, tracking};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_crm::customers::list::{self, Filters};
use nhip_crm::customers::repo::{self, SaveError};
use nhip_crm::customers::routes::load_visible;
use nhip_ports::store::{Condition, Index, Query, SortKey, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most customers one campaign request queues.
pub const MAX_CAMPAIGN_AUDIENCE: usize = 5_000;
/// Most numbers in one do-not-advertise upload.
pub const MAX_DNC_BATCH: usize = 10_000;

/// The staff routes.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(customer_messages, send_to_customer))
        .routes(routes!(get_message))
        .routes(routes!(create_campaign))
        .routes(routes!(get_campaign))
        .routes(routes!(template_stats))
        .routes(routes!(organisation_stats))
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(put_agreement))
        .routes(routes!(staff_refusal))
        .routes(routes!(add_do_not_advertise))
        .routes(routes!(get_do_not_advertise, delete_do_not_advertise))
        .routes(routes!(get_suppression, delete_suppression))
}

/// Largest body the public tracking routes accept (an SNS message is at most 256 KB).
pub const MAX_PUBLIC_BODY: usize = 300 * 1024;

/// The public routes, served without a staff token (the `tracking-api` function in AWS).
pub fn public(deps: Arc<Deps>) -> Router {
    public_routes().split_for_parts().0.with_state(deps)
}

/// The public routes with their operations, for the document and [`public`].
pub fn public_routes() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new()
        .routes(routes!(follow_link))
        .routes(routes!(unsubscribe_page, unsubscribe))
        .routes(routes!(ses_over_http))
        .routes(routes!(zns_callback))
        .routes(routes!(sms_inbound))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_PUBLIC_BODY))
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("Không tìm thấy {what}."),
    )
}

fn unprocessable(field: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message.to_owned(),
    )
    .field(field, message)
}

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

/// How a refusal may reach staff.
pub const REFUSAL_VIA: [&str; 4] = ["call", "email_reply", "sms_reply", "in_person"];

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

async fn check_targets(deps: &Deps, targets: &[Target]) -> Result<(), ApiError> {
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

/// A bulk send to a filter of customers.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// Name staff see.
    #[schema(example = "Ưu đãi trả góp tháng 12")]
    pub name: String,
    /// Channels with their template, in order of preference (1–5, one per channel).
    #[schema(value_type = Vec<TargetInput>, min_items = 1, max_items = 5, example = json!([{"channel": "email", "template": "the-moi-chao-mung-email"}]))]
    pub targets: Vec<Target>,
    /// `care`, `marketing` or `consent_request`.
    #[schema(value_type = crate::schemas::SendPurposeSchema, example = "marketing")]
    pub purpose: SendPurpose,
    /// Who: the customer-list filters (lifecycle, classification, source, tag, owner, team…).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filters: Value,
    /// Your key for this campaign: sending the same request again (after a timeout or a 503)
    /// queues only what is missing and sends nobody twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// `all`: every customer in your scope. Required when `filters` is empty (an empty or
    /// forgotten filter never sends to everyone by accident), refused together with filters.
    #[serde(default)]
    #[schema(value_type = Option<crate::schemas::CampaignAudienceSchema>, example = "all")]
    pub audience: Option<CampaignAudience>,
    /// Only count: answer 200 with how many customers the campaign would go to; nothing is
    /// stored or queued.
    #[serde(default)]
    pub dry_run: bool,
}

/// A campaign's explicit audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignAudience {
    /// Every customer in the caller's scope.
    All,
}

/// `POST /v1/campaigns` (admin or manager): queues the message for every customer in your
/// scope matching the filters (at most 5,000 a campaign). 202 with the campaign and how many
/// were queued. An unknown filter key is a 422 naming it; an empty filter needs
/// `"audience": "all"`; `"dry_run": true` answers 200 with the count and queues nothing.
#[utoipa::path(
    post,
    path = "/v1/campaigns",
    tag = "messaging",
    security(("bearer" = [])),
    request_body(content = CampaignInput, description = "The campaign."),
    responses(
        (status = 200, description = "A dry run: `audience`, how many customers it would go to; nothing stored or queued.", body = Object),
        (status = 202, description = "Queued: the campaign with `queued`.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn create_campaign(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<CampaignInput>,
) -> Result<Response, ApiError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Chỉ quản trị viên và quản lý được gửi hàng loạt.",
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(unprocessable("name", "Tên chiến dịch từ 1 đến 200 ký tự."));
    }
    check_targets(&deps, &body.targets).await?;
    let mut filters = campaign_filters(&body.filters)?;
    match (filters == Filters::default(), body.audience) {
        (true, None) => {
            return Err(unprocessable(
                "audience",
                "Bộ lọc trống: chiến dịch sẽ gửi cho mọi khách hàng trong phạm vi của bạn. \
                 Ghi \"audience\": \"all\" để xác nhận, hoặc thêm bộ lọc.",
            ));
        }
        (false, Some(CampaignAudience::All)) => {
            return Err(unprocessable(
                "audience",
                "\"audience\": \"all\" gửi cho mọi khách hàng; bỏ nó đi khi đã có bộ lọc.",
            ));
        }
        _ => {}
    }
    filters.limit = Some(list::MAX_LIMIT);
    let now = deps.clock.now();
    let id = match &body.idempotency_key {
        Some(key) if key.is_empty() || key.len() > 200 => {
            return Err(unprocessable("idempotency_key", "Khoá từ 1 đến 200 ký tự."));
        }
        Some(key) => crate::model::message_id_for(&format!("campaign#{}#{key}", principal.user)),
        None => ulid::Ulid::from_datetime(now.into()).to_string(),
    };
    let mut audience = Vec::new();
    loop {
        let page = list::list(&*deps.store, &principal, &filters)
            .await
            .map_err(|e| match e {
                list::ListError::Store(error) => ApiError::from(error),
                other => unprocessable("filters", &other.to_string()),
            })?;
        audience.extend(page.customers.into_iter().map(|c| c.id));
        if audience.len() > MAX_CAMPAIGN_AUDIENCE {
            return Err(unprocessable(
                "filters",
                "Quá 5.000 khách hàng; chia nhỏ chiến dịch bằng bộ lọc.",
            ));
        }
        match page.next_cursor {
            Some(cursor) => filters.cursor = Some(cursor),
            None => break,
        }
    }
    if body.dry_run {
        return Ok((
            StatusCode::OK,
            Json(json!({
                "dry_run": true,
                "name": nhip_domain::person::nfc(name),
                "purpose": body.purpose,
                "filters": body.filters,
                "audience": audience.len(),
                "queued": 0,
            })),
        )
            .into_response());
    }
    let campaign = json!({
        "id": id,
        "name": nhip_domain::person::nfc(name),
        "targets": body.targets,
        "purpose": body.purpose,
        "filters": body.filters,
        "created_by": principal.user,
        "created_at": keys::instant(now),
        "audience": audience.len(),
    });
    let mut item = keys::campaign(&id).to_item();
    if let Value::Object(fields) = &campaign {
        item.extend(fields.clone());
    }
    item.insert("kind".into(), "campaign".into());
    item.insert("gsi2pk".into(), keys::CAMPAIGNS.into());
    item.insert(
        "gsi2sk".into(),
        format!("{}#{id}", keys::instant(now)).into(),
    );
    // A replayed request finds its campaign and queues again: each send's key is the
    // campaign and the customer, so nobody gets it twice.
    match deps.store.put(item, Condition::NotExists).await {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let requests: Vec<SendRequest> = audience
        .iter()
        .map(|customer| SendRequest {
            idempotency_key: format!("campaign#{id}#{customer}"),
            customer_id: customer.to_string(),
            targets: body.targets.clone(),
            purpose: body.purpose,
            cause: Cause {
                kind: CauseKind::Campaign,
                id: id.clone(),
                actor: Some(principal.user.clone()),
            },
            campaign: Some(id.clone()),
            data: RequestData::default(),
            system: None,
            requested_at: now,
        })
        .collect();
    pipeline::enqueue(&deps, &requests).await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Hàng đợi gửi tin đang bận; gửi lại cùng yêu cầu sẽ không gửi trùng.",
        )
    })?;
    let mut view = campaign;
    view["queued"] = json!(requests.len());
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// A campaign's filters: the customer-list filters as a JSON object. A key the list does not
/// know (a misspelling such as `lifecyle`) is refused naming it, never ignored: ignoring it
/// would widen the audience. `limit` and `cursor` are the list's paging, not filters.
fn campaign_filters(raw: &Value) -> Result<Filters, ApiError> {
    if raw.is_null() {
        return Ok(Filters::default());
    }
    if !raw.is_object() {
        return Err(unprocessable(
            "filters",
            "Bộ lọc phải là một đối tượng JSON.",
        ));
    }
    let mut unknown = Vec::new();
    let filters: Filters = serde_ignored::deserialize(raw.clone(), |path| {
        unknown.push(path.to_string());
    })
    .map_err(|e| unprocessable("filters", &format!("Bộ lọc không hợp lệ: {e}")))?;
    if let Some(key) = unknown.first() {
        return Err(unprocessable(
            &format!("filters.{key}"),
            &format!("Bộ lọc không có trường «{key}»."),
        ));
    }
    if filters.limit.is_some() || filters.cursor.is_some() {
        return Err(unprocessable(
            "filters",
            "Bộ lọc không nhận limit hay cursor.",
        ));
    }
    Ok(filters)
}

/// `GET /v1/campaigns/{id}`: the campaign, its counters and its messages' results.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{id}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Campaign id.")),
    responses(
        (status = 200, description = "The campaign with `stats` and `messages`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn get_campaign(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Chỉ quản trị viên và quản lý xem chiến dịch.",
        ));
    }
    if id.len() != 26 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(not_found("chiến dịch"));
    }
    let mut item = deps
        .store
        .get(&keys::campaign(&id))
        .await?
        .ok_or_else(|| not_found("chiến dịch"))?;
    if principal.role == Role::Manager
        && item.get("created_by").and_then(Value::as_str) != Some(principal.user.as_str())
    {
        return Err(not_found("chiến dịch"));
    }
    for attr in ["pk", "sk", "kind", "gsi2pk", "gsi2sk"] {
        item.remove(attr);
    }
    let page = deps
        .store
        .query(Query::partition(Index::Gsi3, keys::messages_of_campaign(&id)).limit(1000))
        .await?;
    let messages: Vec<Value> = page
        .items
        .into_iter()
        .map(Message::from_item)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .map(|m| {
            json!({
                "message_id": m.id,
                "customer_id": m.customer_id,
                "channel": m.channel,
                "status": m.status,
                "status_label": m.status.label(),
                "reason": m.reason,
                "reason_text": m.reason_text,
                "engagement": m.engagement,
            })
        })
        .collect();
    let mut view = Value::Object(item);
    view["stats"] = stats::read(&deps, "CMP", &id).await?;
    view["messages"] = json!(messages);
    Ok(Json(view))
}

/// `GET /v1/templates/{code}/stats`: the template's counters and rates.
#[utoipa::path(
    get,
    path = "/v1/templates/{code}/stats",
    tag = "messaging",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Template code.")),
    responses(
        (status = 200, description = "`{counts, rates}`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn template_stats(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    templates::meta(&deps, &code)
        .await?
        .ok_or_else(|| not_found("mẫu tin"))?;
    Ok(Json(stats::read(&deps, "TPL", &code).await?))
}

/// `GET /v1/messaging/stats` (admin or manager): every message's decisions and signals, for
/// the whole organisation.
#[utoipa::path(
    get,
    path = "/v1/messaging/stats",
    tag = "messaging",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{counts, rates}`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn organisation_stats(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Chỉ quản trị viên và quản lý xem thống kê toàn hệ thống.",
        ));
    }
    Ok(Json(stats::read(&deps, stats::ALL.0, stats::ALL.1).await?))
}

/// `GET /v1/compliance/advertising-rules`: the rules in force (the "VN Decree 91" preset
/// unless an admin changed them), with the stored `version`.
#[utoipa::path(
    get,
    path = "/v1/compliance/advertising-rules",
    tag = "messaging",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{rules, version}`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn get_rules(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let stored = deps.store.get(&keys::advertising_rules()).await?;
    let version = stored
        .as_ref()
        .and_then(|item| item.get("version"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let rules = pipeline::advertising_rules(&deps).await?;
    Ok(Json(json!({ "rules": rules, "version": version })))
}

/// New advertising rules.
// The example is the whole body's: utoipa drops a property's example when the property is
// given `value_type = Object`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 0, "rules": nhip_domain::compliance::decree_91()}))]
pub struct RulesInput {
    /// The `version` you read (0 while the preset is in force).
    pub version: u64,
    /// The rules, in the shape `GET` answers.
    #[schema(value_type = Object)]
    pub rules: AdvertisingRules,
}

/// `PUT /v1/compliance/advertising-rules` (admin): replaces the rules in force.
#[utoipa::path(
    put,
    path = "/v1/compliance/advertising-rules",
    tag = "messaging",
    security(("bearer" = [])),
    request_body(content = RulesInput, description = "The rules and the version you read."),
    responses(
        (status = 200, description = "`{rules, version}`.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn put_rules(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<RulesInput>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    body.rules
        .validate()
        .map_err(|e| unprocessable(&format!("rules.{}", e.field()), &e.to_string()))?;
    let mut item = keys::advertising_rules().to_item();
    item.insert("rules".into(), json!(body.rules));
    item.insert("version".into(), json!(body.version + 1));
    item.insert("changed_by".into(), principal.user.clone().into());
    item.insert("changed_at".into(), keys::instant(deps.clock.now()).into());
    let condition = if body.version == 0 {
        Condition::NotExists
    } else {
        Condition::version_is(body.version)
    };
    match deps.store.put(item, condition).await {
        Ok(()) => Ok(Json(
            json!({ "rules": body.rules, "version": body.version + 1 }),
        )),
        Err(StoreError::ConditionFailed { .. }) => {
            let current = deps
                .store
                .get(&keys::advertising_rules())
                .await?
                .and_then(|item| item.get("version").and_then(Value::as_u64))
                .unwrap_or(0);
            Err(ApiError::stale_version(current))
        }
        Err(other) => Err(other.into()),
    }
}

/// A customer's agreement to other advertising limits or hours.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementInput {
    /// The customer record's `version` you read.
    pub version: u64,
    /// The agreement (`limits_per_24h`, `windows`, `agreed_at`, `evidence`); `null` removes it.
    #[schema(value_type = Object)]
    pub agreement: Option<Agreement>,
}

/// `PUT /v1/customers/{id}/advertising-agreement` (admin or manager): records limits or hours
/// the customer agreed to, replacing the Decree 91 defaults for them only.
#[utoipa::path(
    put,
    path = "/v1/customers/{id}/advertising-agreement",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id.")),
    request_body(content = AgreementInput, description = "The agreement and the version you read."),
    responses(
        (status = 200, description = "The customer.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, response = nhip_core::openapi::Conflict),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn put_agreement(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<AgreementInput>,
) -> Result<Json<Value>, ApiError> {
    let before = load_visible(&deps, &principal, &id).await?;
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Chỉ quản trị viên và quản lý ghi nhận thoả thuận.",
        ));
    }
    if let Some(agreement) = &body.agreement {
        agreement.validate().map_err(|e| {
            unprocessable(
                &format!("agreement.{}", e.field().trim_start_matches("agreement.")),
                &e.to_string(),
            )
        })?;
    }
    if before.version != body.version {
        return Err(ApiError::stale_version(before.version));
    }
    let now = deps.clock.now();
    let mut after = before.clone();
    after.advertising_agreement = body.agreement.clone();
    after.updated_at = now;
    let entry = nhip_core::timeline::Entry {
        customer: before.id,
        at: now,
        cause: format!("agreement#{}", keys::instant(now)),
        event_type: "consent.agreement_changed".into(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data: json!({ "agreement": body.agreement }),
    };
    match repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await {
        Ok(()) => Ok(Json(nhip_crm::customers::routes::view(&after))),
        Err(SaveError::Conflict) => Err(ApiError::stale_version(before.version + 1)),
        Err(SaveError::Store(error)) => Err(error.into()),
        Err(SaveError::Taken { .. }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Xung đột dữ liệu.",
        )),
    }
}

/// A refusal staff took down (on a call, from an e-mail reply).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalInput {
    /// The channel advertising stops on.
    #[schema(value_type = crate::schemas::MessageChannelSchema, example = "sms")]
    pub channel: MessageChannel,
    /// How it came: `call`, `email_reply`, `sms_reply`, `in_person`.
    #[schema(value_type = crate::schemas::RefusalViaSchema, example = "call")]
    pub via: String,
}

/// `POST /v1/customers/{id}/refusals`: a refusal of advertising staff received; advertising on
/// the channel stops at once and the customer gets one confirmation.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/refusals",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer id.")),
    request_body(content = RefusalInput, description = "Channel and how it came."),
    responses(
        (status = 200, description = "`{outcome}`: `stopped` or `already_stopped`.", body = Object),
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
pub async fn staff_refusal(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<RefusalInput>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    if !REFUSAL_VIA.contains(&body.via.as_str()) {
        return Err(unprocessable(
            "via",
            "Chọn call, email_reply, sms_reply hoặc in_person.",
        ));
    }
    let outcome = tracking::refuse(
        &deps,
        customer.id,
        body.channel,
        &body.via,
        Some(&principal.user),
        None,
    )
    .await?;
    Ok(Json(json!({ "outcome": refused_code(outcome) })))
}

fn refused_code(outcome: tracking::Refused) -> &'static str {
    match outcome {
        tracking::Refused::Stopped => "stopped",
        tracking::Refused::AlreadyStopped => "already_stopped",
        tracking::Refused::UnknownCustomer => "unknown_customer",
    }
}

/// Numbers for the do-not-advertise list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DncInput {
    /// Mobile numbers in any usual form (at most 10,000 a request).
    #[schema(example = json!(["0912345678"]))]
    pub numbers: Vec<String>,
    /// Where the list came from (e.g. `national_dnc_2026-11`).
    #[serde(default)]
    pub source: Option<String>,
}

/// `POST /v1/do-not-advertise` (admin): adds numbers (e.g. from the national list) to the
/// do-not-advertise list. Valid numbers are added; invalid ones are listed by position.
#[utoipa::path(
    post,
    path = "/v1/do-not-advertise",
    tag = "messaging",
    security(("bearer" = [])),
    request_body(content = DncInput, description = "The numbers."),
    responses(
        (status = 200, description = "`{added, invalid}`.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn add_do_not_advertise(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<DncInput>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    if body.numbers.len() > MAX_DNC_BATCH {
        return Err(unprocessable("numbers", "Tối đa 10.000 số mỗi lần."));
    }
    let now = deps.clock.now();
    let mut invalid = BTreeMap::new();
    let mut phones = Vec::new();
    for (i, raw) in body.numbers.iter().enumerate() {
        match Phone::parse(raw) {
            Ok(phone) => phones.push(phone),
            Err(error) => {
                invalid.insert(i.to_string(), error.to_string());
            }
        }
    }
    for phone in &phones {
        let mut item = keys::do_not_advertise(phone.as_str()).to_item();
        item.insert("kind".into(), "do_not_advertise".into());
        item.insert(
            "source".into(),
            body.source.clone().unwrap_or_else(|| "staff".into()).into(),
        );
        item.insert("added_by".into(), principal.user.clone().into());
        item.insert("added_at".into(), keys::instant(now).into());
        deps.store.put(item, Condition::Always).await?;
    }
    Ok(Json(json!({ "added": phones.len(), "invalid": invalid })))
}

fn dnc_phone(raw: &str) -> Result<Phone, ApiError> {
    Phone::parse(raw).map_err(|_| not_found("số điện thoại trong danh sách"))
}

/// `GET /v1/do-not-advertise/{phone}`: 200 when the number is on the list, else 404.
#[utoipa::path(
    get,
    path = "/v1/do-not-advertise/{phone}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "Mobile number.")),
    responses(
        (status = 200, description = "On the list.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn get_do_not_advertise(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(phone): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let phone = dnc_phone(&phone)?;
    let item = deps
        .store
        .get(&keys::do_not_advertise(phone.as_str()))
        .await?
        .ok_or_else(|| not_found("số điện thoại trong danh sách"))?;
    Ok(Json(json!({
        "phone": phone.masked(),
        "source": item.get("source"),
        "added_at": item.get("added_at"),
    })))
}

/// `DELETE /v1/do-not-advertise/{phone}` (admin): takes a number off the list.
#[utoipa::path(
    delete,
    path = "/v1/do-not-advertise/{phone}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "Mobile number.")),
    responses(
        (status = 200, description = "Removed (or was not there): `{removed: true}`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn delete_do_not_advertise(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(phone): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    let phone = dnc_phone(&phone)?;
    deps.store
        .delete(&keys::do_not_advertise(phone.as_str()), Condition::Always)
        .await?;
    Ok(Json(json!({ "removed": true })))
}

fn suppression_key(family: &str, address: &str) -> Result<nhip_ports::Key, ApiError> {
    let address = match family {
        "email" => nhip_domain::identifiers::Email::parse(address)
            .map(|e| e.as_str().to_owned())
            .map_err(|_| not_found("địa chỉ bị chặn"))?,
        "phone" => Phone::parse(address)
            .map(|p| p.as_str().to_owned())
            .map_err(|_| not_found("địa chỉ bị chặn"))?,
        _ => return Err(not_found("địa chỉ bị chặn")),
    };
    Ok(keys::suppression(family, &address))
}

/// `GET /v1/suppressions/{family}/{address}` (`email` or `phone`): why the address is
/// suppressed, or 404.
#[utoipa::path(
    get,
    path = "/v1/suppressions/{family}/{address}",
    tag = "messaging",
    security(("bearer" = [])),
    params(
        ("family" = String, Path, description = "`email` or `phone`."),
        ("address" = String, Path, description = "The address or number."),
    ),
    responses(
        (status = 200, description = "`{reason, scope, at}`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn get_suppression(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path((family, address)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let key = suppression_key(&family, &address)?;
    let item = deps
        .store
        .get(&key)
        .await?
        .ok_or_else(|| not_found("địa chỉ bị chặn"))?;
    Ok(Json(json!({
        "reason": item.get("reason"),
        "scope": item.get("scope"),
        "at": item.get("at"),
    })))
}

/// `DELETE /v1/suppressions/{family}/{address}` (admin): lifts a suppression (e.g. after the
/// customer fixed their mailbox).
#[utoipa::path(
    delete,
    path = "/v1/suppressions/{family}/{address}",
    tag = "messaging",
    security(("bearer" = [])),
    params(
        ("family" = String, Path, description = "`email` or `phone`."),
        ("address" = String, Path, description = "The address or number."),
    ),
    responses(
        (status = 200, description = "Lifted (or was not there): `{removed: true}`.", body = Object),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn delete_suppression(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((family, address)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin()?;
    let key = suppression_key(&family, &address)?;
    deps.store.delete(&key, Condition::Always).await?;
    Ok(Json(json!({ "removed": true })))
}

// ---- Public routes ----

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:36rem;\
         margin:3rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.6rem 1.2rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
}

/// `GET /t/{token}`: a tracked link. Records the click once and redirects to the link's
/// original URL, read from the stored message (never from the token).
#[utoipa::path(
    get,
    path = "/t/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The tracked link's token.")),
    responses(
        (status = 303, description = "To the original URL (`See Other`)."),
        (status = 404, description = "Unknown or forged link (an HTML page).", content_type = "text/html", body = String),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn follow_link(
    State(deps): State<Arc<Deps>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    match tracking::click(&deps, &token).await? {
        Some(url) => Ok(Redirect::to(&url).into_response()),
        None => Ok(page(
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ",
            "<p>Liên kết này không tồn tại hoặc đã hết hạn.</p>",
        )),
    }
}

/// `GET /u/{token}`: the unsubscribe page, in Vietnamese, with a button that confirms. Opening
/// it changes nothing (mail scanners follow links).
#[utoipa::path(
    get,
    path = "/u/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The message's unsubscribe token.")),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 404, description = "Unknown or forged token (an HTML page).", content_type = "text/html", body = String),
    )
)]
pub async fn unsubscribe_page(
    State(deps): State<Arc<Deps>>,
    Path(token): Path<String>,
) -> Response {
    let valid = deps
        .settings
        .messaging
        .link_secret
        .as_deref()
        .and_then(|secret| crate::links::open_unsubscribe_token(secret, &token))
        .is_some();
    if !valid {
        return page(
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ",
            "<p>Liên kết huỷ đăng ký không tồn tại.</p>",
        );
    }
    let organisation = &deps.settings.messaging.organisation.name;
    page(
        StatusCode::OK,
        "Từ chối nhận quảng cáo",
        &format!(
            "<p>Quý khách sẽ không nhận thêm tin quảng cáo từ {} qua kênh này. Tin chăm sóc \
             và thông báo dịch vụ vẫn được gửi theo hợp đồng.</p>\
             <form method=\"post\"><button type=\"submit\">Xác nhận từ chối</button></form>",
            organisation.replace('<', "&lt;")
        ),
    )
}

/// `POST /u/{token}`: unsubscribes (the page's button, or a mail client's one-click
/// `List-Unsubscribe-Post`). Advertising stops at once; one confirmation is sent.
#[utoipa::path(
    post,
    path = "/u/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The message's unsubscribe token.")),
    responses(
        (status = 200, description = "Done (an HTML page).", content_type = "text/html", body = String),
        (status = 404, description = "Unknown or forged token (an HTML page).", content_type = "text/html", body = String),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn unsubscribe(
    State(deps): State<Arc<Deps>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    match tracking::unsubscribe(&deps, &token).await? {
        Some(_) => Ok(page(
            StatusCode::OK,
            "Đã từ chối nhận quảng cáo",
            "<p>Chúng tôi đã ngừng gửi quảng cáo cho Quý khách qua kênh này. Một tin xác \
             nhận sẽ được gửi tới Quý khách.</p>",
        )),
        None => Ok(page(
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ",
            "<p>Liên kết huỷ đăng ký không tồn tại.</p>",
        )),
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message.to_owned())
}

/// `POST /v1/tracking/ses`: SES events delivered by an SNS HTTPS subscription. The SNS
/// signature is verified first (forged, unsigned or stale → 403, nothing recorded); a
/// subscription confirmation is confirmed.
#[utoipa::path(
    post,
    path = "/v1/tracking/ses",
    tag = "tracking",
    request_body(content = crate::sns::SnsMessage, description = "An SNS message (JSON sent as text/plain by SNS), signed with the certificate at `SigningCertURL`."),
    responses(
        (status = 200, description = "Recorded (or ignored: not a Nhịp message).", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn ses_over_http(
    State(deps): State<Arc<Deps>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(topic) = deps.settings.messaging.ses_events_topic_arn.as_deref() else {
        return Err(forbidden(
            "SES events over HTTPS are not configured (NHIP_SES_EVENTS_TOPIC_ARN).",
        ));
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body is not UTF-8.",
        )
    })?;
    let message: crate::sns::SnsMessage = serde_json::from_str(text).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body is not an SNS message.",
        )
    })?;
    if message.topic_arn != topic {
        return Err(forbidden(
            "The SNS message is not from Nhịp's SES events topic.",
        ));
    }
    let now = deps.clock.now();
    crate::sns::verify(&message, &*deps.sns_certificates, now)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "SNS message rejected");
            forbidden("The SNS signature does not verify.")
        })?;
    match message.kind {
        crate::sns::SnsKind::Notification => {
            let event = crate::ses_events::parse(&message.message).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "The notification is not an SES event.",
                )
            })?;
            let outcome = tracking::record_ses(&deps, &event).await?;
            Ok(Json(
                json!({ "recorded": !matches!(outcome, tracking::Recorded::UnknownMessage) }),
            ))
        }
        crate::sns::SnsKind::SubscriptionConfirmation => {
            let url = message.subscribe_url.clone().unwrap_or_default();
            deps.sns_certificates.confirm(&url).await.map_err(|_| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Could not confirm the subscription.",
                )
            })?;
            Ok(Json(json!({ "confirmed": true })))
        }
        crate::sns::SnsKind::UnsubscribeConfirmation => Ok(Json(json!({ "recorded": false }))),
    }
}

/// `POST /v1/tracking/zns`: Zalo's delivery callback (`user_received_message`), verified
/// with `X-ZEvent-Signature`.
#[utoipa::path(
    post,
    path = "/v1/tracking/zns",
    tag = "tracking",
    request_body(content = crate::zalo::ZaloEvent, description = "Zalo's event, signed byte for byte (`X-ZEvent-Signature`)."),
    responses(
        (status = 200, description = "Recorded.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn zns_callback(
    State(deps): State<Arc<Deps>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let settings = &deps.settings.messaging;
    let (Some(app_id), Some(secret)) = (&settings.zalo_app_id, &settings.zalo_secret) else {
        return Err(forbidden("Zalo callbacks are not configured."));
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body is not UTF-8.",
        )
    })?;
    let signature = headers
        .get("x-zevent-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let timestamp = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.get("timestamp").and_then(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .or_else(|| t.as_u64().map(|n| n.to_string()))
            })
        })
        .unwrap_or_default();
    crate::zalo::verify_zalo_signature(app_id, secret, text, &timestamp, signature)
        .map_err(|_| forbidden("The Zalo signature does not verify."))?;
    let delivery = crate::zalo::parse_zns_delivery(text).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Not a ZNS delivery event.",
        )
    })?;
    let message = match &delivery.tracking_id {
        Some(id) => pipeline::load(&deps, id).await?,
        None => None,
    };
    let message = match message {
        Some(message) => Some(message),
        None => tracking::by_provider_id(&deps, &delivery.msg_id).await?,
    };
    let Some(message) = message else {
        return Ok(Json(json!({ "recorded": false })));
    };
    tracking::record(
        &deps,
        message,
        tracking::Signal::Delivered,
        delivery.delivered_at,
        &format!("zns-{}", delivery.msg_id),
        json!({}),
    )
    .await?;
    Ok(Json(json!({ "recorded": true })))
}

/// An inbound SMS from the provider's webhook.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InboundSms {
    /// The provider's id for the SMS.
    pub id: String,
    /// The sender's number.
    pub from: String,
    /// The text.
    pub text: String,
}

/// `POST /v1/tracking/sms-inbound`: a reply SMS, signed like the telephony webhook
/// (`X-Nhip-Timestamp`, `X-Nhip-Signature: sha256=<hex>` over `<ts>.<body>` with
/// `NHIP_SMS_INBOUND_SECRET`). A refusal keyword stops advertising by SMS at once.
#[utoipa::path(
    post,
    path = "/v1/tracking/sms-inbound",
    tag = "tracking",
    request_body(content = InboundSms, description = "The reply."),
    responses(
        (status = 200, description = "`{refusal, outcome}`.", body = Object),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
pub async fn sms_inbound(
    State(deps): State<Arc<Deps>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(secret) = deps.settings.messaging.sms_inbound_secret.as_deref() else {
        return Err(forbidden("Inbound SMS is not configured."));
    };
    let now = deps.clock.now();
    nhip_core::webhook::verify(secret, &headers, &body, now)
        .map_err(|_| forbidden("The signature does not verify."))?;
    let sms: InboundSms = serde_json::from_slice(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body is not an inbound SMS.",
        )
    })?;
    let rules = pipeline::advertising_rules(&deps).await?;
    if !rules.is_refusal(&sms.text) {
        return Ok(Json(json!({ "refusal": false })));
    }
    let Ok(phone) = Phone::parse(&sms.from) else {
        return Ok(Json(
            json!({ "refusal": true, "outcome": "unknown_customer" }),
        ));
    };
    let owner = repo::guard_owner(&*deps.store, &keys::phone_guard(phone.as_str())).await?;
    let Some(customer) = owner else {
        // No customer: the number still goes on the do-not-advertise list.
        let mut item = keys::do_not_advertise(phone.as_str()).to_item();
        item.insert("kind".into(), "do_not_advertise".into());
        item.insert("source".into(), "sms_reply".into());
        item.insert("added_at".into(), keys::instant(now).into());
        deps.store.put(item, Condition::Always).await?;
        return Ok(Json(json!({ "refusal": true, "outcome": "listed" })));
    };
    let outcome = tracking::refuse(
        &deps,
        customer,
        MessageChannel::Sms,
        "sms_reply",
        None,
        None,
    )
    .await?;
    Ok(Json(
        json!({ "refusal": true, "outcome": refused_code(outcome) }),
    ))
}
