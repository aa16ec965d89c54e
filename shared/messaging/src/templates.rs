//! Message templates: Liquid content per channel, versioned. Only admins create versions and
//! publish them; every staff member may read them and preview one for a customer they can see.
//! A version is checked when it is saved (syntax, unknown variables, channel limits), so a
//! broken template is a 422 then, never a half-rendered message at send time. Versions are
//! immutable: a change is a new version, and sends use the published one unless they name
//! another.
//!
//! Items: `TPL#<code>` / `META` (name, channel, latest and published version; listed on gsi2
//! under `TEMPLATES`) and `TPL#<code>` / `V#<000001>` (the content), kept by the one
//! repository of versioned documents ([`nhip_core::versioned`]), as journeys are.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use nhip_domain::template::{
    Content, MergeData, Template, TemplateErrors, customer_salutation, customer_title, sms_segments,
};
use nhip_domain::time::vn_date;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::MessageChannel;
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_core::versioned::{CommitError, Family, Header};
use nhip_crm::customers::model::Customer;
use nhip_ports::store::StoreError;

/// Kind attribute of template header items.
pub const KIND: &str = "template";
/// Kind attribute of template version items.
pub const VERSION_KIND: &str = "template_version";

/// Templates as versioned documents.
pub const TEMPLATES: Family = Family {
    kind: KIND,
    version_kind: VERSION_KIND,
    list: keys::TEMPLATES,
    partition: keys::template_pk,
    header_key: keys::template,
    version_key: keys::template_version,
};

/// A template's header, as stored (answered through [`TemplateHeaderView`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMeta {
    /// Code: 2–64 of `a-z`, `0-9`, `-` (e.g. `tra-gop-moi-email`). Journeys name templates by it.
    pub code: String,
    /// Name staff see.
    pub name: String,
    /// Channel.
    pub channel: MessageChannel,
    /// The newest version.
    pub latest_version: u32,
    /// The version sends use by default; none until one is published.
    pub published_version: Option<u32>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version of the header.
    pub version: u64,
}

/// A template's header as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TemplateMeta)]
pub struct TemplateHeaderView {
    /// Code: 2–64 of `a-z`, `0-9`, `-` (e.g. `tra-gop-moi-email`). Journeys name templates by it.
    pub code: String,
    /// Name staff see.
    pub name: String,
    /// Channel.
    #[schema(value_type = nhip_core::openapi::MessageChannelSchema)]
    pub channel: MessageChannel,
    /// The newest version.
    pub latest_version: u32,
    /// The version sends use by default; none until one is published.
    pub published_version: Option<u32>,
    /// Created (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// Last changed (UTC).
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
    /// The header's version, which a new version or a publish names.
    pub version: u64,
}

impl From<&TemplateMeta> for TemplateHeaderView {
    fn from(meta: &TemplateMeta) -> Self {
        Self {
            code: meta.code.clone(),
            name: meta.name.clone(),
            channel: meta.channel,
            latest_version: meta.latest_version,
            published_version: meta.published_version,
            created_at: meta.created_at,
            created_by: meta.created_by.clone(),
            updated_at: meta.updated_at,
            version: meta.version,
        }
    }
}

impl Header for TemplateMeta {
    fn id(&self) -> &str {
        &self.code
    }
    fn version(&self) -> u64 {
        self.version
    }
}

/// One version's content, as stored (answered through [`TemplateVersionView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// The template's code.
    pub code: String,
    /// Version number, from 1.
    pub number: u32,
    /// The Liquid content for the channel.
    pub content: Content,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: String,
}

/// One version of a template as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TemplateVersion)]
pub struct TemplateVersionView {
    /// The template's code.
    pub code: String,
    /// Version number, from 1.
    pub number: u32,
    /// The Liquid content for the channel (`channel` tag plus the channel's fields).
    #[schema(value_type = Object)]
    pub content: Content,
    /// Created (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: String,
}

