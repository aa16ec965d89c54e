//! Staff routes on customers. Every route takes the caller's [`Principal`] and applies its
//! scope: a consultant or agent sees and changes only the customers they own, a manager their
//! team's, an admin everything. A customer outside the caller's scope answers 404, as if it did
//! not exist, and nothing changes.

use std::sync::Arc;

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use nhip_domain::customer::{Classification, Lifecycle, Source};
use nhip_domain::identifiers::{Cccd, Cmnd, Email, Phone, TaxCode};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::{Gender, PersonName, nfc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use ulid::Ulid;

use super::list::{self, Filters, ListError};
use super::model::{Customer, normalise_tags};
use super::repo;
use crate::auth::{Principal, Role};
use crate::deps::Deps;
use crate::http::ApiError;
use crate::intake::{FieldErrors, parse_birthday, parse_consents, text};
use crate::keys;
use crate::ports::store::Cursor;
use crate::timeline;

/// The staff routes on customers.
pub fn router() -> Router<Arc<Deps>> {
    Router::new()
        .route("/v1/customers", get(list_customers).post(create_customer))
        .route("/v1/customers/not-consulted", get(not_consulted))
        .route(
            "/v1/customers/{id}",
            get(get_customer).patch(update_customer),
        )
        .route("/v1/customers/{id}/owner", post(assign_owner))
        .route("/v1/customers/{id}/timeline", get(customer_timeline))
        .route("/v1/customers/{id}/activities", get(recent_activities))
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such customer.")
}

fn parse_id(raw: &str) -> Result<CustomerId, ApiError> {
    raw.parse().map_err(|_| not_found())
}

/// The customer, if it exists, is not erased, and the caller's scope covers it.
pub async fn load_visible(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<Customer, ApiError> {
    let id = parse_id(id)?;
    match repo::get(&*deps.store, id).await? {
        Some(customer) if list::visible(principal, &customer) => Ok(customer),
        _ => Err(not_found()),
    }
}

/// The customer as staff see it: the record plus Vietnamese labels.
pub fn view(customer: &Customer) -> Value {
    let mut value = json!(customer);
    value["lifecycle_label"] = json!(customer.lifecycle.label());
    value["source_label"] = json!(customer.source.label());
    if let Some(c) = customer.classification {
        value["classification_label"] = json!(c.label());
    }
    value
}

/// A list row: what the list screens show. The CCCD is masked; the full record is one click
/// (and one audit entry) away.
pub fn summary(customer: &Customer) -> Value {
    json!({
        "id": customer.id,
        "full_name": customer.full_name,
        "given_name": customer.given_name,
        "gender": customer.gender,
        "phone": customer.phone(),
        "email": customer.email(),
        "cccd": customer.cccd.as_ref().map(Cccd::masked),
        "tax_code": customer.tax_code,
        "lifecycle": customer.lifecycle,
        "lifecycle_label": customer.lifecycle.label(),
        "classification": customer.classification,
        "source": customer.source,
        "owner": customer.owner,
        "team": customer.team,
        "tags": customer.tags,
        "holdings": customer.holdings,
        "created_at": customer.created_at,
        "last_activity_at": customer.last_activity_at,
        "version": customer.version,
    })
}

fn list_error(error: ListError) -> ApiError {
    match error {
        ListError::Invalid { field, message } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_filter",
            format!("The filter '{field}' is not valid."),
        )
        .field(field, message),
        ListError::Store(e) => e.into(),
    }
}

/// `GET /v1/customers`: one page of the customers in the caller's scope passing the filters.
async fn list_customers(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    QueryParams(filters): QueryParams<Filters>,
) -> Result<Json<Value>, ApiError> {
    let listing = list::list(&*deps.store, &principal, &filters)
        .await
        .map_err(list_error)?;
    let items: Vec<Value> = listing.customers.iter().map(summary).collect();
    Ok(Json(
        json!({"items": items, "next_cursor": listing.next_cursor}),
    ))
}

/// `GET /v1/customers/not-consulted`: the leads nobody has talked to yet ("KH mới chưa tư
/// vấn"), newest first, with their count.
async fn not_consulted(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    QueryParams(mut filters): QueryParams<Filters>,
) -> Result<Json<Value>, ApiError> {
    filters.lifecycle = Some(Lifecycle::New);
    let listing = list::list(&*deps.store, &principal, &filters)
        .await
        .map_err(list_error)?;
    let count = list::count_new(&*deps.store, &principal).await?;
    let items: Vec<Value> = listing.customers.iter().map(summary).collect();
    Ok(Json(json!({
        "label": Lifecycle::New.label(),
        "count": count,
        "items": items,
        "next_cursor": listing.next_cursor,
    })))
}

/// Fields staff may set on create and change on update; everything else is rejected.
const EDITABLE: &[&str] = &[
    "full_name",
    "given_name",
    "gender",
    "birthday",
    "phones",
    "emails",
    "cccd",
    "cmnd",
    "tax_code",
    "address",
    "tags",
    "attributes",
    "source",
    "lifecycle",
    "classification",
    "consents",
    "consent_evidence",
];

fn list_of_strings(value: &Value, field: &str, errors: &mut FieldErrors) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v.as_str() {
                Some(s) => Some(s.to_owned()),
                None => {
                    errors.add(&format!("{field}[{i}]"), "Phải là chuỗi ký tự.");
                    None
                }
            })
            .collect(),
        _ => {
            errors.add(field, "Phải là một danh sách.");
            Vec::new()
        }
    }
}

