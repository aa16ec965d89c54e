//! Staff routes over running journeys: enroll customers by hand (a list or a CSV file), list a
//! journey's active enrollments and a customer's journeys, and read a version's statistics.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use nhip_domain::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::definitions;
use crate::engine::{self, Enrollment};
use crate::entry::{self, EnrollError, EnrollOutcome, HandEntry, HandSource};
use crate::stats::{self, JourneyStats};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path, Query as QueryParams};
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_crm::events_api::CustomerRef;

use crate::entry::MAX_ENROLL;

/// The routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_enrollments, enroll_customers))
        .routes(routes!(journey_stats))
        .routes(routes!(customer_journeys))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "Không tìm thấy hành trình.",
    )
}

impl From<EnrollError> for ApiError {
    fn from(error: EnrollError) -> Self {
        match error {
            EnrollError::CustomerCount(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                format!("Đưa từ 1 đến {MAX_ENROLL} khách hàng vào mỗi lần."),
            )
            .field("customers", format!("1 đến {MAX_ENROLL} khách hàng")),
            EnrollError::JourneyNotFound(_) => not_found(),
            EnrollError::NotPublished(_) => ApiError::new(
                StatusCode::CONFLICT,
                "not_published",
                "Hành trình chưa được xuất bản; xuất bản một phiên bản trước khi đưa khách hàng vào.",
            ),
            EnrollError::Unrecognised(problems) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "Có khách hàng không nhận ra được; chưa ai được đưa vào hành trình. Xem từng dòng.",
                );
                for (field, message) in problems {
                    error = error.field(field, message);
                }
                error
            }
            EnrollError::Store(error) => error.into(),
        }
    }
}

/// Customers to enroll.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// 1–1,000 customers, each by id, phone, e-mail or CCCD.
    #[schema(min_items = 1, max_items = 1000, example = json!([{"phone": "0912345678"}]))]
    pub customers: Vec<CustomerRef>,
    /// The caller's key for this request: sending it again enrolls nobody twice. Without
    /// one, the body's SHA-256 is used.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The holding the enrollments are about (due date, amount…), for templates and waits.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub holding: Option<Value>,
}

/// An enroll request as it arrived: the request (a CSV file's rows make one without a key or a
/// holding), how it was sent, and the key of the body itself.
#[derive(Debug)]
pub struct ReceivedEnrollment {
    request: EnrollRequest,
    source: HandSource,
    body_key: String,
}

impl ReceivedEnrollment {
    /// Reads the body by its media type: JSON (400 `invalid_json` when it is not an
    /// [`EnrollRequest`]) or a CSV file ([`csv_refs`]); anything else is 415.
    fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let (request, source) = match nhip_core::http::media_type(headers).as_str() {
            "application/json" => {
                let request = serde_json::from_slice(body).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_json",
                        format!("Nội dung không đúng dạng: {e}"),
                    )
                })?;
                (request, HandSource::Api)
            }
            "text/csv" => {
                let request = EnrollRequest {
                    customers: csv_refs(body)?,
                    request_id: None,
                    holding: None,
                };
                (request, HandSource::Csv)
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Gửi application/json hoặc text/csv.",
                ));
            }
        };
        // 128 bits of the body's SHA-256, the request's key when the caller gave none.
        let digest = Sha256::digest(body);
        let body_key = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Ok(ReceivedEnrollment {
            request,
            source,
            body_key,
        })
    }
}

impl TryFrom<ReceivedEnrollment> for HandEntry {
    type Error = EnrollError;

    fn try_from(received: ReceivedEnrollment) -> Result<Self, EnrollError> {
        let ReceivedEnrollment {
            request,
            source,
            body_key,
        } = received;
        HandEntry::new(
            request.customers,
            request.request_id.unwrap_or(body_key),
            request.holding.unwrap_or(Value::Null),
            source,
        )
    }
}

/// What enrolling did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollReport {
    /// Counts by result (`enrolled`, `duplicate`, `already_active`, `reentry_not_allowed`,
    /// `no_customer`).
    pub counts: BTreeMap<String, usize>,
    /// Each customer's result, in request order.
    pub results: Vec<EnrollResult>,
}

impl From<Vec<(CustomerId, EnrollOutcome)>> for EnrollReport {
    fn from(outcomes: Vec<(CustomerId, EnrollOutcome)>) -> Self {
        let mut counts = BTreeMap::new();
        for (_, outcome) in &outcomes {
            *counts.entry(outcome.result().to_owned()).or_insert(0) += 1;
        }
        let results = outcomes
            .into_iter()
            .map(|(customer, outcome)| EnrollResult {
                customer_id: customer.to_string(),
                outcome,
            })
            .collect();
        EnrollReport { counts, results }
    }
}

/// One customer's result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollResult {
    /// The customer.
    pub customer_id: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: EnrollOutcome,
}

