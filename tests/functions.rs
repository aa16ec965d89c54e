//! Each Lambda handler invoked with the real-shaped fixtures in `events/`, on the embedded
//! adapters: the same code the functions run in AWS.

use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use nhip_ports::store::{Index, Query, SortKey};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support;

/// Runs an API Gateway HTTP API (payload v2) fixture through the API router exactly as the
/// `api` function does: the request is first mapped by the function's own
/// [`with_gateway_claims`], so deps authenticating in gateway mode ([`behind_gateway`]) see
/// the caller the fixture's JWT authorizer verified; deps in HS256 mode ignore the claims.
///
/// [`with_gateway_claims`]: nhip_core::auth::with_gateway_claims
async fn invoke_api(deps: Arc<nhip_core::Deps>, fixture: &str) -> (u16, Value) {
    let request: lambda_http::request::LambdaRequest = support::fixture(fixture);
    let request = nhip_core::auth::with_gateway_claims(request.into());
    let answer = support::read(nhip_api::router(deps).oneshot(request).await.unwrap()).await;
    let content_type = answer.header("content-type").unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    (
        answer.status,
        serde_json::from_slice(&answer.bytes).unwrap(),
    )
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

/// Runs an API Gateway HTTP API fixture through the staff console's router, as `lambda_http`
/// does in the `console` function.
async fn invoke_console(deps: Arc<nhip_core::Deps>, fixture: &str) -> support::Answer {
    let request: lambda_http::request::LambdaRequest = support::fixture(fixture);
    let request: lambda_http::http::Request<lambda_http::Body> = request.into();
    support::read(nhip_console::router(deps).oneshot(request).await.unwrap()).await
}

/// The console as the `console` function builds it in AWS: signing in through Cognito's hosted
/// UI (the real adapter; nothing here reaches Cognito) at an https public URL.
fn console_behind_cognito() -> (support::LocalDeps, Arc<nhip_core::Deps>) {
    let local = support::local_deps();
    let mut deps = (*local.deps).clone();
    let cognito = nhip_aws::cognito::CognitoHostedUi::new(&nhip_aws::cognito::CognitoConfig {
        domain: "https://nhip-prod.auth.ap-southeast-1.amazoncognito.com".into(),
        client_id: "5q2k8v1m3n7b9c4x6z0a2s4d6f".into(),
        issuer: "https://cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_Nh1pStaff".into(),
        public_url: "https://crm.example-bank.vn".into(),
    })
    .unwrap();
    deps.identity = Some(Arc::new(cognito));
    deps.settings.messaging.public_url = "https://crm.example-bank.vn".into();
    deps.build.runtime = "lambda";
    (local, Arc::new(deps))
}

#[tokio::test]
async fn console_root_and_signed_out_home_fixtures_lead_to_the_sign_in() {
    let (_local, deps) = console_behind_cognito();
    let root = invoke_console(deps.clone(), "console/root.json").await;
    assert!((300..400).contains(&root.status), "{}", root.text);
    assert_eq!(root.header("location"), Some("/app"));

    let home = invoke_console(deps, "console/home-signed-out.json").await;
    assert!((300..400).contains(&home.status), "{}", home.text);
    let location = home.header("location").unwrap();
    assert!(location.starts_with("/app/sign-in"), "{location}");
    assert!(location.contains("next=%2Fapp"), "{location}");
}

#[tokio::test]
async fn console_sign_in_fixture_sends_staff_to_cognito_with_pkce() {
    let (_local, deps) = console_behind_cognito();
    let answer = invoke_console(deps, "console/sign-in.json").await;
    assert!((300..400).contains(&answer.status), "{}", answer.text);
    let location = url::Url::parse(answer.header("location").unwrap()).unwrap();
    assert_eq!(
        location.as_str().split('?').next(),
        Some("https://nhip-prod.auth.ap-southeast-1.amazoncognito.com/oauth2/authorize")
    );
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "5q2k8v1m3n7b9c4x6z0a2s4d6f");
    assert_eq!(
        query["redirect_uri"],
        "https://crm.example-bank.vn/app/auth/callback"
    );
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43, "{query:?}");
    // The flow cookie keeps the state, the verifier and where to go after; Secure at https.
    let cookie = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.contains(&query["state"]))
        .unwrap_or_else(|| panic!("no flow cookie: {:?}", answer.headers));
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("%2Fapp%2Fleads"), "{cookie}");
}

#[tokio::test]
async fn console_forged_callback_fixture_is_refused_without_a_session() {
    let (_local, deps) = console_behind_cognito();
    let answer = invoke_console(deps, "console/forged-callback.json").await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        answer.headers
    );
    assert!(
        answer.text.contains("Không đăng nhập được"),
        "{}",
        answer.text
    );
    // Refused before the code is taken to Cognito's token endpoint.
    assert!(
        answer.text.contains("Phiên đăng nhập đã hết hạn"),
        "{}",
        answer.text
    );
    // No session cookie: a callback without the flow this browser started signs nobody in.
    assert!(
        answer
            .headers
            .get_all("set-cookie")
            .iter()
            .all(|cookie| !cookie
                .to_str()
                .unwrap()
                .starts_with(nhip_console::session::COOKIE)),
        "{:?}",
        answer.headers
    );
}

