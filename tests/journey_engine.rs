//! The seed journeys end to end, in simulated time, on the embedded adapters: events in through
//! `POST /v1/events`, the events consumer, the journey worker and the message sender consuming
//! their queues as Lambda would, the scheduler ticking every simulated hour, the outbox as the
//! channel. Each scenario asserts the exact messages (local send time, channel, template) and
//! tickets, and runs again with every queue message delivered one to three times in shuffled
//! order: the outcome must not change.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use nhip_core::auth::Role;
use nhip_messaging::pipeline;
use nhip_messaging::tracking::{self, Signal};
use nhip_ports::ReceivedMessage;
use serde_json::{Value, json};

use crate::support::{Api, test_epoch, wraps_api};

/// How queue messages are delivered.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// Once each, in order.
    Once,
    /// One to three times each, shuffled, from this seed.
    Shuffled(u64),
}

/// Where the simulation's store and queues live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// SQLite and the local queues, as the runner.
    Embedded,
    /// DynamoDB and SQS through the AWS adapters, on the emulator the test command starts.
    Aws,
}

/// `deps` with the store on a fresh DynamoDB table and the five queues on fresh SQS queues
/// (each with its dead-letter queue after 5 receives), as the functions run in AWS; the
/// clock, channels (the outbox) and settings stay.
async fn on_aws(deps: &nhip_core::Deps) -> nhip_core::Deps {
    let config = crate::support::aws_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut queues = Vec::new();
    for name in ["events", "sends", "steps", "tickets", "imports"] {
        let (url, _) = nhip_aws::sqs::create_queue_with_dlq(
            &sqs,
            &crate::support::unique_name(&format!("nhip-{name}")),
            5,
        )
        .await
        .expect("creating a queue on the emulator");
        let queue: Arc<dyn nhip_ports::Queue> =
            Arc::new(nhip_aws::sqs::SqsQueue::new(sqs.clone(), name, url));
        queues.push(queue);
    }
    let mut deps = deps.clone();
    deps.store = Arc::new(crate::support::dynamo_store("nhip-journeys").await);
    deps.queues = nhip_core::Queues {
        events: queues[0].clone(),
        sends: queues[1].clone(),
        steps: queues[2].clone(),
        tickets: queues[3].clone(),
        imports: queues[4].clone(),
    };
    // DynamoDB has no commit groups.
    deps.groups = None;
    deps
}

/// The API harness as a simulation: queue messages delivered as `delivery` says, and the
/// journey scenarios' own steps.
struct Sim {
    api: Api,
    rng: u64,
    delivery: Delivery,
}

wraps_api!(Sim);

impl Sim {
    async fn new(delivery: Delivery) -> Self {
        Self::with_seeds(delivery, &["tra-gop-moi", "the-moi-kich-hoat"]).await
    }

    async fn with_seeds(delivery: Delivery, seeds: &[&str]) -> Self {
        Self::with_seeds_on(delivery, seeds, Backend::Embedded).await
    }

    async fn with_seeds_on(delivery: Delivery, seeds: &[&str], backend: Backend) -> Self {
        let mut settings = nhip_core::Settings::default();
        settings.messaging.link_secret = Some(b"journey-tests-link-secret-of-32-bytes".to_vec());
        settings.messaging.public_url = "https://nhip.example".into();
        let mut api = Api::with_settings(settings);
        if backend == Backend::Aws {
            api.deps = Arc::new(on_aws(&api.deps).await);
        }
        let sim = Sim {
            api,
            rng: match delivery {
                Delivery::Once => 1,
                Delivery::Shuffled(seed) => seed.max(1),
            },
            delivery,
        };
        for seed in seeds {
            let (status, body) = sim
                .admin_call("POST", &format!("/v1/journeys/seeds/{seed}/install"), None)
                .await;
            assert!(status == 200 || status == 201, "{status} {body}");
        }
        sim
    }

    /// A customer reachable on every channel, with every marketing consent.
    async fn customer(&self, phone: &str, email: &str) -> String {
        self.create_id(json!({
            "full_name": "Trần Thị Mai",
            "given_name": "Mai",
            "gender": "female",
            "phones": [phone],
            "emails": [email],
            "source": "assigned",
            "owner": "rm.lan",
            "attributes": {"push_endpoint": format!("arn:aws:sns:ap-southeast-1:123456789012:endpoint/GCM/nhip/{phone}")},
            "consents": ["email:marketing", "sms:marketing", "zns:marketing", "push:marketing"],
        }))
        .await
    }

    /// A lead still being consulted, owned by consultant `tv.hoa`, with e-mail marketing
    /// consent.
    async fn lead(&self, name: &str, phone: &str, email: &str) -> String {
        self.create_id(json!({
            "full_name": name,
            "phones": [phone],
            "emails": [email],
            "source": "assigned",
            "lifecycle": "consulting",
            "owner": "tv.hoa",
            "consents": ["email:marketing"],
        }))
        .await
    }

