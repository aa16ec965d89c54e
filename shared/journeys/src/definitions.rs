//! Journey definitions: `JRN#<key>` / `META` (name, trigger, latest and published version;
//! listed on gsi2 under `JOURNEYS`) and `JRN#<key>` / `V#<000001>` (the definition). A version
//! is checked when saved — unknown step or template, unreachable step, a loop that takes no
//! time, a wait without bound, a branch without its exits: 422 naming the step — and never
//! changes afterwards; publishing one makes it the version new enrollments start on, while
//! running enrollments stay on the version they started. Publishing also indexes the journey
//! under its trigger event (`JTRIG#<event type>` / `<key>`), so an incoming event finds the
//! journeys it starts without reading them all.
//!
//! Bodies are YAML (`application/yaml`, `text/yaml`) or JSON (`application/json`), one schema.
//! Headers and versions are kept by the one repository of versioned documents
//! ([`nhip_core::versioned`]), as templates are.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::journey::{Journey, JourneyErrors, Trigger, parse_json, parse_yaml, validate};
use serde::{Deserialize, Serialize};

use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::versioned::{CommitError, Family, Header};
use nhip_messaging::templates;
use nhip_ports::store::{Condition, StoreError, WriteOp};

/// Kind attribute of journey header items.
pub const KIND: &str = "journey";
/// Kind attribute of journey version items.
pub const VERSION_KIND: &str = "journey_version";
/// Journeys as versioned documents.
pub const JOURNEYS: Family = Family {
    kind: KIND,
    version_kind: VERSION_KIND,
    list: keys::JOURNEYS,
    partition: keys::journey_pk,
    header_key: keys::journey,
    version_key: keys::journey_version,
};

/// Largest definition accepted.
pub const MAX_DEFINITION_BYTES: usize = 200 * 1024;

/// A journey's header, as stored (answered through [`JourneyHeaderView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyMeta {
    /// The journey's key.
    pub key: String,
    /// Its name (of the latest version).
    pub name: String,
    /// The newest version.
    pub latest_version: u32,
    /// The version new enrollments start on; none until one is published.
    pub published_version: Option<u32>,
    /// The published version's trigger event, when it starts on an event.
    pub trigger_event: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version of the header.
    pub version: u64,
}

/// A journey's header as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JourneyMeta)]
pub struct JourneyHeaderView {
    /// The journey's key.
    pub key: String,
    /// Its name (of the latest version).
    pub name: String,
    /// The newest version.
    pub latest_version: u32,
    /// The version new enrollments start on; none until one is published.
    pub published_version: Option<u32>,
    /// The published version's trigger event, when it starts on an event.
    pub trigger_event: Option<String>,
    /// Created (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Last changed (UTC).
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
    /// The header's version, which a new version (`based_on`) or a publish names.
    pub version: u64,
}

impl From<&JourneyMeta> for JourneyHeaderView {
    fn from(meta: &JourneyMeta) -> Self {
        Self {
            key: meta.key.clone(),
            name: meta.name.clone(),
            latest_version: meta.latest_version,
            published_version: meta.published_version,
            trigger_event: meta.trigger_event.clone(),
            created_at: meta.created_at,
            created_by: meta.created_by.clone(),
            updated_at: meta.updated_at,
            version: meta.version,
        }
    }
}

impl Header for JourneyMeta {
    fn id(&self) -> &str {
        &self.key
    }
    fn version(&self) -> u64 {
        self.version
    }
}

/// One frozen version, as stored (answered through [`JourneyVersionView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyVersion {
    /// The journey's key.
    pub key: String,
    /// Version number, from 1.
    pub number: u32,
    /// The definition.
    pub definition: Journey,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: String,
}

/// One version of a journey as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JourneyVersion)]
pub struct JourneyVersionView {
    /// The journey's key.
    pub key: String,
    /// Version number, from 1.
    pub number: u32,
    /// The definition (docs/journeys.md describes its fields).
    #[schema(value_type = Object)]
    pub definition: Journey,
    /// Created (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: String,
}

impl From<JourneyVersion> for JourneyVersionView {
    fn from(version: JourneyVersion) -> Self {
        Self {
            key: version.key,
            number: version.number,
            definition: version.definition,
            created_at: version.created_at,
            created_by: version.created_by,
        }
    }
}