async fn timeline_of(deps: &nhip_core::Deps, customer: &str) -> Vec<Value> {
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

/// The message ids a batch response reports as failed.
fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn events_consumer_records_good_events_and_reports_the_poison_one() {
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("events-consumer/batch.json");
    let poison = event.records[2].message_id.clone().unwrap();
    let response = nhip_api::events_consumer::handle_batch(&local.deps, event.clone()).await;
    let failed = failed_ids(&response);
    assert_eq!(failed, vec![poison.clone()]);
    let timeline = timeline_of(&local.deps, FIXTURE_CUSTOMER).await;
    let types: Vec<_> = timeline
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["card.activated", "card.issued"], "newest first");

    // The same batch delivered again (a Lambda retry) adds nothing.
    let again = nhip_api::events_consumer::handle_batch(&local.deps, event).await;
    assert_eq!(again.batch_item_failures.len(), 1);
    assert_eq!(timeline_of(&local.deps, FIXTURE_CUSTOMER).await.len(), 2);
}

#[tokio::test]
async fn events_consumer_records_a_duplicated_event_once() {
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("events-consumer/duplicate.json");
    assert_eq!(event.records.len(), 2);
    let response = nhip_api::events_consumer::handle_batch(&local.deps, event).await;
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

/// Core systems' entries on the EventBridge bus reach the events queue as the rule's input
/// transformer writes them: a numeric `detail.id` as a number, a missing `detail.data` as
/// null. Those are recorded; an entry without an id is the one failed record, with the reason.
#[tokio::test]
async fn events_consumer_reads_what_the_eventbridge_input_transformer_writes() {
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("events-consumer/eventbridge-transformed.json");
    let without_id = event.records[3].message_id.clone().unwrap();
    let response = nhip_api::events_consumer::handle_batch(&local.deps, event.clone()).await;
    let failed = failed_ids(&response);
    assert_eq!(failed, [without_id]);
    let timeline = timeline_of(&local.deps, FIXTURE_CUSTOMER).await;
    let recorded: Vec<_> = timeline
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap().to_owned(),
                e["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            ("card.transaction".to_owned(), "core-evt-0203".to_owned()),
            ("card.activated".to_owned(), "202".to_owned()),
            ("card.issued".to_owned(), "core-evt-0201".to_owned()),
        ],
        "newest first"
    );
    let reason = nhip_api::events_consumer::parse_body(event.records[3].body.as_deref().unwrap())
        .unwrap_err();
    assert!(
        reason.contains("`id`") && reason.contains("$.detail.id"),
        "{reason}"
    );
    // Delivered again: nothing more.
    nhip_api::events_consumer::handle_batch(&local.deps, event).await;
    assert_eq!(timeline_of(&local.deps, FIXTURE_CUSTOMER).await.len(), 3);
}

/// A message marked as recorded by its producer (`nhip_core::events::publish_recorded`) has
/// its entry on the timeline already, so the consumer writes nothing for it; an unmarked one
/// is recorded as ever.
#[tokio::test]
async fn events_consumer_writes_no_entry_for_an_event_its_producer_marked_as_recorded() {
    let local = support::local_deps();
    let mut event: SqsEvent = support::fixture("events-consumer/batch.json");
    event.records.truncate(2);
    let mut mark = aws_lambda_events::sqs::SqsMessageAttribute::default();
    mark.string_value = Some("timeline".into());
    mark.data_type = Some("String".into());
    event.records[0]
        .message_attributes
        .insert(nhip_core::events::RECORDED_ATTRIBUTE.into(), mark);
    let response = nhip_api::events_consumer::handle_batch(&local.deps, event).await;
    assert!(response.batch_item_failures.is_empty());
    let types: Vec<_> = timeline_of(&local.deps, FIXTURE_CUSTOMER)
        .await
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        ["card.activated"],
        "only the unmarked event is written"
    );
}

#[tokio::test]
async fn events_consumer_rejects_invalid_envelopes_without_writing() {
    let local = support::local_deps();
    let mut event: SqsEvent = support::fixture("events-consumer/batch.json");
    event.records.truncate(1);
    let mut body: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    body["type"] = Value::from("Card Issued");
    event.records[0].body = Some(body.to_string());
    let response = nhip_api::events_consumer::handle_batch(&local.deps, event).await;
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
    for expected in [202, 202] {
        let request = lambda_http::http::Request::from_parts(
            parts.clone(),
            axum::body::Body::from(body.clone()),
        );
        let response = nhip_intake::forms::router(local.deps.clone())
            .oneshot(request)
            .await
            .unwrap();
        let answer = support::read(response).await;
        let body: Value = serde_json::from_slice(&answer.bytes).unwrap();
        assert_eq!(answer.status, expected, "{body}");
    }
}

#[tokio::test]
async fn scheduler_fixtures_of_every_payload_shape_run_the_due_work_once() {
    let local = support::local_deps();
    let deps = &local.deps;
    let default: Value = support::fixture("scheduler/tick.json");
    assert_eq!(default["source"], "aws.scheduler");
    assert_eq!(
        default["detail"], "{}",
        "EventBridge Scheduler sends detail as a string"
    );
    // Due work: a consultant's call, scheduled for an hour from now.
    call_back_in_an_hour(deps, "0933444555").await;
    let before = nhip_api::tick::handle_invocation(deps, &default)
        .await
        .unwrap();
    assert_eq!(before.ran, 0, "not due yet: {before:?}");

    local.clock.advance(chrono::Duration::hours(2));
    let report = nhip_api::tick::handle_invocation(deps, &default)
        .await
        .unwrap();
    assert_eq!((report.ran, report.failed), (1, 0), "{report:?}");
    for other in ["scheduler/rule-event.json", "scheduler/custom-input.json"] {
        let payload: Value = support::fixture(other);
        let again = nhip_api::tick::handle_invocation(deps, &payload)
            .await
            .unwrap();
        assert_eq!((again.ran, again.failed), (0, 0), "{other}: {again:?}");
    }
    let bell = as_admin(deps, "GET", "/v1/me/notifications", Value::Null).await;
    assert_eq!(bell["unread"], 1, "{bell}");
}