impl From<TemplateVersion> for TemplateVersionView {
    fn from(version: TemplateVersion) -> Self {
        Self {
            code: version.code,
            number: version.number,
            content: version.content,
            created_at: version.created_at,
            created_by: version.created_by,
        }
    }
}

/// Why loading a template for a send failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No such template, version, or no published version.
    #[error("template {code} has no {what}")]
    Missing {
        /// The code.
        code: String,
        /// What is missing (`published version`, `version 3`, `template`).
        what: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template))
        .routes(routes!(add_version))
        .routes(routes!(get_version))
        .routes(routes!(publish_version))
        .routes(routes!(preview_version))
        .routes(
            routes!(upload_attachment)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_ATTACHMENT_BYTES)),
        )
}

/// Largest attachment accepted (Lambda's 6 MB response and request limits, base64 included).
pub const MAX_ATTACHMENT_BYTES: usize = 4 * 1024 * 1024;

/// Where an uploaded file is named.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file name recipients see, e.g. `Biểu phí thẻ 2026.pdf`: 1–200 characters without
    /// `/`, `\`, `"` or control characters.
    #[param(
        pattern = "^\\s*[^/\\\\\"\\s\\u0000-\\u001F\\u007F-\\u009F][^/\\\\\"\\u0000-\\u001F\\u007F-\\u009F]{0,199}$",
        example = "Biểu phí thẻ 2026.pdf"
    )]
    pub filename: String,
}

/// `POST /v1/attachments?filename=…` (admin): stores a file (the body, with its
/// `content-type`) in the blob store and answers the reference a template's `attachments`
/// list takes: `{filename, content_type, blob_key}`.
#[utoipa::path(
    post,
    path = "/v1/attachments",
    tag = "messaging",
    security(("bearer" = [])),
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file (any type; sent with its own content-type)."),
    responses(
        (status = 201, description = "Stored: the attachment reference.", body = Attachment),
        nhip_core::openapi::QueryErrors,
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 422, response = nhip_core::openapi::ValidationFailed),
    )
)]
pub async fn upload_attachment(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    nhip_core::http::Query(query): nhip_core::http::Query<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let stored = store_attachment(&deps, &query.filename, content_type, body.to_vec())
        .await
        .map_err(|error| match error {
            AttachmentError::FileName => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The file name is 1–200 characters without '/', '\\', quotes or control characters.",
            )
            .field(
                "filename",
                "Tên tệp 1–200 ký tự, không chứa / \\ \" hay ký tự điều khiển.",
            ),
            AttachmentError::Empty => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The file is empty.",
            )
            .field("body", "Tệp rỗng."),
            AttachmentError::Refused { reason } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", reason)
            }
            AttachmentError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The file store is unavailable; try again.",
            ),
        })?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// Why an attachment was not stored.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// The file name is empty, too long, or has a slash, quote or control character.
    #[error("the file name is not acceptable")]
    FileName,
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The blob store refused it.
    #[error("{reason}")]
    Refused {
        /// Why.
        reason: String,
    },
    /// The blob store is unavailable.
    #[error("the file store is unavailable")]
    Unavailable,
}

