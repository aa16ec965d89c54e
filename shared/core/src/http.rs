//! What every route shares: the error answer (`ApiError`, always the body
//! `{"error": {"code": "...", "message": "...", "fields": {...}}}`), the extractors that answer
//! it instead of axum's plain-text rejections (`Json`, `Query`, `ListQuery`, `Path`), and the
//! small readers of requests (media type, client address, form decoding). The router that
//! merges the features is `nhip-api`'s.

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use nhip_ports::store::StoreError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The request's media type, lower-cased, without parameters (`application/json` for
/// `Application/JSON; charset=utf-8`); empty when there is none.
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The address a request came from, as neither the client nor a proxy it controls can set it:
/// in Lambda, API Gateway's `requestContext.http.sourceIp`; locally, the socket's peer (the
/// runner serves with `into_make_service_with_connect_info`). Headers such as
/// `X-Forwarded-For` are never read.
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    #[allow(irrefutable_let_patterns)] // other contexts exist when lambda_http has more features
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) =
        extensions.get::<lambda_http::request::RequestContext>()
    {
        return context.http.source_ip.as_deref()?.parse().ok();
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `not_found`, `conflict`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// Per-field problems, for validation errors.
    pub fields: BTreeMap<String, String>,
    /// Seconds to wait before retrying, sent as `Retry-After` (rate limits, 503s).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error without field details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after: None,
        }
    }

    /// Adds a field-level problem.
    pub fn field(mut self, name: impl Into<String>, problem: impl Into<String>) -> Self {
        self.fields.insert(name.into(), problem.into());
        self
    }
}

/// The body of every error answer: `{"error": {"code", "message", "fields"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` object of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `not_found`, `conflict`, `validation_failed`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Per-field problems (field name → problem), only on validation errors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(example = json!({"phone": "Số điện thoại không hợp lệ."}))]
    pub fields: BTreeMap<String, String>,
}

impl ApiError {
    /// 409 `conflict`: the stored record's version is not the one the client read.
    pub fn stale_version(current: u64) -> Self {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "The record was changed by someone else; reload it and try again.",
        )
        .field("version", format!("current version is {current}"))
    }
}

/// The body as a JSON object, or 400 `invalid_body`.
pub fn json_object(
    body: serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match body {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "The body must be a JSON object.",
        )),
    }
}

/// The `version` a change is based on, required on every update (422 when absent).
pub fn required_version(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<u64, ApiError> {
    body.get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Send the version you read, to guard against overwriting someone else's change.",
            )
            .field("version", "Cần số phiên bản (version) đã đọc.")
        })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                fields: self.fields,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::ConditionFailed { .. } | StoreError::TransactionConflict => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "The record was changed by someone else; reload it and try again.",
            ),
            StoreError::InvalidCursor { .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "The pagination cursor is not valid for this list; start again from the first page.",
            )
            .field("cursor", error.to_string()),
            StoreError::ItemTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "The record would be larger than the store allows.",
            ),
            StoreError::Invalid { reason } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", reason.clone())
            }
            StoreError::Throttled { .. } | StoreError::Unavailable { .. } => {
                tracing::error!(error = %error, source = ?std::error::Error::source(&error), "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is busy; try again in a moment.",
                )
            }
        }
    }
}

/// The fallback of a router: 404 `not_found` naming the method and path.
pub async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("No route for {} {}", request.method(), request.uri().path()),
    )
}

/// `routes` with the defaults of the staff API, put around the whole router once: the body
/// limit of [`MAX_BODY_BYTES`] (a route may set a larger one of its own inside) and the 405
/// `method_not_allowed` error body for a path that has no route for the method, with the
/// `Allow` header axum gives it. `axum::Router::layer` and
/// `method_not_allowed_fallback` would instead wrap every route, one by one, at every cold
/// start of the function that serves them (docs/performance.md, "Lambda cold start").
///
/// Routes merged into the returned router afterwards are outside these defaults.
pub fn with_api_defaults(routes: axum::Router) -> axum::Router {
    axum::Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn(method_not_allowed))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Answers axum's own 405 (a route without the method: empty, with no content type) with the
