//! Each Lambda handler invoked with the real-shaped fixtures in `events/`, on the embedded
//! adapters: the same code the functions run in AWS.

use aws_lambda_events::sqs::SqsEvent;
use http_body_util::BodyExt;
use nhip_app::ports::store::{Index, Query, SortKey};
use serde_json::Value;
use tower::ServiceExt;

use crate::support;

/// Runs an API Gateway HTTP API (payload v2) fixture through the API router, as `lambda_http`
/// does in the `api` function.
async fn invoke_api(deps: std::sync::Arc<nhip_app::Deps>, fixture: &str) -> (u16, Value) {
    let request: lambda_http::request::LambdaRequest = support::fixture(fixture);
    let request: lambda_http::http::Request<lambda_http::Body> = request.into();
    let response = nhip_app::http::router(deps).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn api_health_fixture_answers_ok_with_components() {
    let local = support::local_deps();
    let (status, body) = invoke_api(local.deps.clone(), "api/health.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"]["backend"], "sqlite");
    assert_eq!(body["queues"]["events"]["status"], "ok");
}

#[tokio::test]
async fn api_version_fixture_reports_the_build() {
    let local = support::local_deps();
    let (status, body) = invoke_api(local.deps.clone(), "api/version.json").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "nhip");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn api_unknown_route_fixture_is_a_json_404() {
    let local = support::local_deps();
    let (status, body) = invoke_api(local.deps.clone(), "api/unknown-route.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/nowhere")
    );
}

async fn timeline_of(deps: &nhip_app::Deps, customer: &str) -> Vec<Value> {
    deps.store
        .query(
            Query::partition(Index::Primary, format!("CUS#{customer}"))
                .sk(SortKey::BeginsWith("TL#".into()))
                .descending(),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(Value::Object)
        .collect()
}

const FIXTURE_CUSTOMER: &str = "01JD3Q7Z8X9V5K2M4N6P8R0T1W";

#[tokio::test]
async fn events_consumer_records_good_events_and_reports_the_poison_one() {
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("events-consumer/batch.json");
    let poison = event.records[2].message_id.clone().unwrap();
    let response = nhip_app::events::handle_batch(&local.deps, event.clone()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![poison.clone()]);
    let timeline = timeline_of(&local.deps, FIXTURE_CUSTOMER).await;
    let types: Vec<_> = timeline
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["card.activated", "card.issued"], "newest first");

    // The same batch delivered again (a Lambda retry) adds nothing.
    let again = nhip_app::events::handle_batch(&local.deps, event).await;
    assert_eq!(again.batch_item_failures.len(), 1);
    assert_eq!(timeline_of(&local.deps, FIXTURE_CUSTOMER).await.len(), 2);
}

#[tokio::test]
async fn events_consumer_records_a_duplicated_event_once() {
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("events-consumer/duplicate.json");
    assert_eq!(event.records.len(), 2);
    let response = nhip_app::events::handle_batch(&local.deps, event).await;
    assert!(response.batch_item_failures.is_empty());
    let customer_ids: Vec<String> = {
        let body: Value = serde_json::from_str(
            support::fixture::<SqsEvent>("events-consumer/duplicate.json").records[0]
                .body
                .as_deref()
                .unwrap(),
        )
        .unwrap();
        vec![body["customer_id"].as_str().unwrap().to_owned()]
    };
    assert_eq!(timeline_of(&local.deps, &customer_ids[0]).await.len(), 1);
}

#[tokio::test]
async fn events_consumer_rejects_invalid_envelopes_without_writing() {
    let local = support::local_deps();
    let mut event: SqsEvent = support::fixture("events-consumer/batch.json");
    event.records.truncate(1);
    let mut body: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    body["type"] = Value::from("Card Issued");
    event.records[0].body = Some(body.to_string());
    let response = nhip_app::events::handle_batch(&local.deps, event).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(timeline_of(&local.deps, FIXTURE_CUSTOMER).await.is_empty());
}

#[tokio::test]
async fn lead_intake_form_fixture_creates_then_dedupes() {
    let local = support::local_deps();
    let request: lambda_http::request::LambdaRequest =
        support::fixture("lead-intake/website-form.json");
    let request: lambda_http::http::Request<lambda_http::Body> = request.into();
    let (parts, body) = request.into_parts();
    let body = body.to_vec();
    for expected in [201, 200] {
        let request = lambda_http::http::Request::from_parts(
            parts.clone(),
            axum::body::Body::from(body.clone()),
        );
        let response = nhip_app::intake::router(local.deps.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, expected, "{answer}");
    }
}