/// Stores a file a template will attach, under an ASCII key made of a time-ordered id and the
/// name without diacritics; answers the reference a template's `attachments` list takes.
pub async fn store_attachment(
    deps: &Deps,
    filename: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> Result<Attachment, AttachmentError> {
    let filename = nhip_domain::person::nfc(filename.trim());
    if filename.is_empty()
        || filename.chars().count() > 200
        || filename
            .chars()
            .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
    {
        return Err(AttachmentError::FileName);
    }
    if bytes.is_empty() {
        return Err(AttachmentError::Empty);
    }
    let content_type = content_type
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let key = format!(
        "attachments/{}/{}",
        ulid::Ulid::from_datetime(deps.clock.now().into()),
        attachment_slug(&filename)
    );
    let size = bytes.len();
    deps.blobs
        .put(
            &key,
            nhip_ports::Blob {
                bytes,
                content_type: content_type.clone(),
            },
        )
        .await
        .map_err(|error| match error {
            nhip_ports::BlobError::Invalid { reason } => AttachmentError::Refused { reason },
            nhip_ports::BlobError::Unavailable { .. } => AttachmentError::Unavailable,
        })?;
    Ok(Attachment {
        filename,
        content_type,
        blob_key: key,
        size,
    })
}

/// A file name as an ASCII key part: without diacritics, runs of other characters as one
/// `-`, at most 100 characters; `tep` ("file") when nothing is left.
fn attachment_slug(filename: &str) -> String {
    let slug: String = nhip_domain::person::fold(filename)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug = slug.trim_matches('.');
    let slug = if slug.is_empty() { "tep" } else { slug };
    slug.chars().take(100).collect()
}

/// A stored attachment: the reference a template's `attachments` list takes, and its size.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    /// The file name recipients see.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Where it is kept in the blob store.
    pub blob_key: String,
    /// Bytes.
    pub size: usize,
}

fn valid_code(code: &str) -> bool {
    (2..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
}

fn channel_of(content: &Content) -> MessageChannel {
    match content {
        Content::Email { .. } => MessageChannel::Email,
        Content::Sms { .. } => MessageChannel::Sms,
        Content::Zns { .. } => MessageChannel::Zns,
        Content::Push { .. } => MessageChannel::Push,
        Content::Webhook { .. } => MessageChannel::Webhook,
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "Không tìm thấy mẫu tin.",
    )
}

/// The save-time check of a template's content: its Liquid and names
/// ([`Template::check`]), then its links as the sample renders them (only http, https, mailto,
/// tel, and the app's schemes in a push deep link).
fn check_content(deps: &Deps, content: &nhip_domain::template::Content) -> Result<(), ApiError> {
    Template::check(content).map_err(template_invalid)?;
    let sample = Template::preview(content).map_err(template_invalid)?;
    nhip_domain::template::links::check(&sample, &deps.settings.messaging.app_link_schemes)
        .map_err(template_invalid)
}

fn template_invalid(errors: TemplateErrors) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "template_invalid",
        "Mẫu tin có lỗi; xem từng trường.",
    );
    for (field, problem) in errors.0 {
        error = error.field(format!("content.{field}"), problem);
    }
    error
}

/// A create refused because the code is taken.
fn code_taken() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "duplicate",
        "A template with this code already exists.",
    )
    .field("code", "Mã này đã được dùng.")
}

/// The answer to a change that did not commit.
fn not_committed(error: CommitError) -> ApiError {
    match error {
        CommitError::Taken => code_taken(),
        CommitError::Stale { current } => ApiError::stale_version(current),
        CommitError::Store(error) => error.into(),
    }
}

/// The header of `code`.
pub async fn meta(deps: &Deps, code: &str) -> Result<Option<TemplateMeta>, StoreError> {
    if !valid_code(code) {
        return Ok(None);
    }
    TEMPLATES.header(&*deps.store, code).await
}

/// One version of `code`.
pub async fn version(
    deps: &Deps,
    code: &str,
    number: u32,
) -> Result<Option<TemplateVersion>, StoreError> {
    if !valid_code(code) {
        return Ok(None);
    }
    TEMPLATES.version(&*deps.store, code, number).await
}

/// The version a send uses: `number` when given, else the published one.
pub async fn for_send(
    deps: &Deps,
    code: &str,
    number: Option<u32>,
) -> Result<TemplateVersion, LoadError> {
    let missing = |what: String| LoadError::Missing {
        code: code.to_owned(),
        what,
    };
    let number = match number {
        Some(number) => number,
        None => meta(deps, code)
            .await?
            .ok_or_else(|| missing("template".into()))?
            .published_version
            .ok_or_else(|| missing("published version".into()))?,
    };
    version(deps, code, number)
        .await?
        .ok_or_else(|| missing(format!("version {number}")))
}