/// error body, naming the method and path; every other response passes as it is.
async fn method_not_allowed(request: Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut answer = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    if method == axum::http::Method::HEAD {
        // The headers a GET would have had, its length included, and no body.
        let (mut parts, body) = answer.into_parts();
        if let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, bytes.len().into());
        }
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    answer
}

/// A JSON request body (and, as a response, `axum::Json`). A body that is not the expected JSON
/// answers the error body rather than axum's plain-text rejection: 400 `invalid_json` (syntax),
/// 413 `body_too_large`, 415 `unsupported_media_type` (no `application/json` content type),
/// 422 `validation_failed` (valid JSON of the wrong shape).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state)
            .await
            .map_err(json_rejection)?;
        serde_path_to_error::deserialize(integral_numbers(value))
            .map(Json)
            .map_err(|error| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("The body does not match the request: {error}"),
                )
            })
    }
}

/// JSON does not tell `2` from `2.0` (RFC 8259 has one number type, and JSON Schema counts
/// `2.0` as an integer), but serde does: whole numbers written with a fraction become
/// integers, so `"version": 2.0` is the version 2 the document promises to accept. Fractional
/// numbers stay as they are.
fn integral_numbers(value: Value) -> Value {
    /// 2^53: above it an `f64` no longer holds every integer exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => {
                if f < 0.0 {
                    Value::from(f as i64)
                } else {
                    Value::from(f as u64)
                }
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let (code, message) = match &rejection {
        JsonRejection::JsonDataError(_) => ("validation_failed", rejection.body_text()),
        JsonRejection::JsonSyntaxError(_) => ("invalid_json", rejection.body_text()),
        JsonRejection::MissingJsonContentType(_) => (
            "unsupported_media_type",
            "Send the body as application/json.".to_owned(),
        ),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            format!("The body is larger than {MAX_BODY_BYTES} bytes."),
        ),
        _ => ("invalid_body", rejection.body_text()),
    };
    ApiError::new(status, code, message)
}

/// Query-string parameters; a query string that does not parse answers 400 `invalid_query`
/// with the error body. An empty parameter (`?phone=`) counts as absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs =
            decode_form(parts.uri.query().unwrap_or_default().as_bytes()).map_err(|field| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "The query string is not valid UTF-8 once percent-decoded.",
                )
                .field(field, "not UTF-8")
            })?;
        // An empty parameter is an absent one, as a form's untouched filter field sends it
        // (`?phone=&lifecycle=new`).
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().filter(|(_, value)| !value.is_empty()))
            .finish();
        serde_urlencoded::from_str(&query)
            .map(Query)
            .map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("Failed to deserialize query string: {error}"),
                )
            })
    }
}

/// The query parameters of a list route: how many items a page may hold, and any other range
/// its parameters have. [`ListQuery`] checks every one of them the same way before the handler
/// runs, so no route clamps, ignores or accepts a value outside its documented range.
pub trait ListParams: DeserializeOwned {
    /// Items a page holds when `limit` is absent.
    const DEFAULT_LIMIT: u32;
    /// The largest `limit` (the smallest is 1).
    const MAX_LIMIT: u32;

    /// The `limit` asked for.
    fn requested_limit(&self) -> Option<u32>;

    /// The route's other ranges (ratios, dates), as `(parameter, problem)`.
    fn range_problems(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The page size to read: the `limit` asked for (checked in range) or the default.
    fn limit(&self) -> u32 {
        self.requested_limit().unwrap_or(Self::DEFAULT_LIMIT)
    }
}

/// A list route's query parameters, parsed and range-checked: a string that does not parse,
/// a `limit` outside 1–[`ListParams::MAX_LIMIT`] or another parameter out of its range
/// answers 400 `invalid_query` with the error body, each parameter named in `fields`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ListQuery<T>
where
    T: ListParams,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<T>::from_request_parts(parts, state).await?;
        let mut problems = params.range_problems();
        if let Some(limit) = params.requested_limit()
            && !(1..=T::MAX_LIMIT).contains(&limit)
        {
            problems.push(("limit", format!("1–{}", T::MAX_LIMIT)));
        }
        if problems.is_empty() {
            return Ok(ListQuery(params));
        }
        let names: Vec<&str> = problems.iter().map(|(name, _)| *name).collect();
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("Out of range: {}.", names.join(", ")),
        );
        for (name, problem) in problems {
            error = error.field(name, problem);
        }
        Err(error)
    }
}

