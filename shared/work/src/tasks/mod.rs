//! Tasks (seed 002 IV, "giao việc"): a manager gives one to someone who reports to them (by
//! the directory's reporting line: their manager, or their team's manager), or anyone gives one
//! to themselves; title, description, an optional customer, a deadline and a priority. The
//! assignee's bell rings a configurable time before the deadline; "Đã hoàn thành" needs a
//! completion comment and rings the assigner's bell; both sides comment on it. Views by day,
//! week or month per assignee, per assigner and for the whole company (admins), and each
//! person's progress (done, open, overdue).
//!
//! `TASK#<id>` / `TASK` holds the task, on gsi1 by assignee (`TASKA#<user>`), gsi2 by
//! assigner (`TASKB#<user>`) and gsi3 for the company (`TASKS`), each sorted by deadline, so a
//! day, week or month is one range read. The reminder is a due-work item written with the task.

pub mod routes;

use chrono::{DateTime, Duration, Utc};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_core::scheduler::{self, Work};
use nhip_crm::staff;
use nhip_domain::ids::CustomerId;
use nhip_ports::store::{Condition, Index, Item, Query, SortKey, StoreError, WriteOp};
use serde::{Deserialize, Serialize};

pub use routes::router;

/// Kind attribute of task items.
pub const KIND: &str = "task";
/// The reminder's lead time when none is given: an hour before the deadline.
pub const DEFAULT_REMIND_MINUTES: u32 = 60;
/// The longest title, description, comment.
const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 5000;
/// Comments a task keeps.
const MAX_COMMENTS: usize = 200;

/// How urgent a task is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Thấp.
    Low,
    /// Bình thường.
    Normal,
    /// Cao.
    High,
}

impl Priority {
    /// What staff read.
    pub fn label(self) -> &'static str {
        match self {
            Priority::Low => "Thấp",
            Priority::Normal => "Bình thường",
            Priority::High => "Cao",
        }
    }
}

fn normal() -> Priority {
    Priority::Normal
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Đang làm.
    Open,
    /// Đã hoàn thành.
    Done,
}

impl TaskStatus {
    /// What staff read.
    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Open => "Đang làm",
            TaskStatus::Done => "Đã hoàn thành",
        }
    }
}

/// A comment on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Comment {
    /// When (UTC).
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// What.
    pub text: String,
}

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    /// Id (a ULID).
    pub id: String,
    /// What to do.
    pub title: String,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The customer it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Who does it.
    pub assignee: String,
    /// Who gave it.
    pub assigner: String,
    /// By when (UTC).
    #[schema(value_type = String)]
    pub deadline: DateTime<Utc>,
    /// How urgent.
    pub priority: Priority,
    /// Minutes before the deadline the assignee's bell rings.
    pub remind_minutes: u32,
    /// Open or done.
    pub status: TaskStatus,
    /// The status in Vietnamese.
    pub status_label: String,
    /// What the assignee wrote on completing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_comment: Option<String>,
    /// When it was completed (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<DateTime<Utc>>,
    /// The comments, oldest first.
    #[serde(default)]
    pub comments: Vec<Comment>,
    /// When given (UTC).
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

impl Task {
    /// Open past its deadline.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == TaskStatus::Open && self.deadline < now
    }
}

/// A task to give.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// What to do (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Details (at most 5,000 characters).
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    /// The customer it is about (one the giver may see).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Who does it: the giver, or someone who reports to them (admins: anyone).
    #[schema(max_length = 64)]
    pub assignee: String,
    /// By when (in the future).
    #[schema(value_type = String)]
    pub deadline: DateTime<Utc>,
    /// How urgent (default normal).
    #[serde(default = "normal")]
    pub priority: Priority,
    /// Minutes before the deadline to remind the assignee (default 60, at most 10,080: a week).
    #[serde(default)]
    #[schema(maximum = 10080)]
    pub remind_minutes: Option<u32>,
}

