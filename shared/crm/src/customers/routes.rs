//! Staff routes on customers. Every route takes the caller's [`Principal`] and applies its
//! scope: a consultant or agent sees and changes only the customers they own, a manager their
//! team's, an admin everything. A customer outside the caller's scope answers 404, as if it did
//! not exist, and nothing changes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
use super::repo::{self, SaveError};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::form::{FieldErrors, parse_birthday, parse_consents, text};
use nhip_core::http::{ApiError, Json, ListParams, ListQuery, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::timeline;
use nhip_ports::store::{Cursor, StoreError};

/// The staff routes on customers.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(not_consulted))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(assign_owner))
        .routes(routes!(customer_timeline))
        .routes(routes!(recent_activities))
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such customer.")
}

/// The customer, if it exists and the caller's scope covers it, or the caller is the assignee
/// of an open ticket on it (telesales handed a warm lead work that customer).
pub async fn load_visible(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<Customer, ApiError> {
    find_visible(deps, principal, id)
        .await?
        .ok_or_else(not_found)
}

/// [`load_visible`] for use cases: `None` when the id is not a customer id, the customer does
/// not exist, or the caller may not see it. Besides their scope, staff see the customer of an
/// open ticket assigned to them, and the caller on their screen (an incoming call that rang
/// their extension, until they log or close it).
pub async fn find_visible(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<Option<Customer>, StoreError> {
    let Ok(id) = id.parse::<CustomerId>() else {
        return Ok(None);
    };
    match repo::get(&*deps.store, id).await? {
        Some(customer) if list::visible(principal, &customer) => Ok(Some(customer)),
        Some(customer)
            if crate::tickets::is_assignee(deps, customer.id, &principal.user).await?
                || crate::call_pops::on_screen(deps, &principal.user, customer.id).await? =>
        {
            Ok(Some(customer))
        }
        _ => Ok(None),
    }
}

/// The customer as staff see it ([`CustomerView`]), as JSON for answers that embed it.
pub fn view(customer: &Customer) -> Value {
    json!(CustomerView::from(customer))
}

/// A list row ([`CustomerSummary`]) as JSON, for answers that embed it.
pub fn summary(customer: &Customer) -> Value {
    json!(CustomerSummary::from(customer))
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
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "customers",
    security(("bearer" = [])),
    params(Filters),
    responses(
        (status = 200, description = "One page of the customers in the caller's scope passing the filters.", body = CustomerList),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn list_customers(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    ListQuery(filters): ListQuery<Filters>,
) -> Result<Json<CustomerList>, ApiError> {
    let listing = list::list(&*deps.store, &principal, &filters)
        .await
        .map_err(list_error)?;
    Ok(Json(CustomerList {
        items: listing
            .customers
            .iter()
            .map(CustomerSummary::from)
            .collect(),
        next_cursor: listing.next_cursor,
    }))
}

/// `GET /v1/customers/not-consulted`: the leads nobody has talked to yet ("KH mới chưa tư
/// vấn"), newest first, with their count.
#[utoipa::path(
    get,
    path = "/v1/customers/not-consulted",
    tag = "customers",
    security(("bearer" = [])),
    params(Filters),
    responses(
        (status = 200, description = "The `new` customers in the caller's scope passing the other filters, with their count.", body = NotConsultedList),
        nhip_core::openapi::QueryErrors,
    )
)]
async fn not_consulted(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    ListQuery(mut filters): ListQuery<Filters>,
) -> Result<Json<NotConsultedList>, ApiError> {
    filters.lifecycle = Some(Lifecycle::New);
    let listing = list::list(&*deps.store, &principal, &filters)
        .await
        .map_err(list_error)?;
    let count = list::count_new(&*deps.store, &principal).await?;
    Ok(Json(NotConsultedList {
        label: Lifecycle::New.label(),
        count,
        items: listing
            .customers
            .iter()
            .map(CustomerSummary::from)
            .collect(),
        next_cursor: listing.next_cursor,
    }))
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
/// clears an optional field. Consents are recorded with `consent_source` as where they were
/// given (`staff`, `import`).
pub(super) fn apply_fields(
    customer: &mut Customer,
    body: &Map<String, Value>,
    principal: &Principal,
    now: DateTime<Utc>,
    consent_source: &str,
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
        for record in parse_consents(body.get("consents"), consent_source, &evidence, now, errors) {
            customer.consents.record(record);
        }
    }
    if let Some(cccd) = &customer.cccd
        && let Err(e) = cccd.check_consistency(customer.birthday, customer.gender)
    {
        errors.add("cccd", e.to_string());
    }
}

pub(super) fn staff_entry(
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

/// A new customer from the fields staff entered (the create route's JSON body, or one row of a
/// CSV import mapped to the same fields): the name is required, the owner follows
/// [`owner_for_new`], the other fields follow [`apply_fields`]. Every problem goes to `errors`;
/// the customer is only meaningful when there is none.
pub(super) fn new_customer(
    body: &Map<String, Value>,
    principal: &Principal,
    now: DateTime<Utc>,
    consent_source: &str,
    errors: &mut FieldErrors,
) -> Customer {
    if !body.contains_key("full_name") {
        errors.add("full_name", "Vui lòng nhập họ và tên.");
    }
    let (owner, team) = owner_for_new(principal, body, errors);
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
        advertising_agreement: None,
        version: 1,
    };
    apply_fields(&mut customer, body, principal, now, consent_source, errors);
    customer
}

/// `POST /v1/customers`: a customer entered by staff. 201 with the record; 409 when a phone,
/// e-mail or CCCD already belongs to another customer.
#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = "customers",
    security(("bearer" = [])),
    request_body(content = CustomerInput, description = "The fields staff entered; `full_name` and `source` are required."),
    responses(
        (status = 201, description = "Created: the record.", body = CustomerView),
        nhip_core::openapi::CreateErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
async fn create_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let body = nhip_core::http::json_object(body)?;
    let now = deps.clock.now();
    let mut errors = FieldErrors::default();
    if !body.contains_key("source") {
        errors.add("source", "Vui lòng chọn nguồn khách hàng.");
    }
    let customer = new_customer(&body, &principal, now, "staff", &mut errors);
    errors.into_result()?;
    let entry = staff_entry(
        customer.id,
        now,
        nhip_core::event_types::CUSTOMER_CREATED,
        &principal,
        json!({"source": customer.source}),
    );
    if let Err(error) = repo::create(&*deps.store, &customer, vec![entry.write(now)]).await {
        return Err(save_error_for(&deps, &principal, error).await);
    }
    Ok((StatusCode::CREATED, Json(CustomerView::from(&customer))).into_response())
}

/// `GET /v1/customers/{id}`: the full record. Every read is audited (who, when, which record).
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "The full record; the read is audited.", body = CustomerView),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn get_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    audit(&deps, &principal, customer.id, "read", json!({})).await?;
    Ok(Json(CustomerView::from(&customer)))
}