/// Installs a template shipped with the product (a seed journey's), published, unless one
/// with its code exists: `true` when it was created. Checked like any other.
pub async fn install(
    deps: &Deps,
    principal: &Principal,
    code: &str,
    name: &str,
    content: Content,
) -> Result<bool, ApiError> {
    if meta(deps, code).await?.is_some() {
        return Ok(false);
    }
    check_content(deps, &content)?;
    let now = deps.clock.now();
    let meta = TemplateMeta {
        code: code.to_owned(),
        name: name.to_owned(),
        channel: channel_of(&content),
        latest_version: 1,
        published_version: Some(1),
        created_at: now,
        created_by: principal.user.clone(),
        updated_at: now,
        version: 1,
    };
    let first = TemplateVersion {
        code: code.to_owned(),
        number: 1,
        content,
        created_at: now,
        created_by: principal.user.clone(),
    };
    let writes = TEMPLATES.create_writes(&meta, &first)?;
    match TEMPLATES.create(&*deps.store, writes).await {
        Ok(()) => Ok(true),
        // Installed meanwhile by someone else: theirs stands.
        Err(CommitError::Taken) => Ok(false),
        Err(other) => Err(not_committed(other)),
    }
}

/// A new template with its first version.
// The example is the whole body's: utoipa drops a property's example when the property is
// given `value_type = Object`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "uu-dai-tra-gop-sms",
    "name": "Ưu đãi trả góp 0% — SMS",
    "content": {"channel": "sms", "text": "Tra gop 0% cho {{ customer.given_name }}: https://nhip.example/tra-gop", "unaccented": true},
    "publish": true
}))]
pub struct NewTemplate {
    /// Code: 2–64 of `a-z`, `0-9`, `-`.
    #[schema(example = "uu-dai-tra-gop-sms")]
    pub code: String,
    /// Name staff see.
    #[schema(example = "Ưu đãi trả góp 0% — SMS")]
    pub name: String,
    /// The Liquid content: `{"channel": "email", "subject", "html", "text"}`, `{"channel":
    /// "sms", "text", "unaccented"}`, `{"channel": "zns", "template_id", "tag", "params"}`,
    /// `{"channel": "push", "title", "body", "deep_link"}` or `{"channel": "webhook", "text"}`.
    #[schema(value_type = Object)]
    pub content: Content,
    /// Publish the first version at once.
    #[serde(default)]
    pub publish: bool,
}

/// A template with its versions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    /// The header.
    #[serde(flatten)]
    pub meta: TemplateHeaderView,
    /// Its versions, oldest first.
    pub versions: Vec<TemplateVersionView>,
}

/// `POST /v1/templates` (admin): a new template and its version 1, checked.
#[utoipa::path(
    post,
    path = "/v1/templates",
    tag = "messaging",
    security(("bearer" = [])),
    request_body(content = NewTemplate, description = "The template; admins only."),
    responses(
        (status = 201, description = "Created.", body = TemplateView),
        nhip_core::openapi::CreateErrors,
        (status = 409, description = "The code is taken (`duplicate`).", body = nhip_core::openapi::ErrorBody),
    )
)]
pub async fn create_template(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Json(body): Json<NewTemplate>,
) -> Result<Response, ApiError> {
    principal.require_admin()?;
    if !valid_code(&body.code) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The code is 2–64 of a–z, 0–9 and '-'.",
        )
        .field("code", "Mã gồm 2–64 ký tự a–z, 0–9, '-'."));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The name is 1–200 characters.",
        )
        .field("name", "Tên mẫu từ 1 đến 200 ký tự."));
    }
    check_content(&deps, &body.content)?;
    let now = deps.clock.now();
    let meta = TemplateMeta {
        code: body.code.clone(),
        name: nhip_domain::person::nfc(name),
        channel: channel_of(&body.content),
        latest_version: 1,
        published_version: body.publish.then_some(1),
        created_at: now,
        created_by: principal.user.clone(),
        updated_at: now,
        version: 1,
    };
    let first = TemplateVersion {
        code: body.code.clone(),
        number: 1,
        content: body.content,
        created_at: now,
        created_by: principal.user.clone(),
    };
    let writes = TEMPLATES.create_writes(&meta, &first)?;
    TEMPLATES
        .create(&*deps.store, writes)
        .await
        .map_err(not_committed)?;
    Ok((
        StatusCode::CREATED,
        Json(TemplateView {
            meta: (&meta).into(),
            versions: vec![first.into()],
        }),
    )
        .into_response())
}

