//! The working calendar in force: Vietnam's office calendar
//! ([`nhip_domain::calendar::WorkCalendar`]: working hours, weekends, the public holidays
//! including the lunar ones) with the days off and make-up working days the government
//! decides each year, which an admin enters as data (`PUT /v1/settings/work-calendar`).
//! Ticket SLAs and the advertising-call window count on it.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_domain::calendar::WorkCalendar;
use nhip_domain::journey::Span;
use nhip_ports::store::StoreError;
use serde::{Deserialize, Serialize};

/// Seconds in a day: an SLA of whole days counts working days.
const DAY_SECONDS: u64 = 86_400;

/// The calendar in force: the admin's, else Vietnam's default.
pub async fn in_force(deps: &Deps) -> Result<WorkCalendar, StoreError> {
    Ok(stored(deps).await?.map(|(c, _)| c).unwrap_or_default())
}

async fn stored(deps: &Deps) -> Result<Option<(WorkCalendar, u64)>, StoreError> {
    nhip_core::records::get_setting(&*deps.store, &keys::work_calendar(), "calendar").await
}

/// The calendar in force and its stored version (0 while Vietnam's default is in force).
pub async fn stored_or_default(deps: &Deps) -> Result<(WorkCalendar, u64), StoreError> {
    Ok(stored(deps).await?.unwrap_or_default())
}

/// Why a calendar was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Not a valid calendar: the field and the problem, in Vietnamese.
    #[error("{1}")]
    Invalid(String, String),
    /// Changed since it was read.
    #[error("the calendar is at version {0}")]
    Stale(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces the calendar in force (an admin's), if it is still at `version`; the new version.
pub async fn save(
    deps: &Deps,
    principal: &Principal,
    calendar: &WorkCalendar,
    version: u64,
) -> Result<u64, SaveError> {
    calendar
        .validate()
        .map_err(|e| SaveError::Invalid(e.field().to_owned(), e.to_string()))?;
    let written = nhip_core::records::put_setting(
        &*deps.store,
        keys::work_calendar(),
        "calendar",
        calendar,
        version,
        &principal.user,
        deps.clock.now(),
    )
    .await?;
    written.map_err(SaveError::Stale)
}

/// When something opened at `at` with `sla` is due: whole days count working days (the same
/// time of day), anything else working time (`4h` opened Friday 15:00 is due Monday 11:00).
pub fn due_after(calendar: &WorkCalendar, at: DateTime<Utc>, sla: Span) -> DateTime<Utc> {
    let seconds = sla.as_secs();
    if seconds > 0 && seconds.is_multiple_of(DAY_SECONDS) {
        let days = u32::try_from(seconds / DAY_SECONDS).unwrap_or(u32::MAX);
        calendar.add_working_days(at, days)
    } else {
        calendar.add_working(at, sla.to_delta())
    }
    // A calendar with no working day within its search horizon: the plain length instead.
    .unwrap_or_else(|| at + sla.to_delta())
}

/// The calendar routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(get_calendar, put_calendar))
}

/// The calendar in force and its version (0 while the default is in force).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarView {
    /// Working hours, weekend, days off, make-up working days, statutory holidays on or off.
    #[schema(value_type = Object)]
    pub calendar: WorkCalendar,
    /// The stored version.
    pub version: u64,
}

/// A new calendar.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 0, "calendar": WorkCalendar::default()}))]
pub struct CalendarInput {
    /// The `version` you read (0 while the default is in force).
    pub version: u64,
    /// The calendar, in the shape `GET` answers.
    #[schema(value_type = Object)]
    pub calendar: WorkCalendar,
}

/// `GET /v1/settings/work-calendar`: the working calendar in force.
#[utoipa::path(
    get,
    path = "/v1/settings/work-calendar",
    tag = "tickets",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{calendar, version}`.", body = CalendarView),
        nhip_core::openapi::StaffErrors,
    )
)]
async fn get_calendar(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
) -> Result<Json<CalendarView>, ApiError> {
    let (calendar, version) = stored(&deps).await?.unwrap_or_default();
    Ok(Json(CalendarView { calendar, version }))
}

/// `PUT /v1/settings/work-calendar` (admin): replaces the working calendar, e.g. with this
/// year's Tết days off and make-up Saturdays.
#[utoipa::path(
    put,
    path = "/v1/settings/work-calendar",
    tag = "tickets",
    security(("bearer" = [])),
    request_body(content = CalendarInput, description = "The calendar and the version you read."),
    responses(
        (status = 200, description = "`{calendar, version}`.", body = CalendarView),
        nhip_core::openapi::CreateErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
async fn put_calendar(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<CalendarInput>,
) -> Result<Json<CalendarView>, ApiError> {
    principal.require_admin()?;
    match save(&deps, &principal, &body.calendar, body.version).await {
        Ok(version) => Ok(Json(CalendarView {
            calendar: body.calendar,
            version,
        })),
        Err(SaveError::Invalid(field, problem)) => Err(nhip_core::form::invalid(
            &format!("calendar.{field}"),
            problem,
        )),
        Err(SaveError::Stale(current)) => Err(ApiError::stale_version(current)),
        Err(SaveError::Store(error)) => Err(error.into()),
    }
}