/// The answer to a failed staff save. A phone, e-mail or CCCD held by another customer is
/// named (with that customer's id) only to a caller whose scope covers that customer; anyone
/// else learns only that the identifier cannot be used, not whose it is.
pub(super) async fn save_error_for(
    deps: &Deps,
    principal: &Principal,
    error: SaveError,
) -> ApiError {
    let SaveError::Taken { field, owner } = error else {
        return crate::customers::repo::save_error(error);
    };
    let holder = match repo::get(&*deps.store, owner).await {
        Ok(holder) => holder.filter(|c| c.erased_at.is_none()),
        Err(error) => return error.into(),
    };
    match holder {
        Some(holder) if list::visible(principal, &holder) => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("The {field} already belongs to customer {owner}."),
        )
        .field(field, format!("Đã thuộc về khách hàng {owner}.")),
        _ => ApiError::new(
            StatusCode::CONFLICT,
            "identifier_unavailable",
            format!("This {field} cannot be used."),
        )
        .field(field, "Không dùng được giá trị này."),
    }
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
            nhip_ports::Condition::NotExists,
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
) -> nhip_ports::Item {
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
#[utoipa::path(
    patch,
    path = "/v1/customers/{id}",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = CustomerPatch, description = "The fields to change and the `version` read."),
    responses(
        (status = 200, description = "Changed: the record as it now is.", body = CustomerView),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn update_customer(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<CustomerView>, ApiError> {
    let body = nhip_core::http::json_object(body)?;
    let after = update(&deps, &principal, &id, &body).await?;
    Ok(Json(CustomerView::from(&after)))
}

/// Changes the fields `body` names on the customer `id`, if it is still at the `version` the
/// body names: the use case behind the route and the console's profile form. Answers the
/// customer as saved.
pub async fn update(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Customer, ApiError> {
    let version = nhip_core::http::required_version(body)?;
    let before = load_visible(deps, principal, id).await?;
    if before.version != version {
        return Err(ApiError::stale_version(before.version));
    }
    let now = deps.clock.now();
    let mut errors = FieldErrors::default();
    if body.contains_key("owner") {
        errors.add("owner", "Dùng POST /v1/customers/{id}/owner để giao khách.");
    }
    let mut after = before.clone();
    apply_fields(&mut after, body, principal, now, "staff", &mut errors);
    errors.into_result()?;
    after.updated_at = now;
    let changed: Vec<&String> = body
        .keys()
        .filter(|k| *k != "version" && *k != "consent_evidence")
        .collect();
    let entry = staff_entry(
        after.id,
        now,
        nhip_core::event_types::CUSTOMER_UPDATED,
        principal,
        json!({"fields": changed}),
    );
    let mut writes = vec![entry.write(now)];
    // A lifecycle change is an event journeys listen for ("became a customer").
    let lifecycle_change = (before.lifecycle != after.lifecycle).then(|| {
        staff_entry(
            after.id,
            now,
            nhip_core::event_types::CUSTOMER_LIFECYCLE_CHANGED,
            principal,
            json!({"from": before.lifecycle, "to": after.lifecycle}),
        )
    });
    if let Some(change) = &lifecycle_change {
        writes.push(change.write(now));
    }
    if let Err(error) = repo::save(&*deps.store, &before, &mut after, writes).await {
        return Err(save_error_for(deps, principal, error).await);
    }
    // Journeys hear the change ("became a customer") as they hear a core system's event.
    let mut published = vec![entry];
    published.extend(lifecycle_change);
    nhip_core::events::publish_entries(deps, &published).await;
    Ok(after)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignOwner {
    /// The new owner's user name (1–128 characters, not blank).
    #[schema(min_length = 1, max_length = 128, pattern = "\\S")]
    pub owner: String,
    /// The owner's team (admins only; a manager assigns within their own team).
    #[serde(default)]
    pub team: Option<String>,
    /// The version read.
    pub version: u64,
}

/// `POST /v1/customers/{id}/owner`: assign or reassign the responsible consultant. Admins
/// assign anyone to anyone; managers within their team; others may not.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/owner",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = AssignOwner),
    responses(
        (status = 200, description = "Assigned: the record as it now is.", body = CustomerView),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn assign_owner(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<AssignOwner>,
) -> Result<Json<CustomerView>, ApiError> {
    let after = assign(&deps, &principal, &id, &request).await?;
    Ok(Json(CustomerView::from(&after)))
}

/// Hands the customer `id` to an owner (managers within their team, admins anywhere): the use
/// case behind the route and the console's lead inbox. Answers the customer as saved.
pub async fn assign(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    request: &AssignOwner,
) -> Result<Customer, ApiError> {
    let before = load_visible(deps, principal, id).await?;
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
        return Err(ApiError::stale_version(before.version));
    }
    let now = deps.clock.now();
    let mut after = before.clone();
    after.owner = Some(owner.clone());
    after.team = team;
    after.updated_at = now;
    let entry = staff_entry(
        after.id,
        now,
        nhip_core::event_types::CUSTOMER_ASSIGNED,
        principal,
        json!({"from": before.owner, "to": owner, "team": after.team}),
    );
    repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await?;
    Ok(after)
}

/// Paging of the timeline.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TimelineParams {
    /// Entries per page, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Where the previous page stopped.
    cursor: Option<String>,
}

impl ListParams for TimelineParams {
    const DEFAULT_LIMIT: u32 = 50;
    const MAX_LIMIT: u32 = 100;

    fn requested_limit(&self) -> Option<u32> {
        self.limit
    }
}

/// `GET /v1/customers/{id}/timeline`: everything that happened, newest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/timeline",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID)."), TimelineParams),
    responses(
        (status = 200, description = "One page of the timeline, newest first.", body = TimelinePage),
        nhip_core::openapi::QueryOneErrors,
    )
)]
async fn customer_timeline(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    ListQuery(params): ListQuery<TimelineParams>,
) -> Result<Json<TimelinePage>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let limit = params.limit();
    let (items, next) = timeline::page(
        &*deps.store,
        customer.id,
        limit,
        params.cursor.map(Cursor::from_client),
    )
    .await?;
    Ok(Json(TimelinePage {
        items,
        next_cursor: next.as_ref().map(|c| c.as_str().to_owned()),
    }))
}