fn optional<T, E: std::fmt::Display>(
    body: &Map<String, Value>,
    field: &str,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    if !body.contains_key(field) {
        return None;
    }
    match text(body, field, errors) {
        None => Some(None),
        Some(raw) => match parse(&raw) {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                errors.add(field, e.to_string());
                None
            }
        },
    }
}

/// Applies the editable fields present in `body` to `customer`. Absent fields stay; `null`
/// clears an optional field.
fn apply_fields(
    customer: &mut Customer,
    body: &Map<String, Value>,
    principal: &Principal,
    now: DateTime<Utc>,
    errors: &mut FieldErrors,
) {
    for field in body.keys() {
        if !EDITABLE.contains(&field.as_str()) && field != "version" && field != "owner" {
            errors.add(field, "Trường không được hỗ trợ.");
        }
    }
    if body.contains_key("full_name") {
        match text(body, "full_name", errors).map(|raw| PersonName::parse(&raw)) {
            None => errors.add("full_name", "Vui lòng nhập họ và tên."),
            Some(Err(e)) => errors.add("full_name", e.to_string()),
            Some(Ok(name)) => {
                if customer.full_name != name.full() {
                    customer.given_name = name.default_given_name().to_owned();
                }
                customer.full_name = name.full().to_owned();
            }
        }
    }
    if body.contains_key("given_name") {
        match text(body, "given_name", errors) {
            Some(given) if given.chars().count() <= 50 => customer.given_name = given,
            Some(_) => errors.add("given_name", "Tối đa 50 ký tự."),
            None => errors.add("given_name", "Không được để trống."),
        }
    }
    if let Some(gender) = optional(body, "gender", errors, |raw| {
        Gender::parse_loose(raw).ok_or("Giới tính: male, female hoặc other.")
    }) {
        customer.gender = gender;
    }
    let today = nhip_domain::time::vn_date(now);
    if let Some(birthday) = optional(body, "birthday", errors, |raw| parse_birthday(raw, today)) {
        customer.birthday = birthday;
    }
    if let Some(value) = body.get("phones") {
        let mut phones: Vec<Phone> = Vec::new();
        for (i, raw) in list_of_strings(value, "phones", errors).iter().enumerate() {
            match Phone::parse(raw) {
                Ok(p) if !phones.contains(&p) => phones.push(p),
                Ok(_) => {}
                Err(e) => errors.add(&format!("phones[{i}]"), e.to_string()),
            }
        }
        customer.phones = phones;
    }
    if let Some(value) = body.get("emails") {
        let mut emails: Vec<Email> = Vec::new();
        for (i, raw) in list_of_strings(value, "emails", errors).iter().enumerate() {
            match Email::parse(raw) {
                Ok(e) if !emails.contains(&e) => emails.push(e),
                Ok(_) => {}
                Err(e) => errors.add(&format!("emails[{i}]"), e.to_string()),
            }
        }
        customer.emails = emails;
    }
    if let Some(cccd) = optional(body, "cccd", errors, Cccd::parse) {
        customer.cccd = cccd;
    }
    if let Some(cmnd) = optional(body, "cmnd", errors, Cmnd::parse) {
        customer.cmnd = cmnd;
    }
    if let Some(code) = optional(body, "tax_code", errors, TaxCode::parse) {
        customer.tax_code = code;
    }
    if let Some(address) = optional(body, "address", errors, |raw| {
        if raw.chars().count() <= 500 {
            Ok(raw.to_owned())
        } else {
            Err("Tối đa 500 ký tự.")
        }
    }) {
        customer.address = address;
    }
    if let Some(value) = body.get("tags") {
        let tags = normalise_tags(list_of_strings(value, "tags", errors));
        if tags.len() > 50 || tags.iter().any(|t| t.chars().count() > 50) {
            errors.add("tags", "Tối đa 50 nhãn, mỗi nhãn tối đa 50 ký tự.");
        }
        customer.tags = tags;
    }
    match body.get("attributes") {
        None => {}
        Some(Value::Object(map)) if map.len() <= 50 => customer.attributes = map.clone(),
        Some(Value::Null) => customer.attributes = Map::new(),
        Some(_) => errors.add(
            "attributes",
            "Cần một đối tượng JSON, tối đa 50 thuộc tính.",
        ),
    }
    if let Some(Some(source)) = optional(body, "source", errors, str::parse::<Source>) {
        customer.source = source;
    } else if body.contains_key("source") && body["source"].is_null() {
        errors.add("source", "Không được để trống.");
    }
    if let Some(Some(lifecycle)) = optional(body, "lifecycle", errors, str::parse::<Lifecycle>) {
        customer.lifecycle = lifecycle;
    }
    if let Some(classification) =
        optional(body, "classification", errors, str::parse::<Classification>)
    {
        customer.classification = classification;
    }
    if body.contains_key("consents") {
        let evidence = json!({
            "by": principal.user,
            "note": body.get("consent_evidence").and_then(Value::as_str),
        })
        .to_string();
        for record in parse_consents(body.get("consents"), "staff", &evidence, now, errors) {
            customer.consents.record(record);
        }
    }
    if let Some(cccd) = &customer.cccd
        && let Err(e) = cccd.check_consistency(customer.birthday, customer.gender)
    {
        errors.add("cccd", e.to_string());
    }
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body must be a JSON object.",
        )),
    }
}

