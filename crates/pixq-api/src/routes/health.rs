//! `GET /healthz` (the process answers) and `GET /readyz` (Redis answers too).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// How long `/readyz` waits for Redis to answer PING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: 200 whenever the process serves requests.
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 while Redis answers PING within [`READY_TIMEOUT`], 503 otherwise.
///
/// The upstream's pause state is kept by the workers; the API reports it as not paused until
/// it can read it from the store. A paused upstream never makes this fail.
pub(super) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut conn = state.redis();
    let ping = tokio::time::timeout(
        READY_TIMEOUT,
        redis::cmd("PING").query_async::<String>(&mut conn),
    )
    .await;
    let (status, redis) = match ping {
        Ok(Ok(_)) => (StatusCode::OK, "ok".to_owned()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: Redis did not answer PING");
            (StatusCode::SERVICE_UNAVAILABLE, describe(&e))
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("error: no answer within {}s", READY_TIMEOUT.as_secs()),
        ),
    };
    let body = json!({
        "redis": redis,
        "upstream": {"paused": false, "reason": null},
    });
    (status, Json(body))
}

/// A short account of a failed PING that names no address or credential.
fn describe(e: &redis::RedisError) -> String {
    if e.is_timeout() {
        "error: timeout".to_owned()
    } else if e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() {
        "error: unreachable".to_owned()
    } else {
        format!("error: {:?}", e.kind())
    }
}