/// `GET /v1/customers/{id}/activities`: the 10 most recent activities (time, action, screen).
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/activities",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "The 10 most recent activities, newest first.", body = RecentActivities),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn recent_activities(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<RecentActivities>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let (items, _) = timeline::page(&*deps.store, customer.id, timeline::RECENT, None).await?;
    Ok(Json(RecentActivities { items }))
}

// ---------------------------------------------------------------------------------------------
// What the customer routes answer ([`CustomerView`], [`CustomerSummary`] and the lists), and
// schemas of the request bodies above for the OpenAPI document.

/// A customer as staff see it: the full record ([`Customer`]) plus Vietnamese labels. The
/// answer of `GET /v1/customers/{id}` and of every change. Built field by field, so a field
/// added to the stored record is not answered until it is added here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    /// Time-ordered id (a ULID).
    #[schema(value_type = String, example = "01KAQ3V2J5N8W6Y4X0Z9B7C1D3")]
    pub id: CustomerId,
    /// Full name, family name first.
    #[schema(example = "Nguyễn Văn Minh")]
    pub full_name: String,
    /// The name used to address them.
    #[schema(example = "Minh")]
    pub given_name: String,
    /// Gender, when known.
    #[schema(value_type = Option<nhip_core::openapi::GenderSchema>)]
    pub gender: Option<Gender>,
    /// Date of birth, when known.
    pub birthday: Option<chrono::NaiveDate>,
    /// Mobile numbers, `+84…`; the first is the main one.
    #[schema(value_type = Vec<String>, example = json!(["+84912345678"]))]
    pub phones: Vec<Phone>,
    /// E-mail addresses, lower-cased; the first is the main one.
    #[schema(value_type = Vec<String>)]
    pub emails: Vec<Email>,
    /// Citizen identity card number (12 digits).
    #[schema(value_type = Option<String>)]
    pub cccd: Option<Cccd>,
    /// Old identity card number, history only.
    #[schema(value_type = Option<String>)]
    pub cmnd: Option<Cmnd>,
    /// Tax code (MST).
    #[schema(value_type = Option<String>)]
    pub tax_code: Option<TaxCode>,
    /// Postal address.
    pub address: Option<String>,
    /// Tags, sorted and unique.
    pub tags: Vec<String>,
    /// Custom attributes set by the organisation.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// The responsible consultant or agent.
    pub owner: Option<String>,
    /// The owner's team.
    pub team: Option<String>,
    /// Where they came from.
    #[schema(value_type = nhip_core::openapi::SourceSchema)]
    pub source: Source,
    /// The source in Vietnamese.
    pub source_label: &'static str,
    /// Campaign fields captured with a web lead.
    #[schema(value_type = AttributionView)]
    pub attribution: nhip_domain::customer::Attribution,
    /// Where they are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: Lifecycle,
    /// The lifecycle in Vietnamese.
    #[schema(example = "KH mới chưa tư vấn")]
    pub lifecycle_label: &'static str,
    /// How promising, as staff judged.
    #[schema(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<Classification>,
    /// The classification in Vietnamese; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification_label: Option<&'static str>,
    /// Consents in force, keyed `<channel>:<purpose>`.
    #[schema(value_type = std::collections::BTreeMap<String, ConsentView>)]
    pub consents: nhip_domain::customer::Consents,
    /// The customer restricted processing of their data.
    pub processing_restricted: bool,
    /// The customer objected to marketing.
    pub marketing_objected: bool,
    /// Products held, summarised.
    #[schema(value_type = Vec<HoldingSummaryView>)]
    pub holdings: Vec<super::model::HoldingSummary>,
    /// How many times they submitted a form.
    pub submissions: u32,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The first call, note or meeting logged by staff.
    pub first_interaction_at: Option<DateTime<Utc>>,
    /// The latest activity of any kind.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// When the personal data was erased at the customer's request.
    pub erased_at: Option<DateTime<Utc>>,
    /// Limits or hours for advertising the customer agreed to, replacing the Decree 91
    /// defaults for them only; absent without an agreement.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub advertising_agreement: Option<nhip_domain::compliance::Agreement>,
    /// Optimistic-concurrency version: send it back with a change.
    pub version: u64,
}

