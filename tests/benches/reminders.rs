//! Daily reminders run benchmark on the embedded store: `cargo bench -p nhip-tests --bench
//! reminders` (`-- <items> <due>` to change the sizes; defaults 1,000,000 and 1,000).
//!
//! It loads `items` holdings and instalment plans, half each, for `items / 10` customers:
//! active investment contracts maturing over the next three years and instalment plans with
//! their schedules, each with its reminder pointer (`REMIND#<date>`) on the date of its next
//! expiry alert or instalment reminder, as the product's writes place it. Exactly `due` of them
//! (half contracts, half plans) have their pointer on the run's date. Then it runs the daily
//! reminders run of that date at 08:00 in Viet Nam, twice, and reports what each run read and
//! wrote, counted at the store port, and how long it took. The figures in docs/performance.md
//! come from this command.

use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Days, Duration, Months, NaiveDate, TimeZone, Utc};
use nhip_contracts::plans::{PLAN_KIND, Plan, PlanStatus};
use nhip_contracts::reminders::{self, RunReport};
use nhip_core::auth::Role;
use nhip_crm::customers::model::{Customer, HoldingSummary};
use nhip_crm::holdings::reminder::{next_alert, pointer_item, pointer_ref};
use nhip_crm::holdings::{ContractTerms, HOLDING_KIND, Holding, HoldingStatus, ProductKind};
use nhip_domain::customer::{Channel, ConsentRecord, Consents, Lifecycle, Purpose, Source};
use nhip_domain::identifiers::Phone;
use nhip_domain::ids::CustomerId;
use nhip_domain::installment::{self, Method, Terms};
use nhip_domain::ladder::Ladder;
use nhip_ports::store::{Condition, ItemStore, WriteOp};

mod common;

