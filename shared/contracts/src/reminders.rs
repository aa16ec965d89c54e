//! The daily reminders run (the `reminders` function, on an EventBridge schedule at 08:00 in
//! Viet Nam; the local runner runs it at 08:00 simulated time). It finds what is due through
//! date-keyed items only, never a Scan, so its cost is O(due):
//! - today's reminder pointers (`REMIND#<date>`): each plan whose next instalment reminder and
//!   each contract or subscription whose next expiry alert is today. For each, the reminders
//!   of today's rungs are queued as `care` messages, an `installment.due`,
//!   `contract.expiring` or `subscription.expiring` event is raised for journeys, a contract's
//!   consultant's bell rings, and the pointer moves to the next rung;
//! - the customers born on this day (`BDAY#<MM-DD>`; those born on 29/2 on 28/2 in other
//!   years), and on a holiday (solar: 1/1, 8/3, 30/4, 1/5, 2/9, 20/10; lunar, from the
//!   Vietnamese calendar in UTC+7: Tết Nguyên Đán, Giỗ Tổ Hùng Vương, Tết Trung Thu) the
//!   customers and former customers, by their lifecycle partitions.
//!
//! Every message's idempotency key names what it is about (`instalment#<plan>#<seq>#<rung>`,
//! `expiry#<holding>#<maturity>#<rung>`, `greeting#<customer>#<occasion>-<year>`), so a run
//! repeated, or a redelivered message, sends nothing twice. Consent, quiet hours and the
//! customer's channels are the send pipeline's. An instalment reminder carries a guard (the
//! plan's paid total still below what the instalment needs), so a payment that arrives while
//! it is queued stops it before the send.

use chrono::{Datelike, Days, NaiveDate};
use nhip_core::auth::{Principal, Role};
use nhip_core::deps::Deps;
use nhip_core::event_types as types;
use nhip_core::keys;
use nhip_crm::customers::model::Customer;
use nhip_crm::holdings::reminder::{move_pointer, next_alert};
use nhip_crm::holdings::{Holding, HoldingStatus, ProductKind};
use nhip_domain::channel::MessageChannel;
use nhip_domain::customer::Lifecycle;
use nhip_domain::event::DomainEvent;
use nhip_domain::ladder::Ladder;
use nhip_domain::occasions::{self, Occasion};
use nhip_domain::time::vn_date;
use nhip_messaging::model::{
    Cause, CauseKind, GuardTest, RequestData, SendGuard, SendPurpose, SendRequest, Target,
};
use nhip_ports::store::{Condition, Index, Query, StoreError, WriteOp};
use serde::Serialize;
use serde_json::{Value, json};

use crate::plans::{self, Plan};
use crate::settings::{self, ReminderSettings};

/// The templates the product ships for reminders and greetings, installed (published) by the
/// first run that needs them; admins edit them like any other.
pub const TEMPLATES: &str = include_str!("../templates.yaml");

/// The template prefix of instalment reminders.
pub const INSTALMENT: &str = "nhac-tra-gop";
/// Of contract expiry alerts.
pub const CONTRACT_EXPIRY: &str = "dao-han-hop-dong";
/// Of subscription expiry alerts.
pub const SUBSCRIPTION_EXPIRY: &str = "het-han-thue-bao";
/// Of birthday greetings.
pub const BIRTHDAY: &str = "chuc-mung-sinh-nhat";
/// Of holiday greetings.
pub const HOLIDAY: &str = "chuc-mung-ngay-le";

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The Vietnamese date run for.
    pub date: String,
    /// Reminder pointers read.
    pub pointers: usize,
    /// Instalment reminders queued.
    pub instalments: usize,
    /// Expiry alerts queued.
    pub expiries: usize,
    /// Greetings queued.
    pub greetings: usize,
    /// Templates installed by this run.
    pub templates_installed: usize,
}

