//! `POST /v1/jobs/{id}/cancel` and `POST /v1/jobs/{id}/retry`: the two state changes a user
//! asks for. Each is one [`Transition`]; a `Stale` answer becomes 409 naming the state the job
//! is in.

use std::collections::VecDeque;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use pixq_core::job::{Job, JobId};
use pixq_core::metrics::JOBS_FINISHED;
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{Jobs, Outcome, StoreError};

use super::ring_or_log;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::JobPath;
use crate::openapi::V1Errors;
use crate::state::AppState;
use crate::webhooks::job_view;
use pixq_core::view::JobView;

/// How many descendants a cancel looks at; a chain has at most 11 steps.
const MAX_DESCENDANTS: usize = 64;

/// Cancels the job and its unfinished descendants: 200 with the job object.
///
/// A finished step whose chain is still running (it succeeded, and its next step is queued or
/// generating) is a handle on the chain: cancelling it cancels the chain's unfinished steps and
/// answers 200 with the step, unchanged. 409 when the job and all its descendants have
/// already finished.
///
/// Every cancelled job is rung: a worker still watches one that was generating, for its late
/// result and its upstream slot.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    tag = "jobs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job (and its unfinished steps) cancelled", body = JobView),
        (status = 404, description = "No such job", body = ErrorEnvelope),
        (status = 409, description = "The job and every step after it have already finished", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    JobPath(id): JobPath,
) -> Result<Json<JobView>, ApiError> {
    let store = state.store().jobs();
    let Some(job) = store.get(&id).await? else {
        return Err(not_found(&id));
    };
    let pending = unfinished_descendants(store, &job).await?;
    match store.apply(Transition::cancel(id.clone())).await {
        Ok(Outcome::Applied(job)) => {
            // The store cancelled `pending` in the same write.
            ring_or_log(&state, &job.id).await;
            for descendant in &pending {
                ring_or_log(&state, descendant).await;
            }
            count_cancelled(1 + pending.len());
            tracing::info!(job = %job.id, descendants = pending.len(), "job cancelled");
            Ok(Json(job_view(&state, job).await?))
        }
        Ok(Outcome::Stale { current }) => {
            let cancelled = cancel_each(&state, &pending).await?;
            if cancelled.is_empty() {
                return Err(ApiError::conflict(format!(
                    "job {id} is already {} and has no unfinished steps after it: nothing to cancel",
                    current.state
                )));
            }
            count_cancelled(cancelled.len());
            tracing::info!(job = %id, steps = ?cancelled, "rest of the chain cancelled");
            Ok(Json(job_view(&state, current).await?))
        }
        Ok(Outcome::TaskTaken { current, .. }) => Ok(Json(job_view(&state, current).await?)),
        Err(StoreError::NotFound(_)) => Err(not_found(&id)),
        Err(e) => Err(e.into()),
    }
}

/// Re-drives a failed job under the same id: 202 with the job object, queued again. 409 for a
/// job in any other state.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/retry",
    tag = "jobs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 202, description = "The failed job, queued again", body = JobView),
        (status = 404, description = "No such job", body = ErrorEnvelope),
        (status = 409, description = "The job has not failed", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    JobPath(id): JobPath,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    match state
        .store()
        .jobs()
        .apply(Transition::retry(id.clone()))
        .await
    {
        Ok(Outcome::Applied(job)) => {
            ring_or_log(&state, &job.id).await;
            tracing::info!(job = %job.id, "job retried");
            Ok((StatusCode::ACCEPTED, Json(JobView::from(job))))
        }
        Ok(Outcome::Stale { current } | Outcome::TaskTaken { current, .. }) => {
            Err(ApiError::conflict(format!(
                "job {id} is {}: only a failed job can be retried",
                current.state
            )))
        }
        Err(StoreError::NotFound(_)) => Err(not_found(&id)),
        Err(e) => Err(e.into()),
    }
}

fn not_found(id: &JobId) -> ApiError {
    ApiError::not_found(format!("job {id} does not exist"))
}

/// The ids of `job`'s descendants that have not finished, nearest first.
async fn unfinished_descendants(store: &dyn Jobs, job: &Job) -> Result<Vec<JobId>, StoreError> {
    let mut todo: VecDeque<JobId> = job.children.iter().cloned().collect();
    let mut out = Vec::new();
    let mut seen = 0;
    while let Some(id) = todo.pop_front() {
        seen += 1;
        if seen > MAX_DESCENDANTS {
            break;
        }
        if let Some(child) = store.get(&id).await? {
            todo.extend(child.children.iter().cloned());
            if !child.is_terminal() {
                out.push(child.id);
            }
        }
    }
    Ok(out)
}

/// Cancels each of `ids` (the first usually takes the rest with it) and rings every one that
/// ended up cancelled; answers their ids.
async fn cancel_each(state: &AppState, ids: &[JobId]) -> Result<Vec<JobId>, ApiError> {
    let mut cancelled = Vec::new();
    for id in ids {
        let now_cancelled = match state
            .store()
            .jobs()
            .apply(Transition::cancel(id.clone()))
            .await
        {
            Ok(Outcome::Applied(_)) => true,
            Ok(outcome) => outcome.job().state == JobState::Cancelled,
            Err(StoreError::NotFound(_)) => false,
            Err(e) => return Err(e.into()),
        };
        if now_cancelled {
            ring_or_log(state, id).await;
            cancelled.push(id.clone());
        }
    }
    Ok(cancelled)
}

/// Counts jobs that ended cancelled: the API ends them, so the workers never see them finish.
fn count_cancelled(jobs: usize) {
    metrics::counter!(JOBS_FINISHED, "state" => "cancelled").increment(jobs as u64);
}