/// Why a task change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No such task, or not the caller's to see.
    #[error("no such task")]
    NotFound,
    /// The assignee does not report to the giver.
    #[error("you may give tasks to yourself and to those who report to you")]
    NotYours,
    /// A field is not valid.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong, in Vietnamese.
        message: &'static str,
    },
    /// Changed since read.
    #[error("the task is at version {0}")]
    Stale(u64),
    /// Done already.
    #[error("the task is done")]
    Done,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: &'static str) -> TaskError {
    TaskError::Invalid { field, message }
}

/// Whether `principal` may give `assignee` a task: themselves; anyone, for an admin; someone
/// whose manager they are, or a member of a team they manage.
pub async fn may_assign(
    deps: &Deps,
    principal: &Principal,
    assignee: &str,
) -> Result<bool, StoreError> {
    staff::oversees(&*deps.store, principal, assignee).await
}

/// The task as stored, with its three index entries.
fn to_item(task: &Task) -> Result<Item, StoreError> {
    let mut item = nhip_core::records::to_item(keys::task(&task.id), KIND, task)?;
    let sort = format!("{}#{}", keys::instant(task.deadline), task.id);
    for (index, pk) in [
        (Index::Gsi1, keys::tasks_of_assignee(&task.assignee)),
        (Index::Gsi2, keys::tasks_by_assigner(&task.assigner)),
        (Index::Gsi3, keys::ALL_TASKS.to_owned()),
    ] {
        item.insert(index.pk_attr().into(), pk.into());
        item.insert(index.sk_attr().into(), sort.clone().into());
    }
    Ok(item)
}

fn reminder_id(task: &Task) -> nhip_domain::ids::DueWorkId {
    scheduler::derived_id(task.deadline, &format!("task-reminder#{}", task.id))
}

fn text(raw: &str) -> String {
    nhip_domain::person::nfc(raw.trim())
}

/// Gives a task: checked, stored with its reminder; the assignee's bell rings when someone
/// else gave it.
pub async fn create(deps: &Deps, principal: &Principal, new: &NewTask) -> Result<Task, TaskError> {
    let now = deps.clock.now();
    let title = text(&new.title);
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(invalid("title", "Tiêu đề từ 1 đến 200 ký tự."));
    }
    let description = text(&new.description);
    if description.chars().count() > MAX_TEXT {
        return Err(invalid("description", "Mô tả tối đa 5000 ký tự."));
    }
    if new.deadline <= now {
        return Err(invalid("deadline", "Hạn hoàn thành phải ở tương lai."));
    }
    let remind = new.remind_minutes.unwrap_or(DEFAULT_REMIND_MINUTES);
    if remind > 7 * 24 * 60 {
        return Err(invalid(
            "remind_minutes",
            "Nhắc trước tối đa 10080 phút (một tuần).",
        ));
    }
    let active = staff::user(&*deps.store, &new.assignee)
        .await?
        .is_some_and(|u| u.active);
    if !active && new.assignee != principal.user {
        return Err(invalid("assignee", "Chọn một nhân sự đang hoạt động."));
    }
    if !may_assign(deps, principal, &new.assignee).await? {
        return Err(TaskError::NotYours);
    }
    if let Some(customer) = &new.customer_id
        && nhip_crm::customers::routes::find_visible(deps, principal, customer)
            .await?
            .is_none()
    {
        return Err(invalid("customer_id", "Không tìm thấy khách hàng."));
    }
    let task = Task {
        id: nhip_domain::ids::DueWorkId::new_at(now).to_string(),
        title,
        description,
        customer_id: new.customer_id.clone(),
        assignee: new.assignee.clone(),
        assigner: principal.user.clone(),
        deadline: new.deadline,
        priority: new.priority,
        remind_minutes: remind,
        status: TaskStatus::Open,
        status_label: TaskStatus::Open.label().into(),
        completion_comment: None,
        completed_at: None,
        comments: Vec::new(),
        created_at: now,
        version: 1,
    };
    let remind_at = task.deadline - Duration::minutes(i64::from(remind));
    deps.store
        .transact(vec![
            WriteOp::Put {
                item: to_item(&task)?,
                condition: Condition::NotExists,
            },
            scheduler::schedule(
                reminder_id(&task),
                remind_at,
                now,
                &Work::TaskReminder {
                    task_id: task.id.clone(),
                },
            ),
        ])
        .await?;
    if task.assignee != task.assigner {
        bell(
            deps,
            &task.assignee,
            &task,
            "new",
            format!("{} giao việc cho bạn", task.assigner),
        )
        .await?;
    }
    Ok(task)
}

