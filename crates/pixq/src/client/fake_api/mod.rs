//! A stand-in for the pixq API on `127.0.0.1:0`, for the client commands' tests.
//!
//! It serves `GET /v1/jobs/{id}`, `GET /v1/jobs`, `POST /v1/jobs/{id}/cancel` and
//! `POST /v1/jobs/{id}/retry` with the shapes of INTERFACE.md, from a list of job objects kept
//! newest first, and the batch routes (see [`batches`]), whose jobs it also serves by id. Its pages hold at most [`PAGE_SIZE`] jobs whatever `limit` asks, as a real
//! store may, so tests see the client follow `next_cursor`. A 401 echoes the `Authorization`
//! header it got, so tests see the client scrub the token from what it shows.
//!
//! It depends on nothing of the crate, so `tests/client_commands.rs` includes the same files to
//! test the built binary.

mod batches;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The most jobs one page of the fake's listing holds.
pub const PAGE_SIZE: usize = 2;

/// A job id the fake answers with a 500, to exercise server errors.
pub const BROKEN_ID: &str = "job_broken";

/// A running fake API. It stops when the test's runtime does.
pub struct FakeApi {
    /// The base URL to pass as `--api`.
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    token: Option<String>,
    jobs: Mutex<Vec<Value>>,
    seen: Mutex<Vec<String>>,
    batches: Mutex<batches::Batches>,
}

impl Shared {
    fn jobs(&self) -> MutexGuard<'_, Vec<Value>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn batches(&self) -> MutexGuard<'_, batches::Batches> {
        self.batches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, method: &Method, uri: &Uri) {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(format!("{method} {uri}"));
    }

    /// The 401 to answer with, when the request lacks the token.
    fn denied(&self, headers: &HeaderMap) -> Option<Response> {
        let token = self.token.as_ref()?;
        let given = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if given == format!("Bearer {token}") {
            None
        } else {
            let message = format!("unknown credentials {given:?}");
            Some(error(StatusCode::UNAUTHORIZED, "unauthorized", &message))
        }
    }
}

/// Every matched request: noted in the order seen, then refused 401 without the token.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared.record(request.method(), request.uri());
    if let Some(denied) = shared.denied(request.headers()) {
        return denied;
    }
    next.run(request).await
}

impl FakeApi {
    /// Starts the fake with `jobs` (newest first); with `token`, every route needs it.
    pub async fn start(token: Option<&str>, jobs: Vec<Value>) -> FakeApi {
        let shared = Arc::new(Shared {
            token: token.map(str::to_owned),
            jobs: Mutex::new(jobs),
            seen: Mutex::new(Vec::new()),
            batches: Mutex::default(),
        });
        let router = Router::new()
            .route("/v1/jobs", get(list))
            .route("/v1/jobs/{id}", get(show))
            .route("/v1/jobs/{id}/cancel", post(cancel))
            .route("/v1/jobs/{id}/retry", post(retry))
            .merge(batches::routes())
            .route_layer(from_fn_with_state(shared.clone(), gate))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake API");
        let addr = listener.local_addr().expect("fake API address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeApi {
            url: format!("http://{addr}"),
            shared,
        }
    }

    /// Every request so far, as `METHOD /path?query`.
    pub fn seen(&self) -> Vec<String> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The fake's current record of a job.
    pub fn job(&self, id: &str) -> Option<Value> {
        self.shared
            .jobs()
            .iter()
            .find(|job| job["id"] == id)
            .cloned()
    }
}

/// A base URL where nothing listens: a port bound and released at once.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    format!("http://{addr}")
}

/// A job object with every field of INTERFACE.md, in `state`.
pub fn job(id: &str, state: &str) -> Value {
    let finished = matches!(state, "succeeded" | "failed" | "cancelled");
    json!({
        "id": id,
        "batch_id": "batch_0001",
        "parent_id": null,
        "root_id": id,
        "step": 0,
        "children": [],
        "action": "generate",
        "params": {"prompt": format!("prompt of {id}"), "quality": "540p"},
        "state": state,
        "waiting_reason": null,
        "attempts": 0,
        "upstream": {"task_id": null, "trace_id": null, "submitted_at": null},
        "result": null,
        "error": null,
        "metadata": null,
        "created_at": "2025-01-02T03:04:05.678Z",
        "updated_at": "2025-01-02T03:04:06Z",
        "finished_at": if finished { json!("2025-01-02T03:05:00Z") } else { Value::Null },
    })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("job {id} not found"),
    )
}

fn is_terminal(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

async fn show(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if id == BROKEN_ID {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        );
    }
    if let Some(job) = shared.batches().job(&id) {
        return Json(job).into_response();
    }
    match shared.jobs().iter().find(|job| job["id"] == id.as_str()) {
        Some(job) => Json(job.clone()).into_response(),
        None => not_found(&id),
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    state: Option<String>,
    batch: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<ListQuery>) -> Response {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "invalid", "limit is 1 to 500");
    }
    let start = match query.cursor.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(start)) => start,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "invalid", "unknown cursor"),
    };
    let matching: Vec<Value> = shared
        .jobs()
        .iter()
        .filter(|job| query.state.as_deref().is_none_or(|s| job["state"] == s))
        .filter(|job| query.batch.as_deref().is_none_or(|b| job["batch_id"] == b))
        .cloned()
        .collect();
    let end = (start + limit.min(PAGE_SIZE)).min(matching.len());
    let page = matching.get(start..end).unwrap_or_default().to_vec();
    let next_cursor = (end < matching.len()).then(|| end.to_string());
    Json(json!({"jobs": page, "next_cursor": next_cursor})).into_response()
}

async fn cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut jobs = shared.jobs();
    let Some(job) = jobs.iter_mut().find(|job| job["id"] == id.as_str()) else {
        return not_found(&id);
    };
    if is_terminal(job) {
        let message = format!("job {id} has already finished");
        return error(StatusCode::CONFLICT, "conflict", &message);
    }
    job["state"] = json!("cancelled");
    job["error"] =
        json!({"code": "cancelled", "message": "cancelled by request", "retryable": false});
    job["finished_at"] = json!("2025-01-02T03:06:00Z");
    Json(job.clone()).into_response()
}

async fn retry(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut jobs = shared.jobs();
    let Some(job) = jobs.iter_mut().find(|job| job["id"] == id.as_str()) else {
        return not_found(&id);
    };
    if job["state"] != "failed" {
        let message = format!("only a failed job can be retried; job {id} is not failed");
        return error(StatusCode::CONFLICT, "conflict", &message);
    }
    job["state"] = json!("queued");
    job["error"] = Value::Null;
    job["finished_at"] = Value::Null;
    (StatusCode::ACCEPTED, Json(job.clone())).into_response()
}