    /// Posts one event from the core system, as it happens now, and lets it play out.
    async fn event(&mut self, kind: &str, customer: &str, data: Value) {
        let id = format!("{kind}-{customer}-{}", self.now().timestamp());
        let (status, body) = self
            .admin_call(
                "POST",
                "/v1/events",
                Some(json!({
                    "source": "core-banking",
                    "events": [{"id": id, "type": kind, "customer": {"id": customer}, "data": data}],
                })),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        self.settle().await;
    }

    /// A POST of `body` as `content_type` (a journey in YAML, a CSV of customers) as the admin.
    async fn post_as_admin(&self, path: &str, body: &str, content_type: &str) -> (u16, Value) {
        self.post_as(path, Some(&self.admin()), content_type, body.to_owned())
            .await
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: enough to shuffle deliveries reproducibly.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Runs every consumer until its queue is empty, delivering as `self.delivery` says.
    async fn settle(&mut self) {
        self.settle_only(&["events", "sends", "steps", "tickets"])
            .await;
    }

    /// Runs the consumers of these queues until they are empty.
    async fn settle_only(&mut self, names: &[&str]) {
        let consumers = nhip_local_runner::consumers::all(&self.deps);
        let queues: Vec<_> = self
            .deps
            .queues
            .all()
            .into_iter()
            .filter(|(name, _)| names.contains(name))
            .collect();
        for _round in 0..10_000 {
            let mut pool: Vec<(usize, ReceivedMessage)> = Vec::new();
            for (name, queue) in &queues {
                let consumer = consumers
                    .iter()
                    .position(|c| c.queue_name() == *name)
                    .expect("a consumer for every queue");
                let received = queue
                    .receive(10, StdDuration::from_secs(30), StdDuration::ZERO)
                    .await
                    .unwrap();
                pool.extend(received.into_iter().map(|m| (consumer, m)));
            }
            self.fold_feed().await;
            if pool.is_empty() {
                return;
            }
            match self.delivery {
                Delivery::Once => {
                    for (consumer, message) in pool {
                        consumers[consumer].deliver(vec![message]).await;
                    }
                }
                Delivery::Shuffled(_) => {
                    let mut copies = Vec::new();
                    for (consumer, message) in pool {
                        let times = 1 + self.next_random() % 3;
                        for _ in 0..times {
                            copies.push((consumer, message.clone()));
                        }
                    }
                    for i in (1..copies.len()).rev() {
                        let j = (self.next_random() % (i as u64 + 1)) as usize;
                        copies.swap(i, j);
                    }
                    for (consumer, message) in copies {
                        consumers[consumer].deliver(vec![message]).await;
                    }
                }
            }
        }
        panic!("queues never settled");
    }

    /// Folds the change feed into the journey counters, as the `journey-stats` function does.
    /// Shuffled deliveries hand each batch over one to three times, some of them as two
    /// overlapping halves first (Lambda bisecting a failed batch), before acknowledging it.
    async fn fold_feed(&mut self) {
        let feed = self.deps.feed.clone().expect("the local change feed");
        loop {
            let records = feed.read(1000).await.unwrap();
            if records.is_empty() {
                return;
            }
            if let Delivery::Shuffled(_) = self.delivery {
                for _ in 0..self.next_random() % 3 {
                    let half = records.len().div_ceil(2);
                    nhip_journeys::stats::fold(&self.deps, &records[..half])
                        .await
                        .unwrap();
                    nhip_journeys::stats::fold(&self.deps, &records[half / 2..])
                        .await
                        .unwrap();
                }
            }
            nhip_journeys::stats::fold(&self.deps, &records)
                .await
                .unwrap();
            feed.acknowledge(&records).await.unwrap();
        }
    }

    /// Moves the clock to `to`, an hour at a time, ticking the scheduler and settling the queues
    /// at every hour, as the minute schedule would.
    async fn advance_to(&mut self, to: DateTime<Utc>) {
        self.settle().await;
        while self.now() < to {
            let next = (self.now() + Duration::hours(1)).min(to);
            self.clock().advance_to(next);
            nhip_api::tick::tick(&self.deps).await.unwrap();
            self.settle().await;
        }
    }

    async fn advance(&mut self, by: Duration) {
        let to = self.now() + by;
        self.advance_to(to).await;
    }

    /// What the outbox holds for the customer, in send order: `"dd/mm HH:MM channel template"`
    /// in Viet Nam time.
    async fn sent(&self, customer: &str) -> Vec<String> {
        let mut entries = self.outbox().list(1000, None).await.unwrap();
        entries.reverse();
        let mut lines = Vec::new();
        for entry in entries {
            let message = pipeline::load(&self.deps, &entry.envelope.message_id)
                .await
                .unwrap()
                .expect("the message of an outbox entry");
            if message.customer_id != customer {
                continue;
            }
            lines.push((
                entry.sent_at,
                format!(
                    "{} {} {}",
                    nhip_domain::time::to_vn(entry.sent_at).format("%d/%m %H:%M"),
                    message.channel.unwrap().as_str(),
                    message.template.unwrap_or_default(),
                ),
            ));
        }
        // Messages of the same instant (one run's steps, sent side by side) by channel.
        lines.sort();
        lines.into_iter().map(|(_, line)| line).collect()
    }

    /// The customer's message ids by template.
    async fn message_of(&self, customer: &str, template: &str) -> nhip_messaging::model::Message {
        let entries = self.outbox().list(1000, None).await.unwrap();
        for entry in entries.into_iter().rev() {
            let message = pipeline::load(&self.deps, &entry.envelope.message_id)
                .await
                .unwrap()
                .unwrap();
            if message.customer_id == customer && message.template.as_deref() == Some(template) {
                return message;
            }
        }
        panic!("no {template} message for {customer}");
    }

    /// The customer opens (or clicks in) a message now.
    async fn engage(&mut self, customer: &str, template: &str, signal: Signal) {
        let message = self.message_of(customer, template).await;
        tracking::record(
            &self.deps,
            message,
            signal,
            self.now(),
            &format!("test-{}", self.now().timestamp()),
            json!({}),
        )
        .await
        .unwrap();
        self.settle().await;
    }

    /// `"queue title"` of every ticket for the customer.
    async fn tickets(&self, customer: &str) -> Vec<String> {
        let mut found = Vec::new();
        for queue in ["telesales", "rm", "cskh"] {
            let (status, body) = self
                .admin_call("GET", &format!("/v1/tickets?queue={queue}"), None)
                .await;
            assert_eq!(status, 200, "{body}");
            for ticket in body["items"].as_array().unwrap() {
                if ticket["customer_id"] == customer {
                    found.push(format!(
                        "{} {} {} {}",
                        nhip_domain::time::to_vn(
                            DateTime::parse_from_rfc3339(ticket["created_at"].as_str().unwrap())
                                .unwrap()
                                .with_timezone(&Utc)
                        )
                        .format("%d/%m %H:%M"),
                        queue,
                        ticket["priority"].as_str().unwrap(),
                        ticket["title"].as_str().unwrap()
                    ));
                }
            }
        }
        found
    }

    /// The customer's enrollment in `journey`: `"status outcome step"`.
    async fn enrollment(&self, customer: &str, journey: &str) -> String {
        let (status, body) = self
            .admin_call("GET", &format!("/v1/customers/{customer}/journeys"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let found: Vec<&Value> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["journey"] == journey)
            .collect();
        assert_eq!(found.len(), 1, "{body}");
        format!(
            "{} {} {}",
            found[0]["status"].as_str().unwrap(),
            found[0]["outcome"].as_str().unwrap_or("-"),
            found[0]["step"].as_str().unwrap()
        )
    }
}

/// Runs a scenario once in order and under three shuffled, duplicated deliveries, and checks
/// that every run saw the same thing.
macro_rules! every_delivery {
    ($scenario:ident) => {{
        let expected = $scenario(Delivery::Once).await;
        for seed in [7, 1_234, 99_991] {
            let seen = $scenario(Delivery::Shuffled(seed)).await;
            assert_eq!(seen, expected, "delivery seed {seed}");
        }
    }};
}

// ---- Seed 001: new-card onboarding -------------------------------------------------------

async fn card_activated_on_day_two_first_spend_on_day_ten(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::new(delivery).await;
    let mai = sim.customer("0912000001", "mai1@example.com").await;
    sim.event("card.issued", &mai, json!({"card": "VISA-PLAT-0001"}))
        .await;
    sim.advance(Duration::hours(54)).await; // 25/11 15:00
    sim.event("card.activated", &mai, json!({})).await;
    sim.advance_to(test_epoch() + Duration::days(10)).await;
    sim.event("card.first_spend", &mai, json!({"amount": 1_250_000}))
        .await;
    sim.advance(Duration::days(40)).await;
    let sent = sim.sent(&mai).await;
    assert_eq!(
        sent,
        [
            "23/11 09:00 email the-moi-chao-mung-email",
            "25/11 15:00 email the-moi-uu-dai-email",
            "25/11 15:00 zns the-moi-cai-app-zns",
        ]
    );
    assert_eq!(
        sim.enrollment(&mai, "the-moi-kich-hoat").await,
        "converted converted cho-giao-dich"
    );
    assert!(sim.tickets(&mai).await.is_empty());
    sent
}

#[tokio::test]
async fn card_onboarding_activated_early_then_first_spend_converts() {
    every_delivery!(card_activated_on_day_two_first_spend_on_day_ten);
}

async fn card_never_activated(delivery: Delivery) -> Vec<String> {
    card_never_activated_in(Sim::new(delivery).await).await
}

async fn card_never_activated_in(mut sim: Sim) -> Vec<String> {
    let mai = sim.customer("0912000002", "mai2@example.com").await;
    sim.event("card.issued", &mai, json!({})).await;
    sim.advance(Duration::days(20)).await;
    let mut seen = sim.sent(&mai).await;
    assert_eq!(
        seen,
        [
            "23/11 09:00 email the-moi-chao-mung-email",
            "26/11 09:00 email the-moi-nhac-kich-hoat-email",
            "29/11 09:00 zns the-moi-nhac-kich-hoat-zns",
            "02/12 09:00 push the-moi-nhac-kich-hoat-push",
        ]
    );
    let tickets = sim.tickets(&mai).await;
    assert_eq!(
        tickets,
        [
            "05/12 09:00 cskh normal Thẻ tín dụng mới chưa kích hoạt sau 3 lần nhắc, cần gọi hỗ trợ kích hoạt"
        ]
    );
    assert_eq!(
        sim.enrollment(&mai, "the-moi-kich-hoat").await,
        "exited chua-kich-hoat ket-thuc-chua-kich-hoat"
    );
    let (_, customer) = sim
        .admin_call("GET", &format!("/v1/customers/{mai}"), None)
        .await;
    assert!(
        customer["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("the-chua-kich-hoat")),
        "{customer}"
    );
    seen.extend(tickets);
    seen
}

#[tokio::test]
async fn card_onboarding_never_activated_reminds_three_times_then_tickets_customer_service() {
    every_delivery!(card_never_activated);
}

/// The same seed scenario end to end on the AWS adapters: the store on DynamoDB, the events,
/// steps, sends and tickets queues on SQS (the emulator), with the same messages, ticket and
/// ending as on the embedded adapters. (Twenty simulated days ticked hour by hour on the
/// emulator take about four minutes, so it runs with one delivery order; the shuffled
/// redeliveries are the embedded scenario's.)
#[tokio::test]
async fn card_onboarding_never_activated_plays_out_the_same_on_dynamodb_and_sqs() {
    crate::support::needs_emulator!();
    let seeds = ["tra-gop-moi", "the-moi-kich-hoat"];
    let embedded = card_never_activated(Delivery::Once).await;
    let sim = Sim::with_seeds_on(Delivery::Once, &seeds, Backend::Aws).await;
    assert_eq!(card_never_activated_in(sim).await, embedded);
}

async fn card_activated_on_day_three_no_spend(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::new(delivery).await;
    let mai = sim.customer("0912000003", "mai3@example.com").await;
    sim.event("card.issued", &mai, json!({})).await;
    sim.advance(Duration::days(3) + Duration::hours(5)).await; // 26/11 14:00
    sim.event("card.activated", &mai, json!({})).await;
    sim.advance(Duration::days(70)).await;
    let sent = sim.sent(&mai).await;
    assert_eq!(
        sent,
        [
            "23/11 09:00 email the-moi-chao-mung-email",
            "26/11 09:00 email the-moi-nhac-kich-hoat-email",
            "26/11 14:00 email the-moi-uu-dai-email",
            "26/11 14:00 zns the-moi-cai-app-zns",
            "26/12 14:00 push the-moi-goi-y-chi-tieu-push",
            "29/12 14:00 email the-moi-uu-dai-chi-tieu-email",
            "29/12 14:00 push the-moi-uu-dai-chi-tieu-push",
            "29/12 14:00 zns the-moi-uu-dai-chi-tieu-zns",
        ]
    );
    assert_eq!(
        sim.enrollment(&mai, "the-moi-kich-hoat").await,
        "exited chua-chi-tieu ket-thuc-chua-chi-tieu"
    );
    sent
}

#[tokio::test]
async fn card_onboarding_no_spend_in_thirty_days_gets_the_nudge_and_the_offer() {
    every_delivery!(card_activated_on_day_three_no_spend);
}

async fn card_activated_with_its_issue(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::new(delivery).await;
    let mai = sim.customer("0912000008", "mai8@example.com").await;
    // Issued, then activated 30 seconds later while the enrollment's first steps are still on
    // the queue (the journey worker runs them a minute after the issue).
    let post = |kind: &str| {
        json!({"source": "core-banking", "events": [{"id": format!("{kind}-8"), "type": kind,
               "customer": {"id": mai.clone()}, "data": {}}]})
    };
    let (status, _) = sim
        .admin_call("POST", "/v1/events", Some(post("card.issued")))
        .await;
    assert_eq!(status, 202);
    sim.settle_only(&["events"]).await;
    sim.clock().advance(Duration::seconds(30));
    let (status, _) = sim
        .admin_call("POST", "/v1/events", Some(post("card.activated")))
        .await;
    assert_eq!(status, 202);
    sim.settle_only(&["events"]).await;
    sim.clock().advance(Duration::seconds(30));
    sim.settle().await;
    sim.advance(Duration::days(5)).await;
    let sent = sim.sent(&mai).await;
    assert_eq!(
        sent,
        [
            "23/11 09:01 email the-moi-chao-mung-email",
            "23/11 09:01 email the-moi-uu-dai-email",
            "23/11 09:01 zns the-moi-cai-app-zns",
        ]
    );
    assert_eq!(
        sim.enrollment(&mai, "the-moi-kich-hoat").await,
        "active - cho-giao-dich"
    );
    sent
}

#[tokio::test]
async fn card_onboarding_activation_before_the_first_wait_is_not_missed() {
    every_delivery!(card_activated_with_its_issue);
}

// ---- Seed 000: installment-program invitation --------------------------------------------

async fn installment_opened_then_ticket_then_registered(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::new(delivery).await;
    let lan = sim.customer("0912000004", "lan4@example.com").await;
    sim.event("installment.invited", &lan, json!({"program": "TG-0%"}))
        .await;
    sim.advance(Duration::hours(25)).await; // 24/11 10:00
    sim.engage(&lan, "tra-gop-moi-email", Signal::Opened).await;
    sim.advance(Duration::days(12)).await;
    // Registered after the ticket: the enrollment has ended; nothing more is sent.
    sim.event("installment.registered", &lan, json!({})).await;
    sim.advance(Duration::days(5)).await;
    let mut seen = sim.sent(&lan).await;
    assert_eq!(
        seen,
        [
            "23/11 09:00 email tra-gop-moi-email",
            "23/11 09:00 push tra-gop-moi-push",
            "23/11 09:00 zns tra-gop-moi-zns",
            "27/11 10:00 email tra-gop-bam-duoi-email",
            "30/11 10:00 email tra-gop-bam-duoi-email",
        ]
    );
    let tickets = sim.tickets(&lan).await;
    assert_eq!(
        tickets,
        [
            "03/12 10:00 telesales high Khách quan tâm chương trình trả góp nhưng chưa đăng ký, cần gọi tư vấn"
        ]
    );
    assert_eq!(
        sim.enrollment(&lan, "tra-gop-moi").await,
        "exited chuyen-telesales ket-thuc-chuyen-telesales"
    );
    seen.extend(tickets);
    seen
}

#[tokio::test]
async fn installment_opened_is_followed_up_twice_then_handed_to_telesales() {
    every_delivery!(installment_opened_then_ticket_then_registered);
}

async fn installment_clicked_then_registered_before_the_ticket(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::new(delivery).await;
    let lan = sim.customer("0912000005", "lan5@example.com").await;
    sim.event("installment.invited", &lan, json!({})).await;
    sim.advance(Duration::hours(3)).await; // 23/11 12:00
    sim.engage(&lan, "tra-gop-moi-email", Signal::Clicked).await;
    sim.advance(Duration::days(4)).await; // the first follow-up went on 26/11 12:00
    sim.event("installment.registered", &lan, json!({})).await;
    sim.advance(Duration::days(10)).await;
    let mut seen = sim.sent(&lan).await;
    assert_eq!(
        seen,
        [
            "23/11 09:00 email tra-gop-moi-email",
            "23/11 09:00 push tra-gop-moi-push",
            "23/11 09:00 zns tra-gop-moi-zns",
            "26/11 12:00 email tra-gop-bam-duoi-email",
        ]
    );
    assert!(sim.tickets(&lan).await.is_empty());
    assert_eq!(
        sim.enrollment(&lan, "tra-gop-moi").await,
        "converted converted cho-dang-ky"
    );
    let (status, stats) = sim
        .admin_call("GET", "/v1/journeys/tra-gop-moi/stats", None)
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["totals"]["counts"]["entered"], 1, "{stats}");
    assert_eq!(stats["totals"]["counts"]["converted"], 1, "{stats}");
    assert_eq!(stats["totals"]["counts"]["waiting"], 0, "{stats}");
    assert_eq!(stats["totals"]["counts"]["sent"], 4, "{stats}");
    assert_eq!(stats["totals"]["counts"]["clicked"], 1, "{stats}");
    seen.push(format!("stats {}", stats["totals"]["counts"]));
    seen
}

#[tokio::test]
async fn installment_clicked_and_registered_converts_before_any_ticket() {
    every_delivery!(installment_clicked_then_registered_before_the_ticket);
}

async fn installment_not_opened(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::new(delivery).await;
    let lan = sim.customer("0912000006", "lan6@example.com").await;
    sim.event("installment.invited", &lan, json!({})).await;
    sim.advance(Duration::days(10)).await;
    let sent = sim.sent(&lan).await;
    assert_eq!(
        sent,
        [
            "23/11 09:00 email tra-gop-moi-email",
            "23/11 09:00 push tra-gop-moi-push",
            "23/11 09:00 zns tra-gop-moi-zns",
            "26/11 09:00 push tra-gop-nhac-lai-push",
        ]
    );
    assert!(sim.tickets(&lan).await.is_empty());
    assert_eq!(
        sim.enrollment(&lan, "tra-gop-moi").await,
        "exited khong-quan-tam ket-thuc-khong-quan-tam"
    );
    sent
}

#[tokio::test]
async fn installment_not_opened_gets_one_reminder_and_ends() {
    every_delivery!(installment_not_opened);
}

// ---- Seed 002: lead nurture on a segment ---------------------------------------------------

async fn lead_nurtured_until_it_becomes_a_customer(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::with_seeds(delivery, &["nuoi-duong-lead"]).await;
    let (status, body) = sim
        .admin_call(
            "POST",
            "/v1/customers",
            Some(json!({
                "full_name": "Phạm Văn An",
                "gender": "male",
                "phones": ["0912000007"],
                "emails": ["an7@example.com"],
                "source": "assigned",
                "lifecycle": "consulting",
                "owner": "tv.hoa",
                "consents": ["email:marketing"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let an = body["id"].as_str().unwrap().to_owned();
    // The daily evaluation finds the lead 14 days after creation (Monday 07/12); the series
    // goes on Tuesdays at 09:00.
    sim.advance_to(test_epoch() + Duration::days(15) + Duration::hours(2))
        .await; // 08/12 11:00
    sim.engage(&an, "nuoi-duong-hieu-qua-dau-tu-email", Signal::Clicked)
        .await;
    sim.advance_to(test_epoch() + Duration::days(30) + Duration::hours(1))
        .await; // 23/12 10:00
    let (_, customer) = sim
        .admin_call("GET", &format!("/v1/customers/{an}"), None)
        .await;
    assert!(
        customer["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("quan-tam-email-hieu-qua")),
        "{customer}"
    );
    let (status, updated) = sim
        .admin_call(
            "PATCH",
            &format!("/v1/customers/{an}"),
            Some(json!({"version": customer["version"], "lifecycle": "customer"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    sim.settle().await;
    sim.advance(Duration::days(20)).await;
    let mut seen = sim.sent(&an).await;
    assert_eq!(
        seen,
        [
            "08/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email",
            "15/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email",
            "22/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email",
        ]
    );
    assert_eq!(
        sim.enrollment(&an, "nuoi-duong-lead").await,
        "converted converted theo-doi-click"
    );
    let owner = sim.token("tv.hoa", Role::Consultant, None);
    let (status, bell) = sim
        .call("GET", "/v1/me/notifications", Some(&owner), None)
        .await;
    assert_eq!(status, 200, "{bell}");
    let titles: Vec<&str> = bell["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Khách hàng tiềm năng vừa bấm vào email hiệu quả đầu tư, nên gọi tư vấn: Phạm Văn An"],
        "{bell}"
    );
    seen.extend(titles.iter().map(|t| t.to_string()));
    seen
}

#[tokio::test]
async fn lead_nurture_segment_enrolls_after_fourteen_days_and_stops_when_the_lead_converts() {
    every_delivery!(lead_nurtured_until_it_becomes_a_customer);
}

// ---- A journey written by a marketer: split with a holdout, update, office-hours wait, RM
// ticket, queue notification; entry by API and CSV; re-entry ------------------------------

const WELCOME_APP: &str = r#"
key: chao-mung-ung-dung
name: Chào mừng khách cài ứng dụng
trigger: { type: event, event: app.installed }
start: chia-nhom
steps:
  chia-nhom:
    type: split
    branches:
      - { percent: 50, next: gan-nhan, label: Nhóm nhận chăm sóc }
      - { percent: 50, next: doi-chung, label: Nhóm đối chứng }
  gan-nhan:
    type: update
    add_tags: [chao-mung-app]
    attributes: { diem_chao_mung: 10 }
    next: cho-gio-hanh-chinh
  cho-gio-hanh-chinh:
    type: wait
    wait: { kind: until_local_time, time: "09:00", weekdays: [mon, tue, wed, thu, fri] }
    next: bao-rm
  bao-rm:
    type: ticket
    queue: rm
    priority: urgent
    sla: 4h
    title: Gọi chào mừng khách vừa cài ứng dụng
    next: bao-telesales
  bao-telesales:
    type: notify
    to: { queue: telesales }
    title: Khách vừa cài ứng dụng ngân hàng số
    next: ket-thuc
  ket-thuc: { type: exit, outcome: da-cham-soc }
  doi-chung: { type: exit, outcome: holdout }
"#;

async fn split_holdout_and_office_hours(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::with_seeds(delivery, &[]).await;
    let (status, body) = sim
        .post_as_admin("/v1/journeys?publish=true", WELCOME_APP, "application/yaml")
        .await;
    assert_eq!(status, 201, "{body}");
    let split = {
        let version = nhip_journeys::definitions::version(&sim.deps, "chao-mung-ung-dung", 1)
            .await
            .unwrap()
            .unwrap();
        let Some(nhip_domain::journey::Step::Split { branches }) =
            version.definition.step("chia-nhom")
        else {
            panic!("the split step");
        };
        branches.clone()
    };
    // The arm a customer's installation will take is known before it happens: the enrollment
    // id comes from the journey, the customer and the event. Customers are added (8 at least)
    // until both arms have some, so the test never depends on luck.
    let event_id = |customer: &str| format!("app-installed-{customer}");
    let predicted = |customer: &str| {
        let enrollment = nhip_journeys::engine::enrollment_id(
            "chao-mung-ung-dung",
            1,
            customer.parse().unwrap(),
            &format!("event:core-banking#{}", event_id(customer)),
        );
        nhip_domain::journey::split_branch(&enrollment, "chia-nhom", &split)
    };
    let mut customers = Vec::new();
    let mut predicted_arms = [0, 0];
    for i in 0..40 {
        if i >= 8 && predicted_arms.iter().all(|n| *n > 0) {
            break;
        }
        let customer = sim
            .customer(&format!("09130000{i:02}"), &format!("app{i}@example.com"))
            .await;
        predicted_arms[predicted(&customer)] += 1;
        customers.push(customer);
    }
    assert!(predicted_arms.iter().all(|n| *n > 0), "{predicted_arms:?}");
    // Friday 27/11 18:00: installed after office hours, before a weekend.
    sim.advance_to(test_epoch() + Duration::days(4) + Duration::hours(9))
        .await;
    for customer in &customers {
        let (status, body) = sim
            .admin_call(
                "POST",
                "/v1/events",
                Some(
                    json!({"source": "core-banking", "events": [{"id": event_id(customer),
                    "type": "app.installed", "customer": {"id": customer},
                    "data": {"platform": "android"}}]}),
                ),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        sim.settle().await;
    }
    sim.advance(Duration::days(4)).await;
    let mut seen = Vec::new();
    let mut arms = (0, 0);
    for customer in &customers {
        let (_, body) = sim
            .admin_call("GET", &format!("/v1/customers/{customer}/journeys"), None)
            .await;
        let enrollment = &body["items"][0];
        let id = enrollment["id"].as_str().unwrap();
        // The engine took the arm the hash gives, on every delivery: the one predicted.
        let arm = nhip_domain::journey::split_branch(id, "chia-nhom", &split);
        assert_eq!(arm, predicted(customer), "{enrollment}");
        let (_, profile) = sim
            .admin_call("GET", &format!("/v1/customers/{customer}"), None)
            .await;
        let tagged = profile["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("chao-mung-app"));
        if arm == 0 {
            arms.0 += 1;
            assert!(tagged, "{profile}");
            assert_eq!(profile["attributes"]["diem_chao_mung"], 10, "{profile}");
            assert_eq!(enrollment["outcome"], "da-cham-soc", "{enrollment}");
            assert_eq!(
                sim.tickets(customer).await,
                ["30/11 09:00 rm urgent Gọi chào mừng khách vừa cài ứng dụng"]
            );
        } else {
            arms.1 += 1;
            assert!(!tagged, "{profile}");
            assert_eq!(enrollment["outcome"], "holdout", "{enrollment}");
            assert!(sim.tickets(customer).await.is_empty());
        }
        seen.push(format!("{arm} {}", enrollment["outcome"]));
    }
    assert_eq!(
        [arms.0, arms.1],
        predicted_arms,
        "both arms used, as predicted"
    );
    // The RM ticket goes to the customer's owner, due after four working hours (09:00 to
    // 14:00: lunch is not counted); the queue's notice to its shared inbox.
    let (_, rm) = sim.admin_call("GET", "/v1/tickets?queue=rm", None).await;
    assert!(
        rm["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["assignee"] == "rm.lan" && t["due_at"] == "2026-11-30T07:00:00Z"),
        "{rm}"
    );
    let (_, stats) = sim
        .admin_call("GET", "/v1/journeys/chao-mung-ung-dung/stats", None)
        .await;
    let n = customers.len();
    assert_eq!(stats["totals"]["counts"]["entered"], n, "{stats}");
    assert_eq!(stats["totals"]["counts"]["ticketed"], arms.0, "{stats}");
    assert_eq!(stats["totals"]["counts"]["exited"], n, "{stats}");
    assert_eq!(stats["totals"]["counts"]["waiting"], 0, "{stats}");
    seen
}

#[tokio::test]
async fn a_marketers_journey_splits_with_a_holdout_waits_for_office_hours_and_tickets_the_rm() {
    // Customer ids differ from run to run, so the arms do too: each run predicts them from the
    // split's hash and adds customers until both arms are used.
    split_holdout_and_office_hours(Delivery::Once).await;
    split_holdout_and_office_hours(Delivery::Shuffled(42)).await;
}

#[tokio::test]
async fn customers_enter_by_api_or_csv_all_or_nothing_and_re_entry_rules_hold() {
    let mut sim = Sim::new(Delivery::Once).await;
    let lan = sim.customer("0912000009", "lan9@example.com").await;
    let hoa = sim.customer("0912000010", "hoa10@example.com").await;

    // A CSV naming someone unknown enrolls nobody.
    let (status, body) = sim
        .post_as_admin(
            "/v1/journeys/tra-gop-moi/enrollments",
            "phone,ghi_chu\n0912000009,a\n0999999999,b\n",
            "text/csv",
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["fields"]["customers.1"].is_string(), "{body}");
    sim.settle().await;
    assert!(sim.sent(&lan).await.is_empty());

    // By phone in a CSV, and by id in JSON; sending the same request again is harmless.
    let csv = "phone\n0912000009\n";
    let (status, body) = sim
        .post_as_admin("/v1/journeys/tra-gop-moi/enrollments", csv, "text/csv")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"]["enrolled"], 1, "{body}");
    let (status, body) = sim
        .post_as_admin("/v1/journeys/tra-gop-moi/enrollments", csv, "text/csv")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"]["duplicate"], 1, "{body}");
    let (status, body) = sim
        .admin_call(
            "POST",
            "/v1/journeys/tra-gop-moi/enrollments",
            Some(json!({"customers": [{"id": hoa}, {"id": lan}], "request_id": "dot-1"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"]["enrolled"], 1, "{body}");
    assert_eq!(body["counts"]["already_active"], 1, "{body}");
    sim.settle().await;
    assert_eq!(
        sim.sent(&lan).await,
        [
            "23/11 09:00 email tra-gop-moi-email",
            "23/11 09:00 push tra-gop-moi-push",
            "23/11 09:00 zns tra-gop-moi-zns",
        ]
    );

    // Once per 90 days: after the enrollment ends, an invitation 20 days later starts nothing.
    sim.advance(Duration::days(20)).await;
    sim.event("installment.invited", &lan, json!({})).await;
    let (_, journeys) = sim
        .admin_call("GET", &format!("/v1/customers/{lan}/journeys"), None)
        .await;
    assert_eq!(journeys["items"].as_array().unwrap().len(), 1, "{journeys}");
    // 91 days after the first, it does.
    sim.advance_to(test_epoch() + Duration::days(91)).await;
    sim.event("installment.invited", &lan, json!({})).await;
    let (_, journeys) = sim
        .admin_call("GET", &format!("/v1/customers/{lan}/journeys"), None)
        .await;
    assert_eq!(journeys["items"].as_array().unwrap().len(), 2, "{journeys}");
    assert_eq!(journeys["items"][0]["status"], "active", "{journeys}");

    // Unlimited re-entry still never runs two enrollments of one journey at once.
    sim.event("card.issued", &hoa, json!({})).await;
    sim.event("card.issued", &hoa, json!({})).await;
    let (_, journeys) = sim
        .admin_call("GET", &format!("/v1/customers/{hoa}/journeys"), None)
        .await;
    let cards = journeys["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["journey"] == "the-moi-kich-hoat")
        .count();
    assert_eq!(cards, 1, "{journeys}");

    // A journey not published (or unknown) enrolls nobody.
    let (status, _) = sim
        .admin_call(
            "POST",
            "/v1/journeys/khong-co/enrollments",
            Some(json!({"customers": [{"id": hoa}]})),
        )
        .await;
    assert_eq!(status, 404);

    // Nhịp's own events went out on the bus: entries, steps, sends.
    let out: Vec<String> = sim
        .bus()
        .recent(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in ["journey.entered", "journey.exited", "message.sent"] {
        assert!(
            out.iter().any(|k| k == kind),
            "{kind} not on the bus: {out:?}"
        );
    }
    // `journey.step` only when NHIP_JOURNEY_STEP_EVENTS=on.
    assert!(!out.iter().any(|k| k == "journey.step"), "{out:?}");
}

#[tokio::test]
async fn a_scheduler_down_for_hours_catches_up_and_runs_each_wake_up_once() {
    let mut sim = Sim::new(Delivery::Once).await;
    let mai = sim.customer("0912000011", "mai11@example.com").await;
    sim.event("card.issued", &mai, json!({})).await;
    // The first reminder is due 26/11 09:00. The scheduler is down from 08:00 to 11:30.
    sim.advance_to(test_epoch() + Duration::days(3) - Duration::hours(1))
        .await;
    sim.clock()
        .advance_to(test_epoch() + Duration::days(3) + Duration::minutes(150));
    let first = nhip_api::tick::tick(&sim.deps).await.unwrap();
    let again = nhip_api::tick::tick(&sim.deps).await.unwrap();
    sim.settle().await;
    assert_eq!((first.ran, first.failed), (1, 0), "{first:?}");
    assert_eq!(again.ran, 0, "{again:?}");
    assert!(first.hours >= 4, "read every hour missed: {first:?}");
    assert_eq!(
        sim.sent(&mai).await,
        [
            "23/11 09:00 email the-moi-chao-mung-email",
            "26/11 11:30 email the-moi-nhac-kich-hoat-email",
        ]
    );
}

// ---- Many customers at once: a list, a CSV, a segment; several events for one customer;
// staff routes heard as events -----------------------------------------------------------

/// `n` customers reachable on every channel, phones from `09<prefix>0000`.
async fn many_customers(sim: &Sim, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            sim.customer(
                &format!("09{prefix}0000{i:02}"),
                &format!("kh{prefix}{i}@example.com"),
            )
            .await,
        );
    }
    ids
}

/// The enrollment ids of each customer in `journey`.
async fn enrollment_ids(sim: &Sim, customers: &[String], journey: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for customer in customers {
        let (status, body) = sim
            .admin_call("GET", &format!("/v1/customers/{customer}/journeys"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        for item in body["items"].as_array().unwrap() {
            if item["journey"] == journey {
                ids.push(item["id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

async fn a_list_a_csv_and_a_segment(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::with_seeds(delivery, &["tra-gop-moi", "nuoi-duong-lead"]).await;
    // Three by a JSON list, twenty by a CSV file, into the installment invitation.
    let listed = many_customers(&sim, "14", 3).await;
    let refs: Vec<Value> = listed.iter().map(|id| json!({"id": id})).collect();
    let (status, body) = sim
        .admin_call(
            "POST",
            "/v1/journeys/tra-gop-moi/enrollments",
            Some(json!({"customers": refs, "request_id": "danh-sach-1"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"], json!({"enrolled": 3}), "{body}");
    let in_csv = many_customers(&sim, "15", 20).await;
    let mut csv = String::from("phone\n");
    for i in 0..20 {
        csv.push_str(&format!("0915000{i:03}\n"));
    }
    let (status, body) = sim
        .post_as_admin("/v1/journeys/tra-gop-moi/enrollments", &csv, "text/csv")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"], json!({"enrolled": 20}), "{body}");
    // The same file again enrolls nobody twice.
    let (_, again) = sim
        .post_as_admin("/v1/journeys/tra-gop-moi/enrollments", &csv, "text/csv")
        .await;
    assert_eq!(again["counts"], json!({"duplicate": 20}), "{again}");
    sim.settle().await;

    let invited: Vec<String> = listed.iter().chain(&in_csv).cloned().collect();
    let ids = enrollment_ids(&sim, &invited, "tra-gop-moi").await;
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (23, 23), "{ids:?}");
    for customer in &invited {
        assert_eq!(
            sim.sent(customer).await,
            [
                "23/11 09:00 email tra-gop-moi-email",
                "23/11 09:00 push tra-gop-moi-push",
                "23/11 09:00 zns tra-gop-moi-zns",
            ],
            "{customer}"
        );
    }
    let (_, stats) = sim
        .admin_call("GET", "/v1/journeys/tra-gop-moi/stats", None)
        .await;
    assert_eq!(stats["totals"]["counts"]["entered"], 23, "{stats}");
    assert_eq!(stats["totals"]["counts"]["sent"], 69, "{stats}");

    // Twenty leads still consulting: the daily segment evaluation of day 14 finds them all.
    let mut leads = Vec::new();
    for i in 0..20 {
        leads.push(
            sim.lead(
                &format!("Lê Văn Khách {i}"),
                &format!("0916000{i:03}"),
                &format!("lead{i}@example.com"),
            )
            .await,
        );
    }
    sim.advance_to(test_epoch() + Duration::days(15) + Duration::hours(2))
        .await;
    let ids = enrollment_ids(&sim, &leads, "nuoi-duong-lead").await;
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (20, 20), "{ids:?}");
    for lead in &leads {
        assert_eq!(
            sim.sent(lead).await,
            ["08/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email"],
            "{lead}"
        );
    }
    let (_, stats) = sim
        .admin_call("GET", "/v1/journeys/nuoi-duong-lead/stats", None)
        .await;
    assert_eq!(stats["totals"]["counts"]["entered"], 20, "{stats}");
    assert_eq!(stats["totals"]["counts"]["waiting"], 20, "{stats}");
    vec![format!("{} {}", invited.len(), leads.len())]
}

#[tokio::test]
async fn every_customer_of_a_list_a_csv_or_a_segment_gets_an_enrollment_and_messages_of_their_own()
{
    a_list_a_csv_and_a_segment(Delivery::Once).await;
    a_list_a_csv_and_a_segment(Delivery::Shuffled(5)).await;
}

#[tokio::test]
async fn a_split_over_a_csv_of_twenty_four_spreads_the_customers_by_their_own_hash() {
    let mut sim = Sim::with_seeds(Delivery::Once, &[]).await;
    let (status, body) = sim
        .post_as_admin("/v1/journeys?publish=true", WELCOME_APP, "application/yaml")
        .await;
    assert_eq!(status, 201, "{body}");
    let customers = many_customers(&sim, "17", 24).await;
    let mut csv = String::from("id\n");
    for customer in &customers {
        csv.push_str(&format!("{customer}\n"));
    }
    let (status, body) = sim
        .post_as_admin(
            "/v1/journeys/chao-mung-ung-dung/enrollments",
            &csv,
            "text/csv",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["counts"], json!({"enrolled": 24}), "{body}");
    sim.advance(Duration::days(4)).await;
    let version = nhip_journeys::definitions::version(&sim.deps, "chao-mung-ung-dung", 1)
        .await
        .unwrap()
        .unwrap();
    let Some(nhip_domain::journey::Step::Split { branches }) = version.definition.step("chia-nhom")
    else {
        panic!("the split step");
    };
    let mut arms = [0, 0];
    for customer in &customers {
        let (_, body) = sim
            .admin_call("GET", &format!("/v1/customers/{customer}/journeys"), None)
            .await;
        let enrollment = &body["items"][0];
        let arm = nhip_domain::journey::split_branch(
            enrollment["id"].as_str().unwrap(),
            "chia-nhom",
            branches,
        );
        let expected = if arm == 0 { "da-cham-soc" } else { "holdout" };
        assert_eq!(enrollment["outcome"], expected, "{enrollment}");
        arms[arm] += 1;
    }
    // Each customer has an id of their own, so the arms follow 24 hashes, not one: all 24 in
    // one arm has a chance of 2^-23.
    assert!(arms[0] > 0 && arms[1] > 0, "{arms:?}");
    let (_, stats) = sim
        .admin_call("GET", "/v1/journeys/chao-mung-ung-dung/stats", None)
        .await;
    assert_eq!(stats["totals"]["counts"]["entered"], 24, "{stats}");
    assert_eq!(stats["totals"]["counts"]["ticketed"], arms[0], "{stats}");
}

const INSTALLMENT_DUE: &str = r#"
key: nhac-ky-tra-gop
name: Nhắc kỳ trả góp đến hạn
trigger: { type: event, event: installment.due }
reentry: { type: unlimited }
start: nhac
steps:
  nhac:
    type: send
    purpose: care
    targets: [{ channel: email, template: nhac-ky-email }]
    next: cho
  cho: { type: wait, wait: { kind: duration, duration: 1h }, next: xong }
  xong: { type: exit, outcome: da-nhac }
"#;

/// Publishes the e-mail template `nhac-ky-email` and the journey `yaml` that sends it.
async fn publish_reminder_journey(sim: &Sim, yaml: &str) {
    let (status, body) = sim
        .admin_call(
            "POST",
            "/v1/templates",
            Some(json!({
                "code": "nhac-ky-email",
                "name": "Nhắc kỳ trả góp",
                "publish": true,
                "content": {
                    "channel": "email",
                    "subject": "Nhắc kỳ trả góp",
                    "html": "<p>{{ customer.salutation }} ơi, sắp đến kỳ trả góp.</p>",
                    "text": "{{ customer.salutation }} ơi, sắp đến kỳ trả góp.",
                },
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = sim
        .post_as_admin("/v1/journeys?publish=true", yaml, "application/yaml")
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn three_installments_due_at_once(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::with_seeds(delivery, &[]).await;
    publish_reminder_journey(&sim, INSTALLMENT_DUE).await;
    let customers = many_customers(&sim, "18", 20).await;
    // One request, three due installments for each of twenty customers.
    let events: Vec<Value> = customers
        .iter()
        .flat_map(|customer| {
            (1..=3).map(move |ky| {
                json!({"id": format!("due-{customer}-{ky}"), "type": "installment.due",
                       "customer": {"id": customer}, "data": {"ky": ky}})
            })
        })
        .collect();
    let (status, body) = sim
        .admin_call(
            "POST",
            "/v1/events",
            Some(json!({"source": "core-banking", "events": events})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    sim.settle().await;
    sim.advance(Duration::hours(4)).await;
    for customer in &customers {
        // One at a time: each reminder after the previous enrollment ended; none dropped.
        assert_eq!(
            sim.sent(customer).await,
            [
                "23/11 09:00 email nhac-ky-email",
                "23/11 10:00 email nhac-ky-email",
                "23/11 11:00 email nhac-ky-email",
            ],
            "{customer}"
        );
        let (_, journeys) = sim
            .admin_call("GET", &format!("/v1/customers/{customer}/journeys"), None)
            .await;
        let outcomes: Vec<&str> = journeys["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["outcome"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(outcomes, ["da-nhac", "da-nhac", "da-nhac"], "{journeys}");
    }
    let (_, stats) = sim
        .admin_call("GET", "/v1/journeys/nhac-ky-tra-gop/stats", None)
        .await;
    assert_eq!(stats["totals"]["counts"]["entered"], 60, "{stats}");
    assert_eq!(stats["totals"]["counts"]["sent"], 60, "{stats}");
    vec![format!("{}", customers.len())]
}

#[tokio::test]
async fn several_events_for_one_customer_in_one_batch_queue_behind_each_other_and_none_is_dropped()
{
    three_installments_due_at_once(Delivery::Once).await;
    three_installments_due_at_once(Delivery::Shuffled(11)).await;
}

/// The instalment reminder once per plan: each plan of a customer has its enrollment, which
/// waits for that plan's payment and is converted when that plan is paid off.
const INSTALLMENT_DUE_PER_PLAN: &str = r#"
key: nhac-ky-moi-ke-hoach
name: Nhắc kỳ trả góp, mỗi kế hoạch một hành trình
trigger: { type: event, event: installment.due, per: plan_id }
goals:
  - { name: Đã trả hết, event: installment.paid_off }
start: nhac
steps:
  nhac:
    type: send
    purpose: care
    targets: [{ channel: email, template: nhac-ky-email }]
    next: doi-thanh-toan
  doi-thanh-toan:
    type: wait_for_event
    event: installment.payment_received
    timeout: 5d
    on_event: cam-on
    on_timeout: qua-han
  cam-on: { type: exit, outcome: da-thanh-toan }
  qua-han: { type: exit, outcome: chua-thanh-toan }
"#;

impl Sim {
    /// Posts events from the core system (`(id, type, data)`) about `customer` in one request,
    /// and lets them play out.
    async fn events(&mut self, customer: &str, events: &[(&str, &str, Value)]) {
        let events: Vec<Value> = events
            .iter()
            .map(|(id, kind, data)| {
                json!({"id": id, "type": kind, "customer": {"id": customer}, "data": data})
            })
            .collect();
        let (status, body) = self
            .admin_call(
                "POST",
                "/v1/events",
                Some(json!({"source": "core-banking", "events": events})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        self.settle().await;
    }

    /// The customer's enrollments in `journey`, `"subject status outcome step"`, by subject.
    async fn enrollments_by_subject(&self, customer: &str, journey: &str) -> Vec<String> {
        let (status, body) = self
            .admin_call("GET", &format!("/v1/customers/{customer}/journeys"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let mut found: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["journey"] == journey)
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    e["subject"].as_str().unwrap_or("-"),
                    e["status"].as_str().unwrap(),
                    e["outcome"].as_str().unwrap_or("-"),
                    e["step"].as_str().unwrap()
                )
            })
            .collect();
        found.sort();
        found
    }
}

async fn two_plans_of_one_customer(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::with_seeds(delivery, &[]).await;
    publish_reminder_journey(&sim, INSTALLMENT_DUE_PER_PLAN).await;
    let journey = "nhac-ky-moi-ke-hoach";
    let mai = sim.customer("0912000041", "mai41@example.com").await;
    let due = |plan: &str, rung: &str| {
        json!({"plan_id": plan, "installment_no": 3, "due_date": "2026-11-28",
               "amount": 2_500_000, "rung": rung})
    };

    // Two plans due the same day, in one request: an enrollment each, side by side.
    sim.events(
        &mai,
        &[
            ("due-A-3-D-5", "installment.due", due("PLAN-A", "D-5")),
            ("due-B-3-D-5", "installment.due", due("PLAN-B", "D-5")),
        ],
    )
    .await;
    let both_waiting = [
        "PLAN-A active - doi-thanh-toan",
        "PLAN-B active - doi-thanh-toan",
    ];
    assert_eq!(
        sim.enrollments_by_subject(&mai, journey).await,
        both_waiting
    );
    assert_eq!(
        sim.sent(&mai).await,
        [
            "23/11 09:00 email nhac-ky-email",
            "23/11 09:00 email nhac-ky-email"
        ]
    );
    // The active list names each enrollment's plan too.
    let (status, body) = sim
        .admin_call("GET", &format!("/v1/journeys/{journey}/enrollments"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut listed: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["PLAN-A", "PLAN-B"], "{body}");

    // The same event again, the next rung of plan A while its enrollment runs, and a reminder
    // naming no plan make no third enrollment.
    sim.advance(Duration::hours(1)).await;
    sim.events(
        &mai,
        &[
            ("due-A-3-D-5", "installment.due", due("PLAN-A", "D-5")),
            ("due-A-3-D-4", "installment.due", due("PLAN-A", "D-4")),
            ("due-unnamed", "installment.due", json!({"rung": "D-5"})),
        ],
    )
    .await;
    assert_eq!(
        sim.enrollments_by_subject(&mai, journey).await,
        both_waiting
    );

    // Plan A paid off: A's enrollment converts, B's waits on. A payment naming no plan moves
    // neither.
    sim.advance(Duration::hours(1)).await;
    sim.events(
        &mai,
        &[
            (
                "paid-off-A",
                "installment.paid_off",
                json!({"plan_id": "PLAN-A"}),
            ),
            (
                "paid-unnamed",
                "installment.payment_received",
                json!({"amount": 100}),
            ),
        ],
    )
    .await;
    assert_eq!(
        sim.enrollments_by_subject(&mai, journey).await,
        [
            "PLAN-A converted converted doi-thanh-toan",
            "PLAN-B active - doi-thanh-toan",
        ]
    );

    // Plan B's payment ends B's wait.
    sim.advance(Duration::hours(1)).await;
    sim.events(
        &mai,
        &[(
            "paid-B-3",
            "installment.payment_received",
            json!({"plan_id": "PLAN-B", "amount": 2_500_000}),
        )],
    )
    .await;
    let ended = sim.enrollments_by_subject(&mai, journey).await;
    assert_eq!(
        ended,
        [
            "PLAN-A converted converted doi-thanh-toan",
            "PLAN-B exited da-thanh-toan cam-on",
        ]
    );
    let (_, stats) = sim
        .admin_call("GET", &format!("/v1/journeys/{journey}/stats"), None)
        .await;
    assert_eq!(stats["totals"]["counts"]["entered"], 2, "{stats}");
    assert_eq!(sim.sent(&mai).await.len(), 2);
    ended
}

#[tokio::test]
async fn a_journey_run_per_plan_enrolls_each_plan_once_and_only_its_own_events_move_it() {
    every_delivery!(two_plans_of_one_customer);
}

#[tokio::test]
async fn a_lead_made_a_customer_by_a_staff_holding_leaves_the_lead_nurture_series() {
    let mut sim = Sim::with_seeds(Delivery::Once, &["nuoi-duong-lead"]).await;
    let (status, body) = sim
        .admin_call(
            "POST",
            "/v1/catalogue/products",
            Some(json!({"code": "bcc-12-thang", "name": "Hợp đồng BCC 12 tháng", "kind": "investment"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut leads = Vec::new();
    for i in 0..2 {
        leads.push(
            sim.lead(
                &format!("Đỗ Thị Lan {i}"),
                &format!("0919000{i:03}"),
                &format!("lan{i}@example.com"),
            )
            .await,
        );
    }
    sim.advance_to(test_epoch() + Duration::days(15) + Duration::hours(2))
        .await; // 08/12 11:00, after the first e-mail
    // The consultant records the first lead's signed contract as an active holding.
    let (status, body) = sim
        .admin_call(
            "POST",
            &format!("/v1/customers/{}/holdings", leads[0]),
            Some(json!({"product": "bcc-12-thang", "status": "active", "starts_on": "2026-12-08"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["customer"]["lifecycle"], "customer", "{body}");
    sim.settle().await;
    sim.advance(Duration::days(15)).await;
    assert_eq!(
        sim.sent(&leads[0]).await,
        ["08/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email"]
    );
    assert_eq!(
        sim.enrollment(&leads[0], "nuoi-duong-lead").await,
        "converted converted theo-doi-click"
    );
    // The other lead goes on with the series.
    assert_eq!(
        sim.sent(&leads[1]).await,
        [
            "08/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email",
            "15/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email",
            "22/12 09:00 email nuoi-duong-hieu-qua-dau-tu-email",
        ]
    );
}

// ---- A journey waiting for its ticket's outcome -------------------------------------------

const TELESALES_INVITE: &str = r#"
key: moi-qua-telesales
name: Mời đăng ký qua telesales
trigger: { type: event, event: app.installed }
goals:
  - { name: Đăng ký qua telesales, event: ticket.won }
start: giao-telesales
steps:
  giao-telesales:
    type: ticket
    queue: telesales
    purpose: marketing
    sla: 4h
    title: Gọi mời khách đăng ký trả góp
    next: cho-ket-qua
  cho-ket-qua:
    type: wait_for_event
    event: ticket.closed
    when: { attribute: { path: event.status, op: ne, value: won } }
    timeout: 14d
    on_event: nuoi-duong
    on_timeout: ket-thuc
  nuoi-duong:
    type: update
    add_tags: [nuoi-duong-sau-telesales]
    next: ket-thuc
  ket-thuc: { type: exit }
"#;

/// Closes the customer's one telesales ticket as `status`, as the agent would.
async fn close_ticket(sim: &mut Sim, customer: &str, status: &str) {
    let (_, page) = sim
        .admin_call("GET", "/v1/tickets?queue=telesales", None)
        .await;
    let ticket = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["customer_id"] == customer)
        .unwrap()
        .clone();
    let (status, body) = sim
        .admin_call(
            "POST",
            &format!("/v1/tickets/{}/status", ticket["id"].as_str().unwrap()),
            Some(
                json!({"status": status, "note": "Đã gọi cho khách", "version": ticket["version"]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    sim.settle().await;
}

async fn ticket_outcomes_steer_the_journey(delivery: Delivery) -> Vec<String> {
    let mut sim = Sim::with_seeds(delivery, &[]).await;
    let (status, body) = sim
        .post_as_admin(
            "/v1/journeys?publish=true",
            TELESALES_INVITE,
            "application/yaml",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let won = sim.customer("0912000101", "won@example.com").await;
    let lost = sim.customer("0912000102", "lost@example.com").await;
    for customer in [&won, &lost] {
        sim.event("app.installed", customer, json!({})).await;
    }
    assert_eq!(
        sim.enrollment(&won, "moi-qua-telesales").await,
        "active - cho-ket-qua"
    );
    sim.advance(Duration::hours(2)).await;
    close_ticket(&mut sim, &won, "won").await;
    close_ticket(&mut sim, &lost, "lost").await;
    let won_now = sim.enrollment(&won, "moi-qua-telesales").await;
    let lost_now = sim.enrollment(&lost, "moi-qua-telesales").await;
    let lost_tags = sim.admin_get(&format!("/v1/customers/{lost}")).await["tags"].clone();
    let won_tags = sim.admin_get(&format!("/v1/customers/{won}")).await["tags"].clone();
    assert_eq!(won_now, "converted converted cho-ket-qua");
    assert_eq!(lost_now, "exited completed ket-thuc");
    assert_eq!(lost_tags, json!(["nuoi-duong-sau-telesales"]));
    assert_eq!(won_tags, json!([]));
    vec![won_now, lost_now]
}

#[tokio::test]
async fn a_won_ticket_converts_the_journey_and_a_lost_one_takes_the_other_branch() {
    every_delivery!(ticket_outcomes_steer_the_journey);
}