async fn bell(
    deps: &Deps,
    user: &str,
    task: &Task,
    cause: &str,
    body: String,
) -> Result<(), StoreError> {
    nhip_crm::notifications::notify(
        deps,
        user,
        &format!("task#{}#{cause}", task.id),
        nhip_crm::notifications::Notice {
            title: task.title.clone(),
            body,
            customer_id: task.customer_id.as_deref().and_then(|c| c.parse().ok()),
            link: format!("/app/tasks/{}", task.id),
        },
    )
    .await
}

/// Task `id`, as `principal` may see it: its assignee, its assigner, an admin, or whoever
/// could have given it to the assignee.
pub async fn visible(deps: &Deps, principal: &Principal, id: &str) -> Result<Task, TaskError> {
    let task = nhip_core::records::get::<Task>(&*deps.store, &keys::task(id), KIND)
        .await?
        .ok_or(TaskError::NotFound)?;
    let sees = task.assignee == principal.user
        || task.assigner == principal.user
        || may_assign(deps, principal, &task.assignee).await?;
    if sees {
        Ok(task)
    } else {
        Err(TaskError::NotFound)
    }
}

async fn save(deps: &Deps, task: &Task, read: u64) -> Result<(), TaskError> {
    match deps
        .store
        .put(to_item(task)?, Condition::version_is(read))
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(TaskError::Stale(read + 1)),
        Err(other) => Err(other.into()),
    }
}

/// Marks the task done with the assignee's completion comment, if still at `version`; the
/// assigner's bell rings.
pub async fn complete(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    comment: &str,
    version: u64,
) -> Result<Task, TaskError> {
    let mut task = visible(deps, principal, id).await?;
    if task.assignee != principal.user && principal.role != Role::Admin {
        return Err(TaskError::NotYours);
    }
    if task.status == TaskStatus::Done {
        return Err(TaskError::Done);
    }
    if task.version != version {
        return Err(TaskError::Stale(task.version));
    }
    let comment = text(comment);
    if comment.is_empty() || comment.chars().count() > MAX_TEXT {
        return Err(invalid(
            "comment",
            "Ghi nhận xét khi hoàn thành (tối đa 5000 ký tự).",
        ));
    }
    let now = deps.clock.now();
    task.status = TaskStatus::Done;
    task.status_label = TaskStatus::Done.label().into();
    task.completion_comment = Some(comment.clone());
    task.completed_at = Some(now);
    task.version += 1;
    save(deps, &task, version).await?;
    if task.assigner != principal.user {
        bell(
            deps,
            &task.assigner,
            &task,
            "done",
            format!("{} đã hoàn thành: {comment}", principal.user),
        )
        .await?;
    }
    Ok(task)
}

