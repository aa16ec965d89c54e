//! "Nhập khách hàng": a CSV file (the columns of the import API, Vietnamese or English headers)
//! is checked whole at once, then imported from the `imports` queue while the page shows its
//! progress (htmx polls it every second; without JavaScript a link reloads it); when done, the
//! summary and the error report of the rows not imported, to fix in Excel and import again.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::customers::import::{self, ImportError, queued};

use crate::pages::{Shell, api_error_page, form_problem, not_found, render};
use crate::session::{Staff, store_failure};

#[derive(Template)]
#[template(path = "import.html")]
struct UploadPage {
    shell: Shell,
    problem: Option<String>,
}

async fn upload_page(deps: &Deps, staff: &Staff, problem: Option<String>) -> Response {
    let shell = match Shell::load(deps, staff, "/app/import").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, render(&UploadPage { shell, problem })).into_response()
}

/// `GET /app/import`: the upload form.
pub async fn page(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    upload_page(&deps, &staff, None).await
}

/// `POST /app/import`: checks the file and queues its import.
pub async fn upload(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    mut multipart: Multipart,
) -> Response {
    let mut bytes = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => match field.bytes().await {
                Ok(data) => bytes = Some(data),
                Err(_) => {
                    return upload_page(&deps, &staff, Some("Không đọc được tệp tải lên.".into()))
                        .await;
                }
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                return upload_page(&deps, &staff, Some("Không đọc được tệp tải lên.".into()))
                    .await;
            }
        }
    }
    let Some(bytes) = bytes else {
        return upload_page(&deps, &staff, Some("Chọn một tệp CSV.".into())).await;
    };
    if bytes.len() > import::MAX_IMPORT_BYTES {
        let problem = format!(
            "Tệp lớn hơn {} MB; vui lòng chia thành nhiều tệp.",
            import::MAX_IMPORT_BYTES / 1024 / 1024
        );
        return upload_page(&deps, &staff, Some(problem)).await;
    }
    match queued::enqueue(&deps, &staff.principal, &bytes).await {
        Ok(id) => Redirect::to(&format!("/app/import/{id}")).into_response(),
        Err(ImportError::Store(error)) => store_failure(error),
        Err(error) => {
            let problem = form_problem(&ApiError::from(error));
            upload_page(&deps, &staff, Some(problem)).await
        }
    }
}

/// What the progress panel shows.
#[derive(Template)]
#[template(path = "import_progress.html")]
struct ProgressPanel {
    id: String,
    done: bool,
    queued: bool,
    rows: u32,
    processed: u32,
    percent: u32,
    created: u32,
    updated: u32,
    failed: u32,
    errors: Vec<(u32, String, String)>,
}

#[derive(Template)]
#[template(path = "import_status.html")]
struct StatusPage {
    shell: Shell,
    panel: ProgressPanel,
}

async fn panel(deps: &Deps, staff: &Staff, id: &str) -> Result<ProgressPanel, Response> {
    let progress = match queued::progress(deps, &staff.principal, id).await {
        Ok(progress) => progress,
        Err(ImportError::NotFound) => return Err(not_found()),
        Err(ImportError::Store(error)) => return Err(store_failure(error)),
        Err(other) => return Err(api_error_page(other.into())),
    };
    let summary = progress.summary.as_ref();
    Ok(ProgressPanel {
        id: id.to_owned(),
        done: summary.is_some(),
        queued: progress.status == "queued",
        rows: progress.rows,
        processed: progress.processed,
        percent: (progress.processed * 100)
            .checked_div(progress.rows)
            .unwrap_or(100),
        created: summary.map_or(0, |s| s.created),
        updated: summary.map_or(0, |s| s.updated),
        failed: summary.map_or(0, |s| s.failed),
        errors: summary
            .map(|s| {
                s.errors
                    .iter()
                    .take(20)
                    .map(|e| {
                        (
                            e.row,
                            e.column.clone().unwrap_or_default(),
                            e.message.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// `GET /app/import/{id}`: the progress, as a page or (for htmx) the panel alone.
pub async fn status(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let panel = match panel(&deps, &staff, &id).await {
        Ok(panel) => panel,
        Err(response) => return response,
    };
    if headers.contains_key("hx-request") {
        return render(&panel);
    }
    match Shell::load(&deps, &staff, "/app/import").await {
        Ok(shell) => render(&StatusPage { shell, panel }),
        Err(response) => response,
    }
}

/// `GET /app/import/{id}/errors.csv`: the rows not imported, with what to fix.
pub async fn errors(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(id): Path<String>,
) -> Response {
    match import::error_report(&deps, &staff.principal, &id).await {
        Ok(report) => {
            let mut response = (StatusCode::OK, report.csv).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(value) = HeaderValue::from_str(&format!(
                "attachment; filename=\"loi-nhap-{}.csv\"",
                report.import_id
            )) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(ImportError::NotFound) => not_found(),
        Err(ImportError::Store(error)) => store_failure(error),
        Err(other) => api_error_page(other.into()),
    }
}