/// The function's handler: runs for today in Viet Nam, whatever the schedule's payload.
pub async fn handle_invocation(deps: &Deps, payload: &Value) -> Result<RunReport, StoreError> {
    let date = vn_date(deps.clock.now());
    let report = run(deps, date).await?;
    let invocation = payload.get("id").and_then(Value::as_str).unwrap_or("-");
    tracing::info!(
        invocation,
        date = %report.date,
        pointers = report.pointers,
        instalments = report.instalments,
        expiries = report.expiries,
        greetings = report.greetings,
        "reminders run"
    );
    Ok(report)
}

/// Most days a late run catches up on.
const MAX_CATCH_UP_DAYS: u64 = 7;

/// The local runner's schedule (checked every simulated minute): from 08:00 in Viet Nam, runs
/// each day not yet run, up to a week back (a clock moved on by days runs every day it passed,
/// as daily invocations would have); nothing before the first run's day.
pub async fn run_due(deps: &Deps) -> Result<Vec<RunReport>, StoreError> {
    use chrono::Timelike;
    let now = deps.clock.now();
    let today = vn_date(now);
    if nhip_domain::time::to_vn(now).hour() < nhip_crm::holdings::reminder::RUN_HOUR {
        return Ok(Vec::new());
    }
    let key = nhip_ports::store::Key::new("SETTING#REMINDERS", "LASTRUN");
    let last = deps
        .store
        .get(&key)
        .await?
        .and_then(|item| item.get("date")?.as_str()?.parse::<NaiveDate>().ok());
    let first = match last {
        Some(last) if last >= today => return Ok(Vec::new()),
        Some(last) => (last + Days::new(1)).max(today - Days::new(MAX_CATCH_UP_DAYS)),
        None => today,
    };
    let mut reports = Vec::new();
    let mut date = first;
    while date <= today {
        reports.push(run(deps, date).await?);
        let mut item = key.to_item();
        item.insert("kind".into(), "reminders_last_run".into());
        item.insert("date".into(), date.to_string().into());
        deps.store.put(item, Condition::Always).await?;
        date = date + Days::new(1);
    }
    Ok(reports)
}

/// Runs the reminders of `date`.
pub async fn run(deps: &Deps, date: NaiveDate) -> Result<RunReport, StoreError> {
    let mut report = RunReport {
        date: date.to_string(),
        templates_installed: install_templates(deps).await?,
        ..RunReport::default()
    };
    let (settings, _) = settings::in_force(deps).await?;
    let ladder = settings.instalment_ladder();
    // Read once: every contract alert names its product.
    let products = nhip_crm::holdings::products(&*deps.store).await?;
    let mut cursor = None;
    loop {
        let page = deps
            .store
            .query(
                Query::partition(Index::Primary, keys::reminder_pk(date))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        let mut requests = Vec::new();
        for pointer in &page.items {
            report.pointers += 1;
            let what = pointer
                .get("sk")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut parts = what.splitn(3, '#');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("PLAN"), Some(customer), Some(plan)) => {
                    let sent =
                        plan_reminders(deps, &settings, &ladder, customer, plan, date).await?;
                    report.instalments += sent.len();
                    requests.extend(sent);
                }
                (Some("HOLD"), Some(customer), Some(holding)) => {
                    let sent =
                        expiry_alerts(deps, &settings, &products, customer, holding, date).await?;
                    report.expiries += sent.len();
                    requests.extend(sent);
                }
                _ => tracing::warn!(pointer = what, "unknown reminder pointer"),
            }
        }
        enqueue(deps, &requests).await?;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if settings.greetings {
        report.greetings += birthdays(deps, &settings, date).await?;
        report.greetings += holidays(deps, &settings, date).await?;
    }
    Ok(report)
}

async fn enqueue(deps: &Deps, requests: &[SendRequest]) -> Result<(), StoreError> {
    for chunk in requests.chunks(10) {
        nhip_messaging::pipeline::enqueue(deps, chunk)
            .await
            .map_err(StoreError::unavailable)?;
    }
    Ok(())
}