impl From<&Customer> for CustomerView {
    fn from(customer: &Customer) -> Self {
        let c = customer.clone();
        Self {
            id: c.id,
            full_name: c.full_name,
            given_name: c.given_name,
            gender: c.gender,
            birthday: c.birthday,
            phones: c.phones,
            emails: c.emails,
            cccd: c.cccd,
            cmnd: c.cmnd,
            tax_code: c.tax_code,
            address: c.address,
            tags: c.tags,
            attributes: c.attributes,
            owner: c.owner,
            team: c.team,
            source: c.source,
            source_label: c.source.label(),
            attribution: c.attribution,
            lifecycle: c.lifecycle,
            lifecycle_label: c.lifecycle.label(),
            classification: c.classification,
            classification_label: c.classification.map(Classification::label),
            consents: c.consents,
            processing_restricted: c.processing_restricted,
            marketing_objected: c.marketing_objected,
            holdings: c.holdings,
            submissions: c.submissions,
            created_at: c.created_at,
            updated_at: c.updated_at,
            first_interaction_at: c.first_interaction_at,
            last_activity_at: c.last_activity_at,
            erased_at: c.erased_at,
            advertising_agreement: c.advertising_agreement,
            version: c.version,
        }
    }
}

/// Campaign and page fields captured with a web lead (each only when captured).
#[derive(utoipa::ToSchema)]
pub struct AttributionView {
    /// `utm_source`.
    pub utm_source: Option<String>,
    /// `utm_medium`.
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    pub utm_campaign: Option<String>,
    /// `utm_term`.
    pub utm_term: Option<String>,
    /// `utm_content`.
    pub utm_content: Option<String>,
    /// The page the form was on.
    pub page: Option<String>,
    /// The referring page.
    pub referrer: Option<String>,
    /// Which form.
    pub form: Option<String>,
}

