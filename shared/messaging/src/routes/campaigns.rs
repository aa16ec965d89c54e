//! Campaigns: one template to a filtered audience (or an explicit list), queued through the
//! pipeline with a dry run first; their statistics, and those of templates and of the whole
//! organisation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::campaigns::{self, Campaign, CampaignError, CampaignRequest, Created, Report};
use crate::model::{Message, MessageChannel, SendPurpose, Status, Target};
use crate::stats::{self, Stats};
use crate::templates;
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};

use super::{not_found, unprocessable};

/// A bulk send to a filter of customers.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// Name staff see.
    #[schema(example = "Ưu đãi trả góp tháng 12")]
    pub name: String,
    /// Channels with their template, in order of preference (1–5, one per channel).
    #[schema(min_items = 1, max_items = 5, example = json!([{"channel": "email", "template": "the-moi-chao-mung-email"}]))]
    pub targets: Vec<Target>,
    /// `care`, `marketing` or `consent_request`.
    #[schema(example = "marketing")]
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
    #[schema(example = "all")]
    pub audience: Option<CampaignAudience>,
    /// Only count: answer 200 with how many customers the campaign would go to; nothing is
    /// stored or queued.
    #[serde(default)]
    pub dry_run: bool,
}

/// A campaign's explicit audience: `all`, every customer in the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignAudience {
    /// Every customer in the caller's scope.
    All,
}

impl From<CampaignInput> for CampaignRequest {
    fn from(input: CampaignInput) -> Self {
        Self {
            name: input.name,
            targets: input.targets,
            purpose: input.purpose,
            filters: input.filters,
            everyone: input.audience == Some(CampaignAudience::All),
            idempotency_key: input.idempotency_key,
            dry_run: input.dry_run,
        }
    }
}

impl From<CampaignError> for ApiError {
    fn from(error: CampaignError) -> Self {
        match error {
            CampaignError::MayNotSend | CampaignError::MayNotRead => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", error.to_string())
            }
            CampaignError::NotFound => not_found("chiến dịch"),
            CampaignError::QueueUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                error.to_string(),
            ),
            CampaignError::Store(error)
            | CampaignError::Targets(crate::targets::TargetError::Store(error)) => error.into(),
            other => {
                let field = other.field().unwrap_or_else(|| "filters".into());
                unprocessable(&field, &other.to_string())
            }
        }
    }
}

/// A dry run's answer: how many customers the campaign would go to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignPreview {
    /// How many customers in your scope it would go to.
    pub audience: usize,
    /// Always `true`.
    pub dry_run: bool,
    /// The filters as sent.
    #[schema(value_type = Object)]
    pub filters: Value,
    /// The name, trimmed.
    pub name: String,
    /// Why it would be sent.
    pub purpose: SendPurpose,
    /// Always 0: nothing is queued.
    pub queued: usize,
}

/// A campaign as staff read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    /// How many customers it went to.
    pub audience: usize,
    /// Created (UTC).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// The customer-list filters as sent (`null` for everyone).
    #[schema(value_type = Object)]
    pub filters: Value,
    /// Id.
    pub id: String,
    /// Name staff see.
    pub name: String,
    /// Why it is sent.
    pub purpose: SendPurpose,
    /// Channels with their template, in order of preference.
    pub targets: Vec<Target>,
}

impl From<Campaign> for CampaignView {
    fn from(campaign: Campaign) -> Self {
        Self {
            audience: campaign.audience,
            created_at: campaign.created_at,
            created_by: campaign.created_by,
            filters: campaign.filters,
            id: campaign.id,
            name: campaign.name,
            purpose: campaign.purpose,
            targets: campaign.targets,
        }
    }
}

/// A queued campaign: the campaign and how many sends were queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuedCampaign {
    /// The campaign.
    #[serde(flatten)]
    pub campaign: CampaignView,
    /// How many send requests were queued.
    pub queued: usize,
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
        (status = 200, description = "A dry run: `audience`, how many customers it would go to; nothing stored or queued.", body = CampaignPreview),
        (status = 202, description = "Queued: the campaign with `queued`.", body = QueuedCampaign),
        nhip_core::openapi::CreateErrors,
    )
)]
pub async fn create_campaign(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<CampaignInput>,
) -> Result<Response, ApiError> {
    Ok(
        match campaigns::create(&deps, &principal, body.into()).await? {
            Created::Preview {
                name,
                purpose,
                filters,
                audience,
            } => {
                let preview = CampaignPreview {
                    audience,
                    dry_run: true,
                    filters,
                    name,
                    purpose,
                    queued: 0,
                };
                (StatusCode::OK, Json(preview)).into_response()
            }
            Created::Queued { campaign, queued } => {
                let view = QueuedCampaign {
                    campaign: campaign.into(),
                    queued,
                };
                (StatusCode::ACCEPTED, Json(view)).into_response()
            }
        },
    )
}