/// The codes of the shipped templates, in file order.
pub fn template_codes() -> Vec<String> {
    shipped().map_or_else(|_| Vec::new(), |t| t.into_iter().map(|t| t.code).collect())
}

fn shipped() -> Result<Vec<nhip_domain::journey::SeedTemplate>, StoreError> {
    yaml_serde::from_str(TEMPLATES).map_err(|e| StoreError::invalid(format!("templates.yaml: {e}")))
}

/// Installs the shipped templates not there yet: how many.
pub async fn install_templates(deps: &Deps) -> Result<usize, StoreError> {
    let shipped = shipped()?;
    let system = Principal::new("nhip", Role::Admin, None);
    let mut installed = 0;
    for template in shipped {
        match nhip_messaging::templates::install(
            deps,
            &system,
            &template.code,
            &template.name,
            template.content,
        )
        .await
        {
            Ok(true) => installed += 1,
            Ok(false) => {}
            Err(error) => {
                return Err(StoreError::invalid(format!(
                    "template {} not installed: {}",
                    template.code, error.message
                )));
            }
        }
    }
    Ok(installed)
}

/// The targets of a reminder of kind `prefix` for `customer`: the settings' channels, the
/// customer's `preferred_channel` first when it is one of them.
fn targets(settings: &ReminderSettings, customer: &Customer, prefix: &str) -> Vec<Target> {
    let mut channels = settings.channels.clone();
    let preferred = customer
        .attributes
        .get("preferred_channel")
        .and_then(Value::as_str)
        .and_then(|raw| MessageChannel::ALL.into_iter().find(|c| c.as_str() == raw));
    if let Some(preferred) = preferred
        && let Some(at) = channels.iter().position(|c| *c == preferred)
    {
        channels.remove(at);
        channels.insert(0, preferred);
    }
    channels
        .into_iter()
        .map(|channel| Target {
            channel,
            template: format!("{prefix}-{}", channel.as_str()),
            version: None,
        })
        .collect()
}

fn request(
    key: String,
    customer: &Customer,
    targets: Vec<Target>,
    data: RequestData,
    guard: Option<SendGuard>,
    now: chrono::DateTime<chrono::Utc>,
) -> SendRequest {
    SendRequest {
        cause: Cause {
            kind: CauseKind::Reminder,
            id: key.clone(),
            actor: None,
        },
        idempotency_key: key,
        customer_id: customer.id.to_string(),
        targets,
        purpose: SendPurpose::Care,
        campaign: None,
        data,
        system: None,
        requested_at: now,
        guard,
    }
}

fn event(key: &str, kind: &str, customer: &Customer, deps: &Deps, data: Value) -> DomainEvent {
    DomainEvent {
        id: key.replace('#', "-"),
        source: nhip_core::events::NHIP_SOURCE.into(),
        kind: kind.into(),
        customer_id: Some(customer.id),
        occurred_at: deps.clock.now(),
        data,
    }
}

/// Whether a customer gets reminders at all: there, not erased.
async fn customer(deps: &Deps, id: &str) -> Result<Option<Customer>, StoreError> {
    let Ok(id) = id.parse() else { return Ok(None) };
    Ok(nhip_crm::customers::repo::get(&*deps.store, id)
        .await?
        .filter(|c| c.erased_at.is_none()))
}