#[tokio::test]
async fn scheduler_tick_fixture_runs_the_tick() {
    let local = support::local_deps();
    let event: aws_lambda_events::eventbridge::EventBridgeEvent<Value> =
        support::fixture("scheduler/tick.json");
    assert_eq!(event.source, "aws.scheduler");
    let report = nhip_app::scheduler::tick(&local.deps).await.unwrap();
    assert_eq!(report.failed, 0);
    assert!(report.hours >= 1);
}

/// Calls the staff API as an admin, as a test's set-up step.
async fn as_admin(
    deps: &std::sync::Arc<nhip_app::Deps>,
    method: &str,
    path: &str,
    body: Value,
) -> Value {
    let token = deps.auth.issue(
        &nhip_app::auth::Principal::new("root", nhip_app::auth::Role::Admin, None),
        deps.clock.now(),
        chrono::Duration::hours(1),
    );
    let request = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = nhip_app::http::staff_router(deps.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

/// The `message-sender` fixture with its customer id replaced by a customer created here
/// (e-mail with care consent, no advertising consent) and the e-mail template it names
/// published. Returns the event and the customer id.
async fn sends_fixture_for_a_real_customer(
    deps: &std::sync::Arc<nhip_app::Deps>,
) -> (SqsEvent, String) {
    let customer = as_admin(
        deps,
        "POST",
        "/v1/customers",
        serde_json::json!({
            "full_name": "Trần Thị Lan",
            "gender": "female",
            "phones": ["0912345678"],
            "emails": ["lan.tran@example.vn"],
            "source": "website",
            "consents": ["email:care"],
        }),
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    as_admin(
        deps,
        "POST",
        "/v1/templates",
        serde_json::json!({
            "code": "nhac-lich-tra-gop-email",
            "name": "Nhắc lịch trả góp — email",
            "publish": true,
            "content": {
                "channel": "email",
                "subject": "Nhắc lịch thanh toán {{ holding.product }}",
                "html": "<p>{{ customer.salutation }}, kỳ trả góp {{ holding.installment }} ₫ đến hạn ngày {{ holding.due_date }}.</p>",
                "text": "{{ customer.salutation }}, kỳ trả góp {{ holding.installment }} ₫ đến hạn ngày {{ holding.due_date }}.",
            },
        }),
    )
    .await;
    let mut event: SqsEvent = support::fixture("message-sender/batch.json");
    for record in &mut event.records {
        let body = record.body.as_deref().unwrap();
        assert!(body.contains(FIXTURE_CUSTOMER), "{body}");
        record.body = Some(body.replace(FIXTURE_CUSTOMER, &customer_id));
    }
    (event, customer_id)
}

fn send_request(event: &SqsEvent, index: usize) -> nhip_app::messaging::model::SendRequest {
    serde_json::from_str(event.records[index].body.as_deref().unwrap()).unwrap()
}

#[tokio::test]
async fn message_sender_batch_fixture_sends_care_and_refuses_advertising_without_consent() {
    let local = support::local_deps();
    let (event, customer_id) = sends_fixture_for_a_real_customer(&local.deps).await;
    let care = send_request(&event, 0).message_id();
    let marketing = send_request(&event, 1).message_id();

    let response = nhip_app::messaging::pipeline::handle_batch(&local.deps, event.clone()).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "both requests are decided, none retried: {:?}",
        response.batch_item_failures
    );
    let load = |id: String| {
        let deps = local.deps.clone();
        async move {
            nhip_app::messaging::pipeline::load(&deps, &id)
                .await
                .unwrap()
                .expect("the message is recorded")
        }
    };
    let sent = load(care.clone()).await;
    assert_eq!(sent.status.as_str(), "sent", "{:?}", sent.reason_text);
    assert_eq!(sent.customer_id, customer_id);
    let refused = load(marketing.clone()).await;
    assert_eq!(
        refused.status.as_str(),
        "no_consent",
        "{:?}",
        refused.reason_text
    );
    let outbox = local.outbox.for_message(&care).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].recipient(), "lan.tran@example.vn");
    assert!(
        local
            .outbox
            .for_message(&marketing)
            .await
            .unwrap()
            .is_empty()
    );

    // The same batch again (a redelivery): decided already, nothing sent twice.
    let again = nhip_app::messaging::pipeline::handle_batch(&local.deps, event).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(local.outbox.for_message(&care).await.unwrap().len(), 1);
}

