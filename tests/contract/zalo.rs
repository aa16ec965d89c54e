//! The Zalo OA token pair kept by `nhip_messaging::zalo_tokens`, with the real ZNS channel and
//! OAuth adapter of `nhip-aws`, against a stand-in of Zalo on loopback that behaves as Zalo
//! does: an access token works until it expires or is revoked, and a refresh token buys one
//! new pair, once. Each case runs on the SQLite store and on DynamoDB (the emulator).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::routing::post;
use nhip_local::SimulatedClock;
use nhip_messaging::zalo_tokens::{SealKey, ZaloTokens};
use nhip_ports::channel::{Channel, ChannelError, Envelope, Outgoing, OutgoingZns};
use nhip_ports::zalo::{AccessTokens, IssuedTokens, TokenError, ZaloOAuth};
use nhip_ports::{Clock, ItemStore};
use serde_json::{Value, json};

use super::store::{Backend, open};

const APP_ID: &str = "zalo-app-1";
const APP_SECRET: &str = "zalo-app-secret-key";
const KEY: &[u8] = b"contract-tests-credentials-key-of-32-bytes";

/// What the stand-in knows and counts.
#[derive(Default)]
struct Zalo {
    issued: u32,
    /// Access tokens ZNS accepts.
    valid: HashSet<String>,
    /// Refresh tokens not spent yet.
    unspent: HashSet<String>,
    /// Grants asked for, spent or refused.
    refreshes: u32,
    refused_refreshes: u32,
    /// The token each ZNS request carried.
    sends: Vec<String>,
    /// How long a refresh takes.
    delay: Duration,
    /// ZNS refuses every token, however fresh.
    refuse_every_token: bool,
    /// The token endpoint refuses every grant without spending it (a wrong app secret key).
    refuse_grants: bool,
}

impl Zalo {
    fn issue(&mut self) -> (String, String) {
        self.issued += 1;
        let pair = (format!("A{}", self.issued), format!("R{}", self.issued));
        self.valid.insert(pair.0.clone());
        self.unspent.insert(pair.1.clone());
        pair
    }
}

type Shared = Arc<Mutex<Zalo>>;