/// A plan's reminders for `date`, and its pointer moved on.
async fn plan_reminders(
    deps: &Deps,
    settings: &ReminderSettings,
    ladder: &Ladder,
    customer_id: &str,
    plan_id: &str,
    date: NaiveDate,
) -> Result<Vec<SendRequest>, StoreError> {
    let Some(plan) = plans::load(deps, customer_id, plan_id).await? else {
        drop_pointer(deps, date, &format!("PLAN#{customer_id}#{plan_id}")).await?;
        return Ok(Vec::new());
    };
    if plan.remind_on != Some(date) {
        // Moved by a payment since it was placed: not due today.
        drop_pointer(deps, date, &plan.pointer_ref()).await?;
        return Ok(Vec::new());
    }
    let mut requests = Vec::new();
    if let Some(customer) = customer(deps, customer_id).await? {
        let now = deps.clock.now();
        let mut events = Vec::new();
        for standing in plan.standing(date).iter().filter(|s| s.outstanding > 0) {
            for (offset, _) in ladder
                .dates(standing.due_on)
                .into_iter()
                .filter(|(_, d)| *d == date)
            {
                let key = format!(
                    "instalment#{}#{}#{}",
                    plan.id,
                    standing.seq,
                    Ladder::label(offset)
                );
                let holding = json!({
                    "product": plan.product,
                    "contract_no": plan.reference,
                    "amount": standing.outstanding,
                    "due_date": standing.due_on.to_string(),
                    "installment_no": standing.seq,
                    "installments_total": plan.schedule.len(),
                    "outstanding": plan.total() - plan.paid_total,
                    "days_left": -offset,
                });
                let guard = SendGuard {
                    pk: keys::customer_pk(customer.id),
                    sk: format!("{}{}", keys::PLAN_PREFIX, plan.id),
                    field: "paid_total".into(),
                    test: GuardTest::Below(plan.paid_through(standing.seq)),
                };
                let data = RequestData {
                    holding: Some(holding.clone()),
                    ..RequestData::default()
                };
                requests.push(request(
                    key.clone(),
                    &customer,
                    targets(settings, &customer, INSTALMENT),
                    data,
                    Some(guard),
                    now,
                ));
                let mut data = holding;
                data["plan_id"] = json!(plan.id);
                data["rung"] = json!(Ladder::label(offset));
                events.push(event(&key, types::INSTALLMENT_DUE, &customer, deps, data));
            }
        }
        publish(deps, &events).await?;
    }
    repoint_plan(deps, plan, ladder, date).await?;
    Ok(requests)
}

async fn publish(deps: &Deps, events: &[DomainEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    nhip_core::events::publish(deps, events)
        .await
        .map_err(StoreError::unavailable)
}

async fn drop_pointer(deps: &Deps, date: NaiveDate, what: &str) -> Result<(), StoreError> {
    deps.store
        .transact(vec![WriteOp::Delete {
            key: keys::reminder(date, what),
            condition: Condition::Always,
        }])
        .await
}

/// Moves a plan's pointer past `date` (read again when a payment raced the run).
async fn repoint_plan(
    deps: &Deps,
    mut plan: Plan,
    ladder: &Ladder,
    date: NaiveDate,
) -> Result<(), StoreError> {
    for _ in 0..3 {
        let previous = plan.remind_on;
        plan.remind_on = plan.next_reminder(ladder, date + Days::new(1));
        let mut ops = vec![WriteOp::Put {
            item: nhip_core::records::to_item(
                keys::instalment_plan(
                    plan.customer_id
                        .parse()
                        .map_err(|_| StoreError::invalid("plan customer"))?,
                    &plan.id,
                ),
                plans::PLAN_KIND,
                &plan,
            )?,
            condition: Condition::version_is(plan.version),
        }];
        ops.extend(move_pointer(
            previous,
            plan.remind_on,
            &plan.pointer_ref(),
            &plan.customer_id,
        ));
        match deps.store.transact(ops).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
                let Some(fresh) = plans::load(deps, &plan.customer_id, &plan.id).await? else {
                    return Ok(());
                };
                if fresh.remind_on != Some(date) {
                    // The payment moved it already.
                    return Ok(());
                }
                plan = fresh;
            }
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::TransactionConflict)
}

