//! Local-only routes: the simulated clock. They exist only in the local runner, never in
//! the Lambda API.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use nhip_core::http::ApiError;
use nhip_local::SimulatedClock;
use nhip_ports::Clock;
use serde::Deserialize;
use serde_json::{Value, json};

/// `/local/clock` routes over the runner's clock.
pub fn router(clock: Arc<SimulatedClock>) -> Router {
    Router::new()
        .route("/local/clock", get(read))
        .route("/local/clock/advance", post(advance))
        .route("/local/clock/speed", post(speed))
        .with_state(clock)
}

fn clock_body(clock: &SimulatedClock) -> Json<Value> {
    Json(json!({
        "now": nhip_core::keys::instant(clock.now()),
        "now_vn": nhip_domain::time::to_vn(clock.now()).to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "speed": clock.speed(),
    }))
}

async fn read(State(clock): State<Arc<SimulatedClock>>) -> Json<Value> {
    clock_body(&clock)
}

/// `{"seconds": N}` moves the clock forward N seconds; `{"to": "<RFC 3339>"}` moves it to an
/// instant (never backwards).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: Option<u64>,
    to: Option<DateTime<Utc>>,
}

fn bad_json(rejection: JsonRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        rejection.body_text(),
    )
}

async fn advance(
    State(clock): State<Arc<SimulatedClock>>,
    body: Result<Json<Advance>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(advance) = body.map_err(bad_json)?;
    match (advance.seconds, advance.to) {
        (Some(seconds), None) if seconds <= 10 * 365 * 86_400 => {
            clock.advance(Duration::seconds(seconds as i64));
        }
        (None, Some(to)) if to >= clock.now() => {
            clock.advance_to(to);
        }
        (None, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "clock_backwards",
                "The simulated clock only moves forward.",
            )
            .field("to", "must not be before the current simulated time"));
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_advance",
                "Give either 'seconds' (at most ten years) or 'to', not both.",
            ));
        }
    }
    Ok(clock_body(&clock))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Speed {
    speed: f64,
}

async fn speed(
    State(clock): State<Arc<SimulatedClock>>,
    body: Result<Json<Speed>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(Speed { speed }) = body.map_err(bad_json)?;
    if !(0.0..=1_000_000.0).contains(&speed) || speed.is_nan() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_speed",
            "Speed is between 0 (stopped) and 1000000.",
        )
        .field("speed", "out of range"));
    }
    clock.set_speed(speed);
    Ok(clock_body(&clock))
}
