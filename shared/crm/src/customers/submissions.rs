//! Applying what an anonymous form said about a known customer. A public form posted with a
//! phone or e-mail that is already a customer changes nothing on the record (see
//! [`super::leads`]): the submission is kept on the timeline as `lead.resubmitted` with
//! `data.unverified = true`, what was sent under `data.submitted` and its id under
//! `data.submission`. A staff member who has checked it with the customer (a call, a
//! document) applies the identity fields they vouch for here; the change carries their name.
//!
//! Consents are never applied by staff: a consent a form asked for waits for the customer's
//! own confirmation through the double opt-in link, and a refusal stays a refusal.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use nhip_domain::ids::CustomerId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use ulid::Ulid;

use super::repo;
use super::routes::{CustomerView, apply_fields, load_visible, save_error_for, staff_entry, view};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::FieldErrors;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::timeline;
use nhip_ports::store::{Condition, Item, Key, Update, WriteOp};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The route.
pub fn router() -> OpenApiRouter<Arc<Deps>> {
    OpenApiRouter::new().routes(routes!(apply_submission))
}

/// A field of an unverified submission staff may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmittedField {
    /// The name: replaces the full name (and the given name derived from it).
    FullName,
    /// Replaces the gender.
    Gender,
    /// Replaces the birthday.
    Birthday,
    /// Adds the phone to the customer's phones.
    Phone,
    /// Adds the e-mail to the customer's e-mails.
    Email,
}

impl SubmittedField {
    const ALL: [SubmittedField; 5] = [
        SubmittedField::FullName,
        SubmittedField::Gender,
        SubmittedField::Birthday,
        SubmittedField::Phone,
        SubmittedField::Email,
    ];

    /// The key under `data.submitted`.
    fn key(self) -> &'static str {
        match self {
            SubmittedField::FullName => "full_name",
            SubmittedField::Gender => "gender",
            SubmittedField::Birthday => "birthday",
            SubmittedField::Phone => "phone",
            SubmittedField::Email => "email",
        }
    }
}

/// What to apply.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApplyRequest {
    /// The customer's version read.
    version: u64,
    /// The submitted fields to apply (at least one, each given by the submission); default:
    /// every field the submission gave.
    #[serde(default)]
    #[schema(min_items = 1)]
    fields: Option<Vec<SubmittedField>>,
}

/// The answer: the record as it now is and the fields applied.
#[derive(utoipa::ToSchema)]
pub struct AppliedSubmission {
    /// The record as it now is.
    pub customer: CustomerView,
    /// The fields applied, in the order of [`SubmittedField`].
    pub applied: Vec<SubmittedField>,
    /// The submission's id.
    pub submission: String,
}

fn no_submission() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such unverified submission for this customer.",
    )
}

/// The `lead.resubmitted` timeline entry of `submission`, if it is an unverified one of this
/// customer's. Its key follows from the id: the submission's id is a ULID made from the
/// instant the entry records, and the entry's cause is `nhip#<id>`.
async fn load_entry(
    deps: &Deps,
    customer: CustomerId,
    submission: &str,
) -> Result<(Key, Item), ApiError> {
    let ulid: Ulid = submission.parse().map_err(|_| no_submission())?;
    let at = chrono::DateTime::<chrono::Utc>::from(ulid.datetime());
    let key = keys::timeline_entry(customer, at, &format!("nhip#{ulid}"));
    let item = deps.store.get(&key).await?.ok_or_else(no_submission)?;
    let unverified = item.get("event_type").and_then(Value::as_str)
        == Some(nhip_core::event_types::LEAD_RESUBMITTED)
        && item.get("data").and_then(|d| d.get("unverified")) == Some(&json!(true));
    if !unverified {
        return Err(no_submission());
    }
    Ok((key, item))
}