/// A contract's or subscription's expiry alerts for `date`, and its pointer moved on.
async fn expiry_alerts(
    deps: &Deps,
    settings: &ReminderSettings,
    products: &std::collections::BTreeMap<String, nhip_crm::holdings::Product>,
    customer_id: &str,
    holding_id: &str,
    date: NaiveDate,
) -> Result<Vec<SendRequest>, StoreError> {
    let what = format!("HOLD#{customer_id}#{holding_id}");
    let (Ok(cid), Some(customer)) = (customer_id.parse(), customer(deps, customer_id).await?)
    else {
        drop_pointer(deps, date, &what).await?;
        return Ok(Vec::new());
    };
    let Some(holding) = nhip_crm::holdings::repo::holding(&*deps.store, cid, holding_id).await?
    else {
        drop_pointer(deps, date, &what).await?;
        return Ok(Vec::new());
    };
    if holding.remind_on != Some(date) || holding.status != HoldingStatus::Active {
        drop_pointer(deps, date, &what).await?;
        return Ok(Vec::new());
    }
    let Some(expires_on) = holding.expires_on else {
        return Ok(Vec::new());
    };
    let days_left = (expires_on - date).num_days();
    let (prefix, kind) = if holding.product_kind == ProductKind::Investment {
        (CONTRACT_EXPIRY, types::CONTRACT_EXPIRING)
    } else {
        (SUBSCRIPTION_EXPIRY, types::SUBSCRIPTION_EXPIRING)
    };
    let data = json!({
        "product": products.get(&holding.product).map_or(holding.product.clone(), |p| p.name.clone()),
        "contract_no": holding.reference,
        "amount": holding.amount,
        "due_date": expires_on.to_string(),
        "days_left": days_left,
    });
    let key = format!("expiry#{}#{}#D-{}", holding.id, expires_on, days_left);
    let guard = SendGuard {
        pk: keys::customer_pk(customer.id),
        sk: format!("{}{}", keys::HOLDING_PREFIX, holding.id),
        field: "status".into(),
        test: GuardTest::Equals("active".into()),
    };
    let now = deps.clock.now();
    let requests = vec![request(
        key.clone(),
        &customer,
        targets(settings, &customer, prefix),
        RequestData {
            holding: Some(data.clone()),
            ..RequestData::default()
        },
        Some(guard),
        now,
    )];
    let mut event_data = data.clone();
    event_data["holding_id"] = json!(holding.id);
    publish(deps, &[event(&key, kind, &customer, deps, event_data)]).await?;
    if let Some(consultant) = holding
        .contract
        .as_ref()
        .and_then(|t| t.consultant.clone())
        .or_else(|| customer.owner.clone())
    {
        let notice = nhip_crm::notifications::Notice {
            title: format!("Hợp đồng sắp đáo hạn: còn {days_left} ngày"),
            body: format!(
                "{} – {} đáo hạn ngày {}. Liên hệ khách hàng để gia hạn.",
                customer.full_name,
                holding.reference.as_deref().unwrap_or(&holding.product),
                expires_on.format("%d/%m/%Y")
            ),
            customer_id: Some(customer.id),
            link: format!("/app/customers/{}", customer.id),
        };
        nhip_crm::notifications::notify(deps, &consultant, &key, notice).await?;
    }
    repoint_holding(deps, holding, date).await?;
    Ok(requests)
}

/// Moves a holding's pointer past `date`, keeping its version (staff editing it are not
/// disturbed); a holding changed meanwhile placed its own pointer.
async fn repoint_holding(
    deps: &Deps,
    mut holding: Holding,
    date: NaiveDate,
) -> Result<(), StoreError> {
    let previous = holding.remind_on;
    holding.remind_on = next_alert(&holding, date + Days::new(1));
    let what = nhip_crm::holdings::reminder::pointer_ref(&holding);
    let mut ops = vec![WriteOp::Put {
        item: nhip_core::records::to_item(
            keys::holding(holding.customer_id, &holding.id),
            nhip_crm::holdings::HOLDING_KIND,
            &holding,
        )?,
        condition: Condition::version_is(holding.version),
    }];
    ops.extend(move_pointer(
        previous,
        holding.remind_on,
        &what,
        &holding.customer_id.to_string(),
    ));
    match deps.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            drop_pointer(deps, date, &what).await
        }
        Err(other) => Err(other),
    }
}

