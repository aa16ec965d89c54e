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

use super::model::Customer;
use super::repo;
use super::repo::SaveError;
use super::routes::{CustomerView, apply_fields, load_visible, save_error_for, staff_entry};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::form::FieldErrors;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_ports::store::{Condition, Item, Key, StoreError, Update, WriteOp};

/// The route.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(apply_submission))
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
pub struct ApplyRequest {
    /// The customer's version read.
    pub version: u64,
    /// The submitted fields to apply (at least one, each given by the submission); default:
    /// every field the submission gave.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub fields: Option<Vec<SubmittedField>>,
}

/// The answer: the record as it now is and the fields applied.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AppliedSubmission {
    /// The record as it now is.
    pub customer: CustomerView,
    /// The fields applied, in the order of [`SubmittedField`].
    pub applied: Vec<SubmittedField>,
    /// The submission's id.
    pub submission: String,
}

/// Why a submission could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// No such unverified submission on this customer (or an erasure removed what it said).
    #[error("no such unverified submission for this customer")]
    NoSubmission,
    /// Applied already: when (the key scheme's instant) and by whom.
    #[error("the submission was applied at {at} by {by}")]
    AlreadyApplied { at: String, by: String },
    /// The customer changed since the caller read it.
    #[error("the customer is at version {current}")]
    StaleVersion { current: u64 },
    /// Problems with the fields asked for or with the record they make, by field.
    #[error("the submission cannot be applied: {0:?}")]
    Invalid(FieldErrors),
    /// The record could not be saved: a lost race, or an identifier another customer's.
    #[error(transparent)]
    Save(#[from] SaveError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SubmissionError> for ApiError {
    /// The answer to every error but a taken identifier, which [`save_error_for`] answers by
    /// whether the caller may see its holder.
    fn from(error: SubmissionError) -> Self {
        match error {
            SubmissionError::NoSubmission => ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such unverified submission for this customer.",
            ),
            SubmissionError::AlreadyApplied { at, by } => ApiError::new(
                StatusCode::CONFLICT,
                "already_applied",
                format!("This submission was applied at {at} by {by}."),
            ),
            SubmissionError::StaleVersion { current } => ApiError::stale_version(current),
            SubmissionError::Invalid(errors) => errors.into_error(),
            SubmissionError::Save(error) => super::repo::save_error(error),
            SubmissionError::Store(error) => error.into(),
        }
    }
}

/// The `lead.resubmitted` timeline entry of `submission`, if it is an unverified one of this
/// customer's. Its key follows from the id: the submission's id is a ULID made from the
/// instant the entry records, and the entry's cause is `nhip#<id>`.
async fn load_entry(
    deps: &Deps,
    customer: CustomerId,
    submission: &str,
) -> Result<(Key, Item), SubmissionError> {
    let ulid: Ulid = submission
        .parse()
        .map_err(|_| SubmissionError::NoSubmission)?;
    let at = chrono::DateTime::<chrono::Utc>::from(ulid.datetime());
    let key = keys::timeline_entry(customer, at, &format!("nhip#{ulid}"));
    let item = deps
        .store
        .get(&key)
        .await?
        .ok_or(SubmissionError::NoSubmission)?;
    let unverified = item.get("event_type").and_then(Value::as_str)
        == Some(nhip_core::event_types::LEAD_RESUBMITTED)
        && item.get("data").and_then(|d| d.get("unverified")) == Some(&json!(true));
    if !unverified {
        return Err(SubmissionError::NoSubmission);
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
        nhip_core::openapi::ActErrors,
        (status = 409, description = "The record changed since it was read (`conflict`), the submission was applied already (`already_applied`), or a submitted phone or e-mail is another customer's (`duplicate`, `identifier_unavailable`).", body = nhip_core::openapi::ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(customer = %id, user = %principal.user))]
async fn apply_submission(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((id, submission)): Path<(String, String)>,
    Json(request): Json<ApplyRequest>,
) -> Result<Json<AppliedSubmission>, ApiError> {
    let before = load_visible(&deps, &principal, &id).await?;
    match apply(&deps, &principal, before, &submission, &request).await {
        Ok(applied) => Ok(Json(applied)),
        Err(SubmissionError::Save(error)) => Err(save_error_for(&deps, &principal, error).await),
        Err(error) => Err(error.into()),
    }
}

/// Applies the fields of unverified `submission` that `request` names (default: all it gave)
/// to `before`, checked as a staff change, marking the submission applied in the same
/// transaction.
pub async fn apply(
    deps: &Deps,
    principal: &Principal,
    before: Customer,
    submission: &str,
    request: &ApplyRequest,
) -> Result<AppliedSubmission, SubmissionError> {
    let (entry_key, entry) = load_entry(deps, before.id, submission).await?;
    if let Some(at) = entry.get("applied_at").and_then(Value::as_str) {
        let by = entry
            .get("applied_by")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(SubmissionError::AlreadyApplied {
            at: at.to_owned(),
            by: by.to_owned(),
        });
    }
    let submitted = entry
        .get("data")
        .and_then(|d| d.get("submitted"))
        .and_then(Value::as_object)
        .cloned()
        // An erasure removed what the form said: nothing is left to apply.
        .ok_or(SubmissionError::NoSubmission)?;
    if before.version != request.version {
        return Err(SubmissionError::StaleVersion {
            current: before.version,
        });
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
    if !errors.0.is_empty() {
        return Err(SubmissionError::Invalid(errors));
    }

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
    apply_fields(&mut after, &patch, principal, now, "staff", &mut errors);
    if !errors.0.is_empty() {
        return Err(SubmissionError::Invalid(errors));
    }
    after.updated_at = now;

    let applied = staff_entry(
        after.id,
        now,
        nhip_core::event_types::LEAD_RESUBMISSION_APPLIED,
        principal,
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
    repo::save(
        &*deps.store,
        &before,
        &mut after,
        vec![applied.write(now), mark],
    )
    .await?;
    // Journeys hear it as they hear any staff change.
    nhip_core::events::publish_entries(deps, &[applied]).await;
    Ok(AppliedSubmission {
        customer: CustomerView::from(&after),
        applied: fields,
        submission: submission.to_owned(),
    })
}
