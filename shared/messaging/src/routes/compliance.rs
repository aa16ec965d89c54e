//! The compliance lists staff keep: the advertising rules (Decree 91), a customer's agreement
//! to other limits, refusals entered by staff, the do-not-advertise list and suppressions.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use nhip_domain::compliance::{AdvertisingRules, Agreement};
use nhip_domain::identifiers::Phone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{MessageChannel, RefusalVia};
use crate::{pipeline, tracking};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_crm::customers::repo::{self, SaveError};
use nhip_crm::customers::routes::load_visible;
use nhip_ports::store::{Condition, StoreError};

use super::{MAX_DNC_BATCH, not_found, unprocessable};

/// How a refusal may reach staff: [`RefusalVia`]'s wire forms.
pub const REFUSAL_VIA: [&str; 4] = [
    RefusalVia::ALL[0].as_str(),
    RefusalVia::ALL[1].as_str(),
    RefusalVia::ALL[2].as_str(),
    RefusalVia::ALL[3].as_str(),
];

/// The advertising rules in force and their stored version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RulesView {
    /// The rules: windows, limits, labels and refusal keywords per channel.
    #[schema(value_type = Object)]
    pub rules: AdvertisingRules,
    /// The stored version (0 while the Decree 91 preset is in force).
    pub version: u64,
}

/// What became of a refusal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusalOutcome {
    /// `stopped` or `already_stopped`.
    #[schema(example = "stopped")]
    pub outcome: &'static str,
}

/// What an upload to the do-not-advertise list did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DncAdded {
    /// How many numbers were added (or were there already).
    pub added: usize,
    /// The invalid numbers' positions (from 0) with the problem.
    #[schema(example = json!({"2": "Số điện thoại không hợp lệ."}))]
    pub invalid: BTreeMap<String, String>,
}

/// A number on the do-not-advertise list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DncEntry {
    /// When it was added (UTC).
    pub added_at: Option<String>,
    /// The number, masked.
    pub phone: String,
    /// Where the list came from (`staff`, `sms_reply`, `national_dnc_2026-11`…).
    pub source: Option<String>,
}

/// A removal from a list; removing what is not there is not an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Removed {
    /// Always `true`.
    pub removed: bool,
}

/// Why an address is suppressed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SuppressionView {
    /// Since when (UTC).
    pub at: Option<String>,
    /// `hard_bounce`, `complaint`, `unsubscribe` or `refusal`.
    pub reason: Option<String>,
    /// `all` (nothing is sent) or `advertising` (care still goes).
    pub scope: Option<String>,
}

