//! The staff directory: who works in Nhịp (user name, display name, role, team, manager,
//! active or disabled, call-centre extension) and the teams with their managers. It is the
//! source of truth for roles and teams: a console session maps to its user here on every
//! request, so disabling a user or changing their role takes effect at once.
//!
//! Locally staff sign in with a password, kept as an argon2id hash in its own item (never in
//! the user record, so no view can leak it); failed attempts are counted per user name in a
//! window, and past [`MAX_FAILED_ATTEMPTS`] the name is locked until the window ends.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use nhip_core::auth::{Principal, Role};
use nhip_core::keys;
use nhip_core::records;
use nhip_ports::store::{Condition, Index, ItemStore, StoreError, Update, WriteOp};

/// Failed sign-ins allowed per user name per [`ATTEMPT_WINDOW_MINUTES`].
pub const MAX_FAILED_ATTEMPTS: i64 = 5;
/// Sign-in attempts allowed per source address per [`ATTEMPT_WINDOW_MINUTES`], whatever the
/// names (an office behind one address signs in many staff at 8:00).
pub const MAX_ATTEMPTS_PER_SOURCE: i64 = 100;
/// The window failed sign-ins are counted in.
pub const ATTEMPT_WINDOW_MINUTES: i64 = 15;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

const USER_KIND: &str = "staff_user";
const TEAM_KIND: &str = "staff_team";

/// A member of staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUser {
    /// Sign-in name, also the owner name on customers and tickets (`lan`, `hung.tran`).
    pub username: String,
    /// How the console shows them ("Trần Thị Lan").
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// Their team's key, if any.
    pub team: Option<String>,
    /// The user name of who they report to, if any.
    pub manager: Option<String>,
    /// A disabled user cannot sign in, and their sessions stop at the next request.
    pub active: bool,
    /// Phone extension in the call centre.
    pub extension: Option<String>,
    /// Sessions started before this instant are over (set when the password is set).
    #[serde(default)]
    pub sessions_after: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

impl StaffUser {
    /// The principal this user acts as: their role and team.
    pub fn principal(&self) -> Principal {
        Principal::new(self.username.clone(), self.role, self.team.clone())
    }
}

/// A team and its manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Short key (`hn`, `hcm-1`), as customers and tokens carry it.
    pub key: String,
    /// Its name ("Phòng tư vấn Hà Nội").
    pub name: String,
    /// The user name of its manager, if any.
    pub manager: Option<String>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

/// The Vietnamese name of a role, as the console shows it.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Quản trị",
        Role::Manager => "Quản lý",
        Role::Consultant => "Tư vấn viên",
        Role::Agent => "Đại lý",
        Role::Telesales => "Telesales",
        Role::Rm => "RM",
    }
}

/// A new user, or the changes to one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInput {
    /// Sign-in name (create only).
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Option<Role>,
    /// Team key, or empty for none.
    pub team: String,
    /// Manager's user name, or empty for none.
    pub manager: String,
    /// Extension, or empty for none.
    pub extension: String,
    /// Active.
    pub active: bool,
}

/// Why a directory change was refused: the field and a message for the person at the form.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A field is not valid.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong, in Vietnamese.
        message: String,
    },
    /// The user name or team key is taken.
    #[error("already exists")]
    Exists,
    /// No such user or team.
    #[error("not found")]
    NotFound,
    /// Someone else changed the record since it was read.
    #[error("changed by someone else")]
    Stale,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> DirectoryError {
    DirectoryError::Invalid {
        field,
        message: message.into(),
    }
}

/// Whether `name` is a valid user name or team key: 2–40 characters, lower-case ASCII letters,
/// digits, `.`, `_` and `-`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The user, if any.
pub async fn user(store: &dyn ItemStore, username: &str) -> Result<Option<StaffUser>, StoreError> {
    if !valid_name(username) {
        return Ok(None);
    }
    records::get(store, &keys::staff_user(username), USER_KIND).await
}

/// Every user, by user name.
pub async fn users(store: &dyn ItemStore) -> Result<Vec<StaffUser>, StoreError> {
    records::read_partition(
        store,
        Index::Primary,
        keys::STAFF_PK,
        Some(keys::STAFF_USER_PREFIX),
    )
    .await?
    .into_iter()
    .map(|item| records::from_item(item, USER_KIND))
    .collect()
}

/// Every team, by key.
pub async fn teams(store: &dyn ItemStore) -> Result<Vec<Team>, StoreError> {
    records::read_partition(
        store,
        Index::Primary,
        keys::STAFF_PK,
        Some(keys::STAFF_TEAM_PREFIX),
    )
    .await?
    .into_iter()
    .map(|item| records::from_item(item, TEAM_KIND))
    .collect()
}