/// A share (0–1) parameter's problem, if it is out of range.
pub fn share_problem(name: &'static str, value: Option<f64>) -> Option<(&'static str, String)> {
    value
        .filter(|v| !(0.0..=1.0).contains(v))
        .map(|_| (name, "0–1".to_owned()))
}

/// Path parameters; a segment that does not decode answers 400 `invalid_path` with the error
/// body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::new(rejection.status(), "invalid_path", rejection.body_text())
}

/// The name–value pairs of an `application/x-www-form-urlencoded` text (a form body or a
/// query string), percent-decoded with `+` as a space, in order. `Err` names the first pair
/// whose name or value is not UTF-8 once decoded (its name, lossily, for the error's field),
/// where `form_urlencoded::parse` would have put U+FFFD in silently.
pub fn decode_form(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let name = percent_decode(name);
        let value = percent_decode(value);
        match (String::from_utf8(name), String::from_utf8(value)) {
            (Ok(name), Ok(value)) => pairs.push((name, value)),
            (Ok(name), Err(_)) => return Err(name),
            (Err(name), _) => return Err(String::from_utf8_lossy(name.as_bytes()).into_owned()),
        }
    }
    Ok(pairs)
}

/// Percent-decodes one form component; a `%` not followed by two hex digits stays as written,
/// as in `form_urlencoded`.
fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequestParts as _;
    use serde::Deserialize;
    use serde_json::json;

    use super::{Query, decode_form, integral_numbers};

    #[test]
    fn whole_numbers_written_with_a_fraction_read_as_integers() {
        assert_eq!(
            integral_numbers(
                json!({"version": 386.0, "share": 0.5, "list": [2.0, -3.0], "big": 1e300})
            ),
            json!({"version": 386, "share": 0.5, "list": [2, -3], "big": 1e300})
        );
        #[derive(Deserialize)]
        struct Versioned {
            version: u64,
        }
        let read: Versioned =
            serde_json::from_value(integral_numbers(json!({"version": 2.0}))).unwrap();
        assert_eq!(read.version, 2);
    }

    #[tokio::test]
    async fn an_empty_query_parameter_is_an_absent_one() {
        #[derive(Debug, Deserialize)]
        struct Filters {
            phone: Option<String>,
            limit: Option<u32>,
        }
        let parts = |uri: &str| {
            axum::http::Request::builder()
                .uri(uri)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        let Query(read) =
            Query::<Filters>::from_request_parts(&mut parts("/x?phone=&limit=5"), &())
                .await
                .unwrap();
        assert_eq!((read.phone, read.limit), (None, Some(5)));
        let Query(read) = Query::<Filters>::from_request_parts(&mut parts("/x?limit="), &())
            .await
            .unwrap();
        assert_eq!(read.limit, None);
        let error = Query::<Filters>::from_request_parts(&mut parts("/x?limit=many"), &())
            .await
            .unwrap_err();
        assert_eq!(error.code, "invalid_query");
    }

    #[test]
    fn forms_decode_like_form_urlencoded_and_refuse_invalid_utf8() {
        let pairs = decode_form(b"full_name=Nguy%E1%BB%85n+Lan&x=%zz&flag&a=1%2").unwrap();
        assert_eq!(
            pairs,
            [
                ("full_name".to_owned(), "Nguyễn Lan".to_owned()),
                ("x".to_owned(), "%zz".to_owned()),
                ("flag".to_owned(), String::new()),
                ("a".to_owned(), "1%2".to_owned()),
            ]
        );
        let lossy: Vec<(String, String)> = form_urlencoded::parse(b"a=1&b=%41%42+c")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(decode_form(b"a=1&b=%41%42+c").unwrap(), lossy);
        assert_eq!(
            decode_form(b"full_name=Lan%FF&p=1"),
            Err("full_name".to_owned())
        );
        assert_eq!(
            decode_form(b"ok=1&n\xffame=x"),
            Err("n\u{fffd}ame".to_owned())
        );
    }
}