/// `GET /v1/templates`: every template's header.
#[utoipa::path(
    get,
    path = "/v1/templates",
    tag = "messaging",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The templates.", body = TemplateList),
        nhip_core::openapi::StaffErrors,
    )
)]
pub async fn list_templates(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
) -> Result<Json<TemplateList>, ApiError> {
    let items = TEMPLATES
        .headers::<TemplateMeta>(&*deps.store)
        .await?
        .iter()
        .map(TemplateHeaderView::from)
        .collect();
    Ok(Json(TemplateList { items }))
}

/// Every template's header, by code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    /// The headers.
    pub items: Vec<TemplateHeaderView>,
}

/// `GET /v1/templates/{code}`: the header and every version.
#[utoipa::path(
    get,
    path = "/v1/templates/{code}",
    tag = "messaging",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Template code.")),
    responses(
        (status = 200, description = "The template.", body = TemplateView),
        nhip_core::openapi::ReadErrors,
    )
)]
pub async fn get_template(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    let meta = meta(&deps, &code).await?.ok_or_else(not_found)?;
    let versions = TEMPLATES
        .versions::<TemplateVersion>(&*deps.store, &code)
        .await?
        .into_iter()
        .map(TemplateVersionView::from)
        .collect();
    Ok(Json(TemplateView {
        meta: (&meta).into(),
        versions,
    }))
}

/// A new version of a template.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "version": 1,
    "content": {
        "channel": "email",
        "subject": "Chào mừng {{ customer.given_name }} đến với thẻ mới",
        "html": "<p>Chào {{ customer.given_name }},</p><p>Thẻ của Quý khách đã sẵn sàng. Kích hoạt thẻ trên ứng dụng ngân hàng số.</p>",
        "text": "Chào {{ customer.given_name }}, thẻ của Quý khách đã sẵn sàng. Kích hoạt thẻ trên ứng dụng ngân hàng số."
    },
    "publish": false
}))]
pub struct NewVersion {
    /// The header's `version` you read.
    pub version: u64,
    /// The Liquid content; same channel as the template.
    #[schema(value_type = Object)]
    pub content: Content,
    /// Publish it at once.
    #[serde(default)]
    pub publish: bool,
}