/// The routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_journeys, create_journey))
        .routes(routes!(list_seeds))
        .routes(routes!(install_seed))
        .routes(routes!(get_journey))
        .routes(routes!(add_journey_version))
        .routes(routes!(get_journey_version))
        .routes(routes!(publish_journey_version))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "Không tìm thấy hành trình.",
    )
}

fn invalid(errors: JourneyErrors) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "journey_invalid",
        "Hành trình có lỗi; xem từng trường.",
    );
    for (field, problem) in errors.0 {
        error = error.field(field, problem);
    }
    error
}

fn valid_key(key: &str) -> bool {
    (2..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The answer to a write that did not commit.
fn not_committed(error: CommitError) -> ApiError {
    match error {
        CommitError::Taken => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            "A journey with this key already exists.",
        )
        .field("key", "Mã hành trình này đã được dùng."),
        CommitError::Stale { current } => ApiError::stale_version(current),
        CommitError::Store(error) => error.into(),
    }
}

/// Every journey's header, by key.
pub async fn headers(deps: &Deps) -> Result<Vec<JourneyMeta>, StoreError> {
    JOURNEYS.headers::<JourneyMeta>(&*deps.store).await
}

/// The header of `key`.
pub async fn meta(deps: &Deps, key: &str) -> Result<Option<JourneyMeta>, StoreError> {
    if !valid_key(key) {
        return Ok(None);
    }
    JOURNEYS.header(&*deps.store, key).await
}

/// One version of `key`.
pub async fn version(
    deps: &Deps,
    key: &str,
    number: u32,
) -> Result<Option<JourneyVersion>, StoreError> {
    if !valid_key(key) {
        return Ok(None);
    }
    JOURNEYS.version(&*deps.store, key, number).await
}

/// The kind journey versions are kept under in the process's version cache.
const CACHE_KIND: &str = "journey";

/// One version of `key`, from the process's cache or the store.
pub async fn cached_version(
    deps: &Deps,
    key: &str,
    number: u32,
) -> Result<Option<Arc<JourneyVersion>>, StoreError> {
    if let Some(found) = deps.versions.get::<JourneyVersion>(CACHE_KIND, key, number) {
        return Ok(Some(found));
    }
    let Some(found) = version(deps, key, number).await? else {
        return Ok(None);
    };
    let found = Arc::new(found);
    deps.versions.put(CACHE_KIND, key, number, found.clone());
    Ok(Some(found))
}

/// The definition in a request body, by its content type.
fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Journey, ApiError> {
    if body.len() > MAX_DEFINITION_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "A journey definition is at most 200 KB.",
        ));
    }
    let content_type = nhip_core::http::media_type(headers);
    let text = std::str::from_utf8(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The definition is not UTF-8 text.",
        )
    })?;
    match content_type.as_str() {
        "application/json" => parse_json(text).map_err(invalid),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            parse_yaml(text).map_err(invalid)
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the journey as application/json or application/yaml.",
        )),
    }
}

/// Checks a definition against the templates it names (each must exist, on the channel it is
/// used for).
pub async fn check(deps: &Deps, journey: &Journey) -> Result<(), ApiError> {
    let mut channels: HashMap<String, &'static str> = HashMap::new();
    for (_, target) in journey.templates() {
        if channels.contains_key(&target.template) {
            continue;
        }
        if let Some(meta) = templates::meta(deps, &target.template).await? {
            channels.insert(target.template.clone(), meta.channel.as_str());
        }
    }
    validate(journey, &|code| channels.get(code).copied()).map_err(invalid)
}

fn trigger_event(journey: &Journey) -> Option<String> {
    match &journey.trigger {
        Trigger::Event { event, .. } => Some(event.clone()),
        _ => None,
    }
}

/// A journey with its versions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JourneyView {
    /// The header.
    #[serde(flatten)]
    pub meta: JourneyHeaderView,
    /// Its versions, oldest first.
    pub versions: Vec<VersionSummary>,
}

/// One version of a journey as its header lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    /// Version number, from 1.
    pub number: u32,
    /// The journey's name in this version.
    pub name: String,
    /// Created (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: String,
}

