//! Console render benchmark on the embedded store: `cargo bench -p nhip-tests --bench console`
//! (`-- <customers> <samples>`; defaults 100,000 and 200).
//!
//! It loads `<customers>` customers of one consultant (each holding a software subscription,
//! so all of them are on her care list), written straight to the store in transactions of 100
//! with their list-index keys; 200 of them get their holding item and 20 timeline entries.
//! Then it signs her in (a real console session) and times the server's answer, end to end
//! through the console's router (session lookup, directory, use cases, template), for:
//! the care list's first page, its 50th page (following the "next" links), the care list
//! filtered to a name only a few customers have, and the customer 360 of random customers.
//! It prints p50 and p95 and the store requests per render. docs/performance.md has the figures.

mod common;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, header};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt as _;
use nhip_core::auth::Role;
use nhip_crm::customers::model::{Customer, HoldingSummary};
use nhip_domain::customer::{Lifecycle, Source, UsageStatus};
use nhip_domain::ids::CustomerId;
use nhip_ports::store::{Condition, WriteOp};
use tower::ServiceExt as _;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

struct Timing {
    name: &'static str,
    millis: Vec<f64>,
    requests: Vec<u64>,
}

impl Timing {
    fn report(mut self) {
        self.millis.sort_by(f64::total_cmp);
        self.requests.sort_unstable();
        println!(
            "  {:<46} p50 {:>7.2} ms   p95 {:>7.2} ms   store requests p50 {:>4}  ({} renders)",
            self.name,
            percentile(&self.millis, 0.5),
            percentile(&self.millis, 0.95),
            self.requests[self.requests.len() / 2],
            self.millis.len()
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let customers = args.next().unwrap_or(100_000);
    let samples = args.next().unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let common::Bench { deps, store, .. } = common::deps(dir.path(), now)?;
    let deps = Arc::new(deps);

    nhip_crm::staff::create_team(&*deps.store, "hn", "Phòng tư vấn Hà Nội", "").await?;
    let lan = nhip_crm::staff::create_user(
        &*deps.store,
        &nhip_crm::staff::UserInput {
            username: "lan".into(),
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
    let cookie = format!(
        "{}={}",
        nhip_console::session::COOKIE,
        nhip_console::session::start(&deps, &lan, false).await?
    );

    let loading = Instant::now();
    let given = [
        "An", "Bình", "Cường", "Dung", "Hoa", "Hùng", "Lan", "Minh", "Ngọc", "Tuấn",
    ];
    let mut ids = Vec::with_capacity(customers);
    let mut batch = Vec::with_capacity(100);
    for i in 0..customers {
        let created = now - Duration::minutes((customers - i) as i64);
        let id = CustomerId::new_at(created);
        // One customer in 10,000 is a "Phan Thị Thảo": the name filter's rare match.
        let full_name = if i % 10_000 == 7 {
            "Phan Thị Thảo".to_owned()
        } else {
            format!("Nguyễn Văn {} {i}", given[i % given.len()])
        };
        let customer = Customer {
            id,
            given_name: full_name.clone(),
            full_name,
            gender: None,
            birthday: None,
            phones: Vec::new(),
            emails: Vec::new(),
            cccd: None,
            cmnd: None,
            tax_code: None,
            address: None,
            tags: Vec::new(),
            attributes: Default::default(),
            owner: Some("lan".into()),
            team: Some("hn".into()),
            source: Source::Import,
            attribution: Default::default(),
            lifecycle: Lifecycle::Customer,
            classification: None,
            consents: Default::default(),
            processing_restricted: false,
            marketing_objected: false,
            holdings: vec![HoldingSummary {
                id: format!("H{i}"),
                product: "hoa-don-dien-tu".into(),
                status: "active".into(),
                expires_on: NaiveDate::from_ymd_opt(2027, 1, 1 + (i % 28) as u32),
                usage_status: Some(if i % 3 == 0 {
                    UsageStatus::NotYetUsing
                } else {
                    UsageStatus::Using
                }),
                usage_reason: None,
                remaining_invoice_ratio: Some((i % 100) as f64 / 100.0),
            }],
            submissions: 0,
            created_at: created,
            updated_at: created,
            first_interaction_at: None,
            last_activity_at: None,
            erased_at: None,
            advertising_agreement: None,
            version: 1,
        };
        ids.push(id);
        batch.push(WriteOp::Put {
            item: customer.to_item()?,
            condition: Condition::Always,
        });
        if batch.len() == 100 {
            deps.store.transact(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        deps.store.transact(batch).await?;
    }
    let loaded = loading.elapsed();
    // The customers the 360 is timed on: a holding item and 20 timeline entries each.
    let step = (customers / samples).max(1);
    let sampled: Vec<CustomerId> = ids.iter().step_by(step).take(samples).copied().collect();
    let lan_principal = lan.principal();
    let mut body = serde_json::Map::new();
    body.insert("product".into(), "hoa-don-dien-tu".into());
    body.insert("status".into(), "active".into());
    nhip_crm::holdings::catalogue::new_product(
        &deps,
        &serde_json::from_value(serde_json::json!({
            "code": "hoa-don-dien-tu", "name": "Hoá đơn điện tử", "kind": "software_subscription"
        }))?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for id in &sampled {
        nhip_crm::holdings::changes::add(&deps, &lan_principal, &id.to_string(), &body)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for n in 0..20 {
            let note = nhip_crm::customers::interactions::NewInteraction {
                kind: nhip_crm::customers::interactions::Kind::Note,
                at: None,
                direction: None,
                duration_seconds: None,
                outcome: None,
                notes: Some(format!("Ghi chú {n}")),
                feedback: None,
                classification: None,
                ticket_id: None,
            };
            nhip_crm::customers::interactions::log(&deps, &lan_principal, &id.to_string(), &note)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        }
    }
    println!(
        "console renders with {customers} customers in one consultant's scope (embedded SQLite store, one core)\n  loaded in {:.1} s; {} customers with 20 timeline entries and a holding item",
        loaded.as_secs_f64(),
        sampled.len()
    );

    let router = nhip_console::router(deps.clone());
    let get = |path: String| {
        Request::get(path)
            .header(header::COOKIE, cookie.clone())
            .body(Body::empty())
            .expect("a request")
    };
    async fn render(
        router: &axum::Router,
        request: Request<Body>,
        store: &common::Counting,
    ) -> anyhow::Result<(f64, u64, String)> {
        store.reset();
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(status.is_success(), "answered {status}");
        Ok((elapsed, store.requests(), String::from_utf8(body.to_vec())?))
    }

    let mut first = Timing {
        name: "care list, first page (50 rows)",
        millis: vec![],
        requests: vec![],
    };
    for _ in 0..samples {
        let (ms, requests, html) = render(&router, get("/app/care".into()), &store).await?;
        anyhow::ensure!(
            html.matches("data-menu=").count() == 50,
            "a full first page"
        );
        first.millis.push(ms);
        first.requests.push(requests);
    }
    first.report();

    // Page 50: follow the "next" links (the 2,451st to 2,500th customers).
    let mut deep = Timing {
        name: "care list, page 50 (following \"next\")",
        millis: vec![],
        requests: vec![],
    };
    let mut next = "/app/care".to_owned();
    for page in 1..=50 {
        let (ms, requests, html) = render(&router, get(next.clone()), &store).await?;
        if page >= 40 {
            deep.millis.push(ms);
            deep.requests.push(requests);
        }
        anyhow::ensure!(
            html.contains("id=\"next-page\""),
            "no next page at page {page}"
        );
        next = html
            .split("id=\"next-page\"")
            .next()
            .and_then(|before| before.rsplit("href=\"").next())
            .map(|href| {
                href.split('"')
                    .next()
                    .unwrap_or_default()
                    .replace("&amp;", "&")
            })
            .ok_or_else(|| anyhow::anyhow!("no next page at page {page}"))?;
    }
    deep.report();

    let mut filtered = Timing {
        name: "care list, a name 1 customer in 10,000 has",
        millis: vec![],
        requests: vec![],
    };
    for _ in 0..samples.min(50) {
        let (ms, requests, _) =
            render(&router, get("/app/care?name=phan+thi+thao".into()), &store).await?;
        filtered.millis.push(ms);
        filtered.requests.push(requests);
    }
    filtered.report();

    let mut card = Timing {
        name: "customer 360 (20 timeline entries, 1 holding)",
        millis: vec![],
        requests: vec![],
    };
    for id in &sampled {
        let (ms, requests, html) =
            render(&router, get(format!("/app/customers/{id}")), &store).await?;
        anyhow::ensure!(html.contains("Ghi chú 19"), "the timeline is shown");
        card.millis.push(ms);
        card.requests.push(requests);
    }
    card.report();
    Ok(())
}
