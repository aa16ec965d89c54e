//! Who works a ticket. Each queue has a rule ([`QueueRule`], set by an admin): the customer's
//! owner (their RM), round-robin within a team, least-loaded within a team (fewest open
//! tickets), or the queue's shared inbox. Members the directory marks disabled are skipped;
//! an owner who is disabled hands the ticket to the team's pool instead.

use std::sync::Arc;

use axum::extract::State;
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::http::{ApiError, Json, Path};
use nhip_core::keys;
use nhip_core::openapi::Routes;
use nhip_core::routes;
use nhip_crm::staff::{self, StaffUser};
use nhip_crm::tickets::NewTicket;
use nhip_domain::journey::TicketQueue;
use nhip_ports::store::{Condition, StoreError, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How a queue's tickets are assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The customer's owner (consultant, RM); the team's pool in turn when they have none or
    /// are disabled.
    Owner,
    /// Each active member of the team in turn.
    RoundRobin,
    /// The active member of the team with the fewest open tickets.
    LeastLoaded,
    /// Nobody: the ticket waits in the queue until someone takes it.
    Queue,
}

impl Assignment {
    /// What an admin reads.
    pub fn label(self) -> &'static str {
        match self {
            Assignment::Owner => "Người phụ trách khách hàng",
            Assignment::RoundRobin => "Lần lượt trong nhóm",
            Assignment::LeastLoaded => "Người ít phiếu nhất trong nhóm",
            Assignment::Queue => "Để trong hàng đợi chung",
        }
    }
}

/// A queue's assignment rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueRule {
    /// How tickets are assigned.
    pub assignment: Assignment,
    /// The team whose members take the queue's tickets (round-robin, least-loaded, and the
    /// owner rule's fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl QueueRule {
    /// The rule of a queue nobody configured: RM tickets go to the customer's owner, the
    /// others wait in their queue.
    pub fn default_for(queue: TicketQueue) -> Self {
        QueueRule {
            assignment: match queue {
                TicketQueue::Rm => Assignment::Owner,
                _ => Assignment::Queue,
            },
            team: None,
        }
    }
}

/// A queue's rule in force (the default when none is stored) and its stored version.
pub async fn rule(deps: &Deps, queue: TicketQueue) -> Result<(QueueRule, u64), StoreError> {
    let stored = nhip_core::records::get_setting(
        &*deps.store,
        &keys::ticket_queue_rule(queue.as_str()),
        "rule",
    )
    .await?;
    Ok(stored.unwrap_or_else(|| (QueueRule::default_for(queue), 0)))
}

/// Who a new ticket goes to, and the team working it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    /// The assignee, if any.
    pub assignee: Option<String>,
    /// The team.
    pub team: Option<String>,
}

/// Chooses the assignee of a new ticket by its queue's rule (or the one the request names).
pub async fn choose(deps: &Deps, new: &NewTicket) -> Result<Choice, StoreError> {
    let directory = staff::users(&*deps.store).await?;
    let (rule, _) = rule(deps, new.queue).await?;
    let customer = nhip_crm::customers::repo::get(&*deps.store, new.customer_id).await?;
    let team_of = |user: &str| {
        directory
            .iter()
            .find(|u| u.username == user)
            .and_then(|u| u.team.clone())
            .or_else(|| rule.team.clone())
            .or_else(|| customer.as_ref().and_then(|c| c.team.clone()))
    };
    // A user the directory does not know (a service, an API-only owner) is taken as active;
    // one it marks disabled is not.
    let usable = |user: &str| {
        directory
            .iter()
            .find(|u| u.username == user)
            .is_none_or(|u| u.active)
    };
    let named = new.assignee.clone().or_else(|| match rule.assignment {
        Assignment::Owner => customer.as_ref().and_then(|c| c.owner.clone()),
        _ => None,
    });
    if let Some(user) = named.filter(|u| usable(u)) {
        return Ok(Choice {
            team: team_of(&user),
            assignee: Some(user),
        });
    }
    let pool = pool(&directory, rule.team.as_deref());
    let picked = match (rule.assignment, pool.is_empty()) {
        (Assignment::Queue, _) | (_, true) => None,
        (Assignment::Owner | Assignment::RoundRobin, false) => {
            Some(round_robin(deps, new.queue, &pool).await?)
        }
        (Assignment::LeastLoaded, false) => Some(least_loaded(deps, &pool).await?),
    };
    Ok(Choice {
        team: rule
            .team
            .clone()
            .or_else(|| customer.as_ref().and_then(|c| c.team.clone())),
        assignee: picked,
    })
}

/// The active members of `team` who work tickets (not its managers), by user name.
fn pool<'a>(directory: &'a [StaffUser], team: Option<&str>) -> Vec<&'a StaffUser> {
    let Some(team) = team else {
        return Vec::new();
    };
    let mut members: Vec<&StaffUser> = directory
        .iter()
        .filter(|u| {
            u.active
                && u.team.as_deref() == Some(team)
                && !matches!(u.role, Role::Admin | Role::Manager)
        })
        .collect();
    members.sort_by(|a, b| a.username.cmp(&b.username));
    members
}

/// The next member in turn: the queue's turn counter is advanced atomically, so tickets
/// opened at once go to different members.
async fn round_robin(
    deps: &Deps,
    queue: TicketQueue,
    pool: &[&StaffUser],
) -> Result<String, StoreError> {
    let turn = deps
        .store
        .update(
            &keys::ticket_queue_turn(queue.as_str()),
            Update::new().add("turn", 1),
            Condition::Always,
        )
        .await?
        .get("turn")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let index = usize::try_from((turn - 1).rem_euclid(pool.len() as i64)).unwrap_or(0);
    Ok(pool[index].username.clone())
}