#[tokio::test]
async fn a_tick_runs_due_work_of_every_shard_once_however_many_are_due_in_the_same_minute() {
    let local = support::local_deps();
    let deps = &local.deps;
    let calls = 40;
    for i in 0..calls {
        call_back_in_an_hour(deps, &format!("09334{i:05}")).await;
    }
    // The calls are spread over the due-work shards, which the tick reads at once.
    let hour = nhip_core::keys::hour_floor(deps.clock.now() + chrono::Duration::hours(1));
    let mut shards_used = 0;
    for shard in 0..nhip_core::keys::DUE_SHARDS {
        let page = deps
            .store
            .query(nhip_ports::store::Query::partition(
                nhip_ports::store::Index::Gsi1,
                nhip_core::keys::due_bucket(hour, shard),
            ))
            .await
            .unwrap();
        shards_used += usize::from(!page.items.is_empty());
    }
    assert!(shards_used > 8, "{calls} calls on {shards_used} shards");
    local.clock.advance(chrono::Duration::hours(2));
    let payload: Value = support::fixture("scheduler/tick.json");
    let report = nhip_api::tick::handle_invocation(deps, &payload)
        .await
        .unwrap();
    assert_eq!((report.ran, report.failed), (calls, 0), "{report:?}");
    let again = nhip_api::tick::handle_invocation(deps, &payload)
        .await
        .unwrap();
    assert_eq!((again.ran, again.failed), (0, 0), "{again:?}");
    let bell = as_admin(deps, "GET", "/v1/me/notifications", Value::Null).await;
    assert_eq!(bell["unread"], calls, "one bell per call: {bell}");
}

/// A new customer with `phone`, owned by `root`, and a call back to them due an hour from now.
async fn call_back_in_an_hour(deps: &std::sync::Arc<nhip_core::Deps>, phone: &str) {
    let customer = as_admin(
        deps,
        "POST",
        "/v1/customers",
        json!({"full_name": "Phan Văn Tài", "phones": [phone], "source": "referral",
               "owner": "root"}),
    )
    .await;
    let id = customer["id"].as_str().unwrap();
    let at = (deps.clock.now() + chrono::Duration::hours(1)).to_rfc3339();
    as_admin(
        deps,
        "POST",
        &format!("/v1/customers/{id}/next-actions"),
        json!({"type": "call", "at": at, "note": "Gọi lại"}),
    )
    .await;
}