/// `POST /v1/templates/{code}/versions` (admin): a new version, checked.
#[utoipa::path(
    post,
    path = "/v1/templates/{code}/versions",
    tag = "messaging",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "Template code.")),
    request_body(content = NewVersion, description = "The content; admins only."),
    responses(
        (status = 201, description = "Created: the version.", body = TemplateVersionView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub async fn add_version(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(code): Path<String>,
    Json(body): Json<NewVersion>,
) -> Result<Response, ApiError> {
    let created = new_version(&deps, &principal, &code, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(TemplateVersionView::from(created)),
    )
        .into_response())
}

/// A template's new version (admins only), checked, published at once when asked: the use
/// case behind `POST /v1/templates/{code}/versions` and the console's template forms.
pub async fn new_version(
    deps: &Deps,
    principal: &Principal,
    code: &str,
    body: NewVersion,
) -> Result<TemplateVersion, ApiError> {
    principal.require_admin()?;
    let before = meta(deps, code).await?.ok_or_else(not_found)?;
    if before.version != body.version {
        return Err(ApiError::stale_version(before.version));
    }
    if channel_of(&body.content) != before.channel {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "A new version keeps the template's channel.",
        )
        .field("content.channel", "Phiên bản mới phải cùng kênh với mẫu."));
    }
    check_content(deps, &body.content)?;
    let now = deps.clock.now();
    let number = before.latest_version + 1;
    let mut after = before.clone();
    after.latest_version = number;
    if body.publish {
        after.published_version = Some(number);
    }
    after.updated_at = now;
    after.version += 1;
    let created = TemplateVersion {
        code: code.to_owned(),
        number,
        content: body.content,
        created_at: now,
        created_by: principal.user.clone(),
    };
    let writes = TEMPLATES.change_writes(&before, &after, Some((number, &created)))?;
    TEMPLATES
        .change(&*deps.store, &before, writes)
        .await
        .map_err(not_committed)?;
    Ok(created)
}

/// `GET /v1/templates/{code}/versions/{number}`: one version.
#[utoipa::path(
    get,
    path = "/v1/templates/{code}/versions/{number}",
    tag = "messaging",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Template code."),
        ("number" = u32, Path, description = "Version number."),
    ),
    responses(
        (status = 200, description = "The version.", body = TemplateVersionView),
        nhip_core::openapi::QueryOneErrors,
    )
)]
pub async fn get_version(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path((code, number)): Path<(String, u32)>,
) -> Result<Json<TemplateVersionView>, ApiError> {
    version(&deps, &code, number)
        .await?
        .map(|found| Json(found.into()))
        .ok_or_else(not_found)
}

/// The header version a publish is based on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The header's `version` you read.
    pub version: u64,
}

/// `POST /v1/templates/{code}/versions/{number}/publish` (admin): sends use this version from
/// now on.
#[utoipa::path(
    post,
    path = "/v1/templates/{code}/versions/{number}/publish",
    tag = "messaging",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Template code."),
        ("number" = u32, Path, description = "Version number."),
    ),
    request_body(content = PublishRequest, description = "The header version you read."),
    responses(
        (status = 200, description = "Published: the header.", body = TemplateHeaderView),
        nhip_core::openapi::ChangeErrors,
    )
)]
pub async fn publish_version(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((code, number)): Path<(String, u32)>,
    Json(body): Json<PublishRequest>,
) -> Result<Json<TemplateHeaderView>, ApiError> {
    principal.require_admin()?;
    let before = meta(&deps, &code).await?.ok_or_else(not_found)?;
    if version(&deps, &code, number).await?.is_none() {
        return Err(not_found());
    }
    if before.version != body.version {
        return Err(ApiError::stale_version(before.version));
    }
    let mut after = before.clone();
    after.published_version = Some(number);
    after.updated_at = deps.clock.now();
    after.version += 1;
    let writes = TEMPLATES.change_writes::<_, TemplateVersion>(&before, &after, None)?;
    TEMPLATES
        .change(&*deps.store, &before, writes)
        .await
        .map_err(not_committed)?;
    Ok(Json((&after).into()))
}

/// Whom to preview for.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A customer you can see; the sample customer when absent.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Holding, journey and event data to merge, as a send would carry them.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: crate::model::RequestData,
}

