//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers too).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pixq_core::store::{BackendKind, StoreError};
use serde_json::{Value, json};

use crate::state::AppState;

/// How long `/readyz` waits for the store to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: 200 whenever the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = Object, example = json!({"status": "ok"})))
)]
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 while the store answers within [`READY_TIMEOUT`], 503 otherwise.
///
/// The body names the store (`"store": "redis"` or `"sqlite"`) and its state under its own
/// key (`"redis": "ok"`, or `"sqlite": "ok"`), and reports the upstream's pauses as the
/// workers recorded them: `paused` is true while any token is paused, `reason` is the first
/// paused token's reason, and `tokens` lists every pause by token alias. A paused upstream
/// never makes this fail: the API still takes jobs, which wait.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The store answers; `upstream` tells whether submission is paused", body = Object),
        (status = 503, description = "The store does not answer", body = Object),
    )
)]
pub(super) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = state.store();
    let kind = store.kind();
    let ping = tokio::time::timeout(READY_TIMEOUT, store.ping()).await;
    let (status, health) = match ping {
        Ok(Ok(())) => {
            pixq_core::outage::recovered("readyz");
            (StatusCode::OK, "ok".to_owned())
        }
        Ok(Err(e)) => {
            if e.is_unreachable() {
                pixq_core::outage::failed("readyz", &e);
            }
            (StatusCode::SERVICE_UNAVAILABLE, describe(&e))
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("error: no answer within {}s", READY_TIMEOUT.as_secs()),
        ),
    };
    let upstream = if status == StatusCode::OK {
        upstream(&state).await
    } else {
        json!({"paused": null, "reason": format!("unknown: {kind} does not answer")})
    };
    let mut body = json!({"store": kind.as_str(), "upstream": upstream});
    body[kind.as_str()] = Value::String(health);
    if kind != BackendKind::Redis {
        body["redis"] = Value::Null;
    }
    (status, Json(body))
}

/// The pauses the workers recorded, or an unknown state when they cannot be read in time.
async fn upstream(state: &AppState) -> Value {
    let read = tokio::time::timeout(READY_TIMEOUT, state.store().pauses().paused_aliases()).await;
    match read {
        Ok(Ok(pauses)) => {
            let reason = pauses.first().map(|(_, p)| p.reason.clone());
            let tokens: Vec<Value> = pauses
                .iter()
                .map(|(alias, p)| {
                    json!({"token": alias, "reason": p.reason, "since": p.since, "until": p.until})
                })
                .collect();
            json!({"paused": !pauses.is_empty(), "reason": reason, "tokens": tokens})
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: cannot read the upstream's pauses");
            json!({"paused": null, "reason": "unknown: cannot read the pauses"})
        }
        Err(_) => json!({"paused": null, "reason": "unknown: the pauses did not come in time"}),
    }
}

/// A short account of a failed ping that names no address or credential.
fn describe(e: &StoreError) -> String {
    if e.is_unreachable() {
        "error: unreachable".to_owned()
    } else {
        "error: refused".to_owned()
    }
}