/// One consent decision in force.
#[derive(utoipa::ToSchema)]
pub struct ConsentView {
    /// The channel.
    #[schema(value_type = nhip_core::openapi::ChannelSchema)]
    pub channel: String,
    /// What for.
    #[schema(value_type = nhip_core::openapi::PurposeSchema)]
    pub purpose: String,
    /// Given (`true`) or withdrawn (`false`).
    pub granted: bool,
    /// Where it was given: `website_form`, `staff`, `import`, …
    pub source: String,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// What proves it.
    pub evidence: String,
}

/// One product a customer holds, as list filters see it.
#[derive(utoipa::ToSchema)]
pub struct HoldingSummaryView {
    /// The holding's id.
    pub id: String,
    /// Product code from the catalogue.
    pub product: String,
    /// Contract or subscription status (`active`, `pending`, `settled`, …).
    pub status: String,
    /// Expiry date, when it has one.
    pub expires_on: Option<chrono::NaiveDate>,
    /// Whether it is used.
    #[schema(value_type = Option<nhip_core::openapi::UsageStatusSchema>)]
    pub usage_status: Option<String>,
    /// Why it is not (yet) used.
    pub usage_reason: Option<String>,
    /// Share of invoices left, 0–1.
    pub remaining_invoice_ratio: Option<f64>,
}