/// Whether a greeting goes to someone at this point of the relationship: customers and former
/// customers ("KH", seed 002 II), not leads.
fn greeted(customer: &Customer) -> bool {
    customer.erased_at.is_none()
        && matches!(customer.lifecycle, Lifecycle::Customer | Lifecycle::Former)
}

fn greeting(
    settings: &ReminderSettings,
    customer: &Customer,
    prefix: &str,
    occasion: Occasion,
    date: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> SendRequest {
    let key = format!(
        "greeting#{}#{}",
        customer.id,
        occasions::occasion_key(occasion, date)
    );
    let data = RequestData {
        event: Some(
            json!({"type": "greeting", "occasion": occasion.label(), "occurred_at": nhip_core::keys::instant(now)}),
        ),
        ..RequestData::default()
    };
    request(
        key,
        customer,
        targets(settings, customer, prefix),
        data,
        None,
        now,
    )
}

/// Birthday greetings for the customers born on `date`'s day (and on 29/2, on 28/2 of a year
/// without one).
async fn birthdays(
    deps: &Deps,
    settings: &ReminderSettings,
    date: NaiveDate,
) -> Result<usize, StoreError> {
    let mut days = vec![date.format("%m-%d").to_string()];
    if date.month() == 2
        && date.day() == 28
        && NaiveDate::from_ymd_opt(date.year(), 2, 29).is_none()
    {
        days.push("02-29".into());
    }
    let now = deps.clock.now();
    let mut sent = 0;
    for day in days {
        let entries = nhip_core::records::read_partition(
            &*deps.store,
            Index::Primary,
            &keys::birthday_pk(&day),
            None,
        )
        .await?;
        let ids: Vec<nhip_ports::store::Key> = entries
            .iter()
            .filter_map(|item| item.get("customer_id")?.as_str()?.parse().ok())
            .map(keys::customer)
            .collect();
        let mut requests = Vec::new();
        for chunk in ids.chunks(nhip_ports::store::MAX_BATCH_GET_KEYS) {
            for item in deps.store.batch_get(chunk).await? {
                let customer = Customer::from_item(item)?;
                if greeted(&customer) {
                    requests.push(greeting(
                        settings,
                        &customer,
                        BIRTHDAY,
                        Occasion::Birthday,
                        date,
                        now,
                    ));
                }
            }
        }
        sent += requests.len();
        enqueue(deps, &requests).await?;
    }
    Ok(sent)
}

/// Holiday greetings, when `date` is one, to every customer and former customer.
async fn holidays(
    deps: &Deps,
    settings: &ReminderSettings,
    date: NaiveDate,
) -> Result<usize, StoreError> {
    let now = deps.clock.now();
    let mut sent = 0;
    for occasion in occasions::holidays_on(date) {
        for lifecycle in [Lifecycle::Customer, Lifecycle::Former] {
            let mut cursor = None;
            loop {
                let page = deps
                    .store
                    .query(
                        Query::partition(
                            Index::Gsi1,
                            keys::customers_by_lifecycle(lifecycle.as_str()),
                        )
                        .limit(100)
                        .after(cursor),
                    )
                    .await?;
                let requests: Vec<SendRequest> = page
                    .items
                    .into_iter()
                    .map(Customer::from_item)
                    .collect::<Result<Vec<_>, _>>()?
                    .iter()
                    .filter(|c| greeted(c))
                    .map(|c| greeting(settings, c, HOLIDAY, occasion, date, now))
                    .collect();
                sent += requests.len();
                enqueue(deps, &requests).await?;
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
    }
    Ok(sent)
}