/// The contracts' product.
const PRODUCT: &str = "hop-dong-bcc";
/// The consultant who owns every customer.
const CONSULTANT: &str = "lan";
/// Items the queries of a run may return beyond the due pointers: a fixed allowance for the
/// pointer pages and the birthday partition, whatever the table's size.
const SLACK: u64 = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let items = args.first().copied().unwrap_or(1_000_000);
    let due = args.get(1).copied().unwrap_or(1_000);
    let customers = (items / 10).max(1);
    // A Thursday, no holiday: the run sends no holiday greetings, and no customer was born on
    // a known day, so the run's reads are the pointers'.
    let date = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
    anyhow::ensure!(
        nhip_domain::occasions::holidays_on(date).is_empty(),
        "the run's date is a holiday"
    );
    // 08:00 in Viet Nam: the run's schedule.
    let now = Utc.with_ymd_and_hms(2026, 12, 10, 1, 0, 0).unwrap();
    let dir = tempfile::tempdir()?;
    let common::Bench { deps, store, .. } = common::deps(dir.path(), now)?;

    nhip_crm::staff::create_team(&*deps.store, "hn", "Phòng tư vấn Hà Nội", "").await?;
    nhip_crm::staff::create_user(
        &*deps.store,
        &nhip_crm::staff::UserInput {
            username: CONSULTANT.into(),
            display_name: "Trần Thị Lan".into(),
            role: Some(Role::Consultant),
            team: "hn".into(),
            active: true,
            ..Default::default()
        },
        None,
        now,
    )
    .await?;
    nhip_crm::holdings::catalogue::new_product(
        &deps,
        &serde_json::from_value(serde_json::json!({
            "code": PRODUCT, "name": "Hợp đồng hợp tác kinh doanh (BCC)", "kind": "investment"
        }))?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    // Item i belongs to customer i % customers; rows of customers alternate contracts and
    // plans, so each customer has both. The due ones are spread evenly over each kind.
    let is_holding = |i: u64| (i / customers).is_multiple_of(2);
    let holdings = (0..items).filter(|&i| is_holding(i)).count() as u64;
    let plans = items - holdings;
    let due_plans = due / 2;
    let due_holdings = due - due_plans;
    anyhow::ensure!(
        due_holdings <= holdings && due_plans <= plans,
        "more due than items"
    );
    let ladder = Ladder::instalment_default();
    let ids: Vec<CustomerId> = (0..customers)
        .map(|c| CustomerId::new_at(now - Duration::days(800) + Duration::minutes(c as i64)))
        .collect();
    let mut summaries: Vec<Vec<HoldingSummary>> = vec![Vec::new(); customers as usize];

    let loading = Instant::now();
    let mut batch = Batch::default();
    let (mut k_holding, mut k_plan) = (0, 0);
    for i in 0..items {
        let customer = ids[(i % customers) as usize];
        let ops = if is_holding(i) {
            let holding = contract(
                customer,
                k_holding,
                date,
                spread(k_holding, due_holdings, holdings),
            );
            k_holding += 1;
            summaries[(i % customers) as usize].push(holding.summary());
            let remind_on = holding.remind_on.expect("an active contract is alerted");
            vec![
                WriteOp::Put {
                    item: nhip_core::records::to_item(
                        nhip_core::keys::holding(customer, &holding.id),
                        HOLDING_KIND,
                        &holding,
                    )?,
                    condition: Condition::Always,
                },
                WriteOp::Put {
                    item: pointer_item(remind_on, &pointer_ref(&holding), &customer.to_string()),
                    condition: Condition::Always,
                },
            ]
        } else {
            let plan = plan(
                customer,
                k_plan,
                date,
                &ladder,
                spread(k_plan, due_plans, plans),
            )?;
            k_plan += 1;
            let remind_on = plan.remind_on.expect("an active plan is reminded");
            vec![
                WriteOp::Put {
                    item: nhip_core::records::to_item(
                        nhip_core::keys::instalment_plan(customer, &plan.id),
                        PLAN_KIND,
                        &plan,
                    )?,
                    condition: Condition::Always,
                },
                WriteOp::Put {
                    item: pointer_item(remind_on, &plan.pointer_ref(), &customer.to_string()),
                    condition: Condition::Always,
                },
            ]
        };
        batch.push(&store, ops).await?;
    }
    for (c, (id, held)) in ids.iter().zip(summaries).enumerate() {
        let item = profile(*id, c as u64, held)?.to_item()?;
        batch
            .push(
                &store,
                vec![WriteOp::Put {
                    item,
                    condition: Condition::Always,
                }],
            )
            .await?;
    }
    batch.flush(&store).await?;
    let loaded = loading.elapsed();

    // The shipped templates, installed as the first run would: not the run's reads.
    let installed = reminders::install_templates(&deps).await?;
    println!(
        "daily reminders run on {date} with {holdings} contracts and {plans} instalment plans \
         of {customers} customers, {due_holdings} contracts and {due_plans} plans due \
         (embedded SQLite store)"
    );
    println!(
        "  loaded in {:.1} s; {installed} shipped templates installed before the runs",
        loaded.as_secs_f64()
    );

    let (first, figures) = timed(&deps, &store, date).await?;
    figures.print("first run", &first);
    anyhow::ensure!(
        first.pointers as u64 == due
            && first.expiries as u64 == due_holdings
            && first.instalments as u64 == due_plans
            && first.greetings == 0
            && first.templates_installed == 0,
        "the first run did not find exactly the due ones: {first:?}"
    );
    assert!(
        figures.items_read <= due + SLACK,
        "the run's queries returned {} items for {due} due among {items}: not O(due)",
        figures.items_read
    );
    println!(
        "  per due item: {:.2} requests; items read beyond the due pointers: {}",
        figures.requests as f64 / due.max(1) as f64,
        figures.items_read.saturating_sub(due)
    );

    let (again, repeated) = timed(&deps, &store, date).await?;
    repeated.print("the same run again", &again);
    anyhow::ensure!(
        again.pointers == 0 && again.instalments == 0 && again.expiries == 0,
        "a repeated run found reminders due: {again:?}"
    );
    assert!(
        repeated.items_read <= SLACK,
        "the repeated run's queries returned {} items",
        repeated.items_read
    );
    Ok(())
}

/// Whether the `k`-th of `n` items is one of the `d` due ones, spread evenly.
fn spread(k: u64, d: u64, n: u64) -> bool {
    (k + 1) * d / n > k * d / n
}

