//! `EventBridgeBus`: the event-bus port on one Amazon EventBridge bus (`PutEvents`).
//!
//! Each domain event is one entry: `Source` is the event's source (`nhip` for Nhịp's own
//! events), `DetailType` its type (`journey.converted`), `Detail` the event as JSON (`id`,
//! `type`, `customer_id` when there is one, `occurred_at`, `data`), `Time` when it happened,
//! `EventBusName` the configured bus (name or ARN).
//!
//! At most [`MAX_BATCH`] events a call; more are refused before any call. An event whose
//! source starts with `aws.` (reserved by AWS) is not sent and counts as failed. When
//! EventBridge refuses some entries (`FailedEntryCount` > 0) the result is
//! `PartiallyPublished`: the rest went, and sending the batch again is safe because receivers
//! key events by `(source, id)`. SDK errors are `Unavailable` with the SDK error kept whole.
//! Nothing personal is logged: only positions, sources, types and EventBridge's error codes.

use crate::lazy::Lazy;
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use nhip_domain::event::DomainEvent;
use nhip_ports::bus::{BusError, EventBus, MAX_BATCH};
use serde_json::{Map, Value};

/// Prefix of the sources EventBridge reserves for AWS services.
const RESERVED_SOURCE_PREFIX: &str = "aws.";

/// One EventBridge bus behind the event-bus port.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Lazy<Client>,
    bus_name: String,
}

impl EventBridgeBus {
    /// The bus `bus_name` (a name or an ARN) through `client`.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self::on(crate::lazy::ready(client), bus_name)
    }

    fn on(client: Lazy<Client>, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    /// The bus `bus_name` through a client built from `sdk` (region, credentials, endpoint
    /// override).
    pub fn from_sdk_config(sdk: &SdkConfig, bus_name: impl Into<String>) -> Self {
        Self::on(crate::lazy::sdk_client(sdk, Client::new), bus_name)
    }

    /// The bus's name or ARN, as configured.
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// The EventBridge client, for setup code and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn entry(&self, event: &DomainEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source(&event.source)
            .detail_type(&event.kind)
            .detail(detail(event).to_string())
            .time(aws_smithy_types::DateTime::from_millis(
                event.occurred_at.timestamp_millis(),
            ))
            .event_bus_name(&self.bus_name)
            .build()
    }
}

/// The `Detail` of an event's entry: the event's JSON without its source, which is the
/// entry's own `Source`.
pub fn detail(event: &DomainEvent) -> Value {
    let mut detail = Map::new();
    detail.insert("id".into(), event.id.clone().into());
    detail.insert("type".into(), event.kind.clone().into());
    if let Some(customer_id) = &event.customer_id {
        detail.insert(
            "customer_id".into(),
            serde_json::to_value(customer_id).expect("a customer id serialises"),
        );
    }
    detail.insert(
        "occurred_at".into(),
        serde_json::to_value(event.occurred_at).expect("a timestamp serialises"),
    );
    detail.insert("data".into(), event.data.clone());
    Value::Object(detail)
}