/// A list row ([`summary`]): the CCCD is masked.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerSummary {
    /// Time-ordered id (a ULID).
    #[schema(value_type = String)]
    pub id: CustomerId,
    /// Full name, family name first.
    pub full_name: String,
    /// The name used to address them.
    pub given_name: String,
    /// Gender, when known.
    #[schema(value_type = Option<nhip_core::openapi::GenderSchema>)]
    pub gender: Option<Gender>,
    /// The main mobile number.
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    /// The main e-mail address.
    #[schema(value_type = Option<String>)]
    pub email: Option<Email>,
    /// The CCCD, masked (`001******345`).
    pub cccd: Option<String>,
    /// Tax code (MST).
    #[schema(value_type = Option<String>)]
    pub tax_code: Option<TaxCode>,
    /// Where they are in the relationship.
    #[schema(value_type = nhip_core::openapi::LifecycleSchema)]
    pub lifecycle: Lifecycle,
    /// The lifecycle in Vietnamese.
    pub lifecycle_label: &'static str,
    /// How promising, as staff judged.
    #[schema(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<Classification>,
    /// Where they came from.
    #[schema(value_type = nhip_core::openapi::SourceSchema)]
    pub source: Source,
    /// The responsible consultant or agent.
    pub owner: Option<String>,
    /// The owner's team.
    pub team: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Products held, summarised.
    #[schema(value_type = Vec<HoldingSummaryView>)]
    pub holdings: Vec<super::model::HoldingSummary>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// The latest activity of any kind.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

/// One page of customers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CustomerList {
    /// Newest first (exact-accent name matches first).
    pub items: Vec<CustomerSummary>,
    /// Pass as `cursor` for the next page; absent or null on the last.
    pub next_cursor: Option<String>,
}

/// The leads nobody has consulted yet ("KH mới chưa tư vấn").
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct NotConsultedList {
    /// The list's Vietnamese name.
    #[schema(example = "KH mới chưa tư vấn")]
    pub label: &'static str,
    /// How many there are in the caller's scope.
    pub count: u64,
    /// One page of them, newest first.
    pub items: Vec<CustomerSummary>,
    /// Pass as `cursor` for the next page; absent or null on the last.
    pub next_cursor: Option<String>,
}

/// One page of a customer's timeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct TimelinePage {
    /// Newest first.
    pub items: Vec<timeline::Activity>,
    /// Pass as `cursor` for the next page; absent or null on the last.
    pub next_cursor: Option<String>,
}

/// A customer's most recent activities.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RecentActivities {
    /// Up to 10, newest first.
    pub items: Vec<timeline::Activity>,
}

impl From<&Customer> for CustomerSummary {
    fn from(customer: &Customer) -> Self {
        Self {
            id: customer.id,
            full_name: customer.full_name.clone(),
            given_name: customer.given_name.clone(),
            gender: customer.gender,
            phone: customer.phone().cloned(),
            email: customer.email().cloned(),
            cccd: customer.cccd.as_ref().map(Cccd::masked),
            tax_code: customer.tax_code.clone(),
            lifecycle: customer.lifecycle,
            lifecycle_label: customer.lifecycle.label(),
            classification: customer.classification,
            source: customer.source,
            owner: customer.owner.clone(),
            team: customer.team.clone(),
            tags: customer.tags.clone(),
            holdings: customer.holdings.clone(),
            created_at: customer.created_at,
            last_activity_at: customer.last_activity_at,
            version: customer.version,
        }
    }
}

