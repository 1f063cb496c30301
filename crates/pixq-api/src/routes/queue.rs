//! `GET /v1/queue`, `POST /v1/queue/pause`, `POST /v1/queue/resume`: pausing every worker at
//! once, as BullMQ's `queue.pause()` and Oban's `pause_queue` do. While the queue is paused no
//! new look starts anywhere (no submit, no poll); looks under way finish, and jobs are still
//! accepted, to start when it resumes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::ApiError;
use crate::openapi::V1Errors;
use crate::state::AppState;

/// Whether the queue is paused.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Queue)]
pub(crate) struct QueueView {
    /// `true` while no worker starts a new look.
    paused: bool,
}

/// Whether the queue is paused.
#[utoipa::path(
    get,
    path = "/v1/queue",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Whether the queue is paused", body = QueueView),
        V1Errors,
    )
)]
pub(super) async fn show(State(state): State<AppState>) -> Result<Json<QueueView>, ApiError> {
    let paused = state.store().schedule().is_paused().await?;
    Ok(Json(QueueView { paused }))
}

/// Pauses every worker: no new look starts until the queue is resumed.
#[utoipa::path(
    post,
    path = "/v1/queue/pause",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queue is paused (it may have been already)", body = QueueView),
        V1Errors,
    )
)]
pub(crate) async fn pause(State(state): State<AppState>) -> Result<Json<QueueView>, ApiError> {
    set(&state, true).await
}

/// Resumes every worker, at once.
#[utoipa::path(
    post,
    path = "/v1/queue/resume",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queue runs (it may have been already)", body = QueueView),
        V1Errors,
    )
)]
pub(crate) async fn resume(State(state): State<AppState>) -> Result<Json<QueueView>, ApiError> {
    set(&state, false).await
}

async fn set(state: &AppState, paused: bool) -> Result<Json<QueueView>, ApiError> {
    state.store().schedule().set_paused(paused).await?;
    tracing::info!(
        paused,
        "the queue was {}",
        if paused { "paused" } else { "resumed" }
    );
    Ok(Json(QueueView { paused }))
}