/// Checks `input` against the directory and builds the user it describes.
async fn checked_user(
    store: &dyn ItemStore,
    input: &UserInput,
    now: DateTime<Utc>,
) -> Result<StaffUser, DirectoryError> {
    let username = input.username.trim().to_lowercase();
    if !valid_name(&username) {
        return Err(invalid(
            "username",
            "Tên đăng nhập gồm 2–40 ký tự: chữ thường không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang, bắt đầu bằng chữ.",
        ));
    }
    let display_name = input.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 120 {
        return Err(invalid("display_name", "Họ tên cần từ 1 đến 120 ký tự."));
    }
    let role = input.role.ok_or_else(|| invalid("role", "Chọn vai trò."))?;
    let team = optional(&input.team);
    if let Some(key) = &team
        && records::get::<Team>(store, &keys::staff_team(key), TEAM_KIND)
            .await?
            .is_none()
    {
        return Err(invalid("team", "Không có nhóm này."));
    }
    let manager = optional(&input.manager);
    if let Some(manager) = &manager {
        if *manager == username {
            return Err(invalid(
                "manager",
                "Một người không thể là quản lý của chính mình.",
            ));
        }
        if user(store, manager).await?.is_none() {
            return Err(invalid("manager", "Không có người dùng này."));
        }
    }
    let extension = optional(&input.extension);
    if extension
        .as_ref()
        .is_some_and(|e| e.len() > 10 || !e.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid("extension", "Số máy lẻ gồm 1–10 chữ số."));
    }
    Ok(StaffUser {
        username,
        display_name: nhip_domain::person::nfc(display_name),
        role,
        team,
        manager,
        active: input.active,
        extension,
        sessions_after: None,
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

/// Adds a user to the directory, with a first password (checked as [`set_password`] does)
/// which they must change at their first sign-in, in one write. Without a password the user
/// signs in through the identity provider (Cognito in AWS) under the same user name.
pub async fn create_user(
    store: &dyn ItemStore,
    input: &UserInput,
    password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<StaffUser, DirectoryError> {
    let user = checked_user(store, input, now).await?;
    let mut writes = vec![WriteOp::Put {
        item: records::to_item(keys::staff_user(&user.username), USER_KIND, &user)?,
        condition: Condition::NotExists,
    }];
    if let Some(password) = password {
        writes.push(password_write(&user.username, password, true, now)?);
    }
    match store.transact(writes).await {
        Ok(()) => Ok(user),
        Err(StoreError::ConditionFailed { op: Some(0) }) => Err(DirectoryError::Exists),
        Err(other) => Err(other.into()),
    }
}

/// Changes a user (every field but the user name), if it is still at `version`.
pub async fn update_user(
    store: &dyn ItemStore,
    username: &str,
    version: u64,
    input: &UserInput,
    now: DateTime<Utc>,
) -> Result<StaffUser, DirectoryError> {
    let current = user(store, username)
        .await?
        .ok_or(DirectoryError::NotFound)?;
    if current.version != version {
        return Err(DirectoryError::Stale);
    }
    let mut changed = checked_user(
        store,
        &UserInput {
            username: current.username.clone(),
            ..input.clone()
        },
        now,
    )
    .await?;
    changed.created_at = current.created_at;
    changed.sessions_after = current.sessions_after;
    changed.version = current.version + 1;
    let write = WriteOp::Put {
        item: records::to_item(keys::staff_user(username), USER_KIND, &changed)?,
        condition: Condition::version_is(version),
    };
    match store.transact(vec![write]).await {
        Ok(()) => Ok(changed),
        Err(StoreError::ConditionFailed { .. }) => Err(DirectoryError::Stale),
        Err(other) => Err(other.into()),
    }
}

/// Adds a team.
pub async fn create_team(
    store: &dyn ItemStore,
    key: &str,
    name: &str,
    manager: &str,
) -> Result<Team, DirectoryError> {
    let key = key.trim().to_lowercase();
    if !valid_name(&key) {
        return Err(invalid(
            "key",
            "Mã nhóm gồm 2–40 ký tự: chữ thường không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang.",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(invalid("name", "Tên nhóm cần từ 1 đến 120 ký tự."));
    }
    let manager = optional(manager);
    if let Some(manager) = &manager
        && user(store, manager).await?.is_none()
    {
        return Err(invalid("manager", "Không có người dùng này."));
    }
    let team = Team {
        key: key.clone(),
        name: nhip_domain::person::nfc(name),
        manager,
        version: 1,
    };
    let write = WriteOp::Put {
        item: records::to_item(keys::staff_team(&key), TEAM_KIND, &team)?,
        condition: Condition::NotExists,
    };
    match store.transact(vec![write]).await {
        Ok(()) => Ok(team),
        Err(StoreError::ConditionFailed { .. }) => Err(DirectoryError::Exists),
        Err(other) => Err(other.into()),
    }
}

/// Whether `principal` oversees `user`: themselves; anyone, for an admin; someone whose manager
/// they are, or a member of a team they manage.
pub async fn oversees(
    store: &dyn ItemStore,
    principal: &nhip_core::auth::Principal,
    user: &str,
) -> Result<bool, StoreError> {
    if user == principal.user || principal.role == Role::Admin {
        return Ok(true);
    }
    let Some(found) = self::user(store, user).await? else {
        return Ok(false);
    };
    if found.manager.as_deref() == Some(principal.user.as_str()) {
        return Ok(true);
    }
    Ok(match &found.team {
        Some(team) => self::team(store, team)
            .await?
            .and_then(|t| t.manager)
            .is_some_and(|m| m == principal.user),
        None => false,
    })
}

/// The team, if any.
pub async fn team(store: &dyn ItemStore, key: &str) -> Result<Option<Team>, StoreError> {
    if !valid_name(key) {
        return Ok(None);
    }
    records::get(store, &keys::staff_team(key), TEAM_KIND).await
}

/// The argon2id hasher: the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's minimum).
fn hasher() -> Argon2<'static> {
    Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        Params::default(),
    )
}

fn password_write(
    username: &str,
    password: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<WriteOp, DirectoryError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự."),
        ));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError::invalid(format!("no randomness: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| StoreError::invalid(format!("salt: {e}")))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StoreError::invalid(format!("password hash: {e}")))?
        .to_string();
    let mut item = keys::staff_password(username).to_item();
    item.insert("kind".into(), "staff_password".into());
    item.insert("hash".into(), hash.into());
    item.insert("set_at".into(), keys::instant(now).into());
    item.insert("must_change".into(), must_change.into());
    Ok(WriteOp::Put {
        item,
        condition: Condition::Always,
    })
}

/// Sets a user's password (at least [`MIN_PASSWORD_CHARS`] characters). One an admin sets for
/// someone else is temporary (`must_change`): the console asks for a new one at sign-in.
pub async fn set_password(
    store: &dyn ItemStore,
    username: &str,
    password: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<(), DirectoryError> {
    if user(store, username).await?.is_none() {
        return Err(DirectoryError::NotFound);
    }
    // Every session started before ends with the old password.
    let end_sessions = WriteOp::Update {
        key: keys::staff_user(username),
        update: Update::new().set("sessions_after", keys::instant(now)),
        condition: Condition::Exists,
    };
    store
        .transact(vec![
            password_write(username, password, must_change, now)?,
            end_sessions,
        ])
        .await?;
    Ok(())
}

/// Checks a password against the rules before anything is written.
pub fn check_password(password: &str) -> Result<(), DirectoryError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự."),
        ));
    }
    Ok(())
}