#[async_trait]
impl EventBus for EventBridgeBus {
    fn backend(&self) -> &'static str {
        "eventbridge"
    }

    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        let total = events.len();
        if total > MAX_BATCH {
            return Err(BusError::PartiallyPublished {
                failed: total - MAX_BATCH,
                total,
            });
        }
        let mut failed = 0;
        let mut entries = Vec::with_capacity(total);
        for (position, event) in events.iter().enumerate() {
            if event.source.starts_with(RESERVED_SOURCE_PREFIX) {
                tracing::warn!(
                    position,
                    source = %event.source,
                    event_type = %event.kind,
                    "an event source starting with 'aws.' is reserved by AWS; not published"
                );
                failed += 1;
            } else {
                entries.push((position, self.entry(event)));
            }
        }
        if !entries.is_empty() {
            let (positions, entries): (Vec<usize>, Vec<PutEventsRequestEntry>) =
                entries.into_iter().unzip();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|error| BusError::Unavailable {
                    source: Box::new(error),
                })?;
            if out.failed_entry_count > 0 {
                for (result, position) in out.entries().iter().zip(&positions) {
                    if let Some(code) = result.error_code() {
                        let event = &events[*position];
                        tracing::warn!(
                            position = *position,
                            source = %event.source,
                            event_type = %event.kind,
                            code,
                            "EventBridge did not accept an event"
                        );
                    }
                }
                failed += usize::try_from(out.failed_entry_count).unwrap_or(positions.len());
            }
        }
        if failed > 0 {
            return Err(BusError::PartiallyPublished { failed, total });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::retry::RetryConfig;
    use chrono::{TimeZone, Utc};

    use super::*;

    #[derive(Debug, Clone)]
    struct Canned {
        status: u16,
        body: &'static str,
        requests: Arc<Mutex<Vec<String>>>,
    }

    impl HttpConnector for Canned {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let body = request
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            self.requests.lock().unwrap().push(body);
            let mut response = HttpResponse::new(
                StatusCode::try_from(self.status).expect("a valid status"),
                SdkBody::from(self.body),
            );
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.1");
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    fn canned(status: u16, body: &'static str) -> (EventBridgeBus, Arc<Mutex<Vec<String>>>) {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connector = Canned {
            status,
            body,
            requests: requests.clone(),
        };
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-southeast-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(connector.clone())
            }))
            .build();
        (
            EventBridgeBus::new(Client::from_conf(config), "nhip-test"),
            requests,
        )
    }

    fn event(id: &str, source: &str) -> DomainEvent {
        DomainEvent {
            id: id.into(),
            source: source.into(),
            kind: "journey.converted".into(),
            customer_id: None,
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap(),
            data: serde_json::json!({"journey_id": "j1"}),
        }
    }

    #[tokio::test]
    async fn entries_carry_source_type_detail_time_and_bus() {
        let (bus, requests) = canned(
            200,
            r#"{"FailedEntryCount":0,"Entries":[{"EventId":"e1"}]}"#,
        );
        bus.publish(&[event("evt-1", "nhip")]).await.unwrap();
        let requests = requests.lock().unwrap();
        let sent: Value = serde_json::from_str(&requests[0]).unwrap();
        let entry = &sent["Entries"][0];
        assert_eq!(entry["Source"], "nhip");
        assert_eq!(entry["DetailType"], "journey.converted");
        assert_eq!(entry["EventBusName"], "nhip-test");
        assert_eq!(entry["Time"].as_f64(), Some(1_795_143_600.0));
        let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(detail["id"], "evt-1");
        assert_eq!(detail["type"], "journey.converted");
        assert_eq!(detail["occurred_at"], "2026-11-20T03:00:00Z");
        assert_eq!(detail["data"]["journey_id"], "j1");
        assert!(detail.get("customer_id").is_none());
    }

    #[tokio::test]
    async fn failed_entries_are_a_partial_publish() {
        let (bus, _) = canned(
            200,
            r#"{"FailedEntryCount":1,"Entries":[{"EventId":"e1"},{"ErrorCode":"InternalFailure","ErrorMessage":"x"}]}"#,
        );
        let err = bus
            .publish(&[event("evt-1", "nhip"), event("evt-2", "nhip")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BusError::PartiallyPublished {
                    failed: 1,
                    total: 2
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn sdk_errors_are_unavailable_with_their_source() {
        let (bus, _) = canned(500, r#"{"__type":"InternalException","message":"boom"}"#);
        let err = bus.publish(&[event("evt-1", "nhip")]).await.unwrap_err();
        assert!(matches!(err, BusError::Unavailable { .. }), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn oversized_batches_and_reserved_sources_are_refused_before_any_call() {
        let (bus, requests) = canned(200, r#"{"FailedEntryCount":0,"Entries":[]}"#);
        let eleven: Vec<_> = (0..11).map(|i| event(&format!("e{i}"), "nhip")).collect();
        assert!(matches!(
            bus.publish(&eleven).await,
            Err(BusError::PartiallyPublished {
                failed: 1,
                total: 11
            })
        ));
        assert!(matches!(
            bus.publish(&[event("e1", "aws.events")]).await,
            Err(BusError::PartiallyPublished {
                failed: 1,
                total: 1
            })
        ));
        bus.publish(&[]).await.unwrap();
        assert!(requests.lock().unwrap().is_empty());
    }
}
