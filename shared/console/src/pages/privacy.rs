//! The customer's personal-data rights (Law 91/2025/QH15, Decree 13/2023): export, erase,
//! restrict processing, object to marketing. Each action opens a confirmation page that names
//! the customer, and is carried out only when the name is typed back, so a click on the
//! wrong row changes nothing.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::customers::model::Customer;
use nhip_crm::customers::routes::find_visible;
use nhip_crm::privacy::{self, ErasureOrder, PrivacyError};

use crate::pages::{Shell, api_error_page, form_problem, not_found, render};
use crate::session::{Staff, store_failure};

/// One of the rights, as the console offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A copy of everything held (JSON).
    Export,
    /// Anonymise.
    Erase,
    /// Restrict processing, or lift the restriction.
    Restrict,
    /// Object to marketing, or lift the objection.
    Object,
}

impl Action {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "export" => Some(Action::Export),
            "erase" => Some(Action::Erase),
            "restrict" => Some(Action::Restrict),
            "object" => Some(Action::Object),
            _ => None,
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Action::Export => "export",
            Action::Erase => "erase",
            Action::Restrict => "restrict",
            Action::Object => "object",
        }
    }

    /// What the page calls it, given the customer's current state.
    fn title(self, customer: &Customer) -> &'static str {
        match self {
            Action::Export => "Xuất dữ liệu cá nhân",
            Action::Erase => "Xoá dữ liệu cá nhân",
            Action::Restrict if customer.processing_restricted => "Bỏ hạn chế xử lý dữ liệu",
            Action::Restrict => "Hạn chế xử lý dữ liệu",
            Action::Object if customer.marketing_objected => "Bỏ phản đối nhận tiếp thị",
            Action::Object => "Phản đối nhận tiếp thị",
        }
    }

    /// What it does, in one paragraph.
    fn explanation(self, customer: &Customer) -> &'static str {
        match self {
            Action::Export => {
                "Tải về một tệp JSON gồm toàn bộ dữ liệu đang lưu về khách hàng: hồ sơ, các đồng ý kèm bằng chứng, lịch sử, sản phẩm và nhật ký kiểm toán. Việc xuất được ghi vào nhật ký trước khi đọc dữ liệu."
            }
            Action::Erase => {
                "Ẩn danh hoá hồ sơ: họ tên, số điện thoại, email, CCCD, địa chỉ và nội dung cá nhân trong lịch sử bị xoá vĩnh viễn; mã số thuế được giữ nếu khách có hợp đồng phải lưu trữ theo luật kế toán. Không thể hoàn tác."
            }
            Action::Restrict if customer.processing_restricted => {
                "Bỏ hạn chế: dữ liệu của khách được xử lý trở lại theo các đồng ý đang có hiệu lực."
            }
            Action::Restrict => {
                "Trong khi bị hạn chế, Nhịp chỉ lưu trữ dữ liệu và thực hiện nghĩa vụ pháp lý: không gửi bất kỳ tin nhắn nào, kể cả chăm sóc."
            }
            Action::Object if customer.marketing_objected => {
                "Bỏ phản đối không khôi phục đồng ý nào: từng đồng ý nhận tiếp thị phải được ghi nhận lại."
            }
            Action::Object => {
                "Rút ngay mọi đồng ý nhận tiếp thị trên mọi kênh; tin chăm sóc vẫn được gửi."
            }
        }
    }
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct ConfirmPage {
    shell: Shell,
    id: String,
    name: String,
    action: &'static str,
    title: &'static str,
    explanation: &'static str,
    needs_reason: bool,
    version: u64,
    problem: Option<String>,
    reason: String,
}

async fn visible(deps: &Deps, staff: &Staff, id: &str) -> Result<Customer, Response> {
    match find_visible(deps, &staff.principal, id).await {
        Ok(Some(customer)) if customer.erased_at.is_none() => Ok(customer),
        Ok(_) => Err(not_found()),
        Err(error) => Err(store_failure(error)),
    }
}

fn may(staff: &Staff, action: Action) -> bool {
    action != Action::Erase || matches!(staff.principal.role, Role::Admin | Role::Manager)
}

async fn confirm_page(
    deps: &Deps,
    staff: &Staff,
    customer: &Customer,
    action: Action,
    problem: Option<String>,
    reason: String,
) -> Response {
    let shell = match Shell::load(deps, staff, "").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ConfirmPage {
        shell,
        id: customer.id.to_string(),
        name: customer.full_name.clone(),
        action: action.slug(),
        title: action.title(customer),
        explanation: action.explanation(customer),
        needs_reason: action == Action::Erase,
        version: customer.version,
        problem,
        reason,
    };
    (status, render(&page)).into_response()
}