/// A readable random password of 16 characters (no 0/O, 1/l/I), about 90 bits.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// On a directory with no users yet, adds the first admin (`admin`) with a generated
/// one-time password, and answers that password to show once; otherwise `None`.
pub async fn bootstrap_admin(
    store: &dyn ItemStore,
    now: DateTime<Utc>,
) -> Result<Option<String>, DirectoryError> {
    if !users(store).await?.is_empty() {
        return Ok(None);
    }
    let password = generate_password();
    let input = UserInput {
        username: "admin".into(),
        display_name: "Quản trị viên".into(),
        role: Some(Role::Admin),
        active: true,
        ..UserInput::default()
    };
    match create_user(store, &input, Some(&password), now).await {
        Ok(_) => Ok(Some(password)),
        // Another process made it first.
        Err(DirectoryError::Exists) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Why a sign-in was refused. The console says the same for an unknown name and a wrong
/// password, so it cannot be used to find user names.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown user, no password, wrong password or disabled user.
    #[error("wrong user name or password")]
    Refused,
    /// Too many failed attempts: try again after this many seconds.
    #[error("locked for {0} s")]
    Locked(i64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: StaffUser,
    /// Their password was set by someone else (or generated): they must choose their own.
    pub must_change: bool,
}

/// Counts one attempt under `key` in the window ending at `window_end`; answers the count.
async fn count_attempt(
    store: &dyn ItemStore,
    key: &nhip_ports::store::Key,
    window_end: i64,
) -> Result<i64, StoreError> {
    let update = Update::new()
        .add("attempts", 1)
        .set("ttl", window_end + Duration::days(1).num_seconds());
    let item = store.update(key, update, Condition::Always).await?;
    Ok(item.get("attempts").and_then(|a| a.as_i64()).unwrap_or(1))
}

/// Checks a user name and password and answers the active user. Every attempt is counted
/// before the password is checked, atomically, so parallel guesses cannot pass the limits: at
/// most [`MAX_FAILED_ATTEMPTS`] per user name (whether or not it exists; a success gives its
/// attempt back) and [`MAX_ATTEMPTS_PER_SOURCE`] per source address, per window.
pub async fn sign_in(
    store: &dyn ItemStore,
    username: &str,
    password: &str,
    source: Option<std::net::IpAddr>,
    now: DateTime<Utc>,
) -> Result<SignedIn, SignInError> {
    let username = username.trim().to_lowercase();
    let window = now.timestamp() / (ATTEMPT_WINDOW_MINUTES * 60);
    let window_end = (window + 1) * ATTEMPT_WINDOW_MINUTES * 60;
    let locked = SignInError::Locked(window_end - now.timestamp());
    if let Some(source) = source {
        let key = keys::sign_in_source(&source.to_string(), window);
        if count_attempt(store, &key, window_end).await? > MAX_ATTEMPTS_PER_SOURCE {
            return Err(locked);
        }
    }
    if !valid_name(&username) {
        return Err(SignInError::Refused);
    }
    let attempts_key = keys::sign_in_attempts(&username, window);
    if count_attempt(store, &attempts_key, window_end).await? > MAX_FAILED_ATTEMPTS {
        return Err(locked);
    }
    let found = match user(store, &username).await? {
        Some(found) if found.active => Some(found),
        _ => None,
    };
    let stored = store.get(&keys::staff_password(&username)).await?;
    let must_change = stored
        .as_ref()
        .and_then(|item| item.get("must_change")?.as_bool())
        .unwrap_or(false);
    let hash = stored.and_then(|item| item.get("hash")?.as_str().map(str::to_owned));
    // An unknown name is hashed against too, so the answer takes as long either way.
    let verified = match &hash {
        Some(hash) => PasswordHash::new(hash)
            .map(|parsed| {
                hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false),
        None => {
            let salt = SaltString::encode_b64(b"nhip-no-such-user").expect("a fixed salt encodes");
            let _ = hasher().hash_password(password.as_bytes(), &salt);
            false
        }
    };
    match found {
        Some(user) if verified => {
            store
                .update(
                    &attempts_key,
                    Update::new().add("attempts", -1),
                    Condition::Always,
                )
                .await?;
            Ok(SignedIn { user, must_change })
        }
        _ => Err(SignInError::Refused),
    }
}

/// The first admin of an empty directory, signing in through the identity provider as
/// `username` (the configured first admin): added, and answered; `None` when the directory
/// already has users.
pub async fn bootstrap_first_admin(
    store: &dyn ItemStore,
    username: &str,
    now: DateTime<Utc>,
) -> Result<Option<StaffUser>, DirectoryError> {
    if !users(store).await?.is_empty() {
        return Ok(None);
    }
    let input = UserInput {
        username: username.to_owned(),
        display_name: username.to_owned(),
        role: Some(Role::Admin),
        active: true,
        ..UserInput::default()
    };
    match create_user(store, &input, None, now).await {
        Ok(user) => Ok(Some(user)),
        Err(DirectoryError::Exists) => Ok(user(store, username).await?),
        Err(other) => Err(other),
    }
}

/// Who hears of a new lead: the manager of its team when it has one, else the configured
/// intake owner, else every active admin; only active users of the directory.
pub async fn lead_watchers(
    store: &dyn ItemStore,
    team_key: Option<&str>,
    intake_owner: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    if let Some(key) = team_key
        && let Some(manager) = team(store, key).await?.and_then(|t| t.manager)
        && user(store, &manager).await?.is_some_and(|u| u.active)
    {
        return Ok(vec![manager]);
    }
    if let Some(owner) = intake_owner
        && user(store, owner).await?.is_some_and(|u| u.active)
    {
        return Ok(vec![owner.to_owned()]);
    }
    Ok(users(store)
        .await?
        .into_iter()
        .filter(|u| u.active && u.role == Role::Admin)
        .map(|u| u.username)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_ascii_starting_with_a_letter() {
        assert!(valid_name("lan"));
        assert!(valid_name("hung.tran-2"));
        assert!(!valid_name("Lan"));
        assert!(!valid_name("1lan"));
        assert!(!valid_name("l"));
        assert!(!valid_name("lan tran"));
        assert!(!valid_name("lân"));
    }
}
