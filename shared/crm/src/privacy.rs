//! Personal-data rights under the Personal Data Protection Law 91/2025/QH15 and Decree
//! 356/2025 (in force since 2026-01-01; they replaced Decree 13/2023). Staff act on the
//! customer's request, within their usual scope (a customer outside it answers 404):
//! - `GET /v1/customers/{id}/export`: everything held on the customer, as one JSON document.
//! - `POST /v1/customers/{id}/erase`: anonymise the record (admin or the customer's manager).
//! - `POST /v1/customers/{id}/restrict`: restrict (or lift the restriction of) processing.
//! - `POST /v1/customers/{id}/object-marketing`: object to marketing, every channel at once.
//! - `POST /v1/customers/{id}/consents`: grant or withdraw one consent, effective at once.
//!
//! Every action writes an audit entry (`AUDIT#…`) and a timeline entry in the same transaction
//! as the change it records. Logs carry ids only, never a personal value.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::customer::{Channel, ConsentRecord, Consents, Purpose};
use nhip_domain::ids::CustomerId;
use nhip_domain::person::nfc;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use ulid::Ulid;

use crate::customers::model::Customer;
use crate::customers::repo::{self, SaveError};
use crate::customers::routes::{CustomerView, audit_item, find_visible, load_visible};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::form::invalid;
use nhip_core::http::{ApiError, Json, MAX_BODY_BYTES, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::timeline;
use nhip_ports::store::{
    Condition, Cursor, Index, Item, MAX_TRANSACTION_OPS, Query, SortKey, StoreError, Update,
    WriteOp,
};

/// The full name an erased customer keeps ("Erased").
pub const ERASED_NAME: &str = "Đã xoá";

/// Format tag of the export document.
pub const EXPORT_FORMAT: &str = "nhip.personal-data-export/1";

/// The law an export answers, as the document names it.
const LEGAL_BASIS: &str = "Luật Bảo vệ dữ liệu cá nhân 91/2025/QH15; Nghị định 356/2025/NĐ-CP";

/// Items read per page when walking a customer's partition.
const PAGE: u32 = 500;

/// Longest free text (erase reason, consent evidence) accepted.
const MAX_TEXT_CHARS: usize = 2000;

/// Attributes holding personal free text or contact details, stripped from timeline entries'
/// `data` (and from other items in the customer's partition, such as next actions) when the
/// customer is erased. Types, times, actors and statistical fields stay.
const PERSONAL_FIELDS: &[&str] = &[
    "notes",
    "note",
    "feedback",
    "message",
    "comment",
    "comments",
    "text",
    "body",
    "subject",
    "content",
    "evidence",
    "name",
    "full_name",
    "given_name",
    "phone",
    "phones",
    "caller",
    "email",
    "emails",
    "address",
    "cccd",
    "cmnd",
    "birthday",
    // What an anonymous form said in a known customer's name (contact details among it).
    "submitted",
];

/// Campaign fields that may carry personal query strings (`?email=…`), cleared on erasure.
const PERSONAL_PAGES: &[&str] = &["page", "referrer"];

/// Attributes that help find an item but are not data: the folded name the search reads.
/// With the table's and the indexes' keys ([`Index`]), they are left out of exports.
const LOOKUP_ATTRIBUTES: &[&str] = &["name_folded"];

/// The personal-data routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(export))
        .routes(routes!(erase))
        .routes(routes!(restrict))
        .routes(routes!(object_marketing))
        .routes(routes!(change_consent))
}

// ---------------------------------------------------------------------------------------------
// Plumbing
// ---------------------------------------------------------------------------------------------

/// Reads a JSON object already parsed (by [`Json`]) as `T`: 422 `validation_failed` when it
/// does not fit.
fn parse_body<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("The body does not match the request: {e}"),
        )
    })
}

/// An optional JSON body: an empty (or blank) body, with any Content-Type or none, and a JSON
/// `null` are `T::default()`; any other body is read as [`Json`] reads it, with the same error
/// answers.
struct OptionalJson<T>(T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("The body is larger than {MAX_BODY_BYTES} bytes."),
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        let Json(value) = Json::<Option<T>>::from_request(request, state).await?;
        Ok(OptionalJson(value.unwrap_or_default()))
    }
}

/// Free text: trimmed, NFC, non-empty when `required`, at most [`MAX_TEXT_CHARS`]; or the
/// problem, in Vietnamese.
fn checked_text(value: Option<&str>, required: bool) -> Result<Option<String>, &'static str> {
    let text = value.map(|v| nfc(v.trim())).filter(|v| !v.is_empty());
    match text {
        None if required => Err("Không được để trống."),
        Some(t) if t.chars().count() > MAX_TEXT_CHARS => Err("Tối đa 2000 ký tự."),
        other => Ok(other),
    }
}

