//! The local runner as `nhip-local` starts it: a real TCP listener, consumers polling the
//! durable queues, schedules on the simulated clock.

use std::time::Duration;

use nhip_local_runner::{RunnerConfig, start};
use nhip_ports::Queue;
use nhip_ports::queue::OutgoingMessage;
use nhip_ports::store::{Index, Query, SortKey};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 exchange over TCP, so the test goes through the real listener.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let status = text[9..12].parse().unwrap();
    let (_, payload) = text.split_once("\r\n\r\n").unwrap();
    (
        status,
        serde_json::from_str(payload).unwrap_or(Value::String(payload.to_owned())),
    )
}

fn config(dir: &std::path::Path) -> RunnerConfig {
    RunnerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        speed: 0.0,
        seeds: Default::default(),
        start_at: Some(crate::support::test_epoch()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_serves_health_and_consumes_the_events_queue() {
    let dir = tempfile::tempdir().unwrap();
    let runner = start(config(dir.path())).await.unwrap();
    let (status, health) = http(runner.addr, "GET", "/health", None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"]["backend"], "sqlite");

    let customer = "01JD3Q7Z8X9V5K2M4N6P8R0T1W";
    let event = json!({
        "id": "core-1", "source": "core-banking", "type": "card.issued",
        "customer_id": customer, "occurred_at": "2026-11-23T02:15:00Z", "data": {}
    });
    runner
        .deps
        .queues
        .events
        .send_batch(vec![OutgoingMessage::new(event.to_string())])
        .await
        .unwrap();
    let timeline = Query::partition(Index::Primary, format!("CUS#{customer}"))
        .sk(SortKey::BeginsWith("TL#".into()));
    let mut recorded = 0;
    for _ in 0..100 {
        recorded = runner
            .deps
            .store
            .query(timeline.clone())
            .await
            .unwrap()
            .items
            .len();
        if recorded > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded, 1, "the events consumer recorded the event");
    // The message is deleted right after the handler returns: wait for the acknowledgement.
    let mut depth = (1, 1);
    for _ in 0..100 {
        let d = runner.deps.queues.events.depth().await.unwrap();
        depth = (d.visible, d.in_flight);
        if depth == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(depth, (0, 0), "acknowledged");
    runner.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_clock_advances_and_rejects_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let runner = start(config(dir.path())).await.unwrap();
    let (status, clock) = http(
        runner.addr,
        "POST",
        "/local/clock/advance",
        Some(r#"{"seconds": 86400}"#),
    )
    .await;
    assert_eq!(status, 200, "{clock}");
    assert_eq!(clock["now"], "2026-11-24T02:00:00.000Z");
    assert_eq!(clock["now_vn"], "2026-11-24T09:00:00.000+07:00");
    for bad in [
        r#"{"seconds": -1}"#,
        r#"{"to": "2020-01-01T00:00:00Z"}"#,
        "not json",
        r#"{"seconds": 1, "to": "2030-01-01T00:00:00Z"}"#,
    ] {
        let (status, body) = http(runner.addr, "POST", "/local/clock/advance", Some(bad)).await;
        assert!((400..500).contains(&status), "{bad}: {status}");
        assert!(body["error"]["code"].is_string(), "{bad}: {body}");
    }
    let (_, clock) = http(runner.addr, "GET", "/local/clock", None).await;
    assert_eq!(
        clock["now"], "2026-11-24T02:00:00.000Z",
        "bad requests changed nothing"
    );
    runner.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_consumes_work_queued_before_it_started_and_resumes_its_clock() {
    let dir = tempfile::tempdir().unwrap();
    let customer = "01JD3Q7Z8X9V5K2M4N6P8R0T1X";
    // Work left in the file by an earlier run (no consumers running yet).
    {
        let db = nhip_local::Database::open(dir.path().join("nhip.db")).unwrap();
        let clock = std::sync::Arc::new(nhip_local::SimulatedClock::frozen(
            crate::support::test_epoch(),
        ));
        let queue = nhip_local::LocalQueue::new(db, "events", clock);
        let messages = (0..20)
            .map(|i| {
                OutgoingMessage::new(
                    json!({"id": format!("e{i}"), "source": "core-banking", "type": "card.transaction",
                           "customer_id": customer, "occurred_at": "2026-11-23T02:15:00Z", "data": {"amount": i}})
                    .to_string(),
                )
            })
            .collect();
        nhip_ports::queue::send_all(&queue, messages).await.unwrap();
        assert_eq!(queue.depth().await.unwrap().visible, 20);
    }
    let runner = start(config(dir.path())).await.unwrap();
    let timeline = Query::partition(Index::Primary, format!("CUS#{customer}"))
        .sk(SortKey::BeginsWith("TL#".into()));
    let mut recorded = 0;
    for _ in 0..200 {
        recorded = runner
            .deps
            .store
            .query(timeline.clone())
            .await
            .unwrap()
            .items
            .len();
        if recorded == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded, 20);
    // The simulated clock is saved: a restart resumes from it, not from --start-at.
    runner.clock.advance(chrono::Duration::days(2));
    let advanced = nhip_ports::Clock::now(runner.clock.as_ref());
    runner.shutdown().await.unwrap();
    let runner = start(config(dir.path())).await.unwrap();
    assert_eq!(nhip_ports::Clock::now(runner.clock.as_ref()), advanced);
    runner.shutdown().await.unwrap();
}

/// What hyper answers by itself (a request line over 64 KiB) and the outbox's own routes
/// answer the JSON error body, as every route of the API does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_answers_every_error_with_the_json_error_body() {
    let dir = tempfile::tempdir().unwrap();
    let runner = start(config(dir.path())).await.unwrap();
    let long = format!("/v1/customers?name={}", "a".repeat(70 * 1024));
    let (status, body) = http(runner.addr, "GET", &long, None).await;
    assert_eq!(status, 414, "{body}");
    assert_eq!(body["error"]["code"], "uri_too_long", "{body}");
    for (query, field) in [
        ("limit=0", Some("limit")),
        ("limit=5000", Some("limit")),
        ("limit=abc", None),
        ("before=0", Some("before")),
    ] {
        let (status, body) = http(runner.addr, "GET", &format!("/outbox.json?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{query}: {body}");
        if let Some(field) = field {
            assert!(
                body["error"]["fields"][field].is_string(),
                "{query}: {body}"
            );
        }
    }
    let (status, body) = http(runner.addr, "GET", "/outbox.json?limit=1000", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], json!([]));
    // A staff path without the method, and an unknown path, through the merged router.
    let (status, body) = http(runner.addr, "DELETE", "/v1/customers", None).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    let (status, body) = http(runner.addr, "GET", "/v1/nowhere", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    // The public intake works through the real listener (the peer address reaches it).
    let (status, body) = http(
        runner.addr,
        "POST",
        "/v1/intake/leads",
        Some(r#"{"full_name": "Ngô Thị Hà", "phone": "(+84) 90-555-1234"}"#),
    )
    .await;
    assert_eq!((status, body), (202, json!({"status": "received"})));
    runner.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_installs_only_the_seed_journeys_it_is_told_to() {
    use nhip_local_runner::Seeds;

    assert_eq!("all".parse::<Seeds>(), Ok(Seeds::All));
    assert_eq!("none".parse::<Seeds>(), Ok(Seeds::Only(Vec::new())));
    let error = "the-moi-kich-hoat, khong-co".parse::<Seeds>().unwrap_err();
    assert!(
        error.contains("\"khong-co\"") && error.contains("nuoi-duong-lead"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.seeds = "the-moi-kich-hoat".parse().unwrap();
    let runner = start(config).await.unwrap();
    assert!(installed_on(&runner, "the-moi-kich-hoat").await);
    assert!(!installed_on(&runner, "tra-gop-moi").await);
    assert!(!installed_on(&runner, "nuoi-duong-lead").await);
    runner.shutdown().await.unwrap();

    // A restart with every seed adds the missing ones and keeps the one there.
    let runner = start(self::config(dir.path())).await.unwrap();
    assert!(installed_on(&runner, "tra-gop-moi").await);
    assert!(installed_on(&runner, "nuoi-duong-lead").await);
    runner.shutdown().await.unwrap();
}

async fn installed_on(runner: &nhip_local_runner::Runner, key: &str) -> bool {
    nhip_journeys::definitions::meta(&runner.deps, key)
        .await
        .unwrap()
        .is_some()
}
