//! "Nhắc nhở & lời chúc" (admins only): the instalment reminder ladder, the channels reminders
//! and greetings go on, whether birthday and holiday greetings are sent, and the texts of the
//! reminders' templates (a saved text becomes the template's new published version, checked
//! like any template).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use nhip_contracts::reminders;
use nhip_contracts::settings::{self, ReminderSettings, SettingsError};
use nhip_core::deps::Deps;
use nhip_domain::channel::MessageChannel;
use nhip_domain::ladder::Ladder;
use nhip_domain::template::Content;
use nhip_messaging::templates::{self, NewVersion};

use crate::pages::admin::admin_only;
use crate::pages::{
    Shell, api_error_page, form_problem, problem_of, redirect_with_problem, render,
};
use crate::session::{Staff, store_failure};

/// One reminder template as the page edits it.
pub struct TemplateRow {
    pub code: String,
    pub name: String,
    pub channel: &'static str,
    pub email: bool,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub unaccented: bool,
    pub published: u32,
    pub version: u64,
}

#[derive(Template)]
#[template(path = "reminders.html")]
struct RemindersPage {
    shell: Shell,
    ladder: String,
    channels: String,
    greetings: bool,
    version: u64,
    templates: Vec<TemplateRow>,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RemindersQuery {
    done: String,
    problem: String,
    seal: String,
}

fn back(staff: &Staff, problem: &str) -> Response {
    let done = if problem.is_empty() {
        "?done=saved"
    } else {
        ""
    };
    redirect_with_problem(staff, &format!("/app/admin/reminders{done}"), problem)
}

/// The shipped reminder templates as they are now (installed first when missing).
async fn template_rows(deps: &Deps) -> Result<Vec<TemplateRow>, Response> {
    reminders::install_templates(deps)
        .await
        .map_err(store_failure)?;
    let mut rows = Vec::new();
    for code in reminders::template_codes() {
        let Some(meta) = templates::meta(deps, &code).await.map_err(store_failure)? else {
            continue;
        };
        let Some(number) = meta.published_version else {
            continue;
        };
        let Some(current) = templates::version(deps, &code, number)
            .await
            .map_err(store_failure)?
        else {
            continue;
        };
        let (email, subject, html, text, unaccented) = match current.content {
            Content::Email {
                subject,
                html,
                text,
                ..
            } => (true, subject, html, text, false),
            Content::Sms { text, unaccented } => {
                (false, String::new(), String::new(), text, unaccented)
            }
            _ => continue,
        };
        rows.push(TemplateRow {
            code,
            name: meta.name,
            channel: meta.channel.as_str(),
            email,
            subject,
            html,
            text,
            unaccented,
            published: number,
            version: meta.version,
        });
    }
    Ok(rows)
}

/// `GET /app/admin/reminders`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<RemindersQuery>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let mut shell = match Shell::load(&deps, &staff, "/app/admin/reminders").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if query.done == "saved" {
        shell = shell.flash("Đã lưu.");
    }
    let (current, version) = match settings::in_force(&deps).await {
        Ok(found) => found,
        Err(error) => return store_failure(error),
    };
    let templates = match template_rows(&deps).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    render(&RemindersPage {
        shell,
        ladder: current.instalment_ladder().to_string(),
        channels: current
            .channels
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        greetings: current.greetings,
        version,
        templates,
        problem: problem_of(&staff, &query.problem, &query.seal),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    ladder: String,
    channels: String,
    greetings: String,
    version: u64,
}

/// `POST /app/admin/reminders`: the ladder, channels and greetings.
pub async fn save(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<SettingsForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let ladder = match Ladder::parse(&form.ladder) {
        Ok(ladder) => ladder,
        Err(error) => return back(&staff, &error.to_string()),
    };
    let mut channels = Vec::new();
    for raw in form
        .channels
        .split([',', ' '])
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        match MessageChannel::ALL.into_iter().find(|c| c.as_str() == raw) {
            Some(channel) => channels.push(channel),
            None => {
                return back(
                    &staff,
                    &format!("Kênh không hợp lệ: {raw} (sms, email, zns)."),
                );
            }
        }
    }
    let wanted = ReminderSettings {
        instalment_ladder: ladder.offsets().to_vec(),
        channels,
        greetings: !form.greetings.is_empty(),
    };
    match settings::save(&deps, &staff.principal, &wanted, form.version).await {
        Ok(_) => back(&staff, ""),
        Err(SettingsError::Store(error)) => store_failure(error),
        Err(SettingsError::Invalid(_, problem)) => back(&staff, &problem),
        Err(SettingsError::Stale(_)) => {
            back(&staff, "Cài đặt vừa được người khác đổi; đã tải lại.")
        }
        Err(SettingsError::Forbidden) => crate::pages::not_found(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TemplateForm {
    subject: String,
    html: String,
    text: String,
    unaccented: String,
    version: u64,
}

/// `POST /app/admin/reminders/templates/{code}`: a reminder template's new text, published.
pub async fn save_template(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(code): Path<String>,
    axum::Form(form): axum::Form<TemplateForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    if !reminders::template_codes().contains(&code) {
        return crate::pages::not_found();
    }
    let content = if code.ends_with("-email") {
        Content::Email {
            subject: form.subject,
            html: form.html,
            text: form.text,
            attachments: Vec::new(),
        }
    } else {
        Content::Sms {
            unaccented: !form.unaccented.is_empty(),
            text: form.text,
        }
    };
    let request = NewVersion {
        version: form.version,
        content,
        publish: true,
    };
    match templates::new_version(&deps, &staff.principal, &code, request).await {
        Ok(_) => back(&staff, ""),
        Err(error) if error.status.is_client_error() => back(&staff, &form_problem(&error)),
        Err(error) => api_error_page(error),
    }
}