/// [`checked_text`] for a route: a problem is a 422 on `field`.
fn free_text(value: Option<&str>, field: &str, required: bool) -> Result<Option<String>, ApiError> {
    checked_text(value, required).map_err(|problem| invalid(field, problem))
}

/// Why a personal-data request could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// No such customer, or not in the caller's scope.
    #[error("no such customer")]
    NotFound,
    /// A field of the request is not valid: the problem, in Vietnamese.
    #[error("{field} is not valid: {problem}")]
    Invalid {
        field: &'static str,
        problem: &'static str,
    },
    /// The record changed since the caller read it.
    #[error("the customer is at version {current}")]
    StaleVersion { current: u64 },
    #[error(transparent)]
    Save(#[from] SaveError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PrivacyError> for ApiError {
    fn from(error: PrivacyError) -> Self {
        match error {
            PrivacyError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such customer.")
            }
            PrivacyError::Invalid { field, problem } => invalid(field, problem),
            PrivacyError::StaleVersion { current } => ApiError::stale_version(current),
            PrivacyError::Save(error) => error.into(),
            PrivacyError::Store(error) => error.into(),
        }
    }
}

/// The customer, if the caller may see it.
async fn visible(deps: &Deps, principal: &Principal, id: &str) -> Result<Customer, PrivacyError> {
    find_visible(deps, principal, id)
        .await?
        .ok_or(PrivacyError::NotFound)
}

fn already_erased() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "erased",
        "The customer's personal data was erased; nothing more can be recorded on it.",
    )
}

/// A timeline entry for a privacy action by `principal`.
fn entry(
    customer: CustomerId,
    now: DateTime<Utc>,
    event_type: &str,
    principal: &Principal,
    data: Value,
) -> timeline::Entry {
    timeline::Entry {
        customer,
        at: now,
        cause: format!("privacy#{}", Ulid::from_datetime(now.into())),
        event_type: event_type.to_owned(),
        source: "staff_api".to_owned(),
        actor: Some(principal.user.clone()),
        data,
    }
}

/// Records a consent decision so that it is the one in force, even when the record in force
/// carries a later instant (clock skew between sources): a customer's decision made now must
/// take effect now.
fn decide(
    consents: &mut Consents,
    channel: Channel,
    purpose: Purpose,
    granted: bool,
    at: DateTime<Utc>,
    evidence: String,
) {
    let at = consents
        .get(channel, purpose)
        .map_or(at, |current| current.at.max(at));
    consents.record(ConsentRecord {
        channel,
        purpose,
        granted,
        source: "staff".to_owned(),
        at,
        evidence,
    });
}

/// Evidence of a decision recorded by staff: who, on which request, with their note.
fn staff_evidence(principal: &Principal, request: &str, note: Option<&str>) -> String {
    json!({"by": principal.user, "request": request, "note": note}).to_string()
}

/// One page of the customer's partition (`CUS#<id>`), in sort-key order. A Query, never a Scan.
async fn partition_page(
    deps: &Deps,
    customer: CustomerId,
    sk: Option<SortKey>,
    limit: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<Item>, Option<Cursor>), StoreError> {
    let mut query = Query::partition(Index::Primary, keys::customer_pk(customer))
        .limit(limit)
        .after(cursor);
    if let Some(sk) = sk {
        query = query.sk(sk);
    }
    let page = deps.store.query(query).await?;
    Ok((page.items, page.next))
}