fn staff_entry(
    customer: CustomerId,
    now: DateTime<Utc>,
    event_type: &str,
    principal: &Principal,
    data: Value,
) -> timeline::Entry {
    timeline::Entry {
        customer,
        at: now,
        cause: format!("staff#{}", Ulid::from_datetime(now.into())),
        event_type: event_type.to_owned(),
        source: "staff_api".to_owned(),
        actor: Some(principal.user.clone()),
        data,
    }
}

/// Who owns a customer a staff member creates: admins and managers may name an owner (a
/// manager only within their team); everyone else owns what they create.
fn owner_for_new(
    principal: &Principal,
    body: &Map<String, Value>,
    errors: &mut FieldErrors,
) -> (Option<String>, Option<String>) {
    let requested = text(body, "owner", errors);
    match (principal.role, requested) {
        (Role::Admin, Some(owner)) => (Some(owner), None),
        (Role::Admin, None) => (Some(principal.user.clone()), principal.team.clone()),
        (Role::Manager, Some(owner)) => (Some(owner), principal.team.clone()),
        (_, Some(owner)) if owner != principal.user => {
            errors.add(
                "owner",
                "Chỉ quản lý hoặc quản trị viên được giao khách cho người khác.",
            );
            (None, None)
        }
        _ => (Some(principal.user.clone()), principal.team.clone()),
    }
}

/// `POST /v1/customers`: a customer entered by staff. 201 with the record; 409 when a phone,
/// e-mail or CCCD already belongs to another customer.
async fn create_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let body = object(body)?;
    let now = deps.clock.now();
    let mut errors = FieldErrors::default();
    if !body.contains_key("full_name") {
        errors.add("full_name", "Vui lòng nhập họ và tên.");
    }
    if !body.contains_key("source") {
        errors.add("source", "Vui lòng chọn nguồn khách hàng.");
    }
    let (owner, team) = owner_for_new(&principal, &body, &mut errors);
    let mut customer = Customer {
        id: CustomerId::new_at(now),
        full_name: String::new(),
        given_name: String::new(),
        gender: None,
        birthday: None,
        phones: Vec::new(),
        emails: Vec::new(),
        cccd: None,
        cmnd: None,
        tax_code: None,
        address: None,
        tags: Vec::new(),
        attributes: Map::new(),
        owner,
        team,
        source: Source::Other,
        attribution: Default::default(),
        lifecycle: Lifecycle::New,
        classification: None,
        consents: Default::default(),
        processing_restricted: false,
        marketing_objected: false,
        holdings: Vec::new(),
        submissions: 0,
        created_at: now,
        updated_at: now,
        first_interaction_at: None,
        last_activity_at: Some(now),
        erased_at: None,
        version: 1,
    };
    apply_fields(&mut customer, &body, &principal, now, &mut errors);
    errors.into_result()?;
    let entry = staff_entry(
        customer.id,
        now,
        "customer.created",
        &principal,
        json!({"source": customer.source}),
    );
    repo::create(&*deps.store, &customer, vec![entry.write(now)]).await?;
    Ok((StatusCode::CREATED, Json(view(&customer))).into_response())
}

/// `GET /v1/customers/{id}`: the full record. Every read is audited (who, when, which record).
async fn get_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    audit(&deps, &principal, customer.id, "read", json!({})).await?;
    Ok(Json(view(&customer)))
}