async fn token_endpoint(
    State(zalo): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> axum::Json<Value> {
    let delay = zalo.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut zalo = zalo.lock().unwrap();
    zalo.refreshes += 1;
    let right_app = headers.get("secret_key").and_then(|v| v.to_str().ok()) == Some(APP_SECRET)
        && form.get("app_id").map(String::as_str) == Some(APP_ID)
        && form.get("grant_type").map(String::as_str) == Some("refresh_token");
    let token = form.get("refresh_token").cloned().unwrap_or_default();
    if !right_app || zalo.refuse_grants || !zalo.unspent.remove(&token) {
        zalo.refused_refreshes += 1;
        // Zalo answers a refusal with HTTP 200 and an error in the body.
        return axum::Json(json!({
            "error": -14014,
            "error_name": "Invalid refresh token",
            "error_description": "refresh token is invalid or was used",
        }));
    }
    let (access, refresh) = zalo.issue();
    axum::Json(json!({"access_token": access, "refresh_token": refresh, "expires_in": "90000"}))
}

async fn zns_endpoint(State(zalo): State<Shared>, headers: HeaderMap) -> axum::Json<Value> {
    let mut zalo = zalo.lock().unwrap();
    let token = headers
        .get("access_token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    zalo.sends.push(token.clone());
    if zalo.valid.contains(&token) && !zalo.refuse_every_token {
        let id = format!("msg-{}", zalo.sends.len());
        axum::Json(json!({"error": 0, "message": "Success", "data": {"msg_id": id}}))
    } else {
        axum::Json(json!({"error": -124, "message": "Access token is invalid"}))
    }
}

/// The stand-in on loopback: its base URL and state.
async fn stand_in() -> (String, Shared) {
    let zalo: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/v4/oa/access_token", post(token_endpoint))
        .route("/message/template", post(zns_endpoint))
        .with_state(zalo.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), zalo)
}

/// One Lambda execution environment: its own keeper (and cache) and channel over the shared
/// table.
struct Sender {
    tokens: Arc<ZaloTokens>,
    channel: nhip_aws::ZaloZnsChannel,
}

fn sender(url: &str, store: &Arc<dyn ItemStore>, clock: &Arc<SimulatedClock>) -> Sender {
    let http = nhip_aws::webhook::http_client();
    let oauth: Arc<dyn ZaloOAuth> = Arc::new(nhip_aws::ZaloOAuthEndpoint::new(
        http.clone(),
        format!("{url}/v4/oa"),
        APP_ID,
        APP_SECRET,
    ));
    let tokens = Arc::new(ZaloTokens::new(
        store.clone(),
        clock.clone() as Arc<dyn Clock>,
        Some(oauth),
        SealKey::derive(KEY),
    ));
    let channel = nhip_aws::ZaloZnsChannel::new(
        http,
        format!("{url}/message/template"),
        Some(tokens.clone() as Arc<dyn AccessTokens>),
    );
    Sender { tokens, channel }
}

/// A ZNS message to customer `n`.
fn message(n: usize) -> Envelope {
    Envelope {
        message_id: format!("zns-{n}"),
        outgoing: Outgoing::Zns(OutgoingZns {
            phone: format!("849{n:08}"),
            template_id: "nhac-tra-gop".into(),
            params: BTreeMap::from([("customer_name".into(), "Nguyễn Văn A".into())]),
            tracking_id: format!("zns-{n}"),
        }),
    }
}

struct Setup {
    url: String,
    zalo: Shared,
    store: Arc<dyn ItemStore>,
    clock: Arc<SimulatedClock>,
    _dir: Option<tempfile::TempDir>,
}

/// A stand-in, a store, a clock, and a first pair (A1, R1) an admin installed.
async fn setup(backend: Backend) -> Setup {
    let (url, zalo) = stand_in().await;
    let (store, dir) = open(backend).await;
    let clock = Arc::new(SimulatedClock::frozen(crate::support::test_epoch()));
    install_new_pair(&zalo, &sender(&url, &store, &clock)).await;
    Setup {
        url,
        zalo,
        store,
        clock,
        _dir: dir,
    }
}

/// An admin installs a pair Zalo has just issued (25 hours).
async fn install_new_pair(zalo: &Shared, by: &Sender) {
    let (access, refresh) = zalo.lock().unwrap().issue();
    let tokens = IssuedTokens {
        access_token: access,
        refresh_token: refresh,
        expires_in: Duration::from_secs(90_000),
    };
    by.tokens.install(&tokens, "admin").await.unwrap();
}

/// 25 hours pass: Zalo stops accepting every access token issued so far.
fn a_day_passes(setup: &Setup) {
    setup.clock.advance(chrono::TimeDelta::hours(25));
    setup.zalo.lock().unwrap().valid.clear();
}

async fn zns_keeps_sending_across_token_expiries(backend: Backend) {
    let setup = setup(backend).await;
    let one = sender(&setup.url, &setup.store, &setup.clock);
    one.channel.send(&message(1)).await.unwrap();
    for day in 2..=4 {
        a_day_passes(&setup);
        let accepted = one.channel.send(&message(day)).await.unwrap();
        assert!(accepted.provider_id.starts_with("msg-"));
    }
    {
        let zalo = setup.zalo.lock().unwrap();
        assert_eq!(
            zalo.sends,
            ["A1", "A2", "A3", "A4"],
            "each day's token, no refusal"
        );
        assert_eq!((zalo.refreshes, zalo.refused_refreshes), (3, 0));
        assert_eq!(
            zalo.unspent.len(),
            1,
            "every refresh token but the newest spent"
        );
    }
    let status = one.tokens.status().await.unwrap().unwrap();
    assert_eq!(status.refreshes, 3);
    assert_eq!(status.failures, 0);
    assert!(status.access_expires_at > setup.clock.now() + chrono::TimeDelta::hours(24));
    // The table holds no token in the clear.
    let item = setup
        .store
        .get(&nhip_messaging::zalo_tokens::key())
        .await
        .unwrap()
        .unwrap();
    // (The sealed text is random base64, so it is not searched for the short token names.)
    let issued: Vec<String> = (1..=4)
        .flat_map(|n| [format!("A{n}"), format!("R{n}")])
        .collect();
    assert!(
        item.values().all(|value| value
            .as_str()
            .is_none_or(|text| !issued.iter().any(|t| t == text))),
        "{item:?}"
    );
    assert!(!item.contains_key("access_token") && !item.contains_key("refresh_token"));
}

async fn eight_senders_at_expiry_spend_the_refresh_token_once(backend: Backend) {
    let setup = setup(backend).await;
    // Eight execution environments, each with its own keeper, all finding the token expired.
    let senders: Vec<Sender> = (0..8)
        .map(|_| sender(&setup.url, &setup.store, &setup.clock))
        .collect();
    a_day_passes(&setup);
    setup.zalo.lock().unwrap().delay = Duration::from_millis(400);
    let results = futures::future::join_all(
        senders
            .iter()
            .enumerate()
            .map(|(n, s)| async move { s.channel.send(&message(n)).await }),
    )
    .await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let zalo = setup.zalo.lock().unwrap();
    assert_eq!(zalo.refreshes, 1, "one refresh for eight senders");
    assert_eq!(zalo.refused_refreshes, 0);
    assert_eq!(zalo.sends.len(), 8, "no send refused: {:?}", zalo.sends);
    assert!(
        zalo.sends.iter().all(|token| token == "A2"),
        "{:?}",
        zalo.sends
    );
}

async fn an_invalid_token_refreshes_and_retries_once_never_twice(backend: Backend) {
    let setup = setup(backend).await;
    let one = sender(&setup.url, &setup.store, &setup.clock);
    one.channel.send(&message(1)).await.unwrap();
    // Zalo drops the token before its time (the OA admin took the app's access back, say):
    // one refresh, one retry.
    setup.zalo.lock().unwrap().valid.clear();
    one.channel.send(&message(2)).await.unwrap();
    {
        let zalo = setup.zalo.lock().unwrap();
        assert_eq!(zalo.sends, ["A1", "A1", "A2"]);
        assert_eq!(zalo.refreshes, 1);
    }
    one.channel.send(&message(3)).await.unwrap();
    assert_eq!(
        setup.zalo.lock().unwrap().sends.len(),
        4,
        "the new token is kept"
    );

    // Later, Zalo refuses the token and the refresh token too: the message stays queued and
    // the pair is marked for an admin to replace.
    setup.clock.advance(chrono::TimeDelta::minutes(2));
    {
        let mut zalo = setup.zalo.lock().unwrap();
        zalo.valid.clear();
        zalo.unspent.clear();
    }
    let result = one.channel.send(&message(4)).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
    {
        let zalo = setup.zalo.lock().unwrap();
        assert_eq!(zalo.sends.len(), 5, "nothing to retry with");
        assert_eq!((zalo.refreshes, zalo.refused_refreshes), (2, 1));
    }
    let status = one.tokens.status().await.unwrap().unwrap();
    assert!(status.revoked && status.failures == 1, "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("-14014"),
        "{status:?}"
    );
    // A refused refresh token is never spent again: the next send asks Zalo for none.
    let result = one.channel.send(&message(5)).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
    assert_eq!(setup.zalo.lock().unwrap().refreshes, 2);
    let direct = one.tokens.after_rejection("A2").await;
    assert!(matches!(direct, Err(TokenError::Revoked(_))), "{direct:?}");

    // An admin installs a new pair: sending resumes at once.
    install_new_pair(&setup.zalo, &one).await;
    one.channel.send(&message(6)).await.unwrap();
    assert_eq!(setup.zalo.lock().unwrap().sends.last().unwrap(), "A3");
}

async fn a_refreshed_token_refused_too_is_not_retried_a_third_time(backend: Backend) {
    let setup = setup(backend).await;
    let one = sender(&setup.url, &setup.store, &setup.clock);
    setup.zalo.lock().unwrap().refuse_every_token = true;
    let result = one.channel.send(&message(1)).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { source }) if source.to_string().contains("-124")),
        "{result:?}"
    );
    {
        let zalo = setup.zalo.lock().unwrap();
        assert_eq!(
            zalo.sends,
            ["A1", "A2"],
            "sent with the old token and the new one, no more"
        );
        assert_eq!(zalo.refreshes, 1);
    }
    // The next message, within the minute: refused again, and no refresh token is spent on it.
    let result = one.channel.send(&message(2)).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
    assert_eq!(setup.zalo.lock().unwrap().refreshes, 1);
    // A minute later one more refresh is tried.
    setup.clock.advance(chrono::TimeDelta::minutes(2));
    let result = one.channel.send(&message(3)).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
    let zalo = setup.zalo.lock().unwrap();
    assert_eq!(zalo.sends, ["A1", "A2", "A2", "A2", "A3"]);
    assert_eq!(zalo.refreshes, 2);
}

