//! The console's pages. Each page is an askama template over a view struct built from the
//! CRM's use cases (never from raw store calls), with the [`Shell`]: the menu the signed-in
//! role sees, the bell, the "KH mới chưa tư vấn" count and the search box.

pub mod admin;
pub mod agenda;
pub mod bonus;
pub mod calls;
pub mod care;
pub mod catalogue;
pub mod contracts;
pub mod customer;
pub mod home;
pub mod hosted;
pub mod import;
pub mod leads;
pub mod privacy;
pub mod rates;
pub mod reminders;
pub mod search;
pub mod sign_in;
pub mod tasks;
pub mod tickets;
pub mod work_settings;
pub mod zalo;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::staff;

use crate::assets;
use crate::session::{Staff, store_failure};

/// The most waiting leads a page counts ("1000+" beyond), so the shell's cost stays bounded
/// however many wait.
pub const NEW_LEADS_CAP: u64 = 1000;

/// One entry of the menu.
pub struct MenuItem {
    /// Where it goes.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// A count shown beside it.
    pub count: Option<String>,
    /// Whether it is the page shown.
    pub current: bool,
}

/// What every signed-in page shows around its content.
pub struct Shell {
    /// The stylesheet's hashed path.
    pub css: String,
    /// htmx's hashed path.
    pub htmx: String,
    /// The console script's hashed path.
    pub js: String,
    /// The session's CSRF token, for forms and htmx.
    pub csrf: String,
    /// The menu this role sees.
    pub menu: Vec<MenuItem>,
    /// Unread notifications.
    pub unread: i64,
    /// Leads in scope nobody has talked to yet.
    pub new_leads: u64,
    /// The same as shown: `1000+` past the cap.
    pub new_leads_label: String,
    /// The signed-in user's name as shown.
    pub display_name: String,
    /// Their role, in Vietnamese.
    pub role_label: &'static str,
    /// What the search box holds.
    pub query: String,
    /// A one-line message after an action ("Đã lưu").
    pub flash: Option<String>,
}

impl Shell {
    /// The shell of a page at `current` (a menu path) for `staff`.
    pub async fn load(deps: &Deps, staff: &Staff, current: &str) -> Result<Self, Response> {
        let unread = nhip_crm::notifications::unread(deps, &staff.user.username)
            .await
            .map_err(store_failure)?;
        let new_leads = nhip_crm::customers::list::count_new_up_to(
            &*deps.store,
            &staff.principal,
            NEW_LEADS_CAP,
        )
        .await
        .map_err(store_failure)?;
        let new_leads_label = if new_leads >= NEW_LEADS_CAP {
            format!("{NEW_LEADS_CAP}+")
        } else {
            new_leads.to_string()
        };
        let mut menu = vec![
            ("/app", "Trang chủ", None),
            (
                "/app/leads",
                "KH mới chưa tư vấn",
                Some(new_leads_label.clone()),
            ),
            ("/app/care", "Khách hàng chăm sóc", None),
            ("/app/tickets", "Phiếu", None),
            ("/app/agenda", "Lịch làm việc", None),
            ("/app/tasks", "Công việc", None),
            ("/app/bonus", "Thưởng tư vấn", None),
            ("/app/import", "Nhập khách hàng", None),
            ("/app/notifications", "Thông báo", None),
        ];
        if staff.principal.role == Role::Admin {
            menu.push(("/app/admin/users", "Nhân sự", None));
            menu.push(("/app/admin/teams", "Nhóm", None));
            menu.push(("/app/admin/catalogue", "Sản phẩm", None));
            menu.push(("/app/admin/work", "Phiếu & lịch", None));
            menu.push(("/app/admin/rates", "Lãi suất & phí", None));
            menu.push(("/app/admin/reminders", "Nhắc nhở & lời chúc", None));
            menu.push((zalo::PAGE, "Zalo OA", None));
        }
        Ok(Self {
            css: assets::url("app.css"),
            htmx: assets::url("htmx.js"),
            js: assets::url("app.js"),
            csrf: staff.csrf.clone(),
            menu: menu
                .into_iter()
                .map(|(href, label, count)| MenuItem {
                    href,
                    label,
                    count,
                    current: href == current,
                })
                .collect(),
            unread,
            new_leads,
            new_leads_label,
            display_name: staff.user.display_name.clone(),
            role_label: staff::role_label(staff.user.role),
            query: String::new(),
            flash: None,
        })
    }