/// Query of a create: publish at once.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SaveQuery {
    /// Publish the saved version at once.
    #[serde(default)]
    pub publish: bool,
}

/// Query of a new version: the header's version read, and whether to publish at once.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NewVersionQuery {
    /// Publish the saved version at once.
    #[serde(default)]
    pub publish: bool,
    /// The header's `version` you read (a different one answers 409).
    pub based_on: u64,
}

/// Writes a new journey (version 1), or fails with 409 if the key is taken.
async fn create(
    deps: &Deps,
    principal: &Principal,
    journey: Journey,
    publish: bool,
) -> Result<JourneyMeta, ApiError> {
    check(deps, &journey).await?;
    let now = deps.clock.now();
    let meta = JourneyMeta {
        key: journey.key.clone(),
        name: journey.name.clone(),
        latest_version: 1,
        published_version: publish.then_some(1),
        trigger_event: if publish {
            trigger_event(&journey)
        } else {
            None
        },
        created_at: now,
        created_by: principal.user.clone(),
        updated_at: now,
        version: 1,
    };
    let first = JourneyVersion {
        key: journey.key.clone(),
        number: 1,
        definition: journey,
        created_at: now,
        created_by: principal.user.clone(),
    };
    let mut ops = JOURNEYS.create_writes(&meta, &first)?;
    ops.extend(trigger_index(&meta, None));
    if publish {
        ops.extend(schedule_segment(&first, now, now));
    }
    JOURNEYS
        .create(&*deps.store, ops)
        .await
        .map_err(not_committed)?;
    Ok(meta)
}

/// The writes that move the trigger index from `before`'s published trigger to `after`'s.
fn trigger_index(after: &JourneyMeta, before: Option<&JourneyMeta>) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    let old = before.and_then(|b| b.trigger_event.clone());
    if old != after.trigger_event
        && let Some(old) = old
    {
        ops.push(WriteOp::Delete {
            key: keys::journey_trigger(&old, &after.key),
            condition: Condition::Always,
        });
    }
    if let (Some(event), Some(number)) = (&after.trigger_event, after.published_version) {
        let mut item = keys::journey_trigger(event, &after.key).to_item();
        item.insert("kind".into(), "journey_trigger".into());
        item.insert("journey".into(), after.key.clone().into());
        item.insert("version".into(), number.into());
        ops.push(WriteOp::Put {
            item,
            condition: Condition::Always,
        });
    }
    ops
}

/// `POST /v1/journeys?publish=` (admin): a new journey from its YAML or JSON definition.
#[utoipa::path(
    post,
    path = "/v1/journeys",
    tag = "journeys",
    security(("bearer" = [])),
    params(SaveQuery),
    request_body(content = Object, description = "The definition (application/json or application/yaml).", content_type = "application/json",
        example = json!({
            "key": "cam-on-chi-tieu-dau",
            "name": "Cảm ơn chủ thẻ sau lần chi tiêu đầu tiên",
            "trigger": {"type": "event", "event": nhip_core::event_types::CARD_FIRST_SPEND},
            "start": "cam-on",
            "steps": {
                "cam-on": {"type": "send", "purpose": "care", "targets": [{"channel": "email", "template": "the-moi-chao-mung-email"}], "next": "het"},
                "het": {"type": "exit"}
            }
        })),
    responses(
        (status = 201, description = "Created: the header.", body = JourneyHeaderView),
        nhip_core::openapi::CreateErrors,
        (status = 409, description = "The key is taken (`duplicate`).", body = nhip_core::openapi::ErrorBody),
    )
)]
pub async fn create_journey(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    nhip_core::http::Query(query): nhip_core::http::Query<SaveQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let journey = parse_body(&headers, &body)?;
    let meta = create(&deps, &principal, journey, query.publish).await?;
    Ok((StatusCode::CREATED, Json(JourneyHeaderView::from(&meta))).into_response())
}