#[tokio::test]
async fn message_sender_fixture_as_is_records_customer_not_found() {
    // As `sam local invoke` sends it to a fresh stack: the customer does not exist.
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("message-sender/batch.json");
    let ids: Vec<String> = (0..2)
        .map(|i| send_request(&event, i).message_id())
        .collect();
    let response = nhip_app::messaging::pipeline::handle_batch(&local.deps, event).await;
    assert!(response.batch_item_failures.is_empty());
    for id in ids {
        let message = nhip_app::messaging::pipeline::load(&local.deps, &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(message.status.as_str(), "failed");
        assert_eq!(message.reason.as_deref(), Some("customer_not_found"));
    }
    assert!(local.outbox.list(10, None).await.unwrap().is_empty());
}

/// Every fixture under `events/engagement-tracker/`, parsed.
fn engagement_fixtures() -> Vec<(String, aws_lambda_events::sns::SnsEvent)> {
    let folder = support::fixture_path("engagement-tracker");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let event = support::fixture(&format!("engagement-tracker/{name}"));
            (name, event)
        })
        .collect()
}

#[tokio::test]
async fn engagement_tracker_fixtures_are_about_an_unknown_message() {
    let local = support::local_deps();
    let fixtures = engagement_fixtures();
    assert_eq!(fixtures.len(), 10, "one fixture per SES event type");
    for (name, event) in fixtures {
        let records = event.records.len();
        let report = nhip_app::messaging::tracker::handle_sns(&local.deps, event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            report,
            nhip_app::messaging::tracker::TrackerReport {
                unknown: records,
                ..Default::default()
            },
            "{name}"
        );
    }
}

#[tokio::test]
async fn engagement_tracker_records_a_delivery_of_a_sent_message_once() {
    let local = support::local_deps();
    let (event, _) = sends_fixture_for_a_real_customer(&local.deps).await;
    let care = send_request(&event, 0).message_id();
    nhip_app::messaging::pipeline::handle_batch(&local.deps, event).await;
    let provider_id = local.outbox.for_message(&care).await.unwrap()[0]
        .provider_id
        .clone();

    // The delivery fixture, about the message just sent (its tag and SES message id).
    let mut delivery: aws_lambda_events::sns::SnsEvent =
        support::fixture("engagement-tracker/ses-delivery.json");
    let sns = &mut delivery.records[0].sns;
    sns.message = sns
        .message
        .replace("01KAQ3V2J5N8W6Y4X0Z9B7C1D3", &care)
        .replace(
            "0100019ab3c4d5e6-nhip-fixture-0000-000000000000-000000",
            &provider_id,
        );
    let report = nhip_app::messaging::tracker::handle_sns(&local.deps, delivery.clone())
        .await
        .unwrap();
    assert_eq!(report.recorded, 1, "{report:?}");
    // SNS delivers it again: recorded once.
    let again = nhip_app::messaging::tracker::handle_sns(&local.deps, delivery)
        .await
        .unwrap();
    assert_eq!(again.duplicates, 1, "{again:?}");
    assert_eq!(again.recorded, 0);
}

/// Runs an API Gateway HTTP API fixture through the public tracking routes, as `lambda_http`
/// does in the `tracking-api` function. Answers the status, content type and body.
async fn invoke_tracking(
    deps: std::sync::Arc<nhip_app::Deps>,
    fixture: &str,
) -> (u16, String, String) {
    let request: lambda_http::request::LambdaRequest = support::fixture(fixture);
    let request: lambda_http::http::Request<lambda_http::Body> = request.into();
    let response = nhip_app::messaging::routes::public(deps)
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn with_link_secret() -> support::LocalDeps {
    let mut settings = nhip_app::Settings::default();
    settings.messaging.link_secret = Some(b"nhip-tests-link-secret-of-32-bytes!".to_vec());
    support::local_deps_with_settings(settings)
}

#[tokio::test]
async fn tracking_api_unknown_link_fixture_is_a_404_page() {
    let local = with_link_secret();
    let (status, content_type, body) =
        invoke_tracking(local.deps.clone(), "tracking-api/unknown-link.json").await;
    assert_eq!(status, 404, "{body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("Liên kết không hợp lệ"), "{body}");
}

#[tokio::test]
async fn tracking_api_forged_ses_fixture_is_refused_and_records_nothing() {
    let local = with_link_secret();
    let (status, content_type, body) =
        invoke_tracking(local.deps.clone(), "tracking-api/forged-ses.json").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["error"]["code"], "forbidden");
    // The forged bounce would have suppressed the address: nothing was written.
    let family = nhip_app::messaging::pipeline::channel_family(
        nhip_app::messaging::model::MessageChannel::Email,
    );
    let suppression = nhip_app::keys::suppression(family, "khachhang@example.com");
    assert_eq!(local.deps.store.get(&suppression).await.unwrap(), None);
}