/// `POST /v1/templates/{code}/versions/{number}/preview`: the version rendered for a customer
/// (or the sample), with the SMS segment count for SMS.
#[utoipa::path(
    post,
    path = "/v1/templates/{code}/versions/{number}/preview",
    tag = "messaging",
    security(("bearer" = [])),
    params(
        ("code" = String, Path, description = "Template code."),
        ("number" = u32, Path, description = "Version number."),
    ),
    request_body(content = PreviewRequest, description = "Whom to render for."),
    responses(
        (status = 200, description = "The rendering.", body = Preview),
        nhip_core::openapi::ActErrors,
    )
)]
pub async fn preview_version(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path((code, number)): Path<(String, u32)>,
    Json(body): Json<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    let found = version(&deps, &code, number).await?.ok_or_else(not_found)?;
    let data = match &body.customer_id {
        Some(id) => {
            let customer = nhip_crm::customers::routes::load_visible(&deps, &principal, id).await?;
            merge_data(&deps, &customer, &body.data, None)
        }
        None => {
            let mut sample = MergeData::sample();
            sample.holding = body.data.holding.clone().or(sample.holding);
            sample.journey = body.data.journey.clone().or(sample.journey);
            sample.event = body.data.event.clone().or(sample.event);
            sample
        }
    };
    let compiled = Template::compile(&found.content).map_err(template_invalid)?;
    let rendered = compiled.render(&data).map_err(template_invalid)?;
    let segments = match &rendered {
        Content::Sms { text, .. } => Some(sms_segments(text).into()),
        _ => None,
    };
    Ok(Json(Preview {
        code,
        number,
        rendered,
        sms_segments: segments,
    }))
}

/// A version rendered for one customer (or the sample customer).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// The template's code.
    pub code: String,
    /// The version rendered.
    pub number: u32,
    /// The content with every merge field filled, in the channel's shape.
    #[schema(value_type = Object)]
    pub rendered: Content,
    /// For SMS, the text's encoding and how many segments it is billed as; `null` on other
    /// channels.
    pub sms_segments: Option<SegmentsView>,
}

/// How an SMS text is billed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentsView {
    /// `gsm7` (the GSM 03.38 alphabet) or `ucs2` (anything else, accented Vietnamese included).
    #[schema(example = "ucs2")]
    pub encoding: String,
    /// Septets for GSM-7, UTF-16 units for UCS-2.
    pub characters: usize,
    /// Segments billed; 0 for an empty text.
    pub segments: usize,
}

impl From<nhip_domain::template::SmsSegments> for SegmentsView {
    fn from(counted: nhip_domain::template::SmsSegments) -> Self {
        let encoding = match counted.encoding {
            nhip_domain::template::SmsEncoding::Gsm7 => "gsm7",
            nhip_domain::template::SmsEncoding::Ucs2 => "ucs2",
        };
        Self {
            encoding: encoding.to_owned(),
            characters: counted.characters,
            segments: counted.segments,
        }
    }
}

/// The data a template sees for this customer.
pub fn merge_data(
    deps: &Deps,
    customer: &Customer,
    data: &crate::model::RequestData,
    message: Option<(&str, Option<String>)>,
) -> MergeData {
    let today = vn_date(deps.clock.now());
    let title = customer_title(customer.gender, customer.birthday, today);
    let given = (!customer.given_name.trim().is_empty()).then_some(customer.given_name.as_str());
    let salutation = customer_salutation(title, given);
    let organisation = &deps.settings.messaging.organisation;
    MergeData {
        customer: json!({
            "id": customer.id.to_string(),
            "full_name": customer.full_name,
            "given_name": customer.given_name,
            "title": title,
            "salutation": salutation,
            "gender": customer.gender,
            "birthday": customer.birthday.map(|d| d.to_string()),
            "phone": customer.phone().map(|p| p.national()),
            "email": customer.email().map(|e| e.as_str().to_owned()),
            "lifecycle": customer.lifecycle.as_str(),
            "tags": customer.tags,
            "attributes": customer.attributes,
            "owner": customer.owner,
        }),
        holding: data.holding.clone(),
        journey: data.journey.clone(),
        event: data.event.clone(),
        message: json!({
            "id": message.as_ref().map(|(id, _)| *id),
            "unsubscribe_url": message.and_then(|(_, url)| url),
        }),
        organisation: json!({
            "name": organisation.name,
            "hotline": organisation.hotline,
            "website": organisation.website,
        }),
    }
}