/// `POST /v1/journeys/{key}/versions?based_on=&publish=` (admin): a new version; its `key`
/// must be the journey's.
#[utoipa::path(
    post,
    path = "/v1/journeys/{key}/versions",
    tag = "journeys",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "Journey key."), NewVersionQuery),
    request_body(content = Object, description = "The definition (application/json or application/yaml); its `key` is the journey's.", content_type = "application/json",
        example = json!({
            "key": "the-moi-kich-hoat",
            "name": "Chào mừng chủ thẻ mới (bản rút gọn)",
            "trigger": {"type": "event", "event": nhip_core::event_types::CARD_ISSUED},
            "goals": [{"name": "Đã chi tiêu lần đầu", "event": nhip_core::event_types::CARD_FIRST_SPEND}],
            "start": "chao-mung",
            "steps": {
                "chao-mung": {"type": "send", "purpose": "care", "targets": [{"channel": "email", "template": "the-moi-chao-mung-email"}], "next": "cho"},
                "cho": {"type": "wait", "wait": {"kind": "duration", "duration": "3d"}, "next": "het"},
                "het": {"type": "exit"}
            }
        })),
    responses(
        (status = 201, description = "Created: the header.", body = JourneyHeaderView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub async fn add_journey_version(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(key): Path<String>,
    nhip_core::http::Query(query): nhip_core::http::Query<NewVersionQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let before = meta(&deps, &key).await?.ok_or_else(not_found)?;
    if query.based_on != before.version {
        return Err(ApiError::stale_version(before.version));
    }
    let journey = parse_body(&headers, &body)?;
    if journey.key != key {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "A new version keeps the journey's key.",
        )
        .field("key", "Phiên bản mới phải giữ mã hành trình."));
    }
    check(&deps, &journey).await?;
    let now = deps.clock.now();
    let number = before.latest_version + 1;
    let mut after = before.clone();
    after.latest_version = number;
    after.name = journey.name.clone();
    if query.publish {
        after.published_version = Some(number);
        after.trigger_event = trigger_event(&journey);
    }
    after.updated_at = now;
    after.version += 1;
    let created = JourneyVersion {
        key: key.clone(),
        number,
        definition: journey,
        created_at: now,
        created_by: principal.user.clone(),
    };
    let mut ops = JOURNEYS.change_writes(&before, &after, Some((number, &created)))?;
    ops.extend(trigger_index(&after, Some(&before)));
    if query.publish {
        ops.extend(schedule_segment(&created, now, now));
    }
    commit(&deps, &before, ops).await?;
    Ok((StatusCode::CREATED, Json(JourneyHeaderView::from(&after))).into_response())
}

async fn commit(deps: &Deps, before: &JourneyMeta, ops: Vec<WriteOp>) -> Result<(), ApiError> {
    JOURNEYS
        .change(&*deps.store, before, ops)
        .await
        .map_err(not_committed)
}

/// The header version a publish is based on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishJourney {
    /// The header's `version` you read.
    pub version: u64,
}

/// `POST /v1/journeys/{key}/versions/{number}/publish` (admin): new enrollments start on this
/// version; running ones stay on theirs.
#[utoipa::path(
    post,
    path = "/v1/journeys/{key}/versions/{number}/publish",
    tag = "journeys",
    security(("bearer" = [])),
    params(
        ("key" = String, Path, description = "Journey key."),
        ("number" = u32, Path, description = "Version number."),
    ),
    request_body(content = PublishJourney, description = "The header version you read."),
    responses(
        (status = 200, description = "Published: the header.", body = JourneyHeaderView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub async fn publish_journey_version(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((key, number)): Path<(String, u32)>,
    Json(body): Json<PublishJourney>,
) -> Result<Json<JourneyHeaderView>, ApiError> {
    principal.require_admin()?;
    let before = meta(&deps, &key).await?.ok_or_else(not_found)?;
    let found = version(&deps, &key, number).await?.ok_or_else(not_found)?;
    if before.version != body.version {
        return Err(ApiError::stale_version(before.version));
    }
    // Templates may have changed since the version was saved: check again before it runs.
    check(&deps, &found.definition).await?;
    let mut after = before.clone();
    after.published_version = Some(number);
    after.trigger_event = trigger_event(&found.definition);
    after.updated_at = deps.clock.now();
    after.version += 1;
    let mut ops = JOURNEYS.change_writes::<_, JourneyVersion>(&before, &after, None)?;
    ops.extend(trigger_index(&after, Some(&before)));
    ops.extend(schedule_segment(&found, after.updated_at, after.updated_at));
    commit(&deps, &before, ops).await?;
    Ok(Json((&after).into()))
}

/// `GET /v1/journeys`: every journey's header.
#[utoipa::path(
    get,
    path = "/v1/journeys",
    tag = "journeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every journey's header.", body = JourneyList),
        nhip_core::openapi::StaffErrors,
    )
)]
pub async fn list_journeys(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
) -> Result<Json<JourneyList>, ApiError> {
    let items = headers(&deps)
        .await?
        .iter()
        .map(JourneyHeaderView::from)
        .collect();
    Ok(Json(JourneyList { items }))
}