/// Calls the staff API as an admin, as a test's set-up step.
async fn as_admin(
    deps: &std::sync::Arc<nhip_core::Deps>,
    method: &str,
    path: &str,
    body: Value,
) -> Value {
    let token = support::token_for(deps, "root", nhip_core::auth::Role::Admin, None);
    let request = support::json_request(method, path, Some(&token), Some(body));
    let response = nhip_api::staff_router(deps.clone())
        .oneshot(request)
        .await
        .unwrap();
    let support::Answer { status, bytes, .. } = support::read(response).await;
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
    deps: &std::sync::Arc<nhip_core::Deps>,
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

fn send_request(event: &SqsEvent, index: usize) -> nhip_messaging::model::SendRequest {
    serde_json::from_str(event.records[index].body.as_deref().unwrap()).unwrap()
}

#[tokio::test]
async fn message_sender_batch_fixture_sends_care_and_refuses_advertising_without_consent() {
    let local = support::local_deps();
    let (event, customer_id) = sends_fixture_for_a_real_customer(&local.deps).await;
    let care = send_request(&event, 0).message_id();
    let marketing = send_request(&event, 1).message_id();

    let response = nhip_messaging::pipeline::handle_batch(&local.deps, event.clone()).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "both requests are decided, none retried: {:?}",
        response.batch_item_failures
    );
    let load = |id: String| {
        let deps = local.deps.clone();
        async move {
            nhip_messaging::pipeline::load(&deps, &id)
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
    let again = nhip_messaging::pipeline::handle_batch(&local.deps, event).await;
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
    let response = nhip_messaging::pipeline::handle_batch(&local.deps, event).await;
    assert!(response.batch_item_failures.is_empty());
    for id in ids {
        let message = nhip_messaging::pipeline::load(&local.deps, &id)
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
        let report = nhip_messaging::tracker::handle_sns(&local.deps, event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            report,
            nhip_messaging::tracker::TrackerReport {
                unknown: records,
                ..Default::default()
            },
            "{name}"
        );
    }
}

/// An engagement-tracker fixture about `message` (our tag) sent as `provider_id` (SES's id),
/// carried in an SNS envelope with the message id `envelope`.
fn ses_about(
    fixture: &str,
    message: &str,
    provider_id: &str,
    envelope: &str,
) -> aws_lambda_events::sns::SnsEvent {
    let mut event: aws_lambda_events::sns::SnsEvent =
        support::fixture(&format!("engagement-tracker/{fixture}"));
    let sns = &mut event.records[0].sns;
    sns.message_id = envelope.to_owned();
    sns.message = sns
        .message
        .replace("01KAQ3V2J5N8W6Y4X0Z9B7C1D3", message)
        .replace(
            "0100019ab3c4d5e6-nhip-fixture-0000-000000000000-000000",
            provider_id,
        );
    event
}

#[tokio::test]
async fn engagement_tracker_believes_only_its_topic_keys_events_by_their_identity_and_not_spam_suppresses_nothing()
 {
    let local = support::local_deps();
    let mut deps = (*local.deps).clone();
    deps.settings.messaging.ses_events_topic_arn =
        Some("arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events".into());
    let deps = Arc::new(deps);
    let (event, customer) = sends_fixture_for_a_real_customer(&deps).await;
    let care = send_request(&event, 0).message_id();
    nhip_messaging::pipeline::handle_batch(&deps, event).await;
    let provider_id = local.outbox.for_message(&care).await.unwrap()[0]
        .provider_id
        .clone();
    let handle = |event| nhip_messaging::tracker::handle_sns(&deps, event);
    let count = |types: &[Value], kind: &str| types.iter().filter(|t| *t == kind).count();
    let types = || async {
        timeline_of(&deps, &customer)
            .await
            .into_iter()
            .map(|e| e["event_type"].clone())
            .collect::<Vec<_>>()
    };

    // The same click in two SNS envelopes (two message ids): one click on the timeline.
    for envelope in ["sns-click-1", "sns-click-2"] {
        handle(ses_about("ses-click.json", &care, &provider_id, envelope))
            .await
            .unwrap();
    }
    assert_eq!(count(&types().await, "message.clicked"), 1);

    // A bounce published to another topic (say a role that may publish there) is not believed.
    let mut forged = ses_about(
        "ses-bounce-permanent.json",
        &care,
        &provider_id,
        "sns-forged",
    );
    forged.records[0].sns.topic_arn = "arn:aws:sns:ap-southeast-1:123456789012:other".into();
    let report = handle(forged).await.unwrap();
    assert_eq!((report.foreign, report.recorded), (1, 0), "{report:?}");
    let family =
        nhip_messaging::pipeline::channel_family(nhip_messaging::model::MessageChannel::Email);
    let suppression = nhip_core::keys::suppression(family, "lan.tran@example.vn");
    assert_eq!(deps.store.get(&suppression).await.unwrap(), None);

    // "not-spam" feedback is recorded but suppresses nothing; an abuse complaint does.
    let complaint: aws_lambda_events::sns::SnsEvent =
        ses_about("ses-complaint.json", &care, &provider_id, "sns-not-spam");
    let mut not_spam = complaint.clone();
    let mut ses: Value = serde_json::from_str(&not_spam.records[0].sns.message).unwrap();
    ses["complaint"]["complaintFeedbackType"] = json!("not-spam");
    not_spam.records[0].sns.message = ses.to_string();
    handle(not_spam).await.unwrap();
    let now = types().await;
    assert_eq!(count(&now, "message.marked_not_spam"), 1, "{now:?}");
    assert_eq!(count(&now, "message.complained"), 0, "{now:?}");
    assert_eq!(deps.store.get(&suppression).await.unwrap(), None);
    let mut abuse = complaint;
    abuse.records[0].sns.message_id = "sns-abuse".into();
    handle(abuse).await.unwrap();
    assert_eq!(count(&types().await, "message.complained"), 1);
    assert!(deps.store.get(&suppression).await.unwrap().is_some());
}

#[tokio::test]
async fn engagement_tracker_records_a_delivery_of_a_sent_message_once() {
    let local = support::local_deps();
    let (event, _) = sends_fixture_for_a_real_customer(&local.deps).await;
    let care = send_request(&event, 0).message_id();
    nhip_messaging::pipeline::handle_batch(&local.deps, event).await;
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
    let report = nhip_messaging::tracker::handle_sns(&local.deps, delivery.clone())
        .await
        .unwrap();
    assert_eq!(report.recorded, 1, "{report:?}");
    // SNS delivers it again: recorded once.
    let again = nhip_messaging::tracker::handle_sns(&local.deps, delivery)
        .await
        .unwrap();
    assert_eq!(again.duplicates, 1, "{again:?}");
    assert_eq!(again.recorded, 0);
}

/// Runs an API Gateway HTTP API fixture through the public tracking routes, as `lambda_http`
/// does in the `tracking-api` function. Answers the status, content type and body.
async fn invoke_tracking(
    deps: std::sync::Arc<nhip_core::Deps>,
    fixture: &str,
) -> (u16, String, String) {
    let request: lambda_http::request::LambdaRequest = support::fixture(fixture);
    let request: lambda_http::http::Request<lambda_http::Body> = request.into();
    let response = nhip_messaging::routes::public(deps)
        .oneshot(request)
        .await
        .unwrap();
    let answer = support::read(response).await;
    (
        answer.status,
        answer.header("content-type").unwrap_or_default().to_owned(),
        String::from_utf8(answer.bytes).unwrap(),
    )
}

fn with_link_secret() -> support::LocalDeps {
    let mut settings = nhip_core::Settings::default();
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
    let family =
        nhip_messaging::pipeline::channel_family(nhip_messaging::model::MessageChannel::Email);
    let suppression = nhip_core::keys::suppression(family, "khachhang@example.com");
    assert_eq!(local.deps.store.get(&suppression).await.unwrap(), None);
}

/// Deps on the same storage, queues and clock as `deps`, authenticating as the deployed `api`
/// function does (`NHIP_AUTH=gateway`): only the claims API Gateway's JWT authorizer verified
/// count, never the `Authorization` header.
fn behind_gateway(deps: &Arc<nhip_core::Deps>) -> Arc<nhip_core::Deps> {
    let mut deps = (**deps).clone();
    deps.auth = Arc::new(nhip_core::auth::Authenticator::gateway());
    Arc::new(deps)
}

/// Everything visible on `queue` now, received and acknowledged (deleted), in the shape the
/// Lambda event source mapping hands a function.
async fn take_all(queue: &dyn nhip_ports::Queue) -> Vec<SqsMessage> {
    let received = crate::support::receive_all(queue, std::time::Duration::from_secs(3600)).await;
    let mut taken = Vec::with_capacity(received.len());
    for message in received {
        queue.delete(&message.receipt_handle).await.unwrap();
        taken.push(nhip_local_runner::consumers::to_record(
            queue.name(),
            message,
        ));
    }
    taken
}

fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// Runs `handler` over `queue` until it is empty, asserting that no record fails.
async fn drain<F, Fut>(queue: &dyn nhip_ports::Queue, handler: F)
where
    F: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    for _ in 0..100 {
        let records = take_all(queue).await;
        if records.is_empty() {
            return;
        }
        let response = handler(sqs_event(records)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{}: {:?}",
            queue.name(),
            response.batch_item_failures
        );
    }
    panic!("the {} queue never emptied", queue.name());
}

/// Runs the events consumer over the events queue until it is empty.
async fn drain_events(deps: &nhip_core::Deps) {
    drain(&*deps.queues.events, |event| {
        nhip_api::events_consumer::handle_batch(deps, event)
    })
    .await;
}

/// The card-onboarding seed journey (`events/journey-worker/`, `events/api/`).
const CARD_JOURNEY: &str = "the-moi-kich-hoat";
/// The enrollment id in `journey-worker/batch.json`: the one `card.issued` `core-evt-0101` from
/// `core-banking` (as `api/post-events.json` posts it) enrolls.
const FIXTURE_ENROLLMENT: &str = "27S8AMMFE7NR2MCVBGKJR64JK7";

/// A customer with the phone `api/post-events.json` names and an e-mail address, created through
/// the staff API. Returns its id.
async fn card_customer(deps: &Arc<nhip_core::Deps>) -> String {
    let customer = as_admin(
        deps,
        "POST",
        "/v1/customers",
        json!({
            "full_name": "Trần Thị Lan",
            "gender": "female",
            "phones": ["0912345678"],
            "emails": ["lan.tran@example.vn"],
            "source": "website",
            "consents": ["email:care"],
        }),
    )
    .await;
    customer["id"].as_str().unwrap().to_owned()
}

async fn card_enrollments(
    deps: &nhip_core::Deps,
    customer: &str,
) -> Vec<nhip_journeys::engine::Enrollment> {
    nhip_journeys::engine::of_customer(deps, customer.parse().unwrap(), Some(CARD_JOURNEY))
        .await
        .unwrap()
}

/// The step records (`JSTEP#`) of an enrollment.
async fn step_records(deps: &nhip_core::Deps, customer: &str, enrollment: &str) -> Vec<Value> {
    deps.store
        .query(
            Query::partition(Index::Primary, format!("CUS#{customer}"))
                .sk(SortKey::BeginsWith(format!("JSTEP#{enrollment}#"))),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(Value::Object)
        .collect()
}

fn step_job(record: &SqsMessage) -> nhip_core::scheduler::StepJob {
    serde_json::from_str(record.body.as_deref().unwrap()).unwrap()
}

#[tokio::test]
async fn journey_worker_batch_fixture_sends_each_step_once_however_often_the_batch_comes() {
    // With `journey.step` to the bus switched on (NHIP_JOURNEY_STEP_EVENTS=on).
    let local = support::local_deps_with_settings(nhip_core::Settings {
        journey_step_events: true,
        ..Default::default()
    });
    let deps = &local.deps;
    assert_eq!(
        nhip_journeys::engine::enrollment_id(
            CARD_JOURNEY,
            1,
            FIXTURE_CUSTOMER.parse().unwrap(),
            "event:core-banking#core-evt-0101"
        ),
        FIXTURE_ENROLLMENT,
        "the fixture's enrollment is the one card.issued core-evt-0101 makes for its customer"
    );
    as_admin(
        deps,
        "POST",
        &format!("/v1/journeys/seeds/{CARD_JOURNEY}/install"),
        Value::Null,
    )
    .await;
    let customer_id = card_customer(deps).await;
    let posted = as_admin(
        deps,
        "POST",
        "/v1/events",
        json!({
            "source": "core-banking",
            "events": [{
                "id": "core-evt-0101",
                "type": "card.issued",
                "customer": {"id": customer_id},
                "data": {"card_product": "Visa Platinum", "last4": "4321"},
            }],
        }),
    )
    .await;
    assert_eq!(posted["accepted"], 1, "{posted}");
    drain_events(deps).await;
    let enrollments = card_enrollments(deps, &customer_id).await;
    assert_eq!(enrollments.len(), 1, "{enrollments:?}");
    let enrollment_id = enrollments[0].id.clone();
    assert_eq!(
        enrollment_id,
        nhip_journeys::engine::enrollment_id(
            CARD_JOURNEY,
            1,
            customer_id.parse().unwrap(),
            "event:core-banking#core-evt-0101"
        )
    );
    assert_eq!(enrollments[0].seq, 0);
    assert_eq!(enrollments[0].step, "chao-mung");

    // The fixture, about this customer and enrollment.
    let mut event: SqsEvent = support::fixture("journey-worker/batch.json");
    assert_eq!(event.records.len(), 2);
    for record in &mut event.records {
        let body = record.body.as_deref().unwrap();
        assert!(
            body.contains(FIXTURE_CUSTOMER) && body.contains(FIXTURE_ENROLLMENT),
            "{body}"
        );
        record.body = Some(
            body.replace(FIXTURE_CUSTOMER, &customer_id)
                .replace(FIXTURE_ENROLLMENT, &enrollment_id),
        );
    }
    let (seq_job, event_job) = (step_job(&event.records[0]), step_job(&event.records[1]));
    assert_eq!((seq_job.seq, seq_job.event.is_none()), (Some(0), true));
    assert_eq!(
        event_job.event.as_ref().map(|e| e.kind.as_str()),
        Some("card.activated")
    );
    // Its seq job is the very job enrolling queued (taken off here: the fixture delivers it).
    let queued: Vec<_> = take_all(&*deps.queues.steps)
        .await
        .iter()
        .map(step_job)
        .collect();
    assert_eq!(queued, vec![seq_job]);

    // Delivered when the worker received the batch, then again (a redelivery).
    local
        .clock
        .advance_to(support::test_epoch() + chrono::Duration::seconds(31));
    for delivery in ["first", "redelivery"] {
        let response = nhip_journeys::engine::handle_batch(deps, event.clone()).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{delivery}: {:?}",
            response.batch_item_failures
        );
    }

    // The seq job runs the welcome and, in the same run, enters the wait for the activation;
    // the activation's job moves the wait on (whichever of the two ran first, the second
    // delivery finds the other done), into the offer and the app invitation. Each send request
    // once, keyed by the enrollment, step and visit, however often the batch came.
    let sends = take_all(&*deps.queues.sends).await;
    let keys: Vec<String> = sends
        .iter()
        .map(|m| {
            let request: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            request["idempotency_key"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique,
        ["chao-mung", "moi-cai-app", "uu-dai"]
            .map(|step| format!("journey#{enrollment_id}#{step}#1"))
            .to_vec(),
        "{sends:?}"
    );
    let welcome: Value = serde_json::from_str(
        sends
            .iter()
            .find(|m| m.body.as_deref().unwrap().contains("#chao-mung#"))
            .and_then(|m| m.body.as_deref())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        welcome["targets"],
        json!([{"channel": "email", "template": "the-moi-chao-mung-email"}]),
        "{welcome}"
    );
    assert_eq!(welcome["customer_id"], customer_id.as_str());
    assert_eq!(welcome["purpose"], "care");

    // Waiting 30 days for the first spend; one step record per step, the activation's on the
    // wait it moved.
    let after = card_enrollments(deps, &customer_id).await;
    assert_eq!(after.len(), 1);
    let after = &after[0];
    assert_eq!(
        after.status,
        nhip_journeys::engine::EnrollmentStatus::Active
    );
    assert_eq!(after.step, "cho-giao-dich");
    assert_eq!(after.phase, nhip_journeys::engine::Phase::Waiting);
    assert_eq!(after.seq, 6);
    let records = step_records(deps, &customer_id, &enrollment_id).await;
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4, 5], "{records:?}");
    assert_eq!(records[2]["step"], "cho-kich-hoat-1");
    assert_eq!(records[2]["event_type"], "card.activated");
    // A wait hands on through due work, not the steps queue.
    assert!(take_all(&*deps.queues.steps).await.is_empty());
    // One `journey.step` per step on the bus, each once however often the batch came.
    let mut published: Vec<String> = local
        .bus
        .recent(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "journey.step")
        .map(|e| e.id)
        .collect();
    published.sort();
    let expected: Vec<String> = (0..6)
        .map(|seq| format!("enr-{enrollment_id}-{seq}"))
        .collect();
    assert_eq!(published, expected);
}

#[tokio::test]
async fn journey_worker_fixture_as_is_finds_no_enrollment_and_does_nothing() {
    // As `sam local invoke` sends it to a fresh stack: no such enrollment.
    let local = support::local_deps();
    let event: SqsEvent = support::fixture("journey-worker/batch.json");
    for record in &event.records {
        assert_eq!(
            record.message_attributes["type"].string_value.as_deref(),
            Some("journey_step")
        );
    }
    let response = nhip_journeys::engine::handle_batch(&local.deps, event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let written = local
        .deps
        .store
        .query(Query::partition(
            Index::Primary,
            format!("CUS#{FIXTURE_CUSTOMER}"),
        ))
        .await
        .unwrap();
    assert!(written.items.is_empty(), "{:?}", written.items);
    for queue in [&local.deps.queues.steps, &local.deps.queues.sends] {
        assert!(take_all(&**queue).await.is_empty(), "{}", queue.name());
    }
}

#[tokio::test]
async fn api_journey_fixtures_install_the_seed_take_an_event_and_count_the_enrollment() {
    let local = support::local_deps();
    let gateway = behind_gateway(&local.deps);
    // Verifying tokens itself (HS256, as the local runner does), the fixtures' Cognito token
    // is refused: only the authorizer's claims make the caller.
    let (status, body) = invoke_api(local.deps.clone(), "api/journey-stats.json").await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = invoke_api(gateway.clone(), "api/journey-stats.json").await;
    assert_eq!(status, 404, "not installed yet: {body}");
    // The caller is the fixtures' Cognito user, an admin by its `cognito:groups` claim.
    let (status, body) = invoke_api(gateway.clone(), "api/install-seed.json").await;
    assert!(status == 200 || status == 201, "{status} {body}");
    assert_eq!(body["journey"]["key"], CARD_JOURNEY, "{body}");
    assert_eq!(
        body["journey"]["created_by"], "6513270e-269e-4d37-b2a7-4de452e6b438",
        "{body}"
    );
    assert!(
        body["templates_created"]
            .as_array()
            .unwrap()
            .contains(&json!("the-moi-chao-mung-email")),
        "{body}"
    );

    // Nobody has the phone yet: the whole batch is refused.
    let (status, body) = invoke_api(gateway.clone(), "api/post-events.json").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"].get("events.0.customer").is_some(),
        "{body}"
    );
    assert!(take_all(&*local.deps.queues.events).await.is_empty());

    let customer_id = card_customer(&local.deps).await;
    let (status, body) = invoke_api(gateway.clone(), "api/post-events.json").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(
        body["events"],
        json!([{"id": "core-evt-0101", "customer_id": customer_id}])
    );
    drain_events(&local.deps).await;
    let enrollments = card_enrollments(&local.deps, &customer_id).await;
    assert_eq!(enrollments.len(), 1, "{enrollments:?}");
    assert_eq!(
        enrollments[0].id,
        nhip_journeys::engine::enrollment_id(
            CARD_JOURNEY,
            1,
            customer_id.parse().unwrap(),
            "event:core-banking#core-evt-0101"
        )
    );

    // The enrollment counts once the change feed is folded (the `journey-stats` function).
    nhip_local_runner::consumers::fold_feed(&local.deps)
        .await
        .unwrap();
    let (status, body) = invoke_api(gateway, "api/journey-stats.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totals"]["counts"]["entered"], 1, "{body}");
}