/// The member with the fewest open tickets (the first by user name among equals).
async fn least_loaded(deps: &Deps, pool: &[&StaffUser]) -> Result<String, StoreError> {
    let keys: Vec<_> = pool
        .iter()
        .map(|u| keys::ticket_load(&u.username))
        .collect();
    let loads = deps.store.batch_get(&keys).await?;
    let load_of = |user: &str| {
        let key = keys::ticket_load(user);
        loads
            .iter()
            .find(|item| nhip_ports::store::Key::of(item).as_ref() == Some(&key))
            .and_then(|item| item.get("open").and_then(Value::as_i64))
            .unwrap_or(0)
    };
    Ok(pool
        .iter()
        .min_by_key(|u| (load_of(&u.username), u.username.clone()))
        .map(|u| u.username.clone())
        .unwrap_or_default())
}

/// The queue-rule routes.
pub fn router() -> Routes<Arc<Deps>> {
    Routes::new().routes(routes!(get_rule, put_rule))
}

/// A queue's rule as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    /// The queue.
    pub queue: String,
    /// The rule in force.
    pub rule: QueueRule,
    /// What the assignment means, in Vietnamese.
    pub assignment_label: String,
    /// The stored version (0 while the default is in force).
    pub version: u64,
}

/// A new rule.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// The `version` you read.
    pub version: u64,
    /// The rule.
    pub rule: QueueRule,
}

fn parse_queue(raw: &str) -> Result<TicketQueue, ApiError> {
    serde_json::from_value(json!(raw)).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "No such queue: telesales, rm or cskh.",
        )
    })
}

/// `GET /v1/ticket-queues/{queue}/rule`: how the queue's tickets are assigned.
#[utoipa::path(
    get,
    path = "/v1/ticket-queues/{queue}/rule",
    tag = "tickets",
    security(("bearer" = [])),
    params(("queue" = String, Path, description = "`telesales`, `rm` or `cskh`.")),
    responses(
        (status = 200, description = "The rule in force.", body = RuleView),
        nhip_core::openapi::ReadErrors,
    )
)]
async fn get_rule(
    State(deps): State<Arc<Deps>>,
    _principal: Principal,
    Path(queue): Path<String>,
) -> Result<Json<RuleView>, ApiError> {
    let queue = parse_queue(&queue)?;
    let (rule, version) = rule(&deps, queue).await?;
    Ok(Json(view(queue, rule, version)))
}

fn view(queue: TicketQueue, rule: QueueRule, version: u64) -> RuleView {
    RuleView {
        queue: queue.as_str().into(),
        assignment_label: rule.assignment.label().into(),
        rule,
        version,
    }
}

/// Why a rule was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The team is not in the directory, or a pool rule has no team.
    #[error("the team is missing or unknown")]
    Team,
    /// Changed since read.
    #[error("the rule is at version {0}")]
    Stale(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RuleError> for ApiError {
    fn from(error: RuleError) -> Self {
        match error {
            RuleError::Team => nhip_core::form::invalid(
                "rule.team",
                "Chọn một nhóm có trong danh bạ nhân sự (bắt buộc khi chia lần lượt hoặc theo tải).",
            ),
            RuleError::Stale(current) => ApiError::stale_version(current),
            RuleError::Store(error) => error.into(),
        }
    }
}

/// Saves a queue's rule (admin), if it is still at `version`.
pub async fn save_rule(
    deps: &Deps,
    principal: &Principal,
    queue: TicketQueue,
    input: &RuleInput,
) -> Result<RuleView, RuleError> {
    let rule = &input.rule;
    let needs_team = matches!(
        rule.assignment,
        Assignment::RoundRobin | Assignment::LeastLoaded
    );
    match &rule.team {
        Some(team) if staff::team(&*deps.store, team).await?.is_none() => {
            return Err(RuleError::Team);
        }
        None if needs_team => return Err(RuleError::Team),
        _ => {}
    }
    let written = nhip_core::records::put_setting(
        &*deps.store,
        keys::ticket_queue_rule(queue.as_str()),
        "rule",
        rule,
        input.version,
        &principal.user,
        deps.clock.now(),
    )
    .await?;
    match written {
        Ok(version) => Ok(view(queue, rule.clone(), version)),
        Err(current) => Err(RuleError::Stale(current)),
    }
}

/// `PUT /v1/ticket-queues/{queue}/rule` (admin): how the queue's tickets are assigned from now.
#[utoipa::path(
    put,
    path = "/v1/ticket-queues/{queue}/rule",
    tag = "tickets",
    security(("bearer" = [])),
    params(("queue" = String, Path, description = "`telesales`, `rm` or `cskh`.")),
    request_body(content = RuleInput),
    responses(
        (status = 200, description = "Saved.", body = RuleView),
        nhip_core::openapi::ChangeErrors,
    )
)]
async fn put_rule(
    State(deps): State<Arc<Deps>>,
    principal: Principal,
    Path(queue): Path<String>,
    Json(input): Json<RuleInput>,
) -> Result<Json<RuleView>, ApiError> {
    principal.require_admin()?;
    let queue = parse_queue(&queue)?;
    Ok(Json(save_rule(&deps, &principal, queue, &input).await?))
}