/// Every journey's header, by key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JourneyList {
    /// The headers.
    pub items: Vec<JourneyHeaderView>,
}

/// `GET /v1/journeys/{key}`: the header and every version's number, name and date.
#[utoipa::path(
    get,
    path = "/v1/journeys/{key}",
    tag = "journeys",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "Journey key.")),
    responses(
        (status = 200, description = "The journey.", body = JourneyView),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn get_journey(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(key): Path<String>,
) -> Result<Json<JourneyView>, ApiError> {
    let meta = meta(&deps, &key).await?.ok_or_else(not_found)?;
    let versions = JOURNEYS
        .versions::<JourneyVersion>(&*deps.store, &key)
        .await?
        .into_iter()
        .map(|found| VersionSummary {
            number: found.number,
            name: found.definition.name,
            created_at: found.created_at,
            created_by: found.created_by,
        })
        .collect();
    Ok(Json(JourneyView {
        meta: (&meta).into(),
        versions,
    }))
}

/// How to answer a version.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionFormat {
    /// `json` (default) or `yaml` (the definition as YAML text).
    #[param(value_type = Option<crate::definitions::JourneyFormatSchema>, inline)]
    pub format: Option<String>,
}

/// `GET /v1/journeys/{key}/versions/{number}?format=yaml`: one version, as JSON or its
/// definition as YAML.
#[utoipa::path(
    get,
    path = "/v1/journeys/{key}/versions/{number}",
    tag = "journeys",
    security(("bearer" = [])),
    params(
        ("key" = String, Path, description = "Journey key."),
        ("number" = u32, Path, description = "Version number."),
        VersionFormat,
    ),
    responses(
        (status = 200, description = "The version (JSON), or its definition (`application/yaml`).", content(
            (JourneyVersionView = "application/json"),
            (Object = "application/yaml"),
        )),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub async fn get_journey_version(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path((key, number)): Path<(String, u32)>,
    nhip_core::http::Query(format): nhip_core::http::Query<VersionFormat>,
) -> Result<Response, ApiError> {
    let found = version(&deps, &key, number).await?.ok_or_else(not_found)?;
    match format.format.as_deref() {
        None | Some("json") => Ok(Json(JourneyVersionView::from(found)).into_response()),
        Some("yaml") => Ok((
            [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
            found.definition.to_yaml(),
        )
            .into_response()),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "format is json or yaml.",
        )),
    }
}

/// `GET /v1/journeys/seeds`: the journeys the product ships with.
#[utoipa::path(
    get,
    path = "/v1/journeys/seeds",
    tag = "journeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The seed journeys.", body = SeedList),
        (status = 401, response = nhip_core::openapi::Unauthenticated),
        (status = 403, response = nhip_core::openapi::Forbidden),
    )
)]
pub async fn list_seeds(_principal: Principal) -> Result<Json<SeedList>, ApiError> {
    let mut items = Vec::new();
    for seed in nhip_domain::journey::SEEDS {
        let journey = seed.parse().map_err(invalid)?;
        let templates = journey
            .templates()
            .into_iter()
            .map(|(_, target)| target.template.clone())
            .collect();
        items.push(Seed {
            key: journey.key,
            name: journey.name,
            description: journey.description,
            templates,
        });
    }
    Ok(Json(SeedList { items }))
}

/// The journeys the product ships with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeedList {
    /// The seeds.
    pub items: Vec<Seed>,
}

/// A journey the product ships with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Seed {
    /// Its key, to install it by.
    pub key: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// The templates its send steps use, one entry per use.
    pub templates: Vec<String>,
}

