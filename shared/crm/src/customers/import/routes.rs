//! The import's HTTP handlers: they check the upload's type and size, call the use cases of
//! [`apply`](super::apply) and [`report`](super::report), and answer [`ImportError`] with the
//! status, code, message and `fields` below.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nhip_core::openapi::Routes;
use nhip_core::routes;

use super::columns::{Field, quoted};
use super::{ImportError, ImportSummary, Imported, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, report};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;

/// The import routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new()
        .routes(routes!(import_customers))
        .routes(routes!(import_summary))
        .routes(routes!(error_report))
}

/// Content types a CSV upload may carry (Windows browsers label `.csv` files as Excel's).
const CSV_TYPES: &[&str] = &[
    "text/csv",
    "application/csv",
    "text/plain",
    "application/vnd.ms-excel",
];

/// `POST /v1/imports/customers`: imports a CSV file. 201 with the summary; 200 with the
/// stored summary when the same user already imported the same bytes.
#[utoipa::path(
    post,
    path = "/v1/imports/customers",
    tag = "customers",
    security(("bearer" = [])),
    request_body(
        content = String,
        content_type = "text/csv",
        description = "A UTF-8 CSV file (BOM optional; `,`, `;` or tab separated), at most 5 MB and 10,000 rows. Headers in English (full_name, phone, email, gender, birthday, cccd, tax_code, address, tags, source, owner, classification, consents) or Vietnamese (Họ và tên, Số điện thoại, …); a name column and a phone, e-mail or CCCD column are required.",
        example = json!("full_name,phone,email\nNguyễn Văn Minh,0912345001,minh.nguyen@example.vn\nLê Thị Hoa,0912345002,\n")
    ),
    responses(
        (status = 201, description = "Imported, row by row: the summary.", body = ImportSummary),
        (status = 200, description = "This user already imported these bytes: the stored summary; nothing is re-run.", body = ImportSummary),
        nhip_core::openapi::QueryErrors,
        (status = 413, response = nhip_core::openapi::PayloadTooLarge),
        (status = 415, response = nhip_core::openapi::UnsupportedMediaType),
    )
)]
async fn import_customers(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !CSV_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the file as text/csv (UTF-8).",
        ));
    }
    // Read here with the import's own limit: the router's default body limit is for JSON.
    let bytes = axum::body::to_bytes(body, MAX_IMPORT_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("The file is larger than {MAX_IMPORT_BYTES} bytes; split it."),
            )
            .field("file", "Tệp lớn hơn 5 MB; vui lòng chia thành nhiều tệp.")
        })?;
    match super::run(&deps, &principal, &bytes).await? {
        Imported::Ran(summary) => Ok((StatusCode::CREATED, Json(summary)).into_response()),
        Imported::AlreadyDone(summary) => Ok((StatusCode::OK, Json(summary)).into_response()),
    }
}

/// `GET /v1/imports/customers/{id}`: the import's summary.
#[utoipa::path(
    get,
    path = "/v1/imports/customers/{id}",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The import's id.")),
    responses(
        (status = 200, description = "The summary; only the importer and admins may read it.", body = ImportSummary),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn import_summary(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ImportSummary>, ApiError> {
    Ok(Json(report::summary(&deps, &principal, &id).await?))
}

/// `GET /v1/imports/customers/{id}/errors.csv`: the failed rows as a UTF-8 CSV with a BOM (so
/// Excel reads the Vietnamese), in the file's columns plus "Dòng" (the row number) and "Lỗi"
/// (what to fix). Fixed, it can be imported again as it is.
#[utoipa::path(
    get,
    path = "/v1/imports/customers/{id}/errors.csv",
    tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The import's id.")),
    responses(
        (status = 200, description = "The failed rows: UTF-8 with a BOM, the file's columns plus \"Dòng\" and \"Lỗi\".", content_type = "text/csv", body = String),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn error_report(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let report = report::error_report(&deps, &principal, &id).await?;
    let mut response = report.csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"nhap-khach-hang-{}-loi.csv\"",
        report.import_id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Personal data: never kept by a shared cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        let bad_request = |code: &'static str, message: String| {
            ApiError::new(StatusCode::BAD_REQUEST, code, message)
        };
        match error {
            ImportError::EmptyFile => {
                bad_request("empty_file", "The file is empty.".into()).field("file", "Tệp rỗng.")
            }
            ImportError::InvalidEncoding { byte, offset, line } => bad_request(
                "invalid_encoding",
                format!(
                    "The file is not UTF-8: byte 0x{byte:02X} at offset {offset} (line {line}). \
                     Save it as \"CSV UTF-8\"."
                ),
            )
            .field(
                "file",
                format!(
                    "Tệp không phải UTF-8 (byte 0x{byte:02X} ở dòng {line}). Trong Excel, chọn Lưu \
                     thành \"CSV UTF-8 (Comma delimited)\"."
                ),
            ),
            ImportError::InvalidCsv { line, .. } => bad_request(
                "invalid_csv",
                format!("The file is not valid CSV near line {line}."),
            )
            .field("file", format!("Tệp CSV bị lỗi định dạng gần dòng {line}.")),
            ImportError::TooManyRows => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_rows",
                format!("A file holds at most {MAX_IMPORT_ROWS} rows; split it into several files."),
            )
            .field(
                "file",
                format!("Tối đa {MAX_IMPORT_ROWS} dòng mỗi tệp; vui lòng chia thành nhiều tệp."),
            ),
            ImportError::NoRows => bad_request(
                "no_rows",
                "The file has a header but no data rows.".into(),
            )
            .field("file", "Tệp chưa có dòng dữ liệu nào."),
            ImportError::UnknownColumns(unknown) => {
                let mut error = bad_request(
                    "unknown_columns",
                    format!(
                        "Unknown columns: {}. Accepted: {}, or their Vietnamese names ({}).",
                        quoted(&unknown),
                        Field::ALL.map(Field::name).join(", "),
                        Field::ALL.map(Field::label).join(", "),
                    ),
                );
                for header in unknown {
                    error = error.field(header, "Cột không được hỗ trợ.");
                }
                error
            }
            ImportError::DuplicateColumns(duplicates) => {
                let mut error = bad_request(
                    "duplicate_columns",
                    format!(
                        "These columns repeat a field already present: {}.",
                        quoted(&duplicates)
                    ),
                );
                for header in duplicates {
                    error = error.field(header, "Cột bị lặp lại.");
                }
                error
            }
            ImportError::MissingNameColumn => bad_request(
                "missing_column",
                "The file has no name column (full_name, \"Họ và tên\", \"Họ tên\" or \"Tên khách hàng\").".into(),
            )
            .field("full_name", "Thiếu cột Họ và tên."),
            ImportError::MissingIdentifierColumn => bad_request(
                "missing_column",
                "The file needs a phone, e-mail or CCCD column to recognise customers already known.".into(),
            )
            .field(
                "phone",
                "Cần cột Số điện thoại, Email hoặc CCCD để nhận diện khách hàng.",
            ),
            ImportError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such import.")
            }
            ImportError::Report(e) => {
                tracing::error!(error = %e, "writing an import's error report failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The report could not be written.",
                )
            }
            ImportError::Store(error) => error.into(),
        }
    }
}