/// Records that `principal` accessed or changed a customer's personal data.
pub async fn audit(
    deps: &Deps,
    principal: &Principal,
    customer: CustomerId,
    action: &str,
    data: Value,
) -> Result<(), ApiError> {
    deps.store
        .put(
            audit_item(deps, principal, customer, action, data),
            crate::ports::Condition::NotExists,
        )
        .await?;
    Ok(())
}

/// The audit item, for writing inside a transaction.
pub fn audit_item(
    deps: &Deps,
    principal: &Principal,
    customer: CustomerId,
    action: &str,
    data: Value,
) -> crate::ports::Item {
    let now = deps.clock.now();
    let mut item =
        keys::audit_entry(customer, now, &Ulid::from_datetime(now.into()).to_string()).to_item();
    item.insert("kind".into(), "audit".into());
    item.insert("action".into(), action.into());
    item.insert("user".into(), principal.user.clone().into());
    item.insert("role".into(), json!(principal.role));
    item.insert("at".into(), keys::instant(now).into());
    item.insert("data".into(), data);
    item
}

/// `PATCH /v1/customers/{id}`: change some fields. The body carries the `version` read; a
/// different stored version answers 409 and changes nothing.
async fn update_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let Some(version) = body.get("version").and_then(Value::as_u64) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Send the version you read, to guard against overwriting someone else's change.",
        )
        .field("version", "Cần số phiên bản (version) đã đọc."));
    };
    let before = load_visible(&deps, &principal, &id).await?;
    if before.version != version {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "The record was changed by someone else; reload it and try again.",
        )
        .field("version", format!("current version is {}", before.version)));
    }
    let now = deps.clock.now();
    let mut errors = FieldErrors::default();
    if body.contains_key("owner") {
        errors.add("owner", "Dùng POST /v1/customers/{id}/owner để giao khách.");
    }
    let mut after = before.clone();
    apply_fields(&mut after, &body, &principal, now, &mut errors);
    errors.into_result()?;
    after.updated_at = now;
    let changed: Vec<&String> = body
        .keys()
        .filter(|k| *k != "version" && *k != "consent_evidence")
        .collect();
    let entry = staff_entry(
        after.id,
        now,
        "customer.updated",
        &principal,
        json!({"fields": changed}),
    );
    repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await?;
    Ok(Json(view(&after)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignOwner {
    /// The new owner's user name.
    owner: String,
    /// The owner's team (admins only; a manager assigns within their own team).
    #[serde(default)]
    team: Option<String>,
    /// The version read.
    version: u64,
}

/// `POST /v1/customers/{id}/owner`: assign or reassign the responsible consultant. Admins
/// assign anyone to anyone; managers within their team; others may not.
async fn assign_owner(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<AssignOwner>,
) -> Result<Json<Value>, ApiError> {
    let before = load_visible(&deps, &principal, &id).await?;
    let team = match principal.role {
        // An admin moving a customer within its team need not repeat the team.
        Role::Admin => request.team.clone().or_else(|| before.team.clone()),
        Role::Manager if request.team.is_none() || request.team == principal.team => {
            principal.team.clone()
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only a manager or an admin assigns customers.",
            ));
        }
    };
    let owner = nfc(request.owner.trim());
    if owner.is_empty() || owner.chars().count() > 128 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The owner is a user name.",
        )
        .field("owner", "Cần tên người dùng."));
    }
    if before.version != request.version {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "The record was changed by someone else; reload it and try again.",
        )
        .field("version", format!("current version is {}", before.version)));
    }
    let now = deps.clock.now();
    let mut after = before.clone();
    after.owner = Some(owner.clone());
    after.team = team;
    after.updated_at = now;
    let entry = staff_entry(
        after.id,
        now,
        "customer.assigned",
        &principal,
        json!({"from": before.owner, "to": owner, "team": after.team}),
    );
    repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await?;
    Ok(Json(view(&after)))
}

/// Paging of the timeline.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TimelineParams {
    /// Entries per page, 1–100 (default 50).
    limit: Option<u32>,
    /// Where the previous page stopped.
    cursor: Option<String>,
}

/// `GET /v1/customers/{id}/timeline`: everything that happened, newest first.
async fn customer_timeline(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<TimelineParams>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_filter",
            "limit must be between 1 and 100",
        )
        .field("limit", "1–100"));
    }
    let (items, next) = timeline::page(
        &*deps.store,
        customer.id,
        limit,
        params.cursor.map(Cursor::from_client),
    )
    .await?;
    Ok(Json(
        json!({"items": items, "next_cursor": next.as_ref().map(Cursor::as_str)}),
    ))
}

/// `GET /v1/customers/{id}/activities`: the 10 most recent activities (time, action, screen).
async fn recent_activities(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let (items, _) = timeline::page(&*deps.store, customer.id, timeline::RECENT, None).await?;
    Ok(Json(json!({"items": items})))
}