#[tokio::test]
async fn ticket_creator_fixture_opens_the_ticket_once() {
    let local = support::local_deps();
    let deps = &local.deps;
    let customer = as_admin(
        deps,
        "POST",
        "/v1/customers",
        serde_json::json!({
            "full_name": "Lê Văn Nam", "gender": "male", "phones": ["0912345678"],
            "source": "assigned",
        }),
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let mut event: SqsEvent = support::fixture("ticket-creator/batch.json");
    assert_eq!(event.records.len(), 1);
    for record in &mut event.records {
        record.body = record
            .body
            .as_ref()
            .map(|b| b.replace("01JD3Q7Z8X9V5K2M4N6P8R0T1W", &customer_id));
    }
    // Delivered twice: one ticket.
    for _ in 0..2 {
        let response = nhip_work::tickets::handle_batch(deps, event.clone()).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let listed = as_admin(deps, "GET", "/v1/tickets?queue=cskh", Value::Null).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["customer_id"], customer_id.as_str());
    assert_eq!(items[0]["status_label"], "Mới");
    assert_eq!(items[0]["due_at"], "2026-12-07T02:00:00Z");
    // A body that is not a ticket is a poison record, reported alone.
    let mut bad = event.clone();
    bad.records[0].body = Some("{}".into());
    let response = nhip_work::tickets::handle_batch(deps, bad).await;
    assert_eq!(response.batch_item_failures.len(), 1);

    // The ticket is worked to an outcome: taken, then closed as won with its note.
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let call = |who: &str, role: nhip_core::auth::Role, body: Value| {
        let token = support::token_for(deps, who, role, Some("hn"));
        let request = support::json_request(
            "POST",
            &format!("/v1/tickets/{id}/status"),
            Some(&token),
            Some(body),
        );
        let router = nhip_api::staff_router(deps.clone());
        async move { support::read(router.oneshot(request).await.unwrap()).await }
    };
    use nhip_core::auth::Role;
    let outside = call(
        "hung",
        Role::Consultant,
        json!({"status": "in_progress", "version": 1}),
    )
    .await;
    assert_eq!(
        outside.status, 404,
        "a consultant who does not see the customer"
    );
    let taken = call(
        "root",
        Role::Admin,
        json!({"status": "in_progress", "version": 1}),
    )
    .await;
    assert_eq!(taken.status, 200);
    let taken: Value = serde_json::from_slice(&taken.bytes).unwrap();
    assert_eq!(
        (
            taken["status_label"].as_str(),
            taken["assignee"].as_str(),
            taken["version"].as_u64()
        ),
        (Some("Đang xử lý"), Some("root"), Some(2))
    );
    let no_note = call("root", Role::Admin, json!({"status": "won", "version": 2})).await;
    assert_eq!(no_note.status, 422, "closing needs its outcome");
    let stale = call(
        "root",
        Role::Admin,
        json!({"status": "won", "note": "Đã đăng ký", "version": 1}),
    )
    .await;
    assert_eq!(stale.status, 409);
    let won = call(
        "root",
        Role::Admin,
        json!({"status": "won", "note": "Khách đã đăng ký gói BCC", "version": 2}),
    )
    .await;
    assert_eq!(won.status, 200);
    let again = call(
        "root",
        Role::Admin,
        json!({"status": "in_progress", "version": 3}),
    )
    .await;
    assert_eq!(again.status, 409, "a closed ticket stays closed");
    let timeline = as_admin(
        deps,
        "GET",
        &format!("/v1/customers/{customer_id}/timeline"),
        Value::Null,
    )
    .await;
    let won_entry = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "ticket.won")
        .expect("ticket.won on the customer's timeline");
    assert_eq!(won_entry["data"]["note"], "Khách đã đăng ký gói BCC");
}