async fn the_scheduler_refreshes_ahead_and_reports_the_pair(backend: Backend) {
    let setup = setup(backend).await;
    let scheduler = sender(&setup.url, &setup.store, &setup.clock);
    let metrics = |status: &nhip_messaging::zalo_tokens::TokenStatus| -> Value {
        let line = nhip_messaging::zalo_tokens::metrics_line(
            status,
            setup.clock.now(),
            "nhip-prod-Scheduler",
        );
        serde_json::from_str(&line).unwrap()
    };
    // Four hours left: nothing to do yet.
    setup.clock.advance(chrono::TimeDelta::hours(21));
    let status = scheduler.tokens.maintain().await.unwrap().unwrap();
    assert_eq!(status.refreshes, 0);
    let line = metrics(&status);
    assert_eq!(line["ZaloAccessTokenHoursLeft"], 4.0);
    assert_eq!(line["ZaloTokenRefreshFailures"], 0);
    assert_eq!(line["FunctionName"], "nhip-prod-Scheduler");
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Nhip");
    // Two hours left: refreshed ahead, so no sender has to.
    setup.clock.advance(chrono::TimeDelta::hours(2));
    let status = scheduler.tokens.maintain().await.unwrap().unwrap();
    assert_eq!(status.refreshes, 1);
    assert_eq!(metrics(&status)["ZaloAccessTokenHoursLeft"], 25.0);
    assert_eq!(setup.zalo.lock().unwrap().refreshes, 1);
    let sending = sender(&setup.url, &setup.store, &setup.clock);
    sending.channel.send(&message(1)).await.unwrap();
    assert_eq!(setup.zalo.lock().unwrap().sends, ["A2"]);

    // Zalo refuses the grant (the app secret key was put wrong): the failure is reported
    // every tick, and Zalo is asked again only an hour later.
    setup.zalo.lock().unwrap().refuse_grants = true;
    setup.clock.advance(chrono::TimeDelta::hours(23));
    for _ in 0..3 {
        let status = scheduler.tokens.maintain().await.unwrap().unwrap();
        assert!(status.revoked, "{status:?}");
        let line = metrics(&status);
        assert_eq!(line["ZaloTokenRefreshFailures"], 1);
        assert_eq!(line["ZaloTokenRevoked"], true);
    }
    assert_eq!(setup.zalo.lock().unwrap().refreshes, 2);
    // Meanwhile the access token, two hours from its end, is still used.
    sending.channel.send(&message(2)).await.unwrap();
    assert_eq!(setup.zalo.lock().unwrap().sends, ["A2", "A2"]);
    // The key is put right; an hour after the refusal the scheduler tries once more.
    setup.zalo.lock().unwrap().refuse_grants = false;
    setup.clock.advance(chrono::TimeDelta::minutes(30));
    scheduler.tokens.maintain().await.unwrap();
    assert_eq!(
        setup.zalo.lock().unwrap().refreshes,
        2,
        "not within the hour"
    );
    setup.clock.advance(chrono::TimeDelta::minutes(31));
    let status = scheduler.tokens.maintain().await.unwrap().unwrap();
    assert!(!status.revoked && status.failures == 0, "{status:?}");
    assert_eq!(metrics(&status)["ZaloAccessTokenHoursLeft"], 25.0);
    assert_eq!(setup.zalo.lock().unwrap().refreshes, 3);
}