/// Writes in transactions of up to 100, a record and its pointer always together.
#[derive(Default)]
struct Batch(Vec<WriteOp>);

impl Batch {
    async fn push(&mut self, store: &common::Counting, ops: Vec<WriteOp>) -> anyhow::Result<()> {
        if self.0.len() + ops.len() > 100 {
            self.flush(store).await?;
        }
        self.0.extend(ops);
        Ok(())
    }

    async fn flush(&mut self, store: &common::Counting) -> anyhow::Result<()> {
        if !self.0.is_empty() {
            store.inner.transact(std::mem::take(&mut self.0)).await?;
        }
        Ok(())
    }
}

/// The store requests of one run.
struct Figures {
    millis: f64,
    queries: u64,
    items_read: u64,
    gets: u64,
    writes: u64,
    requests: u64,
}

impl Figures {
    fn print(&self, name: &str, report: &RunReport) {
        println!(
            "  {name}: {} pointers read, {} instalment reminders and {} expiry alerts queued, \
             {} greetings, {} templates installed, in {:.1} ms",
            report.pointers,
            report.instalments,
            report.expiries,
            report.greetings,
            report.templates_installed,
            self.millis
        );
        println!(
            "    store requests: {} queries returning {} items, {} gets, {} writes",
            self.queries, self.items_read, self.gets, self.writes
        );
    }
}

/// One run of `date`, its counters reset before.
async fn timed(
    deps: &nhip_core::Deps,
    store: &common::Counting,
    date: NaiveDate,
) -> anyhow::Result<(RunReport, Figures)> {
    store.reset();
    let started = Instant::now();
    let report = reminders::run(deps, date).await?;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    Ok((
        report,
        Figures {
            millis,
            queries: store.queries.load(Ordering::Relaxed),
            items_read: store.items_read.load(Ordering::Relaxed),
            gets: store.gets.load(Ordering::Relaxed),
            writes: store.writes.load(Ordering::Relaxed),
            requests: store.requests(),
        },
    ))
}

fn at(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(3, 0, 0).unwrap().and_utc()
}

/// The `k`-th investment contract, active: if `due`, maturing 30, 7 or 1 day after `date` (its
/// D-30, D-7 or D-1 alert is on `date`), else any day of the next three years whose next alert
/// is not on `date`.
fn contract(customer: CustomerId, k: u64, date: NaiveDate, due: bool) -> Holding {
    let mut expires_on = if due {
        date + Days::new([30, 7, 1][(k % 3) as usize])
    } else {
        date + Days::new(2 + (k * 7919) % 1095)
    };
    let mut holding = loop {
        let years = 1 + (expires_on - date).num_days() as u32 / 365;
        let term_months = if due {
            12 * (1 + (k % 3) as u32)
        } else {
            12 * years
        };
        let starts_on = expires_on - Months::new(term_months);
        let signed = at(starts_on);
        let holding = Holding {
            id: ulid::Ulid::from_datetime(signed.into()).to_string(),
            customer_id: customer,
            product: PRODUCT.into(),
            product_kind: ProductKind::Investment,
            status: HoldingStatus::Active,
            reference: Some(format!("BCC-{:07}", k)),
            starts_on: Some(starts_on),
            expires_on: Some(expires_on),
            amount: Some(50_000_000 * (1 + (k % 20) as i64)),
            usage_status: None,
            usage_reason: None,
            remaining_invoice_ratio: None,
            attributes: Default::default(),
            settled_on: None,
            contract: Some(ContractTerms {
                rate_bp: 600 + 50 * (term_months / 12),
                fee_tier: "tieu-chuan".into(),
                fee_bp: 1000,
                rates_version: 1,
                term_months,
                predecessor: None,
                successor: None,
                consultant: Some(CONSULTANT.into()),
                active_on: Some(starts_on),
                scanned_by: Some(CONSULTANT.into()),
                scanned_at: Some(signed + Duration::days(3)),
            }),
            remind_on: None,
            created_by: CONSULTANT.into(),
            updated_by: CONSULTANT.into(),
            created_at: signed,
            updated_at: signed,
            version: 2,
        };
        if due || next_alert(&holding, date) != Some(date) {
            break holding;
        }
        expires_on = expires_on + Days::new(1);
    };
    holding.remind_on = next_alert(&holding, date);
    assert_eq!(
        holding.remind_on == Some(date),
        due,
        "contract {k} is due on {date} exactly when meant to"
    );
    holding
}

