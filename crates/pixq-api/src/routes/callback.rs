//! `POST /v1/upstream/callback/{job_id}/{secret}`: the upstream says a task ended.
//!
//! Callbacks are unsigned, so one is only a trigger: with the right secret, the job is rung
//! now, and the worker that looks at it fetches the task's result from the upstream itself.
//! The body is read (bounded) and only logged. A wrong secret or an unknown job gets the same
//! 404 and changes nothing.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Request, State};
use chrono::Utc;
use pixq_core::job::JobId;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::read_body;
use crate::state::AppState;

/// Rings the job when the secret matches; `{"ok":true}`.
#[utoipa::path(
    post,
    path = "/v1/upstream/callback/{job_id}/{secret}",
    tag = "upstream",
    params(
        ("job_id" = String, Path, description = "The job the callback is about"),
        ("secret" = String, Path, description = "The job's callback secret"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The upstream's callback body"),
    responses(
        (status = 200, description = "Received: a worker looks at the job now", body = Object),
        (status = 404, description = "No such job, or a wrong secret; nothing changed", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than api.max_body", body = ErrorEnvelope),
        (status = 500, description = "An internal error", body = ErrorEnvelope),
        (status = 503, description = "The store is unavailable", body = ErrorEnvelope),
    )
)]
pub(super) async fn receive(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let (mut parts, body) = request.into_parts();
    let Ok(Path((job_id, secret))) =
        Path::<(String, String)>::from_request_parts(&mut parts, &state).await
    else {
        return Err(unknown());
    };
    let id = JobId::from(job_id);
    super::record_job(&id);
    let Some(job) = state.store().jobs().get(&id).await? else {
        return Err(unknown());
    };
    let matches = job
        .upstream
        .callback_secret
        .as_deref()
        .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(secret.as_bytes())));
    if !matches {
        tracing::warn!(job = %id, "callback with a wrong secret ignored");
        return Err(unknown());
    }
    let body = read_body(Request::from_parts(parts, body), &state).await?;
    let task_id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("task_id").and_then(Value::as_str).map(str::to_owned));
    state.store().schedule().ring(&id, Utc::now()).await?;
    tracing::info!(job = %id, task_id = task_id.as_deref().unwrap_or("-"), "upstream callback");
    Ok(Json(json!({"ok": true})))
}

/// The one answer for an unknown job and a wrong secret, so neither can be told apart.
fn unknown() -> ApiError {
    ApiError::not_found("no such callback")
}
