//! The dashboard's buttons: cancel and retry, on a job and on a batch, and the queue's pause
//! and resume. Each posts a form with the viewer's CSRF token and runs the same code as the
//! matching `/v1` route.
//!
//! A form posted by the browser itself is answered with a redirect back to the page; one
//! posted by the live script (`X-Pixq-Live`) with the outcome in plain words, which it shows.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use pixq_core::job::{BatchId, JobId};
use serde::Deserialize;

use super::pages::is_live;
use super::session::Access;
use crate::error::ApiError;
use crate::extract::JobPath;
use crate::routes::batches::{self, BatchPath};
use crate::routes::{control, queue};
use crate::state::AppState;

/// A button's form.
#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// The page to go back to; only a path of this site is followed.
    #[serde(default)]
    back: Option<String>,
}

/// What a button does.
#[derive(Debug, Clone, Copy)]
enum Action {
    CancelJob,
    RetryJob,
    CancelBatch,
    RetryBatch,
    PauseQueue,
    ResumeQueue,
}

/// Cancels a job and the rest of its chain, as `POST /v1/jobs/{id}/cancel`.
pub(super) async fn cancel_job(
    state: State<AppState>,
    access: Access,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form<ActionForm>,
) -> Response {
    act(state, access, headers, id, form, Action::CancelJob).await
}

/// Retries a failed job, as `POST /v1/jobs/{id}/retry`.
pub(super) async fn retry_job(
    state: State<AppState>,
    access: Access,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form<ActionForm>,
) -> Response {
    act(state, access, headers, id, form, Action::RetryJob).await
}

/// Cancels a batch's unfinished chains, as `POST /v1/batches/{id}/cancel`.
pub(super) async fn cancel_batch(
    state: State<AppState>,
    access: Access,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form<ActionForm>,
) -> Response {
    act(state, access, headers, id, form, Action::CancelBatch).await
}

/// Retries a batch's failed chains, as `POST /v1/batches/{id}/retry`.
pub(super) async fn retry_batch(
    state: State<AppState>,
    access: Access,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form<ActionForm>,
) -> Response {
    act(state, access, headers, id, form, Action::RetryBatch).await
}

/// Pauses (`pause`) or resumes (`resume`) the queue, as `POST /v1/queue/{action}`.
pub(super) async fn queue(
    state: State<AppState>,
    access: Access,
    headers: HeaderMap,
    Path(what): Path<String>,
    form: Form<ActionForm>,
) -> Response {
    let action = match what.as_str() {
        "pause" => Action::PauseQueue,
        "resume" => Action::ResumeQueue,
        _ => return ApiError::not_found(format!("no queue action {what:?}")).into_response(),
    };
    act(state, access, headers, what, form, action).await
}

/// Checks the CSRF token, runs the action, and answers as the poster expects.
async fn act(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    id: String,
    Form(form): Form<ActionForm>,
    action: Action,
) -> Response {
    if !access.csrf_matches(&form.csrf) {
        tracing::info!(
            ?action,
            "dashboard: a post without its CSRF token was refused"
        );
        return (
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match: reload the page and try again",
        )
            .into_response();
    }
    let outcome = run(&state, action, id).await;
    if is_live(&headers) {
        return match outcome {
            Ok(done) => (StatusCode::OK, done).into_response(),
            Err(e) => (e.status(), e.message().to_owned()).into_response(),
        };
    }
    match outcome {
        Ok(_) => Redirect::to(&back(form.back.as_deref())).into_response(),
        Err(e) => super::pages::PageError::from(e).into_response(),
    }
}

/// Runs `action` on `id` through the `/v1` route's own code; answers what happened.
async fn run(state: &AppState, action: Action, id: String) -> Result<String, ApiError> {
    match action {
        Action::CancelJob => {
            let id = JobId::from(id);
            let Json(job) = control::cancel(State(state.clone()), JobPath(id.clone())).await?;
            Ok(format!("cancelled: job {id} is {}", job.state))
        }
        Action::RetryJob => {
            let id = JobId::from(id);
            let (_, Json(job)) = control::retry(State(state.clone()), JobPath(id.clone())).await?;
            Ok(format!("retried: job {id} is {} again", job.state))
        }
        Action::CancelBatch => {
            let id = BatchId::from(id);
            let Json(batch) = batches::cancel(State(state.clone()), BatchPath(id.clone())).await?;
            Ok(format!(
                "cancelled: batch {id} has {} cancelled chains",
                batch.counts.cancelled
            ))
        }
        Action::PauseQueue => {
            let Json(_) = queue::pause(State(state.clone())).await?;
            Ok("paused: no worker starts a new look until the queue is resumed".to_owned())
        }
        Action::ResumeQueue => {
            let Json(_) = queue::resume(State(state.clone())).await?;
            Ok("resumed: the workers take jobs again".to_owned())
        }
        Action::RetryBatch => {
            let id = BatchId::from(id);
            let (_, Json(retried)) =
                batches::retry(State(state.clone()), BatchPath(id.clone())).await?;
            Ok(format!(
                "retried: {} failed chains of batch {id} are queued again",
                retried.retried
            ))
        }
    }
}

/// Where to send the browser after a button: the page it came from when that is a path of
/// this site, the overview otherwise (never another host, as `//host` or `https://…` would).
fn back(given: Option<&str>) -> String {
    match given {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_follows_only_paths_of_this_site() {
        assert_eq!(
            back(Some("/batches/b1?offset=100")),
            "/batches/b1?offset=100"
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(back(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(back(None), "/");
    }
}