/// Applies a change to the customer with its timeline and audit entries in one transaction.
/// `version`, when given, must be the stored one; without it a concurrent change is retried,
/// so a customer's request always takes effect. `apply` returns the timeline and audit data.
async fn change<F>(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    version: Option<u64>,
    event_type: &str,
    mut apply: F,
) -> Result<Customer, ApiError>
where
    F: FnMut(&mut Customer, DateTime<Utc>) -> Result<(Value, Value), ApiError>,
{
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let before = load_visible(deps, principal, id).await?;
        if before.erased_at.is_some() {
            return Err(already_erased());
        }
        if let Some(version) = version
            && version != before.version
        {
            return Err(ApiError::stale_version(before.version));
        }
        let now = deps.clock.now();
        let mut after = before.clone();
        let (timeline_data, audit_data) = apply(&mut after, now)?;
        after.updated_at = now;
        let recorded = entry(after.id, now, event_type, principal, timeline_data);
        let extra = vec![
            recorded.write(now),
            WriteOp::Put {
                item: audit_item(deps, principal, after.id, event_type, audit_data),
                condition: Condition::NotExists,
            },
        ];
        match repo::save(&*deps.store, &before, &mut after, extra).await {
            Ok(()) => {
                tracing::info!(customer = %after.id, user = %principal.user, action = event_type, "personal-data request applied");
                nhip_core::events::publish_entries(deps, &[recorded]).await;
                return Ok(after);
            }
            Err(SaveError::Conflict) if version.is_none() => continue,
            Err(SaveError::Conflict) => {
                let current = repo::get(&*deps.store, before.id)
                    .await?
                    .map_or(before.version, |c| c.version);
                return Err(ApiError::stale_version(current));
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(SaveError::Conflict.into())
}

// ---------------------------------------------------------------------------------------------
// Export (right of access and to data portability)
// ---------------------------------------------------------------------------------------------

/// An item as exported: without its table and index keys.
fn exported(mut item: Item) -> Value {
    for index in Index::ALL {
        item.remove(index.pk_attr());
        item.remove(index.sk_attr());
    }
    for attr in LOOKUP_ATTRIBUTES {
        item.remove(*attr);
    }
    Value::Object(item)
}

/// `GET /v1/customers/{id}/export`: everything held on the customer as one JSON document: the
/// profile, its consents with their evidence, every timeline entry, the holdings, the audit
/// trail and any other item of the customer's partition. The export itself is audited
/// (`privacy.exported`) and put on the timeline before anything is read, so no data leaves
/// unaudited; the document therefore includes its own audit entry.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/export",
    tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    responses(
        (status = 200, description = "Everything held on the customer, as one JSON document; the export is audited first. Never cached.", body = PersonalDataExport,
            headers(("Cache-Control" = String, description = "`no-store`: the document is personal data."))),
        nhip_core::openapi::QueryOneErrors,
        (status = 409, description = "A concurrent write to the customer's audit trail (`conflict`); retrying is safe.", body = nhip_core::openapi::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn export(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let document = export_personal_data(&deps, &principal, &id).await?;
    let mut response = Json(document).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Everything held on customer `id`, audited and put on the timeline before anything is read.
pub async fn export_personal_data(
    deps: &Deps,
    principal: &Principal,
    id: &str,
) -> Result<PersonalDataExport, PrivacyError> {
    let customer = visible(deps, principal, id).await?;
    let now = deps.clock.now();
    deps.store
        .transact(vec![
            entry(
                customer.id,
                now,
                nhip_core::event_types::PRIVACY_EXPORTED,
                principal,
                json!({}),
            )
            .write(now),
            WriteOp::Put {
                item: audit_item(
                    deps,
                    principal,
                    customer.id,
                    nhip_core::event_types::PRIVACY_EXPORTED,
                    json!({"format": EXPORT_FORMAT}),
                ),
                condition: Condition::NotExists,
            },
        ])
        .await?;

    let mut timeline_items = Vec::new();
    let mut holdings = Vec::new();
    let mut audit_items = Vec::new();
    let mut other = Vec::new();
    let mut cursor = None;
    loop {
        let (items, next) = partition_page(deps, customer.id, None, PAGE, cursor).await?;
        for item in items {
            let sk = item
                .get(Index::Primary.sk_attr())
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if sk == keys::PROFILE {
                // The profile is the record read above, with its labels.
            } else if sk.starts_with(keys::TIMELINE_PREFIX) {
                let label = timeline::action_label(
                    item.get("event_type")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
                let mut value = exported(item);
                value["action"] = json!(label);
                timeline_items.push(value);
            } else if sk.starts_with(keys::HOLDING_PREFIX) {
                holdings.push(exported(item));
            } else if sk.starts_with(keys::AUDIT_PREFIX) {
                audit_items.push(exported(item));
            } else {
                other.push(exported(item));
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    tracing::info!(
        timeline = timeline_items.len(),
        audit = audit_items.len(),
        "personal data exported"
    );
    Ok(PersonalDataExport {
        format: EXPORT_FORMAT,
        legal_basis: LEGAL_BASIS,
        exported_at: keys::instant(now),
        exported_by: principal.user.clone(),
        customer: CustomerView::from(&customer),
        consents: customer.consents.0.values().cloned().collect(),
        timeline: timeline_items,
        holdings,
        audit: audit_items,
        other,
    })
}

// ---------------------------------------------------------------------------------------------
// Erasure
// ---------------------------------------------------------------------------------------------

/// An erasure request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Why: the customer's request and how it reached us, at most 2,000 characters. Kept in
    /// the audit trail only.
    #[schema(
        example = "Khách yêu cầu xoá dữ liệu qua tổng đài",
        min_length = 1,
        max_length = 2000
    )]
    pub reason: String,
    /// The version read.
    pub version: u64,
}

/// An erasure request, checked: why (trimmed, NFC, 1–2,000 characters) and the version read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureOrder {
    /// Why, for the audit trail.
    pub reason: String,
    /// The customer's version read.
    pub version: u64,
}

impl TryFrom<&EraseRequest> for ErasureOrder {
    type Error = PrivacyError;

    fn try_from(request: &EraseRequest) -> Result<Self, PrivacyError> {
        let reason = checked_text(Some(&request.reason), true)
            .map_err(|problem| PrivacyError::Invalid {
                field: "reason",
                problem,
            })?
            .unwrap_or_default();
        Ok(Self {
            reason,
            version: request.version,
        })
    }
}

/// Whether the customer holds, or held, a product or contract. Contract and accounting
/// records must be retained (vouchers used in the books at least 10 years: Law on Accounting
/// 88/2015/QH13, Decree 174/2016), and the right to erasure under Law 91/2025/QH15 yields
/// where another law requires keeping the data. Those records name the customer by tax code,
/// so an erased customer with a holding keeps the tax code (MST) and its `MST#` entry. One Query on
/// `begins_with(sk, "HOLD#")` with limit 1, besides the summaries on the record.
async fn holds_anything(deps: &Deps, customer: &Customer) -> Result<bool, StoreError> {
    if !customer.holdings.is_empty() {
        return Ok(true);
    }
    let (items, _) = partition_page(
        deps,
        customer.id,
        Some(SortKey::BeginsWith(keys::HOLDING_PREFIX.to_owned())),
        1,
        None,
    )
    .await?;
    Ok(!items.is_empty())
}

/// The anonymised record: every personal value cleared, consents withdrawn, `erased_at` set.
/// The lifecycle, owner, team, source, holdings summaries and counters stay, so statistics and
/// scopes still work. The tax code stays only when `keep_tax_code` (see [`holds_anything`]).
fn anonymise(
    before: &Customer,
    now: DateTime<Utc>,
    keep_tax_code: bool,
    principal: &Principal,
) -> Customer {
    let mut after = before.clone();
    after.full_name = ERASED_NAME.to_owned();
    after.given_name = String::new();
    after.gender = None;
    after.birthday = None;
    after.phones.clear();
    after.emails.clear();
    after.cccd = None;
    after.cmnd = None;
    if !keep_tax_code {
        after.tax_code = None;
    }
    after.address = None;
    after.tags.clear();
    after.attributes.clear();
    // Campaign fields stay for statistics; the pages may carry personal query strings.
    after.attribution.page = None;
    after.attribution.referrer = None;
    let mut consents = Consents::default();
    for record in before.consents.0.values() {
        // The withdrawal replaces the old evidence, which may quote the person.
        decide(
            &mut consents,
            record.channel,
            record.purpose,
            false,
            now.max(record.at),
            staff_evidence(principal, "erase", None),
        );
    }
    after.consents = consents;
    after.erased_at = Some(now);
    after.updated_at = now;
    after
}

/// Identifiers beyond what one transaction can remove (profile, tax-code entry, timeline and
/// audit entries take four of the 100 operations) stay on the first write and are removed by
/// the following ones, each within the limit.
const FIRST_REMOVALS: usize = MAX_TRANSACTION_OPS - 4;
const LATER_REMOVALS: usize = MAX_TRANSACTION_OPS - 1;

/// Puts back on `after` the identifiers of `before` beyond the first `budget` removals (the
/// CCCD first, then phones, then e-mails), for a later write to remove.
fn defer_identifiers(before: &Customer, after: &mut Customer, budget: usize) {
    let mut budget = budget.saturating_sub(usize::from(before.cccd.is_some()));
    let phones = before.phones.len().min(budget);
    budget -= phones;
    after.phones = before.phones[phones..].to_vec();
    let emails = before.emails.len().min(budget);
    after.emails = before.emails[emails..].to_vec();
}

/// Strips personal fields from an item of the partition: the `data` of a timeline entry, the
/// top-level attributes of any other item. `None` when there is nothing to strip.
fn scrub(item: &Item) -> Option<WriteOp> {
    let key = nhip_ports::store::Key::of(item)?;
    if key.sk == keys::PROFILE
        || key.sk.starts_with(keys::AUDIT_PREFIX)
        || key.sk.starts_with(keys::HOLDING_PREFIX)
    {
        // The audit trail is kept whole; holdings are contract records under retention.
        return None;
    }
    let update = if key.sk.starts_with(keys::TIMELINE_PREFIX) {
        let Some(Value::Object(data)) = item.get("data") else {
            return None;
        };
        // A lead's campaign fields stay for statistics, its pages may quote the person.
        let pages = |data: &Map<String, Value>| {
            data.get("attribution")
                .and_then(Value::as_object)
                .is_some_and(|a| PERSONAL_PAGES.iter().any(|f| a.contains_key(*f)))
        };
        if !PERSONAL_FIELDS.iter().any(|f| data.contains_key(*f)) && !pages(data) {
            return None;
        }
        let mut stripped: Map<String, Value> = data
            .iter()
            .filter(|(k, _)| !PERSONAL_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(Value::Object(attribution)) = stripped.get_mut("attribution") {
            for field in PERSONAL_PAGES {
                attribution.remove(*field);
            }
        }
        Update::new()
            .set("data", Value::Object(stripped))
            .set("redacted", true)
    } else {
        let present: Vec<&str> = PERSONAL_FIELDS
            .iter()
            .copied()
            .filter(|f| item.contains_key(*f))
            .collect();
        if present.is_empty() {
            return None;
        }
        present
            .into_iter()
            .fold(Update::new().set("redacted", true), Update::remove)
    };
    Some(WriteOp::Update {
        key,
        update,
        // An item deleted meanwhile is not recreated.
        condition: Condition::Exists,
    })
}

/// Applies scrub writes in one transaction; if an item vanished meanwhile, one by one.
async fn flush(deps: &Deps, ops: Vec<WriteOp>) -> Result<usize, StoreError> {
    if ops.is_empty() {
        return Ok(0);
    }
    let count = ops.len();
    match deps.store.transact(ops.clone()).await {
        Ok(()) => Ok(count),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            let mut done = 0;
            for op in ops {
                let WriteOp::Update {
                    key,
                    update,
                    condition,
                } = op
                else {
                    continue;
                };
                match deps.store.update(&key, update, condition).await {
                    Ok(_) => done += 1,
                    Err(StoreError::ConditionFailed { .. }) => {}
                    Err(other) => return Err(other),
                }
            }
            Ok(done)
        }
        Err(other) => Err(other),
    }
}

/// Walks the customer's partition, stripping personal text in transactions of at most 100
/// writes. Idempotent: a stripped item has nothing left to strip, so an interrupted erasure
/// is finished by asking again.
async fn scrub_partition(deps: &Deps, customer: CustomerId) -> Result<usize, StoreError> {
    let mut ops = Vec::new();
    let mut done = 0;
    let mut cursor = None;
    loop {
        let (items, next) = partition_page(deps, customer, None, PAGE, cursor).await?;
        for item in &items {
            if let Some(op) = scrub(item) {
                ops.push(op);
                if ops.len() == MAX_TRANSACTION_OPS {
                    done += flush(deps, std::mem::take(&mut ops)).await?;
                }
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    done += flush(deps, ops).await?;
    Ok(done)
}

/// `POST /v1/customers/{id}/erase` `{"reason", "version"}`: the right to erasure. Admins, and
/// managers for their team's customers, only; others get 403 and nothing changes.
///
/// The profile is anonymised first, in one transaction with the deletion of its uniqueness
/// guards (phone, e-mail, CCCD) and tax-code entry, the `privacy.erased` audit entry (who and
/// why) and a timeline entry, so the identifiers are free for a new record at once. Then the
/// partition's timeline entries (and other items such as next actions) lose their personal
/// text in transactions of at most 100 writes, keeping type, time and actor for statistics.
/// The audit trail and holdings are kept. Asking again for an erased customer finishes an
/// interrupted erasure and answers 200.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/erase",
    tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = EraseRequest, description = "Why, and the `version` read. Admins, and managers for their team's customers, only."),
    responses(
        (status = 200, description = "Erased (or an interrupted erasure finished): the anonymised record, how many items lost their personal text, and whether the tax code was kept for retained contracts.", body = Erasure),
        nhip_core::openapi::ActErrors,
        (status = 409, description = "The record changed since it was read (`conflict`).", body = nhip_core::openapi::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn erase(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Erasure>, ApiError> {
    if !matches!(principal.role, Role::Admin | Role::Manager) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only an admin or the customer's manager may erase a customer's personal data.",
        ));
    }
    let request: EraseRequest = parse_body(body)?;
    let order = ErasureOrder::try_from(&request)?;
    Ok(Json(
        erase_personal_data(&deps, &principal, &id, &order).await?,
    ))
}

/// Erases customer `id`'s personal data on `request` (see [`erase`]): the anonymised record,
/// or, for a customer already erased, the end of an interrupted erasure. The caller's role is
/// the route's to check.
pub async fn erase_personal_data(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    request: &ErasureOrder,
) -> Result<Erasure, PrivacyError> {
    let reason = &request.reason;
    let before = visible(deps, principal, id).await?;

    if before.erased_at.is_some() {
        deps.store
            .put(
                audit_item(
                    deps,
                    principal,
                    before.id,
                    nhip_core::event_types::PRIVACY_ERASED,
                    json!({"reason": reason, "resumed": true}),
                ),
                Condition::NotExists,
            )
            .await?;
        let redacted = scrub_partition(deps, before.id).await?;
        tracing::info!(redacted, "erasure resumed");
        return Ok(Erasure {
            customer: CustomerView::from(&before),
            redacted_items: redacted,
            tax_code_kept: before.tax_code.is_some(),
        });
    }
    if before.version != request.version {
        return Err(PrivacyError::StaleVersion {
            current: before.version,
        });
    }

    let now = deps.clock.now();
    let keep_tax_code = before.tax_code.is_some() && holds_anything(deps, &before).await?;
    let target = anonymise(&before, now, keep_tax_code, principal);
    let mut after = target.clone();
    defer_identifiers(&before, &mut after, FIRST_REMOVALS);
    let extra = vec![
        entry(
            before.id,
            now,
            nhip_core::event_types::PRIVACY_ERASED,
            principal,
            json!({"tax_code_kept": keep_tax_code}),
        )
        .write(now),
        WriteOp::Put {
            item: audit_item(
                deps,
                principal,
                before.id,
                nhip_core::event_types::PRIVACY_ERASED,
                json!({"reason": reason, "tax_code_kept": keep_tax_code}),
            ),
            condition: Condition::NotExists,
        },
    ];
    match repo::save(&*deps.store, &before, &mut after, extra).await {
        Ok(()) => {}
        Err(SaveError::Conflict) => {
            let current = repo::get(&*deps.store, before.id)
                .await?
                .map_or(before.version, |c| c.version);
            return Err(PrivacyError::StaleVersion { current });
        }
        Err(other) => return Err(other.into()),
    }
    // Identifiers that did not fit the first transaction (only on records with ~100 of them).
    while after.phones.len() + after.emails.len() > 0 {
        let current = after.clone();
        defer_identifiers(&current, &mut after, LATER_REMOVALS);
        repo::save(&*deps.store, &current, &mut after, Vec::new()).await?;
    }
    let redacted = scrub_partition(deps, before.id).await?;
    tracing::info!(redacted, keep_tax_code, "personal data erased");
    Ok(Erasure {
        customer: CustomerView::from(&after),
        redacted_items: redacted,
        tax_code_kept: keep_tax_code,
    })
}

// ---------------------------------------------------------------------------------------------
// Restriction, objection, consent
// ---------------------------------------------------------------------------------------------

/// A restriction request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RestrictRequest {
    /// Restrict (`true`) or lift the restriction (`false`).
    restricted: bool,
    /// The version read.
    version: u64,
    /// How the request reached us (call, letter, …), at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    evidence: Option<String>,
}

/// `POST /v1/customers/{id}/restrict` `{"restricted", "version", "evidence"?}`: the right to
/// restrict processing. While restricted, nothing but storage and legal duties happens: no
/// message of any purpose (see `nhip_domain::customer::may_contact`). Any staff member in
/// scope records it; effective at once.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/restrict",
    tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = RestrictRequest, description = "Restrict or lift, and the `version` read."),
    responses(
        (status = 200, description = "Recorded: the record as it now is.", body = crate::customers::routes::CustomerView),
        nhip_core::openapi::ActErrors,
        (status = 409, description = "The record changed since it was read (`conflict`), or its personal data was erased (`erased`).", body = nhip_core::openapi::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn restrict(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<RestrictRequest>,
) -> Result<Json<CustomerView>, ApiError> {
    let customer = restrict_processing(
        &deps,
        &principal,
        &id,
        request.version,
        request.restricted,
        request.evidence.as_deref(),
    )
    .await?;
    Ok(Json(CustomerView::from(&customer)))
}

/// Restricts (or lifts the restriction of) the processing of customer `id`'s data, if the
/// record is still at `version`: the use case behind the route and the console.
pub async fn restrict_processing(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    version: u64,
    restricted: bool,
    evidence: Option<&str>,
) -> Result<Customer, ApiError> {
    let note = free_text(evidence, "evidence", false)?;
    change(
        deps,
        principal,
        id,
        Some(version),
        nhip_core::event_types::PRIVACY_RESTRICTED,
        |customer, _| {
            let from = customer.processing_restricted;
            customer.processing_restricted = restricted;
            Ok((
                json!({"restricted": restricted, "was": from}),
                json!({"restricted": restricted, "was": from, "evidence": note}),
            ))
        },
    )
    .await
}

/// An objection to marketing; every field is optional, and so is the body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ObjectRequest {
    /// Object (`true`, the default) or lift an earlier objection (`false`).
    #[serde(default)]
    objected: Option<bool>,
    /// How the request reached us, at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    evidence: Option<String>,
    /// The version read; without it a concurrent change is retried.
    #[serde(default)]
    version: Option<u64>,
}

/// `POST /v1/customers/{id}/object-marketing` (body optional: `{"objected"?, "evidence"?,
/// "version"?}`): the right to object. Sets `marketing_objected` and withdraws every marketing
/// consent in force, on every channel, at once (the law allows 72 hours; Nhịp does not wait).
/// Care messages are unaffected. `{"objected": false}` lifts the objection without granting
/// anything back: new consents must be recorded one by one.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/object-marketing",
    tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = Option<ObjectRequest>, description = "Optional: an empty body objects to marketing."),
    responses(
        (status = 200, description = "Recorded: the record as it now is, every marketing consent withdrawn.", body = crate::customers::routes::CustomerView),
        nhip_core::openapi::ActErrors,
        (status = 409, description = "The record changed since the `version` sent was read (`conflict`), or its personal data was erased (`erased`).", body = nhip_core::openapi::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn object_marketing(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    OptionalJson(request): OptionalJson<ObjectRequest>,
) -> Result<Json<CustomerView>, ApiError> {
    let customer = object_to_marketing(
        &deps,
        &principal,
        &id,
        request.version,
        request.objected.unwrap_or(true),
        request.evidence.as_deref(),
    )
    .await?;
    Ok(Json(CustomerView::from(&customer)))
}

/// Records customer `id`'s objection to marketing (withdrawing every marketing consent at
/// once), or lifts it: the use case behind the route and the console.
pub async fn object_to_marketing(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    version: Option<u64>,
    objected: bool,
    evidence: Option<&str>,
) -> Result<Customer, ApiError> {
    let note = free_text(evidence, "evidence", false)?;
    change(
        deps,
        principal,
        id,
        version,
        nhip_core::event_types::PRIVACY_OBJECTED,
        |customer, now| {
            customer.marketing_objected = objected;
            let mut withdrawn = Vec::new();
            if objected {
                for channel in Channel::ALL {
                    if customer.consents.allows(*channel, Purpose::Marketing) {
                        decide(
                            &mut customer.consents,
                            *channel,
                            Purpose::Marketing,
                            false,
                            now,
                            staff_evidence(principal, "object-marketing", note.as_deref()),
                        );
                        withdrawn.push(*channel);
                    }
                }
            }
            Ok((
                json!({"objected": objected, "withdrawn": withdrawn}),
                json!({"objected": objected, "withdrawn": withdrawn, "evidence": note}),
            ))
        },
    )
    .await
}

/// A consent decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentRequest {
    /// The channel.
    #[schema(value_type = nhip_core::openapi::ChannelSchema)]
    channel: String,
    /// What for.
    #[schema(value_type = nhip_core::openapi::PurposeSchema)]
    purpose: String,
    /// Grant (`true`) or withdraw (`false`).
    granted: bool,
    /// What proves it: the call, the letter, the form; at most 2,000 characters.
    #[schema(
        example = "Khách gọi tổng đài ngày 23/11",
        min_length = 1,
        max_length = 2000
    )]
    evidence: String,
    /// The version read; without it a concurrent change is retried.
    #[serde(default)]
    version: Option<u64>,
}

/// `POST /v1/customers/{id}/consents` `{"channel", "purpose", "granted", "evidence"}`: grant or
/// withdraw one consent, effective at once, with the evidence and the staff member recorded.
/// A marketing grant while the customer objects to marketing answers 409
/// `marketing_objected`: lift the objection first.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/consents",
    tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id (a ULID).")),
    request_body(content = ConsentRequest, description = "One consent decision with its evidence."),
    responses(
        (status = 200, description = "Recorded: the record as it now is.", body = crate::customers::routes::CustomerView),
        nhip_core::openapi::ActErrors,
        (status = 409, description = "The record changed since the `version` sent was read (`conflict`), its personal data was erased (`erased`), or a marketing grant while the customer objects to marketing (`marketing_objected`).", body = nhip_core::openapi::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn change_consent(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(request): Json<ConsentRequest>,
) -> Result<Json<CustomerView>, ApiError> {
    let channel = request
        .channel
        .parse::<Channel>()
        .map_err(|e| invalid("channel", e.to_string()))?;
    let purpose = request
        .purpose
        .parse::<Purpose>()
        .map_err(|e| invalid("purpose", e.to_string()))?;
    let note = free_text(Some(&request.evidence), "evidence", true)?;
    let granted = request.granted;
    let customer = change(
        &deps,
        &principal,
        &id,
        request.version,
        nhip_core::event_types::CONSENT_CHANGED,
        |customer, now| {
            if granted && purpose == Purpose::Marketing && customer.marketing_objected {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "marketing_objected",
                    "The customer objected to marketing; lift the objection before recording a marketing consent.",
                ));
            }
            let was = customer.consents.get(channel, purpose).map(|r| r.granted);
            decide(
                &mut customer.consents,
                channel,
                purpose,
                granted,
                now,
                staff_evidence(&principal, "consent", note.as_deref()),
            );
            let data = json!({"channel": channel, "purpose": purpose, "granted": granted, "was": was});
            let mut audit_data = data.clone();
            audit_data["evidence"] = json!(note);
            Ok((data, audit_data))
        },
    )
    .await?;
    Ok(Json(CustomerView::from(&customer)))
}

// ---------------------------------------------------------------------------------------------
// The answers of the export and the erasure.
// ---------------------------------------------------------------------------------------------

/// Everything held on one customer (`GET /v1/customers/{id}/export`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PersonalDataExport {
    /// The document's format.
    #[schema(example = "nhip.personal-data-export/1")]
    pub format: &'static str,
    /// The law the export answers.
    pub legal_basis: &'static str,
    /// When it was made, UTC.
    #[schema(format = DateTime)]
    pub exported_at: String,
    /// Who made it.
    pub exported_by: String,
    /// The record, with its labels.
    pub customer: CustomerView,
    /// Every consent decision in force, with its evidence.
    #[schema(value_type = Vec<crate::customers::routes::ConsentView>)]
    pub consents: Vec<ConsentRecord>,
    /// Every timeline entry as stored (without its table keys), each with `action`, its
    /// Vietnamese label.
    #[schema(value_type = Vec<Object>)]
    pub timeline: Vec<Value>,
    /// Every holding as stored (without its table keys).
    #[schema(value_type = Vec<Object>)]
    pub holdings: Vec<Value>,
    /// The audit trail of the customer's record, this export included.
    #[schema(value_type = Vec<Object>)]
    pub audit: Vec<Value>,
    /// Any other item kept with the customer (next actions, markers, …), as stored.
    #[schema(value_type = Vec<Object>)]
    pub other: Vec<Value>,
}

/// The answer to an erasure.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Erasure {
    /// The anonymised record.
    pub customer: CustomerView,
    /// Items of the customer's partition that lost their personal text now.
    #[schema(value_type = u64)]
    pub redacted_items: usize,
    /// Whether the tax code (MST) was kept, for contract records under retention.
    pub tax_code_kept: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(value: Value) -> Item {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn scrubbing_keeps_types_and_statistics_but_not_free_text() {
        let entry = item(json!({
            "pk": "CUS#1", "sk": "TL#2026-01-01T00:00:00.000Z#x", "event_type": "interaction.call",
            "actor": "an", "data": {"notes": "nợ 50 triệu", "feedback": "ok", "outcome": "answered"}
        }));
        let Some(WriteOp::Update { update, .. }) = scrub(&entry) else {
            panic!("a timeline entry with notes is scrubbed");
        };
        assert!(
            update
                .set
                .contains(&("data".into(), json!({"outcome": "answered"})))
        );
        let clean = item(json!({"pk": "CUS#1", "sk": "TL#2026#y", "data": {"outcome": "busy"}}));
        assert!(scrub(&clean).is_none());
        let audit = item(json!({"pk": "CUS#1", "sk": "AUDIT#2026#z", "data": {"reason": "x"}}));
        assert!(scrub(&audit).is_none());
        let next =
            item(json!({"pk": "CUS#1", "sk": "NEXT#1", "note": "gọi lại", "status": "done"}));
        let Some(WriteOp::Update { update, .. }) = scrub(&next) else {
            panic!("a next action with a note is scrubbed");
        };
        assert_eq!(update.remove, vec!["note".to_owned()]);
    }

    #[test]
    fn identifiers_past_the_budget_are_deferred() {
        let now = Utc::now();
        let phones: Vec<_> = (0..5)
            .map(|i| nhip_domain::identifiers::Phone::parse(&format!("091234567{i}")).unwrap())
            .collect();
        let customer: Customer = serde_json::from_value(json!({
            "id": CustomerId::new_at(now), "full_name": "A", "given_name": "A",
            "phones": phones, "source": "other", "lifecycle": "new",
            "created_at": now, "updated_at": now, "version": 1,
        }))
        .unwrap();
        let mut after = customer.clone();
        after.phones.clear();
        defer_identifiers(&customer, &mut after, 3);
        assert_eq!(after.phones, customer.phones[3..].to_vec());
        defer_identifiers(&customer, &mut after, 10);
        assert!(after.phones.is_empty());
    }
}