#[tokio::test]
async fn customer_importer_fixture_runs_a_queued_import_once() {
    let local = support::local_deps();
    let deps = &local.deps;
    let lan = nhip_core::auth::Principal::new(
        "lan",
        nhip_core::auth::Role::Consultant,
        Some("hn".into()),
    );
    // 30 rows, one of them with a phone that is not one.
    let mut csv = String::from("Họ tên,Số điện thoại\n");
    for i in 0..29 {
        csv.push_str(&format!("Khách Nhập {i},09120000{i:02}\n"));
    }
    csv.push_str("Không Có Số,12\n");
    let import_id = nhip_crm::customers::import::queued::enqueue(deps, &lan, csv.as_bytes())
        .await
        .unwrap();
    let queued = nhip_crm::customers::import::queued::progress(deps, &lan, &import_id)
        .await
        .unwrap();
    assert_eq!(
        (queued.status.as_str(), queued.rows, queued.processed),
        ("queued", 30, 0)
    );
    let mut event: SqsEvent = support::fixture("customer-importer/batch.json");
    assert_eq!(event.records.len(), 1);
    // As is, the file is not there: one poison record, nothing written.
    let response = nhip_crm::customers::import::queued::handle_batch(deps, event.clone()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    for record in &mut event.records {
        record.body = record
            .body
            .as_ref()
            .map(|b| b.replace("5f0c3a9e2b7d41c8a6e9f1b3d5c7a9e0", &import_id));
    }
    // Delivered twice: each row applied once.
    for _ in 0..2 {
        let response = nhip_crm::customers::import::queued::handle_batch(deps, event.clone()).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let done = nhip_crm::customers::import::queued::progress(deps, &lan, &import_id)
        .await
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.rows, done.processed),
        ("done", 30, 30)
    );
    let summary = done.summary.unwrap();
    assert_eq!(
        (summary.created, summary.updated, summary.failed),
        (29, 0, 1)
    );
    let mine = as_admin(
        deps,
        "GET",
        "/v1/customers?owner=lan&limit=100",
        Value::Null,
    )
    .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 29, "{mine}");
    // Another consultant cannot read its progress.
    let hung = nhip_core::auth::Principal::new(
        "hung",
        nhip_core::auth::Role::Consultant,
        Some("hn".into()),
    );
    assert!(
        nhip_crm::customers::import::queued::progress(deps, &hung, &import_id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_customer_has_one_open_ticket_per_journey_whatever_arrives_at_once() {
    let local = support::local_deps();
    let deps = &local.deps;
    let customer = as_admin(
        deps,
        "POST",
        "/v1/customers",
        json!({"full_name": "Trương Văn Đức", "phones": ["0912345679"], "source": "assigned"}),
    )
    .await;
    let customer_id: nhip_domain::ids::CustomerId =
        customer["id"].as_str().unwrap().parse().unwrap();
    let request = |n: usize| nhip_crm::tickets::NewTicket {
        cause: format!("journey#enrollment-{n}#goi#1"),
        customer_id,
        queue: nhip_domain::journey::TicketQueue::Telesales,
        priority: nhip_domain::journey::TicketPriority::Normal,
        sla: None,
        due_at: Some(chrono::Utc::now()),
        purpose: nhip_domain::customer::Purpose::Care,
        title: format!("Gọi tư vấn lần {n}"),
        source: json!({"kind": "journey", "journey": "nuoi-duong-lead", "step": "goi"}),
        assignee: None,
    };
    // 20 requests of the same journey at once: one ticket, and a note for each other request.
    let created =
        futures::future::join_all((0..20).map(|n| nhip_work::tickets::create(deps, request(n))))
            .await;
    assert_eq!(
        created.iter().filter(|c| matches!(c, Ok(true))).count(),
        1,
        "{created:?}"
    );
    assert!(created.iter().all(|c| c.is_ok()));
    // Delivered again: nothing more.
    nhip_work::tickets::create(deps, request(7)).await.unwrap();
    let listed = as_admin(deps, "GET", "/v1/tickets?queue=telesales", Value::Null).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["notes"].as_array().unwrap().len(), 19);
    // Closed, it gives its place up: the next request opens a new ticket.
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let version = items[0]["version"].as_u64().unwrap();
    let principal = nhip_core::auth::Principal::new("root", nhip_core::auth::Role::Admin, None);
    let change = nhip_work::tickets::StatusChange {
        status: nhip_crm::tickets::TicketStatus::Lost,
        note: Some("Khách không có nhu cầu".into()),
        version,
    };
    nhip_work::tickets::change(deps, &principal, &id, &change)
        .await
        .unwrap();
    assert!(nhip_work::tickets::create(deps, request(20)).await.unwrap());
    let listed = as_admin(deps, "GET", "/v1/tickets?queue=telesales", Value::Null).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
}

#[tokio::test]
async fn journey_stats_fixture_counts_a_stream_batch_once_however_often_it_comes() {
    // The table's stream as Lambda hands it to `journey-stats`: a new enrollment and the step
    // record of its wait. Lambda retries a failed batch whole: the second delivery adds
    // nothing.
    let local = support::local_deps();
    let deps = &local.deps;
    let event: aws_lambda_events::dynamodb::Event = support::fixture("journey-stats/stream.json");
    for delivery in ["first", "retried"] {
        let counted = nhip_journeys::stats::fold_stream(deps, event.clone())
            .await
            .unwrap();
        assert_eq!(counted, 2, "{delivery}");
    }
    let counters = |sk: &'static str| async move {
        deps.store
            .get(&nhip_ports::store::Key::new(
                "STAT#JRN#the-moi-kich-hoat:1",
                sk,
            ))
            .await
            .unwrap()
            .unwrap()
    };
    let all = counters("ALL").await;
    assert_eq!(
        (all["entered"].clone(), all["waiting"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(counters("STEP#chao-mung").await["entered"], 1);
    assert_eq!(counters("STEP#cho-kich-hoat-1").await["waiting"], 1);
    // A batch of other items (the stream's filter lets none through, but a record without
    // `feed: stats` counts nothing anyway).
    let mut other = event.clone();
    other.records.truncate(1);
    other.records[0].event_id = "another".into();
    other.records[0].change.new_image.remove("feed");
    assert_eq!(
        nhip_journeys::stats::fold_stream(deps, other)
            .await
            .unwrap(),
        0
    );
    assert_eq!(counters("ALL").await["entered"], 1);
}