async fn a_failed_refresh_is_tried_again_by_the_next_tick(backend: Backend) {
    let setup = setup(backend).await;
    let scheduler = sender(&setup.url, &setup.store, &setup.clock);
    let one = sender(&setup.url, &setup.store, &setup.clock);
    one.channel.send(&message(1)).await.unwrap();
    // Zalo drops the token early and its token endpoint is down: the sender's refresh
    // fails, though the stored token has a day left.
    {
        let mut zalo = setup.zalo.lock().unwrap();
        zalo.valid.clear();
        zalo.delay = Duration::from_secs(11);
    }
    let result = one.channel.send(&message(2)).await;
    assert!(
        matches!(&result, Err(ChannelError::NotSent { .. })),
        "{result:?}"
    );
    let status = one.tokens.status().await.unwrap().unwrap();
    assert!(status.failures == 1 && !status.revoked, "{status:?}");
    // The next tick tries again at once, not three hours before the token's end.
    setup.zalo.lock().unwrap().delay = Duration::ZERO;
    let status = scheduler.tokens.maintain().await.unwrap().unwrap();
    assert!(status.failures == 0 && status.refreshes == 1, "{status:?}");
    one.channel.send(&message(3)).await.unwrap();
    assert_eq!(setup.zalo.lock().unwrap().sends.last().unwrap(), "A2");
}