/// A seed journey installed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstalledSeed {
    /// The journey's header.
    pub journey: JourneyHeaderView,
    /// The seed templates created for it (those already there are kept as they are).
    pub templates_created: Vec<String>,
}

/// `POST /v1/journeys/seeds/{key}/install` (admin): installs a seed journey, published, with
/// the Vietnamese templates it uses (templates that already exist are kept as they are).
#[utoipa::path(
    post,
    path = "/v1/journeys/seeds/{key}/install",
    tag = "journeys",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "Seed journey key.")),
    responses(
        (status = 201, description = "Installed.", body = InstalledSeed),
        nhip_core::openapi::ReadErrors,
        (status = 409, description = "A journey with this key exists (`duplicate`).", body = nhip_core::openapi::ErrorBody),
    )
)]
pub async fn install_seed(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let (meta, created) = install_seed_journey(&deps, &principal, &key).await?;
    Ok((
        StatusCode::CREATED,
        Json(InstalledSeed {
            journey: (&meta).into(),
            templates_created: created,
        }),
    )
        .into_response())
}

/// Installs the seed journey `key`, published, with the seed templates it uses that are not
/// there yet (`404` for an unknown seed, `409` when the journey exists). Returns the header
/// and the templates created. The local runner calls it for its demo data.
pub async fn install_seed_journey(
    deps: &Deps,
    principal: &Principal,
    key: &str,
) -> Result<(JourneyMeta, Vec<String>), ApiError> {
    let Some(seed) = nhip_domain::journey::SEEDS
        .iter()
        .find(|seed| seed.parse().is_ok_and(|j| j.key == key))
    else {
        return Err(not_found());
    };
    let journey = seed.parse().map_err(invalid)?;
    if meta(deps, &journey.key).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            "This journey is already installed.",
        ));
    }
    let used: std::collections::BTreeSet<&str> = journey
        .templates()
        .into_iter()
        .map(|(_, target)| target.template.as_str())
        .collect();
    let mut created = Vec::new();
    for template in nhip_domain::journey::seed_templates()
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e))?
    {
        if used.contains(template.code.as_str())
            && templates::install(
                deps,
                principal,
                &template.code,
                &template.name,
                template.content,
            )
            .await?
        {
            created.push(template.code);
        }
    }
    let meta = create(deps, principal, journey, true).await?;
    Ok((meta, created))
}

nhip_core::domain_enum!(
    /// How a journey version is answered.
    JourneyFormatSchema,
    "JourneyFormat",
    "`json` (default) or `yaml` (the definition as YAML text).",
    ["json", "yaml"]
);

// ---------------------------------------------------------------------------------------------
// A segment journey's evaluations, scheduled as due work when a version is published and run
// by `crate::entry::run_segment`.

/// Where a segment evaluation is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentProgress {
    /// The customer list's cursor to go on from.
    pub cursor: Option<String>,
    /// Customers offered so far.
    pub seen: u32,
}

/// The due-work write of the evaluation of `version` at `at` (none unless the journey starts
/// on a segment), due at `due`, going on from `progress`. The id comes from the journey,
/// version, instant and progress, so scheduling it twice writes one item.
pub fn schedule_segment_part(
    version: &JourneyVersion,
    at: DateTime<Utc>,
    progress: SegmentProgress,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<WriteOp> {
    if !matches!(version.definition.trigger, Trigger::Segment { .. }) {
        return None;
    }
    let id = nhip_core::scheduler::derived_id(
        due,
        &format!(
            "segment#{}#{}#{}#{}#{}",
            version.key,
            version.number,
            keys::instant(at),
            progress.seen,
            progress.cursor.as_deref().unwrap_or_default()
        ),
    );
    let work = nhip_core::scheduler::Work::JourneySegment {
        journey: version.key.clone(),
        version: version.number,
        at,
        cursor: progress.cursor,
        seen: progress.seen,
    };
    Some(nhip_core::scheduler::schedule(id, due, now, &work))
}

/// The due-work write of a new evaluation of `version` at `at`.
pub fn schedule_segment(
    version: &JourneyVersion,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<WriteOp> {
    schedule_segment_part(version, at, SegmentProgress::default(), at, now)
}