/// One message of a campaign, as its report lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignMessage {
    /// The channel chosen, once one was.
    #[schema(value_type = Option<nhip_core::openapi::MessageChannelSchema>)]
    pub channel: Option<MessageChannel>,
    /// The customer.
    pub customer_id: String,
    /// Engagement so far: signal → first time seen.
    pub engagement: BTreeMap<String, DateTime<Utc>>,
    /// The message.
    pub message_id: String,
    /// Machine-readable reason for the status.
    pub reason: Option<String>,
    /// The reason in Vietnamese.
    pub reason_text: Option<String>,
    /// Where it is.
    pub status: Status,
    /// The status as staff read it.
    pub status_label: String,
}

impl From<&Message> for CampaignMessage {
    fn from(message: &Message) -> Self {
        Self {
            channel: message.channel,
            customer_id: message.customer_id.clone(),
            engagement: message.engagement.clone(),
            message_id: message.id.clone(),
            reason: message.reason.clone(),
            reason_text: message.reason_text.clone(),
            status: message.status,
            status_label: message.status.label().to_owned(),
        }
    }
}

/// A campaign with its counters and its messages' results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignReport {
    /// The campaign.
    #[serde(flatten)]
    pub campaign: CampaignView,
    /// Its messages (the first 1,000).
    pub messages: Vec<CampaignMessage>,
    /// Its counters and rates.
    pub stats: Stats,
}

impl From<Report> for CampaignReport {
    fn from(report: Report) -> Self {
        Self {
            messages: report.messages.iter().map(CampaignMessage::from).collect(),
            campaign: report.campaign.into(),
            stats: report.stats,
        }
    }
}

/// `GET /v1/campaigns/{id}`: the campaign, its counters and its messages' results.
#[utoipa::path(
    get,
    path = "/v1/campaigns/{id}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Campaign id.")),
    responses(
        (status = 200, description = "The campaign with `stats` and `messages`.", body = CampaignReport),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn get_campaign(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CampaignReport>, ApiError> {
    let report = campaigns::report(&deps, &principal, &id).await?;
    Ok(Json(report.into()))
}

/// `GET /v1/templates/{code}/stats`: the template's counters and rates.
#[utoipa::path(
    get,
    path = "/v1/templates/{code}/stats",
    tag = "messaging",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Template code.")),
    responses(
        (status = 200, description = "`{counts, rates}`.", body = Stats),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn template_stats(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Stats>, ApiError> {
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
        (status = 200, description = "`{counts, rates}`.", body = Stats),
        nhip_core::openapi::StaffErrors,
    )
)]
pub async fn organisation_stats(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
) -> Result<Json<Stats>, ApiError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Chỉ quản trị viên và quản lý xem thống kê toàn hệ thống.",
        ));
    }
    Ok(Json(stats::read(&deps, stats::ALL.0, stats::ALL.1).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::TargetError;

    fn answer(error: CampaignError) -> (u16, &'static str, String, Vec<(String, String)>) {
        let error = ApiError::from(error);
        (
            error.status.as_u16(),
            error.code,
            error.message,
            error.fields.into_iter().collect(),
        )
    }

    #[test]
    fn campaign_errors_answer_as_they_always_did() {
        let forbidden = answer(CampaignError::MayNotSend);
        assert_eq!(
            (forbidden.0, forbidden.1, forbidden.2.as_str()),
            (
                403,
                "forbidden",
                "Chỉ quản trị viên và quản lý được gửi hàng loạt."
            )
        );
        let missing = answer(CampaignError::NotFound);
        assert_eq!(
            (missing.0, missing.1, missing.2.as_str()),
            (404, "not_found", "Không tìm thấy chiến dịch.")
        );
        let message = "Bộ lọc không có trường «lifecyle».".to_owned();
        assert_eq!(
            answer(CampaignError::UnknownFilter("lifecyle".into())),
            (
                422,
                "validation_failed",
                message.clone(),
                vec![("filters.lifecyle".into(), message)]
            )
        );
        let template = answer(CampaignError::Targets(TargetError::Unpublished {
            index: 1,
        }));
        assert_eq!(
            template.3,
            [(
                "targets.1.template".to_owned(),
                "Mẫu tin chưa được phát hành.".to_owned()
            )]
        );
        assert_eq!(answer(CampaignError::AudienceTooLarge).3[0].0, "filters");
    }
}
