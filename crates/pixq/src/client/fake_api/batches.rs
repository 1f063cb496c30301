//! The fake's batches: `POST /v1/batches`, `GET /v1/batches/{id}`, `…/results`, `…/cancel` and
//! `…/retry`, with the shapes of the batch contract.
//!
//! Time moves only when a client looks: every `GET` of a batch moves each of its chains one
//! tick, and every `GET` of one of its jobs moves that job's chain one tick. A chain of `n`
//! steps is queued at tick 0, runs step `k` at tick `k + 1`, and has succeeded from tick
//! `n + 1`. Test hooks in the prompt: `[fail]` fails the chain's first step at tick 2 (a retry
//! then succeeds), `[reject]` makes the submit a 422 naming that entry, as the API does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{FakeApi, Shared, error};

/// The most jobs the fake takes in one batch; more is a 413.
pub const MAX_BATCH: usize = 1000;

/// When the fake's batches are created and finish.
const CREATED_AT: &str = "2025-01-02T03:04:05Z";
const FINISHED_AT: &str = "2025-01-02T03:05:37Z";

/// One `POST /v1/batches` as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body.
    pub body: Value,
}

#[derive(Default)]
pub(super) struct Batches {
    list: Vec<Batch>,
    keys: HashMap<String, usize>,
    requests: Vec<BatchRequest>,
}

struct Batch {
    id: String,
    chains: Vec<Chain>,
}

struct Chain {
    root: String,
    body: Value,
    steps: u64,
    tick: u64,
    fails: bool,
    /// The step a cancel stopped it at.
    cancelled: Option<u64>,
}

/// Where a chain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Queued,
    Running(u64),
    Succeeded,
    Failed(u64),
    Cancelled(u64),
}

impl Chain {
    fn at(&self) -> At {
        if let Some(step) = self.cancelled {
            return At::Cancelled(step);
        }
        match self.tick {
            0 => At::Queued,
            tick if self.fails && tick >= 2 => At::Failed(0),
            tick if tick <= self.steps => At::Running(tick - 1),
            _ => At::Succeeded,
        }
    }

    fn ended(&self) -> bool {
        !matches!(self.at(), At::Queued | At::Running(_))
    }

    fn state(&self) -> &'static str {
        match self.at() {
            At::Queued => "queued",
            At::Running(_) => "running",
            At::Succeeded => "succeeded",
            At::Failed(_) => "failed",
            At::Cancelled(_) => "cancelled",
        }
    }

    fn step_id(&self, step: u64) -> String {
        match step {
            0 => self.root.clone(),
            k => format!("{}.s{k}", self.root),
        }
    }

    /// The step the chain got to, and its error when it did not succeed.
    fn last(&self) -> (u64, Option<Value>) {
        match self.at() {
            At::Queued => (0, None),
            At::Running(step) => (step, None),
            At::Succeeded => (self.steps - 1, None),
            At::Failed(step) => (
                step,
                Some(json!({"code": "api_error", "message": "the upstream could not make it"})),
            ),
            At::Cancelled(step) => (
                step,
                Some(json!({"code": "cancelled", "message": "cancelled by request"})),
            ),
        }
    }

    fn video(&self, step: u64) -> (u64, String) {
        let id = self.step_id(step);
        let number = 317_000_000_000_000 + id.bytes().map(u64::from).sum::<u64>() * 1000 + step;
        (number, format!("https://cdn.example/{id}.mp4"))
    }

    fn result_line(&self, index: usize) -> Value {
        let (step, error) = self.last();
        let succeeded = self.at() == At::Succeeded;
        let (video_id, video_url) = self.video(step);
        json!({
            "index": index,
            "job_id": self.root,
            "final_job_id": self.step_id(step),
            "state": self.state(),
            "prompt": self.body["prompt"],
            "video_id": if succeeded { json!(video_id) } else { Value::Null },
            "video_url": if succeeded { json!(video_url) } else { Value::Null },
            "error": error,
            "metadata": self.body.get("metadata").cloned().unwrap_or(Value::Null),
        })
    }

    /// Step `step`'s job object, when the chain has got that far.
    fn job(&self, step: u64) -> Option<Value> {
        let (last, error) = self.last();
        if step > last {
            return None;
        }
        let state = match self.at() {
            _ if step < last => "succeeded",
            At::Queued => "queued",
            At::Running(_) => "generating",
            At::Succeeded => "succeeded",
            At::Failed(_) => "failed",
            At::Cancelled(_) => "cancelled",
        };
        let params = match step {
            0 => self.body.clone(),
            k => self.body["extend"][usize::try_from(k - 1).unwrap_or(0)].clone(),
        };
        let children = if state == "succeeded" && step + 1 < self.steps {
            json!([self.step_id(step + 1)])
        } else {
            json!([])
        };
        let (video_id, video_url) = self.video(step);
        let result =
            (state == "succeeded").then(|| json!({"video_id": video_id, "video_url": video_url}));
        let mut job = super::job(&self.step_id(step), state);
        job["root_id"] = json!(self.root);
        job["parent_id"] = if step == 0 {
            Value::Null
        } else {
            json!(self.step_id(step - 1))
        };
        job["step"] = json!(step);
        job["action"] = json!(if step == 0 { "generate" } else { "extend" });
        job["params"] = params;
        job["children"] = children;
        job["result"] = json!(result);
        job["error"] = if step == last {
            json!(error)
        } else {
            Value::Null
        };
        Some(job)
    }
}