async fn a_batch_of_one_process_at_expiry_spends_the_refresh_token_once(backend: Backend) {
    let setup = setup(backend).await;
    // One execution environment sending to 24 customers: one keeper, 24 sends at once.
    let one = sender(&setup.url, &setup.store, &setup.clock);
    one.channel.send(&message(0)).await.unwrap();
    a_day_passes(&setup);
    setup.zalo.lock().unwrap().delay = Duration::from_millis(400);
    let results = futures::future::join_all((1..=24).map(|n| {
        let channel = &one.channel;
        async move { channel.send(&message(n)).await }
    }))
    .await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let zalo = setup.zalo.lock().unwrap();
    assert_eq!((zalo.refreshes, zalo.refused_refreshes), (1, 0));
    assert_eq!(zalo.sends.len(), 25, "{:?}", zalo.sends);
    assert!(
        zalo.sends[1..].iter().all(|token| token == "A2"),
        "{:?}",
        zalo.sends
    );
}

macro_rules! zalo_contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backend::Sqlite).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::support::needs_emulator!();
                    super::$case(super::Backend::Dynamodb).await;
                }
            )*
        }
    };
}

zalo_contract!(
    zns_keeps_sending_across_token_expiries,
    eight_senders_at_expiry_spend_the_refresh_token_once,
    an_invalid_token_refreshes_and_retries_once_never_twice,
    a_refreshed_token_refused_too_is_not_retried_a_third_time,
    the_scheduler_refreshes_ahead_and_reports_the_pair,
    a_failed_refresh_is_tried_again_by_the_next_tick,
    a_batch_of_one_process_at_expiry_spends_the_refresh_token_once,
);