/// `POST /v1/customers/{id}/submissions/{submission}/apply`: staff apply the identity fields of
/// an unverified form submission they have checked with the customer. The fields go through
/// the same checks as `PATCH /v1/customers/{id}` (a phone or e-mail of another customer is a
/// 409 and nothing changes); the submission is marked applied in the same transaction, so it
/// is applied once. Consents are not applied: they wait for the customer's confirmation.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/submissions/{submission}/apply",
    tag = "customers",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The customer's id (a ULID)."),
        ("submission" = String, Path, description = "The submission's id: `data.submission` of its `lead.resubmitted` timeline entry."),
    ),
    request_body(content = ApplyRequest, description = "The customer's `version` read and, optionally, which submitted fields to apply."),
    responses(
        (status = 200, description = "Applied: the record as it now is and the fields applied.", body = AppliedSubmission),
        (status = 400, response = nhip_core::openapi::BadRequest),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
        (status = 404, response = nhip_core::openapi::NotFound),
        (status = 409, description = "The record changed since it was read (`conflict`), the submission was applied already (`already_applied`), or a submitted phone or e-mail is another customer's (`duplicate`, `identifier_unavailable`).", body = nhip_core::openapi::ErrorBody),
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
        (status = 503, response = nhip_core::openapi::Unavailable),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn apply_submission(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, submission)): Path<(String, String)>,
    Json(request): Json<ApplyRequest>,
) -> Result<Json<Value>, ApiError> {
    let before = load_visible(&deps, &principal, &id).await?;
    let (entry_key, entry) = load_entry(&deps, before.id, &submission).await?;
    if let Some(at) = entry.get("applied_at").and_then(Value::as_str) {
        let by = entry
            .get("applied_by")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_applied",
            format!("This submission was applied at {at} by {by}."),
        ));
    }
    let submitted = entry
        .get("data")
        .and_then(|d| d.get("submitted"))
        .and_then(Value::as_object)
        .cloned()
        // An erasure removed what the form said: nothing is left to apply.
        .ok_or_else(no_submission)?;
    if before.version != request.version {
        return Err(ApiError::stale_version(before.version));
    }
    let given = |field: SubmittedField| submitted.get(field.key()).filter(|v| !v.is_null());
    let mut errors = FieldErrors::default();
    let fields: Vec<SubmittedField> = match &request.fields {
        None => SubmittedField::ALL
            .into_iter()
            .filter(|f| given(*f).is_some())
            .collect(),
        Some(requested) => {
            for field in requested {
                if given(*field).is_none() {
                    errors.add(
                        "fields",
                        format!("Đăng ký này không có trường {}.", field.key()),
                    );
                }
            }
            SubmittedField::ALL
                .into_iter()
                .filter(|f| requested.contains(f))
                .collect()
        }
    };
    if fields.is_empty() {
        errors.add("fields", "Không có trường nào để áp dụng.");
    }
    errors.into_result()?;

    // The submission as a staff change, checked as PATCH checks it.
    let mut patch = Map::new();
    for field in &fields {
        let value = given(*field).cloned().unwrap_or_default();
        match field {
            SubmittedField::Phone => {
                let mut phones: Vec<Value> = before.phones.iter().map(|p| json!(p)).collect();
                if !phones.contains(&value) {
                    phones.push(value);
                }
                patch.insert("phones".into(), Value::Array(phones));
            }
            SubmittedField::Email => {
                let mut emails: Vec<Value> = before.emails.iter().map(|e| json!(e)).collect();
                if !emails.contains(&value) {
                    emails.push(value);
                }
                patch.insert("emails".into(), Value::Array(emails));
            }
            other => {
                patch.insert(other.key().into(), value);
            }
        }
    }
    let now = deps.clock.now();
    let mut after = before.clone();
    let mut errors = FieldErrors::default();
    apply_fields(&mut after, &patch, &principal, now, "staff", &mut errors);
    errors.into_result()?;
    after.updated_at = now;

    let applied = staff_entry(
        after.id,
        now,
        nhip_core::event_types::LEAD_RESUBMISSION_APPLIED,
        &principal,
        json!({"submission": submission, "fields": fields}),
    );
    let mark = WriteOp::Update {
        key: entry_key,
        update: Update::new()
            .set("applied_at", keys::instant(now))
            .set("applied_by", principal.user.clone()),
        condition: Condition::All(vec![
            Condition::Exists,
            Condition::LacksAttr("applied_at".into()),
        ]),
    };
    if let Err(error) = repo::save(
        &*deps.store,
        &before,
        &mut after,
        vec![applied.write(now), mark],
    )
    .await
    {
        return Err(save_error_for(&deps, &principal, error).await);
    }
    // Journeys hear it as they hear any staff change.
    timeline::publish(&deps, &[applied]).await;
    Ok(Json(json!({
        "customer": view(&after),
        "applied": fields,
        "submission": submission,
    })))
}