impl Batch {
    fn object(&self) -> Value {
        let count = |state: &str| self.chains.iter().filter(|c| c.state() == state).count();
        let finished = self.chains.iter().all(Chain::ended);
        json!({
            "id": self.id,
            "total": self.chains.len(),
            "counts": {
                "queued": count("queued"),
                "running": count("running"),
                "succeeded": count("succeeded"),
                "failed": count("failed"),
                "cancelled": count("cancelled"),
            },
            "created_at": CREATED_AT,
            "finished_at": if finished { json!(FINISHED_AT) } else { Value::Null },
        })
    }
}

impl Batches {
    /// Job `id` of some batch, its chain moved one tick first.
    pub(super) fn job(&mut self, id: &str) -> Option<Value> {
        let (root, step) = match id.split_once(".s") {
            Some((root, step)) => (root, step.parse().ok()?),
            None => (id, 0),
        };
        let chain = self
            .list
            .iter_mut()
            .flat_map(|batch| batch.chains.iter_mut())
            .find(|chain| chain.root == root)?;
        if !chain.ended() {
            chain.tick += 1;
        }
        chain.job(step)
    }

    /// Adds a batch of `jobs`; returns its place in the list.
    fn add(&mut self, jobs: &[Value]) -> usize {
        let number = self.list.len() + 1;
        let chains = jobs
            .iter()
            .enumerate()
            .map(|(index, job)| Chain {
                root: format!("job_{number:04}_{index}"),
                body: job.clone(),
                steps: 1 + job["extend"].as_array().map_or(0, Vec::len) as u64,
                tick: 0,
                fails: job["prompt"].as_str().is_some_and(|p| p.contains("[fail]")),
                cancelled: None,
            })
            .collect();
        self.list.push(Batch {
            id: format!("batch_{number:04}"),
            chains,
        });
        number - 1
    }

    fn find(&mut self, id: &str) -> Option<&mut Batch> {
        self.list.iter_mut().find(|batch| batch.id == id)
    }
}

impl FakeApi {
    /// Every `POST /v1/batches` so far, in order.
    pub fn batch_requests(&self) -> Vec<BatchRequest> {
        self.shared.batches().requests.clone()
    }

    /// Adds a batch of `jobs` without a request, moved `ticks` ticks on; returns its id.
    pub fn add_batch(&self, jobs: &[Value], ticks: u64) -> String {
        let mut batches = self.shared.batches();
        let at = batches.add(jobs);
        let batch = &mut batches.list[at];
        for chain in &mut batch.chains {
            chain.tick = ticks;
        }
        batch.id.clone()
    }
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/batches", post(create))
        .route("/v1/batches/{id}", get(show))
        .route("/v1/batches/{id}/results", get(results))
        .route("/v1/batches/{id}/cancel", post(cancel))
        .route("/v1/batches/{id}/retry", post(retry))
}

fn batch_not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("batch {id} not found"),
    )
}

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut batches = shared.batches();
    let key = header_text(&headers, "idempotency-key");
    batches.requests.push(BatchRequest {
        idempotency_key: key.clone(),
        content_type: header_text(&headers, header::CONTENT_TYPE),
        body: body.clone(),
    });
    if let Some(&at) = key.as_ref().and_then(|key| batches.keys.get(key)) {
        return Json(batches.list[at].object()).into_response();
    }
    let Some(jobs) = body["jobs"].as_array() else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "expected {\"jobs\": [...]}",
        );
    };
    if jobs.len() > MAX_BATCH {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the batch is too big",
        );
    }
    let entries: Vec<Value> = jobs
        .iter()
        .enumerate()
        .filter(|(_, job)| {
            job["prompt"]
                .as_str()
                .is_some_and(|p| p.contains("[reject]"))
        })
        .take(100)
        .map(|(index, _)| {
            json!({"index": index, "field": "prompt", "code": "invalid_value",
                   "message": "the fake refuses this prompt"})
        })
        .collect();
    if let Some(first) = entries.first() {
        let body = json!({"error": {
            "code": "invalid_batch",
            "message": format!("{} of {} jobs are invalid", entries.len(), jobs.len()),
            "field": format!("jobs[{}].prompt", first["index"]),
            "entries": entries,
        }});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let at = batches.add(jobs);
    if let Some(key) = key {
        batches.keys.insert(key, at);
    }
    (StatusCode::ACCEPTED, Json(batches.list[at].object())).into_response()
}

async fn show(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut batches = shared.batches();
    let Some(batch) = batches.find(&id) else {
        return batch_not_found(&id);
    };
    for chain in batch.chains.iter_mut().filter(|chain| !chain.ended()) {
        chain.tick += 1;
    }
    Json(batch.object()).into_response()
}

async fn results(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut batches = shared.batches();
    let Some(batch) = batches.find(&id) else {
        return batch_not_found(&id);
    };
    let mut body = String::new();
    for (index, chain) in batch.chains.iter().enumerate() {
        body.push_str(&chain.result_line(index).to_string());
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

async fn cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut batches = shared.batches();
    let Some(batch) = batches.find(&id) else {
        return batch_not_found(&id);
    };
    for chain in batch.chains.iter_mut().filter(|chain| !chain.ended()) {
        chain.cancelled = Some(chain.last().0);
    }
    Json(batch.object()).into_response()
}

async fn retry(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut batches = shared.batches();
    let Some(batch) = batches.find(&id) else {
        return batch_not_found(&id);
    };
    let mut retried = 0;
    for chain in batch.chains.iter_mut() {
        if let At::Failed(_) = chain.at() {
            chain.fails = false;
            chain.tick = 0;
            retried += 1;
        }
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "retried": retried})),
    )
        .into_response()
}