/// The references of a CSV file: a header row naming `id`, `phone`, `email` or `cccd` columns
/// (`customer_id` for `id`), one customer a row.
fn csv_refs(body: &[u8]) -> Result<Vec<CustomerRef>, ApiError> {
    let bad = |message: &str| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_csv",
            message.to_owned(),
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| bad("Không đọc được dòng tiêu đề của tệp CSV."))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (id, phone, email, cccd) = (
        column(&["id", "customer_id"]),
        column(&["phone", "so_dien_thoai"]),
        column(&["email"]),
        column(&["cccd"]),
    );
    if id.is_none() && phone.is_none() && email.is_none() && cccd.is_none() {
        return Err(bad(
            "Tệp CSV cần một cột id, phone, email hoặc cccd để nhận ra khách hàng.",
        ));
    }
    let mut refs = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|_| bad("Tệp CSV có dòng không đọc được."))?;
        let cell = |index: Option<usize>| {
            index
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        refs.push(CustomerRef {
            id: cell(id),
            phone: cell(phone),
            email: cell(email),
            cccd: cell(cccd),
        });
    }
    Ok(refs)
}

/// `POST /v1/journeys/{key}/enrollments` (admin): enroll customers by hand, as JSON
/// (`{"customers": [...]}`) or as a CSV file (`text/csv`). Checked whole first: one customer
/// not found and nobody is enrolled.
#[utoipa::path(
    post,
    path = "/v1/journeys/{key}/enrollments",
    tag = "journeys",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The journey's key.")),
    request_body(content = EnrollRequest, description = "The customers (application/json), or a CSV file with an id, phone, email or cccd column (text/csv)."),
    responses(
        (status = 200, description = "Each customer's result.", body = EnrollReport),
        nhip_core::openapi::ActErrors,
        (status = 409, description = "The journey is not published (`not_published`).", body = nhip_core::openapi::ErrorBody),
    )
)]
pub async fn enroll_customers(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<EnrollReport>, ApiError> {
    principal.require_admin()?;
    let entry = HandEntry::try_from(ReceivedEnrollment::read(&headers, &body)?)?;
    let outcomes = entry::enroll_many(&deps, &key, &principal.user, entry).await?;
    Ok(Json(EnrollReport::from(outcomes)))
}

/// A page of enrollments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrollmentList {
    /// Enrollments, newest first.
    pub items: Vec<Enrollment>,
}

/// Paging of the active-enrollment list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnrollmentPage {
    /// Most returned (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl nhip_core::http::ListParams for EnrollmentPage {
    const DEFAULT_LIMIT: u32 = 100;
    const MAX_LIMIT: u32 = 500;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }
}

/// `GET /v1/journeys/{key}/enrollments`: the journey's active enrollments, newest first.
#[utoipa::path(
    get,
    path = "/v1/journeys/{key}/enrollments",
    tag = "journeys",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The journey's key."), EnrollmentPage),
    responses(
        (status = 200, description = "Active enrollments.", body = EnrollmentList),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub async fn list_enrollments(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(key): Path<String>,
    nhip_core::http::ListQuery(page): nhip_core::http::ListQuery<EnrollmentPage>,
) -> Result<Json<EnrollmentList>, ApiError> {
    definitions::meta(&deps, &key)
        .await?
        .ok_or_else(not_found)?;
    let limit = nhip_core::http::ListParams::limit(&page);
    let items = engine::active_of_journey(&deps, &principal, &key, limit).await?;
    Ok(Json(EnrollmentList { items }))
}

/// `GET /v1/customers/{id}/journeys`: every enrollment of a customer, active and ended.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/journeys",
    tag = "journeys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The customer's enrollments.", body = EnrollmentList),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn customer_journeys(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<EnrollmentList>, ApiError> {
    let customer = nhip_crm::customers::routes::load_visible(&deps, &principal, &id).await?;
    if customer.erased_at.is_some() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Không tìm thấy khách hàng.",
        ));
    }
    let id = customer.id;
    let mut items = engine::of_customer(&deps, id, None).await?;
    items.sort_by_key(|e| std::cmp::Reverse(e.entered_at));
    Ok(Json(EnrollmentList { items }))
}

/// Which version's statistics.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The version; the published one (else the latest) when absent.
    pub version: Option<u32>,
}

/// `GET /v1/journeys/{key}/stats`: a version's counters and rates, in total and per step.
#[utoipa::path(
    get,
    path = "/v1/journeys/{key}/stats",
    tag = "journeys",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The journey's key."), StatsQuery),
    responses(
        (status = 200, description = "Counters and rates.", body = JourneyStats),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub async fn journey_stats(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(key): Path<String>,
    QueryParams(query): QueryParams<StatsQuery>,
) -> Result<Json<JourneyStats>, ApiError> {
    let meta = definitions::meta(&deps, &key)
        .await?
        .ok_or_else(not_found)?;
    let number = query
        .version
        .or(meta.published_version)
        .unwrap_or(meta.latest_version);
    let version = definitions::version(&deps, &key, number)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(
        stats::read(&deps, &key, number, &version.definition).await?,
    ))
}