/// Adds a comment; the other side's bell rings.
pub async fn comment(
    deps: &Deps,
    principal: &Principal,
    id: &str,
    raw: &str,
) -> Result<Task, TaskError> {
    let words = text(raw);
    if words.is_empty() || words.chars().count() > MAX_TEXT {
        return Err(invalid("text", "Bình luận từ 1 đến 5000 ký tự."));
    }
    for attempt in nhip_core::retry::attempts(nhip_core::retry::IN_REQUEST) {
        attempt.pause().await;
        let mut task = visible(deps, principal, id).await?;
        if task.comments.len() >= MAX_COMMENTS {
            return Err(invalid("text", "Công việc đã có 200 bình luận."));
        }
        let read = task.version;
        let now = deps.clock.now();
        task.comments.push(Comment {
            at: now,
            by: principal.user.clone(),
            text: words.clone(),
        });
        task.version += 1;
        match save(deps, &task, read).await {
            Ok(()) => {
                let other = if principal.user == task.assignee {
                    task.assigner.clone()
                } else {
                    task.assignee.clone()
                };
                if other != principal.user {
                    let cause = format!("comment{}", task.comments.len());
                    bell(
                        deps,
                        &other,
                        &task,
                        &cause,
                        format!("{}: {words}", principal.user),
                    )
                    .await?;
                }
                return Ok(task);
            }
            Err(TaskError::Stale(_)) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// Fires a task's reminder: still open, the assignee's bell rings (once).
pub async fn remind(deps: &Deps, id: &str) -> Result<(), StoreError> {
    let Some(task) = nhip_core::records::get::<Task>(&*deps.store, &keys::task(id), KIND).await?
    else {
        return Ok(());
    };
    if task.status != TaskStatus::Open {
        return Ok(());
    }
    let when = crate::format_vn(task.deadline);
    bell(
        deps,
        &task.assignee,
        &task,
        "reminder",
        format!("Sắp đến hạn: {when}"),
    )
    .await
}

/// Whose tasks a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// Those a staff member is to do.
    AssignedTo(String),
    /// Those a staff member gave.
    GivenBy(String),
    /// The whole company's (admins).
    Company,
}

/// The tasks of `whose` with a deadline in `[from, to)`, by deadline, as far as `principal`
/// may see them (at most `limit`).
pub async fn list(
    deps: &Deps,
    principal: &Principal,
    whose: &Whose,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Task>, TaskError> {
    let (index, partition) = match whose {
        Whose::AssignedTo(user) => {
            if !may_assign(deps, principal, user).await? {
                return Err(TaskError::NotYours);
            }
            (Index::Gsi1, keys::tasks_of_assignee(user))
        }
        Whose::GivenBy(user) => {
            if user != &principal.user && principal.role != Role::Admin {
                return Err(TaskError::NotYours);
            }
            (Index::Gsi2, keys::tasks_by_assigner(user))
        }
        Whose::Company => {
            if principal.role != Role::Admin {
                return Err(TaskError::NotYours);
            }
            (Index::Gsi3, keys::ALL_TASKS.to_owned())
        }
    };
    let page = deps
        .store
        .query(
            Query::partition(index, partition)
                .sk(SortKey::Between(keys::instant(from), keys::instant(to)))
                .limit(limit as u32),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .map(|item| nhip_core::records::from_item(item, KIND))
        .collect::<Result<Vec<Task>, _>>()?
        .into_iter()
        .filter(|t| t.deadline >= from && t.deadline < to)
        .collect())
}

/// One person's progress over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// The person.
    pub assignee: String,
    /// Done.
    pub done: u32,
    /// Open, not yet due.
    pub open: u32,
    /// Open past the deadline.
    pub overdue: u32,
}

/// Progress per person of `tasks` at `now`, by user name.
pub fn progress(tasks: &[Task], now: DateTime<Utc>) -> Vec<Progress> {
    let mut by: std::collections::BTreeMap<&str, Progress> = Default::default();
    for task in tasks {
        let entry = by.entry(&task.assignee).or_insert_with(|| Progress {
            assignee: task.assignee.clone(),
            ..Progress::default()
        });
        match (task.status, task.is_overdue(now)) {
            (TaskStatus::Done, _) => entry.done += 1,
            (TaskStatus::Open, true) => entry.overdue += 1,
            (TaskStatus::Open, false) => entry.open += 1,
        }
    }
    by.into_values().collect()
}

/// A customer id of a task, typed.
pub fn customer_of(task: &Task) -> Option<CustomerId> {
    task.customer_id.as_deref().and_then(|c| c.parse().ok())
}

/// A length of calendar the views show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// One day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// The instants `[from, to)` of the day, week (Monday first) or month holding `date`, in
/// Vietnamese time.
pub fn period(period: Period, date: chrono::NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::Datelike;
    let (first, next) = match period {
        Period::Day => (date, date + Duration::days(1)),
        Period::Week => {
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        Period::Month => {
            let first = date.with_day(1).unwrap_or(date);
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(first + Duration::days(31));
            (first, next)
        }
    };
    let at = |d: chrono::NaiveDate| {
        nhip_domain::time::from_vn(d, 0, 0)
            .unwrap_or_else(|| d.and_time(chrono::NaiveTime::MIN).and_utc())
    };
    (at(first), at(next))
}