fn text(item: &nhip_ports::store::Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// `GET /v1/compliance/advertising-rules`: the rules in force (the "VN Decree 91" preset
/// unless an admin changed them), with the stored `version`.
#[utoipa::path(
    get,
    path = "/v1/compliance/advertising-rules",
    tag = "messaging",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{rules, version}`.", body = RulesView),
        nhip_core::openapi::StaffErrors,
    )
)]
pub async fn get_rules(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
) -> Result<Json<RulesView>, ApiError> {
    let stored = deps.store.get(&keys::advertising_rules()).await?;
    let version = stored
        .as_ref()
        .and_then(|item| item.get("version"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let rules = pipeline::advertising_rules(&deps).await?;
    Ok(Json(RulesView { rules, version }))
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
        (status = 200, description = "`{rules, version}`.", body = RulesView),
        nhip_core::openapi::CreateErrors,
        (status = 409, response = nhip_core::openapi::Conflict),
    )
)]
pub async fn put_rules(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<RulesInput>,
) -> Result<Json<RulesView>, ApiError> {
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
        Ok(()) => Ok(Json(RulesView {
            rules: body.rules,
            version: body.version + 1,
        })),
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
        (status = 200, description = "The customer.", body = nhip_crm::customers::routes::CustomerView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub async fn put_agreement(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<AgreementInput>,
) -> Result<Json<nhip_crm::customers::routes::CustomerView>, ApiError> {
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
        event_type: nhip_core::event_types::CONSENT_AGREEMENT_CHANGED.into(),
        source: "staff_api".into(),
        actor: Some(principal.user.clone()),
        data: json!({ "agreement": body.agreement }),
    };
    match repo::save(&*deps.store, &before, &mut after, vec![entry.write(now)]).await {
        Ok(()) => Ok(Json(nhip_crm::customers::routes::CustomerView::from(
            &after,
        ))),
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
    #[schema(example = "sms")]
    #[schema(value_type = nhip_core::openapi::MessageChannelSchema)]
    pub channel: MessageChannel,
    /// How it came: `call`, `email_reply`, `sms_reply`, `in_person`.
    #[schema(value_type = RefusalVia, example = "call")]
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
        (status = 200, description = "`{outcome}`: `stopped` or `already_stopped`.", body = RefusalOutcome),
        nhip_core::openapi::ActErrors,
    )
)]
pub async fn staff_refusal(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<RefusalInput>,
) -> Result<Json<RefusalOutcome>, ApiError> {
    let customer = load_visible(&deps, &principal, &id).await?;
    let via: RefusalVia = body
        .via
        .parse()
        .map_err(|e: crate::model::UnknownRefusalVia| unprocessable("via", &e.to_string()))?;
    let outcome = tracking::refuse(
        &deps,
        customer.id,
        body.channel,
        via.as_str(),
        Some(&principal.user),
        None,
    )
    .await?;
    Ok(Json(RefusalOutcome {
        outcome: refused_code(outcome),
    }))
}

pub(super) fn refused_code(outcome: tracking::Refused) -> &'static str {
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
        (status = 200, description = "`{added, invalid}`.", body = DncAdded),
        nhip_core::openapi::CreateErrors,
    )
)]
pub async fn add_do_not_advertise(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<DncInput>,
) -> Result<Json<DncAdded>, ApiError> {
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
    Ok(Json(DncAdded {
        added: phones.len(),
        invalid,
    }))
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
        (status = 200, description = "On the list.", body = DncEntry),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn get_do_not_advertise(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(phone): Path<String>,
) -> Result<Json<DncEntry>, ApiError> {
    let phone = dnc_phone(&phone)?;
    let item = deps
        .store
        .get(&keys::do_not_advertise(phone.as_str()))
        .await?
        .ok_or_else(|| not_found("số điện thoại trong danh sách"))?;
    Ok(Json(DncEntry {
        added_at: text(&item, "added_at"),
        phone: phone.masked(),
        source: text(&item, "source"),
    }))
}

/// `DELETE /v1/do-not-advertise/{phone}` (admin): takes a number off the list.
#[utoipa::path(
    delete,
    path = "/v1/do-not-advertise/{phone}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("phone" = String, Path, description = "Mobile number.")),
    responses(
        (status = 200, description = "Removed (or was not there): `{removed: true}`.", body = Removed),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn delete_do_not_advertise(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(phone): Path<String>,
) -> Result<Json<Removed>, ApiError> {
    principal.require_admin()?;
    let phone = dnc_phone(&phone)?;
    deps.store
        .delete(&keys::do_not_advertise(phone.as_str()), Condition::Always)
        .await?;
    Ok(Json(Removed { removed: true }))
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
        (status = 200, description = "`{reason, scope, at}`.", body = SuppressionView),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn get_suppression(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path((family, address)): Path<(String, String)>,
) -> Result<Json<SuppressionView>, ApiError> {
    let key = suppression_key(&family, &address)?;
    let item = deps
        .store
        .get(&key)
        .await?
        .ok_or_else(|| not_found("địa chỉ bị chặn"))?;
    Ok(Json(SuppressionView {
        at: text(&item, "at"),
        reason: text(&item, "reason"),
        scope: text(&item, "scope"),
    }))
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
        (status = 200, description = "Lifted (or was not there): `{removed: true}`.", body = Removed),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn delete_suppression(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((family, address)): Path<(String, String)>,
) -> Result<Json<Removed>, ApiError> {
    principal.require_admin()?;
    let key = suppression_key(&family, &address)?;
    deps.store.delete(&key, Condition::Always).await?;
    Ok(Json(Removed { removed: true }))
}
