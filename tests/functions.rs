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
    assert!(report.minutes >= 1);
}
