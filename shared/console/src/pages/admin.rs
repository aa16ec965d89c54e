//! Admin: the staff directory (users and teams). Only an admin sees these pages; anyone else
//! gets the not-found page, as for a customer outside their scope.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use nhip_core::auth::Role;
use nhip_core::deps::Deps;
use nhip_crm::staff::{self, DirectoryError, StaffUser, Team, UserInput};

use crate::pages::care::Choice;
use crate::pages::{Shell, not_found, render};
use crate::session::{Staff, store_failure};

/// A user as listed.
pub struct UserRow {
    /// User name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: &'static str,
    /// Team.
    pub team: String,
    /// Manager.
    pub manager: String,
    /// Extension.
    pub extension: String,
    /// Active.
    pub active: bool,
}

/// The user form's values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserForm {
    username: String,
    display_name: String,
    role: String,
    team: String,
    manager: String,
    extension: String,
    active: Option<String>,
    password: String,
    version: u64,
}

impl UserForm {
    fn input(&self) -> UserInput {
        UserInput {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role.parse::<Role>().ok(),
            team: self.team.clone(),
            manager: self.manager.clone(),
            extension: self.extension.clone(),
            active: self.active.is_some(),
        }
    }

    fn of(user: &StaffUser) -> Self {
        Self {
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str().to_owned(),
            team: user.team.clone().unwrap_or_default(),
            manager: user.manager.clone().unwrap_or_default(),
            extension: user.extension.clone().unwrap_or_default(),
            active: user.active.then(|| "on".to_owned()),
            password: String::new(),
            version: user.version,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    shell: Shell,
    users: Vec<UserRow>,
    form: UserForm,
    editing: bool,
    roles: Vec<Choice>,
    teams: Vec<Choice>,
    managers: Vec<Choice>,
    problem: Option<String>,
    /// Passwords are the console's own (locally), not an identity provider's.
    passwords: bool,
}

fn problem_text(error: &DirectoryError) -> String {
    match error {
        DirectoryError::Invalid { message, .. } => message.clone(),
        DirectoryError::Exists => "Đã có tên này.".into(),
        DirectoryError::NotFound => "Không có người dùng này.".into(),
        DirectoryError::Stale => {
            "Người dùng vừa được người khác cập nhật; đã tải lại, hãy sửa lại.".into()
        }
        DirectoryError::Store(_) => "Không lưu được lúc này; vui lòng thử lại.".into(),
    }
}

/// The not-found page for anyone but an admin.
pub(crate) fn admin_only(staff: &Staff) -> Result<(), Response> {
    if staff.principal.role == Role::Admin {
        Ok(())
    } else {
        Err(not_found())
    }
}

async fn users_page(
    deps: &Deps,
    staff: &Staff,
    form: UserForm,
    editing: bool,
    problem: Option<String>,
    flash: Option<String>,
) -> Response {
    let mut shell = match Shell::load(deps, staff, "/app/admin/users").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    if let Some(flash) = flash {
        shell = shell.flash(flash);
    }
    let users = match staff::users(&*deps.store).await {
        Ok(users) => users,
        Err(error) => return store_failure(error),
    };
    let teams = match staff::teams(&*deps.store).await {
        Ok(teams) => teams,
        Err(error) => return store_failure(error),
    };
    let choice = |value: &str, label: String, current: &str| Choice {
        value: value.to_owned(),
        label,
        selected: value == current,
    };
    let page = UsersPage {
        roles: Role::ALL
            .iter()
            .map(|r| choice(r.as_str(), staff::role_label(*r).to_owned(), &form.role))
            .collect(),
        teams: teams
            .iter()
            .map(|t| choice(&t.key, format!("{} ({})", t.name, t.key), &form.team))
            .collect(),
        managers: users
            .iter()
            .filter(|u| u.active && u.username != form.username)
            .map(|u| {
                choice(
                    &u.username,
                    format!("{} ({})", u.display_name, u.username),
                    &form.manager,
                )
            })
            .collect(),
        users: users
            .iter()
            .map(|user| UserRow {
                username: user.username.clone(),
                display_name: user.display_name.clone(),
                role: staff::role_label(user.role),
                team: user.team.clone().unwrap_or_default(),
                manager: user.manager.clone().unwrap_or_default(),
                extension: user.extension.clone().unwrap_or_default(),
                active: user.active,
            })
            .collect(),
        shell,
        form,
        editing,
        problem,
        passwords: deps.identity.is_none(),
    };
    let status = if page.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, render(&page)).into_response()
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// `GET /app/admin/users`: the directory, with the form to add a user.
pub async fn users(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<SavedQuery>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let form = UserForm {
        role: "consultant".into(),
        active: Some("on".into()),
        ..UserForm::default()
    };
    let flash = query
        .saved
        .filter(|name| staff::valid_name(name))
        .map(|name| format!("Đã lưu người dùng {name}."));
    users_page(&deps, &staff, form, false, None, flash).await
}

/// `POST /app/admin/users`: adds a user with a first password.
pub async fn create_user(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<UserForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let now = deps.clock.now();
    // With an identity provider, passwords are its own: the directory keeps none.
    let password = deps.identity.is_none().then_some(form.password.as_str());
    match staff::create_user(&*deps.store, &form.input(), password, now).await {
        Ok(user) => {
            Redirect::to(&format!("/app/admin/users?saved={}", user.username)).into_response()
        }
        Err(DirectoryError::Store(error)) => store_failure(error),
        Err(error) => {
            let problem = problem_text(&error);
            users_page(
                &deps,
                &staff,
                UserForm {
                    password: String::new(),
                    ..form
                },
                false,
                Some(problem),
                None,
            )
            .await
        }
    }
}

/// `GET /app/admin/users/{username}`: the form to change a user.
pub async fn edit_user(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(username): Path<String>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    match staff::user(&*deps.store, &username).await {
        Ok(Some(user)) => users_page(&deps, &staff, UserForm::of(&user), true, None, None).await,
        Ok(None) => not_found(),
        Err(error) => store_failure(error),
    }
}

/// `POST /app/admin/users/{username}`: changes a user, and their password when one is typed.
pub async fn update_user(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Path(username): Path<String>,
    axum::Form(form): axum::Form<UserForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    let now = deps.clock.now();
    let result = async {
        if username == staff.user.username && (form.active.is_none() || form.role != "admin") {
            return Err(DirectoryError::Invalid {
                field: "role",
                message: "Không thể tự khoá hoặc tự bỏ quyền quản trị của chính mình.".into(),
            });
        }
        let new_password = !form.password.is_empty() && deps.identity.is_none();
        if new_password {
            staff::check_password(&form.password)?;
        }
        let user =
            staff::update_user(&*deps.store, &username, form.version, &form.input(), now).await?;
        if !form.password.is_empty() && deps.identity.is_none() {
            // A password an admin sets for someone else is theirs to replace at sign-in.
            let temporary = username != staff.user.username;
            staff::set_password(&*deps.store, &username, &form.password, temporary, now).await?;
        }
        Ok(user)
    }
    .await;
    match result {
        Ok(user) => {
            Redirect::to(&format!("/app/admin/users?saved={}", user.username)).into_response()
        }
        Err(DirectoryError::NotFound) => not_found(),
        Err(DirectoryError::Store(error)) => store_failure(error),
        Err(error) => {
            let problem = problem_text(&error);
            let form = match (&error, staff::user(&*deps.store, &username).await) {
                (DirectoryError::Stale, Ok(Some(current))) => UserForm::of(&current),
                _ => UserForm {
                    username: username.clone(),
                    password: String::new(),
                    ..form
                },
            };
            users_page(&deps, &staff, form, true, Some(problem), None).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_teams.html")]
struct TeamsPage {
    shell: Shell,
    teams: Vec<Team>,
    managers: Vec<Choice>,
    key: String,
    name: String,
    problem: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TeamForm {
    key: String,
    name: String,
    manager: String,
}

async fn teams_page(
    deps: &Deps,
    staff: &Staff,
    form: TeamForm,
    problem: Option<String>,
) -> Response {
    let shell = match Shell::load(deps, staff, "/app/admin/teams").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let (teams, users) = match (
        staff::teams(&*deps.store).await,
        staff::users(&*deps.store).await,
    ) {
        (Ok(teams), Ok(users)) => (teams, users),
        (Err(error), _) | (_, Err(error)) => return store_failure(error),
    };
    let page = TeamsPage {
        shell,
        teams,
        managers: users
            .iter()
            .filter(|u| u.active)
            .map(|u| Choice {
                value: u.username.clone(),
                label: format!("{} ({})", u.display_name, u.username),
                selected: u.username == form.manager,
            })
            .collect(),
        key: form.key,
        name: form.name,
        problem,
    };
    let status = if page.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, render(&page)).into_response()
}

/// `GET /app/admin/teams`.
pub async fn teams(State(deps): State<Arc<Deps>>, staff: Staff) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    teams_page(&deps, &staff, TeamForm::default(), None).await
}

/// `POST /app/admin/teams`: adds a team.
pub async fn create_team(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    axum::Form(form): axum::Form<TeamForm>,
) -> Response {
    if let Err(response) = admin_only(&staff) {
        return response;
    }
    match staff::create_team(&*deps.store, &form.key, &form.name, &form.manager).await {
        Ok(_) => Redirect::to("/app/admin/teams").into_response(),
        Err(DirectoryError::Store(error)) => store_failure(error),
        Err(error) => {
            let problem = problem_text(&error);
            teams_page(&deps, &staff, form, Some(problem)).await
        }
    }
}