    /// With a one-line message.
    pub fn flash(mut self, message: impl Into<String>) -> Self {
        self.flash = Some(message.into());
        self
    }
}

/// The page rendered, or a 500 page if the template fails.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "console: a template failed to render");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Lỗi hệ thống",
                "Trang này không hiển thị được. Vui lòng thử lại.",
            )
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    css: String,
    title: &'a str,
    message: &'a str,
}

/// A page that says what went wrong, with `status`.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage {
        css: assets::url("app.css"),
        title,
        message,
    };
    let html = page
        .render()
        .unwrap_or_else(|_| format!("{status}: {message}"));
    (status, Html(html)).into_response()
}

/// The not-found page: what a customer outside the caller's scope answers too.
pub fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Không tìm thấy",
        "Trang hoặc khách hàng này không tồn tại, hoặc bạn không có quyền xem.",
    )
}

/// `GET /app/{*rest}`: any other console path.
pub async fn fallback() -> Response {
    not_found()
}

/// The page for an error a use case answered that no form shows: not found, forbidden, the
/// store unavailable.
pub fn api_error_page(error: ApiError) -> Response {
    match error.status {
        StatusCode::NOT_FOUND => not_found(),
        StatusCode::FORBIDDEN => error_page(
            StatusCode::FORBIDDEN,
            "Không có quyền",
            "Vai trò của bạn không được thực hiện thao tác này.",
        ),
        status if status.is_server_error() => error_page(
            status,
            "Hệ thống đang bận",
            "Không thực hiện được lúc này. Vui lòng thử lại sau ít phút.",
        ),
        status => error_page(status, "Không thực hiện được", &error.message),
    }
}

/// The first problem of a refused form, as one line for the person at the form.
pub fn form_problem(error: &ApiError) -> String {
    match error.fields.iter().next() {
        Some((_, problem)) => problem.clone(),
        None => error.message.clone(),
    }
}

/// The seal of a problem sent back through a redirect: HMAC-SHA256 keyed with the session's
/// CSRF token, so only this session's own redirects can make a page show a message.
fn seal(staff: &Staff, problem: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(staff.csrf.as_bytes()).expect("HMAC takes any key");
    mac.update(problem.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A redirect after a form (Post/Redirect/Get) to `path`, which may carry a query already,
/// showing `problem` on arrival when it is not empty. The problem travels in the query sealed
/// for this session ([`problem_of`]), so a link made by someone else cannot put words on the
/// console.
pub fn redirect_with_problem(staff: &Staff, path: &str, problem: &str) -> Response {
    if problem.is_empty() {
        return axum::response::Redirect::to(path).into_response();
    }
    let joiner = if path.contains('?') { '&' } else { '?' };
    let text: String = form_urlencoded::byte_serialize(problem.as_bytes()).collect();
    let sealed = seal(staff, problem);
    axum::response::Redirect::to(&format!("{path}{joiner}problem={text}&seal={sealed}"))
        .into_response()
}

/// The problem a page was sent back with, if its seal is this session's; nothing otherwise.
pub fn problem_of(staff: &Staff, problem: &str, sealed: &str) -> String {
    if !problem.is_empty() && crate::session::tokens_match(&seal(staff, problem), sealed) {
        problem.to_owned()
    } else {
        String::new()
    }
}

/// `GET /app/bell`: the bell alone, for htmx to refresh every few seconds.
pub async fn bell(
    axum::extract::State(deps): axum::extract::State<std::sync::Arc<Deps>>,
    staff: Staff,
) -> Response {
    #[derive(Template)]
    #[template(path = "bell.html")]
    struct Bell {
        shell: BellCount,
    }
    struct BellCount {
        unread: i64,
    }
    match nhip_crm::notifications::unread(&deps, &staff.user.username).await {
        Ok(unread) => render(&Bell {
            shell: BellCount { unread },
        }),
        Err(error) => store_failure(error),
    }
}
