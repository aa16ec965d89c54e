//! Campaigns: one template to a filtered audience (or an explicit list), queued through the
//! pipeline with a dry run first; their statistics, and those of templates and of the whole
//! organisation.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{Cause, CauseKind, Message, RequestData, SendPurpose, SendRequest, Target};
use crate::{pipeline, stats, templates};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_crm::customers::list::{self, Filters};
use nhip_ports::store::{Condition, Index, Query, StoreError};

use super::sends::{TargetInput, check_targets};
use super::{MAX_CAMPAIGN_AUDIENCE, not_found, unprocessable};

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