/// The `k`-th instalment plan, paid up to its next instalment: if `due`, that instalment is
/// due 5 or 1 days after `date`, on it, or 1 or 3 days before (the D-5, D-1, D0, D+1 or D+3
/// rung is on `date`, the overdue ones unpaid); else 6 days to three years after `date`.
fn plan(
    customer: CustomerId,
    k: u64,
    date: NaiveDate,
    ladder: &Ladder,
    due: bool,
) -> anyhow::Result<Plan> {
    let mut next_due = if due {
        let offset = ladder.offsets()[(k % ladder.offsets().len() as u64) as usize];
        date - Duration::days(offset.into())
    } else {
        date + Days::new(6 + (k * 7919) % 1095)
    };
    // Instalments already paid before the next one.
    let paid = (k % 12) as u32;
    let mut plan = loop {
        let terms = Terms {
            principal: 6_000_000 + 1_000_000 * (k % 55) as i64,
            months: paid + 6 + (k % 7) as u32,
            method: if k.is_multiple_of(2) {
                Method::Flat
            } else {
                Method::ReducingBalance
            },
            rate_bp: if k.is_multiple_of(2) { 199 } else { 1_800 },
            first_due: next_due - Months::new(paid),
        };
        let schedule = installment::schedule(&terms)?;
        let created = at(terms.first_due - Months::new(1));
        let paid_total = schedule.iter().take(paid as usize).map(|i| i.amount).sum();
        let plan = Plan {
            id: ulid::Ulid::from_datetime(created.into()).to_string(),
            customer_id: customer.to_string(),
            product: None,
            reference: Some(format!("TG-{:07}", k)),
            terms,
            schedule,
            paid_total,
            payments: Vec::new(),
            status: PlanStatus::Active,
            remind_on: None,
            created_by: CONSULTANT.into(),
            created_at: created,
            updated_at: created,
            version: 1 + u64::from(paid),
        };
        if due || plan.next_reminder(ladder, date) != Some(date) {
            break plan;
        }
        next_due = next_due + Days::new(1);
    };
    plan.remind_on = plan.next_reminder(ladder, date);
    assert_eq!(
        plan.remind_on == Some(date),
        due,
        "plan {k} is due on {date} exactly when meant to"
    );
    Ok(plan)
}

/// Customer `c`: a customer of the consultant, agreeing to care messages by SMS.
fn profile(id: CustomerId, c: u64, holdings: Vec<HoldingSummary>) -> anyhow::Result<Customer> {
    let created = id.created_at();
    let given = [
        "An", "Bình", "Cường", "Dung", "Hoa", "Hùng", "Lan", "Minh", "Ngọc", "Tuấn",
    ][(c % 10) as usize];
    let mut consents = Consents::default();
    consents.record(ConsentRecord {
        channel: Channel::Sms,
        purpose: Purpose::Care,
        granted: true,
        source: "import".into(),
        at: created,
        evidence: "Hợp đồng ký tại quầy".into(),
    });
    Ok(Customer {
        id,
        full_name: format!("Nguyễn Văn {given} {c}"),
        given_name: given.into(),
        gender: None,
        birthday: None,
        phones: vec![Phone::parse(&format!("091{:07}", c % 10_000_000))?],
        emails: Vec::new(),
        cccd: None,
        cmnd: None,
        tax_code: None,
        address: None,
        tags: Vec::new(),
        attributes: Default::default(),
        owner: Some(CONSULTANT.into()),
        team: Some("hn".into()),
        source: Source::Import,
        attribution: Default::default(),
        lifecycle: Lifecycle::Customer,
        classification: None,
        consents,
        processing_restricted: false,
        marketing_objected: false,
        holdings,
        submissions: 0,
        created_at: created,
        updated_at: created,
        first_interaction_at: None,
        last_activity_at: None,
        erased_at: None,
        advertising_agreement: None,
        version: 1,
    })
}