/// `GET /app/customers/{id}/privacy/{action}`: the confirmation naming the customer.
pub async fn confirm(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let Some(action) = Action::parse(&action) else {
        return not_found();
    };
    let customer = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    if !may(&staff, action) {
        return forbidden();
    }
    confirm_page(&deps, &staff, &customer, action, None, String::new()).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConfirmForm {
    typed_name: String,
    reason: String,
    version: u64,
}

/// `POST /app/customers/{id}/privacy/{action}`: carries the action out once the customer's
/// name was typed back.
pub async fn carry_out(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path((id, action)): Path<(String, String)>,
    axum::Form(form): axum::Form<ConfirmForm>,
) -> Response {
    let Some(action) = Action::parse(&action) else {
        return not_found();
    };
    let customer = match visible(&deps, &staff, &id).await {
        Ok(customer) => customer,
        Err(response) => return response,
    };
    if !may(&staff, action) {
        return forbidden();
    }
    let typed = nhip_domain::person::nfc(form.typed_name.trim());
    let problem = if typed != customer.full_name {
        format!(
            "Gõ đúng họ tên khách hàng \"{}\" để xác nhận.",
            customer.full_name
        )
    } else {
        match act(&deps, &staff, &customer, action, &form).await {
            Ok(response) => return response,
            Err(Refusal::Page(response)) => return response,
            Err(Refusal::Problem(problem)) => problem,
        }
    };
    let current = match visible(&deps, &staff, &id).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    confirm_page(&deps, &staff, &current, action, Some(problem), form.reason).await
}

/// Why an action was not carried out: a problem to show on the confirmation page, or a page
/// of its own (not found, the store unavailable).
enum Refusal {
    Problem(String),
    Page(Response),
}

const STALE: &str = "Hồ sơ vừa được người khác cập nhật; kiểm tra lại rồi xác nhận lần nữa.";

impl From<PrivacyError> for Refusal {
    fn from(error: PrivacyError) -> Self {
        match error {
            PrivacyError::NotFound => Refusal::Page(not_found()),
            PrivacyError::StaleVersion { .. } => Refusal::Problem(STALE.to_owned()),
            PrivacyError::Invalid { problem, .. } => Refusal::Problem(problem.to_owned()),
            other => Refusal::Page(api_error_page(other.into())),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        match error.status {
            StatusCode::CONFLICT => Refusal::Problem(STALE.to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY => Refusal::Problem(form_problem(&error)),
            _ => Refusal::Page(api_error_page(error)),
        }
    }
}

/// Carries the confirmed action out; answers where the browser goes next.
async fn act(
    deps: &Deps,
    staff: &Staff,
    customer: &Customer,
    action: Action,
    form: &ConfirmForm,
) -> Result<Response, Refusal> {
    let id = customer.id.to_string();
    let evidence = format!(
        "Xác nhận trên màn hình nhân viên bởi {}",
        staff.user.username
    );
    let principal = &staff.principal;
    match action {
        Action::Export => {
            let document = privacy::export_personal_data(deps, principal, &id).await?;
            return Ok(download(customer, &document));
        }
        Action::Erase => {
            let reason = form.reason.trim().to_owned();
            if reason.is_empty() {
                return Err(Refusal::Problem(
                    "Ghi lý do và cách khách yêu cầu xoá.".into(),
                ));
            }
            let order = ErasureOrder {
                reason,
                version: form.version,
            };
            privacy::erase_personal_data(deps, principal, &id, &order).await?;
            return Ok(Redirect::to("/app/care?erased=1").into_response());
        }
        Action::Restrict => {
            let restricted = !customer.processing_restricted;
            privacy::restrict_processing(
                deps,
                principal,
                &id,
                form.version,
                restricted,
                Some(&evidence),
            )
            .await?;
        }
        Action::Object => {
            let objected = !customer.marketing_objected;
            privacy::object_to_marketing(
                deps,
                principal,
                &id,
                Some(form.version),
                objected,
                Some(&evidence),
            )
            .await?;
        }
    }
    Ok(Redirect::to(&format!("/app/customers/{id}?saved=privacy")).into_response())
}

fn forbidden() -> Response {
    api_error_page(ApiError::new(StatusCode::FORBIDDEN, "forbidden", ""))
}

fn download(customer: &Customer, document: &impl serde::Serialize) -> Response {
    let body = match serde_json::to_vec_pretty(document) {
        Ok(body) => body,
        Err(_) => {
            return api_error_page(nhip_core::http::ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "",
            ));
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"du-lieu-ca-nhan-{}.json\"",
        customer.id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