/// The fields staff enter for a new customer. `null` leaves an optional field empty; fields
/// not listed are refused.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    /// Full name, family name first.
    #[schema(example = "Trần Thị Lan", min_length = 1)]
    pub full_name: String,
    /// The name used to address them (default: from the full name), at most 50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub given_name: Option<String>,
    /// Gender.
    #[schema(value_type = Option<nhip_core::openapi::GenderSchema>)]
    pub gender: Option<String>,
    /// Date of birth, `YYYY-MM-DD` or `DD/MM/YYYY`.
    #[schema(example = "1990-05-17")]
    pub birthday: Option<String>,
    /// Mobile numbers in any usual form.
    #[schema(example = json!(["0912345678"]))]
    pub phones: Option<Vec<String>>,
    /// E-mail addresses.
    #[schema(example = json!(["lan.tran@example.vn"]))]
    pub emails: Option<Vec<String>>,
    /// CCCD (12 digits), consistent with the birthday and gender.
    pub cccd: Option<String>,
    /// Old identity card number.
    pub cmnd: Option<String>,
    /// Tax code (MST).
    pub tax_code: Option<String>,
    /// Postal address, at most 500 characters.
    #[schema(max_length = 500)]
    pub address: Option<String>,
    /// Tags: at most 50, each at most 50 characters.
    pub tags: Option<Vec<String>>,
    /// Custom attributes: a JSON object of at most 50.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Where they came from.
    #[schema(value_type = nhip_core::openapi::SourceSchema)]
    pub source: String,
    /// Where they are in the relationship (default `new`).
    #[schema(value_type = Option<nhip_core::openapi::LifecycleSchema>)]
    pub lifecycle: Option<String>,
    /// How promising.
    #[schema(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<String>,
    /// Consents given, `channel:purpose`.
    #[schema(value_type = Option<Vec<nhip_core::openapi::ConsentPairSchema>>)]
    pub consents: Option<Vec<String>>,
    /// How the consents were given (kept as evidence).
    pub consent_evidence: Option<String>,
    /// The owner (admins, and managers within their team; others own what they create).
    pub owner: Option<String>,
}

/// A change to a customer: the fields to change and the version read. `null` clears an
/// optional field; fields not listed are refused; the owner changes through
/// `POST /v1/customers/{id}/owner`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// The version read; a different stored version answers 409.
    pub version: u64,
    /// Full name, family name first.
    #[schema(nullable = false, min_length = 1)]
    pub full_name: Option<String>,
    /// The name used to address them, at most 50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub given_name: Option<String>,
    /// Gender.
    #[schema(value_type = Option<nhip_core::openapi::GenderSchema>)]
    pub gender: Option<String>,
    /// Date of birth, `YYYY-MM-DD` or `DD/MM/YYYY`.
    pub birthday: Option<String>,
    /// Mobile numbers (replace the list).
    pub phones: Option<Vec<String>>,
    /// E-mail addresses (replace the list).
    pub emails: Option<Vec<String>>,
    /// CCCD (12 digits).
    pub cccd: Option<String>,
    /// Old identity card number.
    pub cmnd: Option<String>,
    /// Tax code (MST).
    pub tax_code: Option<String>,
    /// Postal address, at most 500 characters.
    #[schema(max_length = 500)]
    pub address: Option<String>,
    /// Tags (replace the list).
    pub tags: Option<Vec<String>>,
    /// Custom attributes (replace the object).
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Where they came from.
    #[schema(value_type = Option<nhip_core::openapi::SourceSchema>, nullable = false)]
    pub source: Option<String>,
    /// Where they are in the relationship.
    #[schema(value_type = Option<nhip_core::openapi::LifecycleSchema>)]
    pub lifecycle: Option<String>,
    /// How promising.
    #[schema(value_type = Option<nhip_core::openapi::ClassificationSchema>)]
    pub classification: Option<String>,
    /// Consents given, `channel:purpose`.
    #[schema(value_type = Option<Vec<nhip_core::openapi::ConsentPairSchema>>)]
    pub consents: Option<Vec<String>>,
    /// How the consents were given.
    pub consent_evidence: Option<String>,
}
