//! The router: one file per route group, assembled here with auth, limits and the error
//! shape for everything axum itself would answer (unknown path, wrong method, a panic).

mod batch_list;
mod batch_results;
pub(crate) mod batches;
mod callback;
mod characters;
pub(crate) mod control;
mod health;
mod jobs;
mod listing;
mod overview;
pub(crate) mod pipelines;
pub(crate) mod queue;
mod scrape;
mod templates;
mod webhooks;

use std::any::Any;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use chrono::Utc;
use pixq_core::job::JobId;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_token;
use crate::error::ApiError;
use crate::openapi::{self, ApiDoc, Rendered};
use crate::state::AppState;

/// Every route of the API, with its middleware, ready to serve; `GET /openapi.json` describes
/// them all.
pub(crate) fn router(state: AppState) -> Router {
    let (routes, mut doc) = documented(&state).split_for_parts();
    openapi::finish(&mut doc);
    routes
        .merge(crate::dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(Rendered::of(&doc)))
        .layer(DefaultBodyLimit::max(state.config().max_body))
        .layer(from_fn(deadline))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // The handlers record the job and the batch once they know them, so a job's
                // lines carry its id from the request that made it to the worker's last step.
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %redacted(request.uri().path()),
                    job_id = tracing::field::Empty,
                    batch_id = tracing::field::Empty,
                )
            }),
        )
        .with_state(state)
}

/// Every route with its description. A route enters only through `routes!`, which takes the
/// handler's `#[utoipa::path]` with it: a handler without one does not compile here, so the
/// document lists every route served. Add new routes the same way, never with `.route(…)`.
fn documented(state: &AppState) -> OpenApiRouter<AppState> {
    pixq_core::metrics::prometheus_handle();
    let batch_limit = state.config().max_batch_body.max(state.config().max_body);
    let (schemas, paths, create_batch) = routes!(batches::create);
    let create_batch = (
        schemas,
        paths,
        create_batch.layer(DefaultBodyLimit::max(batch_limit)),
    );
    let authed = OpenApiRouter::new()
        .routes(routes!(jobs::create, listing::list))
        .routes(routes!(jobs::show))
        .routes(routes!(control::cancel))
        .routes(routes!(control::retry))
        .routes(routes!(characters::create, characters::list))
        .routes(routes!(templates::list))
        .routes(routes!(pipelines::list))
        .routes(routes!(overview::show))
        .routes(create_batch)
        .routes(routes!(batch_list::list))
        .routes(routes!(batches::show))
        .routes(routes!(batch_results::results))
        .routes(routes!(batches::cancel))
        .routes(routes!(batches::retry))
        .routes(routes!(webhooks::dead))
        .routes(routes!(webhooks::resend))
        .routes(routes!(queue::show))
        .routes(routes!(queue::pause))
        .routes(routes!(queue::resume))
        .route_layer(from_fn_with_state(state.clone(), require_token));
    let open = OpenApiRouter::new()
        .routes(routes!(callback::receive))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(scrape::metrics))
        .routes(routes!(openapi::document));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(authed)
        .merge(open)
}

/// The path as it may be logged: a callback's secret is replaced by `***`, since anyone who
/// reads it could post a callback for the job.
pub(crate) fn redacted(path: &str) -> String {
    let prefix = pixq_core::callback::PREFIX;
    match path.strip_prefix(prefix) {
        Some(rest) => match rest.split_once('/') {
            Some((job, _secret)) => format!("{prefix}{job}/***"),
            None => path.to_owned(),
        },
        None => path.to_owned(),
    }
}

/// How long a request may take before it is answered 503. Every route waits on Redis and
/// nothing else; a connection manager that keeps reconnecting to a Redis that is gone would
/// otherwise hold the client for as long as its retries last.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The deadline of the batch routes (and the dashboard's batch buttons), which write or walk
/// up to 100,000 chains. Their work
/// runs in tasks of its own, so a request cut off here still leaves a whole batch.
pub(crate) const BATCH_DEADLINE: Duration = Duration::from_secs(120);

async fn deadline(request: Request, next: Next) -> Response {
    let path = redacted(request.uri().path());
    let limit = if path.starts_with("/v1/batches") || path.starts_with("/dash/batches") {
        BATCH_DEADLINE
    } else {
        REQUEST_DEADLINE
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%path, "request hit its deadline; is Redis answering?");
            ApiError::store_unavailable().into_response()
        }
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// A handler panicked: 500 in the usual shape. Handlers do not panic by design; this keeps a
/// bug from dropping the connection without an answer.
fn panicked(cause: Box<dyn Any + Send + 'static>) -> Response {
    let detail = cause
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a request handler panicked");
    ApiError::internal().into_response()
}

/// Records the job a request is about on the request's span.
pub(crate) fn record_job(id: &JobId) {
    tracing::Span::current().record("job_id", id.as_str());
}

/// Records the batch a request is about on the request's span.
pub(crate) fn record_batch(id: &pixq_core::job::BatchId) {
    tracing::Span::current().record("batch_id", id.as_str());
}

/// Rings the workers' doorbell for `id` now. A failure is only logged: the job is in the
/// store, and the rescuer re-rings unfinished jobs that nobody looked at.
async fn ring_or_log(state: &AppState, id: &JobId) {
    if let Err(e) = state.store().schedule().ring(id, Utc::now()).await {
        tracing::warn!(job = %id, error = %e, "could not ring the schedule; the rescuer will");
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn a_callback_secret_never_reaches_a_log_line() {
        assert_eq!(
            redacted("/v1/upstream/callback/job_1/s3cr3t"),
            "/v1/upstream/callback/job_1/***"
        );
        assert_eq!(redacted("/v1/jobs/job_1"), "/v1/jobs/job_1");
        assert_eq!(
            redacted("/v1/upstream/callback/job_1"),
            "/v1/upstream/callback/job_1"
        );
    }

    async fn boom() -> &'static str {
        panic!("internal detail")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_the_error_shape() {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(panicked));
        let request = Request::get("/boom").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("internal detail"), "{body}");
    }
}
