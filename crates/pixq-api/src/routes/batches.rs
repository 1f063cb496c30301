//! `POST /v1/batches`, `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel` and
//! `/retry`: many chains submitted at once, and controlled at once.
//!
//! A batch is validated whole before anything is written: one bad entry rejects it, and the
//! error lists the bad entries (up to [`MAX_LISTED`]), each by its index or line. It is then
//! written in chunks and accepted in one step (see `pixq_core::batch`), inside a task of its
//! own, so a client that hangs up mid-way leaves a whole batch, never half of one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use pixq_core::batch::{self, Batch, NewBatch};
use pixq_core::job::{BatchId, JobId};
use pixq_core::metrics::JOBS_ENQUEUED;
use pixq_core::spec::{HttpUrl, JobSpec, MAX_EXTEND_STEPS, SpecErrorCode};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{IdempotencyKey, Outcome, SharedStore, StoreError};
use serde::Serialize;
use serde_json::Value;

use super::jobs::idempotency_key;
use crate::batch_body::{self, Form};
use crate::chains::{self, Chain};
use crate::characters::NameResolver;
use crate::error::{ApiError, EntryError, ErrorEnvelope};
use crate::extract::read_body_up_to;
use crate::openapi::V1Errors;
use crate::openapi::bodies::BatchRequest;
use crate::state::AppState;
use crate::webhooks::{batch_view, require_secret};
use pixq_core::view::BatchView;

/// The most bad entries one rejection lists.
pub(crate) const MAX_LISTED: usize = 100;

/// Chains read per page by cancel and retry.
const PAGE: usize = 500;

/// Transitions a cancel or retry has in flight at once.
const IN_FLIGHT: usize = 32;

/// The longest batch name.
const MAX_NAME: usize = 200;

/// The `{id}` of a batch route. Any text is accepted: an id pixq never issued is simply not
/// found.
#[derive(Debug, Clone)]
pub(crate) struct BatchPath(pub BatchId);

impl FromRequestParts<AppState> for BatchPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                ApiError::bad_input(
                    SpecErrorCode::InvalidValue,
                    "id",
                    format!(
                        "the batch id in the path cannot be read: {}",
                        rejection.body_text()
                    ),
                )
            })?;
        let id = BatchId::from(id);
        super::record_batch(&id);
        Ok(BatchPath(id))
    }
}

/// Validates every entry, then writes and accepts the batch (or replays it for a repeated
/// `Idempotency-Key`): 202 with the batch object, 200 for a replay.
#[utoipa::path(
    post,
    path = "/v1/batches",
    tag = "batches",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body (1 to 255 printable characters)")),
    request_body(content(
        (BatchRequest = "application/json"),
        (String = "text/plain"),
        (String = "application/x-ndjson"),
    )),
    responses(
        (status = 202, description = "The batch was accepted whole", body = BatchView,
         headers(("Location" = String, description = "The batch's URL"))),
        (status = 200, description = "A replay: the batch first made with this Idempotency-Key", body = BatchView),
        (status = 400, description = "The body cannot be read, or a header is invalid", body = ErrorEnvelope),
        (status = 409, description = "The Idempotency-Key names another batch, or one still being written", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than api.max_batch_body", body = ErrorEnvelope),
        (status = 415, description = "The content type is not one of the three taken", body = ErrorEnvelope),
        (status = 422, description = "Entries are not acceptable jobs: `entries` lists them", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Form::of)
        .ok_or_else(|| {
            ApiError::unsupported_media_type("application/json, text/plain or application/x-ndjson")
        })?;
    let limit = state.config().max_batch_body.max(state.config().max_body);
    let bytes = read_body_up_to(request, &state, limit).await?;
    let validated = validate(&state, form, &bytes).await?;
    drop(bytes);
    let idempotency = key.map(|key| IdempotencyKey {
        key,
        fingerprint: validated.fingerprint(),
    });
    let total = validated.specs.len();
    let store = SharedStore::clone(state.store());
    // The write runs to its end even if this request is dropped (the client hung up, or the
    // deadline passed): a batch is accepted whole or discarded, never left half written.
    let (batch, status) = tokio::spawn(write(store, validated, idempotency))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the task writing a batch failed");
            ApiError::internal()
        })??;
    super::record_batch(&batch.id);
    if status == StatusCode::ACCEPTED {
        metrics::counter!(JOBS_ENQUEUED).increment(u64::try_from(total).unwrap_or(u64::MAX));
        tracing::info!(batch = %batch.id, total, "batch accepted");
    }
    let location = HeaderValue::from_str(&format!("/v1/batches/{}", batch.id)).ok();
    let mut response = (status, Json(BatchView::from(batch))).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A batch that passed validation.
struct Validated {
    specs: Vec<JobSpec>,
    name: Option<String>,
    webhook_url: Option<String>,
}

impl Validated {
    /// Equal batches, equal fingerprints: the entries' own, in order, and the batch's fields.
    fn fingerprint(&self) -> String {
        batch::fingerprint(
            &self.specs,
            self.name.as_deref(),
            self.webhook_url.as_deref(),
        )
    }
}

/// Reads and validates the body: every entry as `POST /v1/jobs` validates a job.
async fn validate(state: &AppState, form: Form, bytes: &[u8]) -> Result<Validated, ApiError> {
    let body = batch_body::parse(form, bytes)?;
    let name = body
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > MAX_NAME) {
        return Err(unprocessable(
            "name",
            format!("a batch name is at most {MAX_NAME} characters"),
        ));
    }
    let webhook_url = match body.webhook_url {
        Some(url) => Some(
            HttpUrl::parse(&url)
                .map_err(|e| unprocessable("webhook_url", e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let mut resolver = NameResolver::new(state.store());
    if !body.defaults.is_empty() {
        check_defaults(&mut resolver, &body.defaults).await?;
    }
    let mut bad = body.unreadable;
    let mut specs = Vec::with_capacity(body.entries.len());
    for mut entry in body.entries {
        let position = entry.position;
        let checked = match resolver.resolve_at(&mut entry.body, "").await {
            Ok(()) => JobSpec::from_value(&entry.body).map_err(ApiError::from),
            Err(e) => Err(e),
        };
        match checked {
            Ok(spec) => specs.push(spec),
            Err(e) if e.status().is_server_error() => return Err(e),
            Err(e) => bad.push(position.error(
                e.field().map(str::to_owned),
                e.code().to_owned(),
                e.message().to_owned(),
            )),
        }
    }
    if !bad.is_empty() {
        return Err(rejected(bad, specs.len()));
    }
    if webhook_url.is_some() {
        require_secret(state, "webhook_url")?;
    }
    if let Some(i) = specs.iter().position(|s| s.webhook_url().is_some()) {
        require_secret(state, &format!("jobs[{i}].webhook_url"))?;
    }
    if specs.is_empty() {
        return Err(unprocessable(
            "jobs",
            "the batch has no jobs: send at least one prompt",
        ));
    }
    Ok(Validated {
        specs,
        name,
        webhook_url,
    })
}

/// The defaults, checked once as a job of their own (with a stand-in prompt), so a bad
/// default is one error naming `defaults.<field>`, not one per entry.
async fn check_defaults(
    resolver: &mut NameResolver,
    defaults: &serde_json::Map<String, Value>,
) -> Result<(), ApiError> {
    let mut probe = Value::Object(defaults.clone());
    if let Some(fields) = probe.as_object_mut() {
        fields
            .entry("prompt")
            .or_insert_with(|| Value::from("a prompt"));
    }
    let checked = match resolver.resolve_at(&mut probe, "defaults").await {
        Ok(()) => JobSpec::from_value(&probe).map_err(ApiError::from),
        Err(e) => return Err(e),
    };
    match checked {
        Ok(_) => Ok(()),
        Err(e) if e.status().is_server_error() => Err(e),
        Err(e) => {
            let field = e
                .field()
                .map_or_else(|| "defaults".to_owned(), |f| format!("defaults.{f}"));
            Err(unprocessable(&field, e.message().to_owned()))
        }
    }
}

/// 422 `invalid_batch` listing the bad entries.
fn rejected(mut bad: Vec<EntryError>, good: usize) -> ApiError {
    bad.sort_by_key(|e| (e.index, e.line));
    let count = bad.len();
    let first = &bad[0];
    let place = match (first.index, first.line) {
        (Some(i), _) => format!("entry {i}"),
        (None, Some(n)) => format!("line {n}"),
        (None, None) => "an entry".to_owned(),
    };
    let message = format!(
        "{count} of {} entries are invalid, the first at {place}{}: {}. Nothing was enqueued",
        count + good,
        first
            .field
            .as_ref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default(),
        first.message,
    );
    let field = first.field.clone();
    bad.truncate(MAX_LISTED);
    let mut error =
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_batch", message).with_entries(bad);
    if let Some(field) = field {
        error = error.with_field(field);
    }
    error
}

fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        SpecErrorCode::InvalidValue.as_str(),
        message,
    )
    .with_field(field)
}

/// Begins, writes in chunks and accepts the batch (`pixq_core::batch::submit`, as the
/// pipelines' scheduler does); a failure after the begin discards what was written. Answers
/// the batch, new (202) or replayed (200).
async fn write(
    store: SharedStore,
    validated: Validated,
    idempotency: Option<IdempotencyKey>,
) -> Result<(Batch, StatusCode), ApiError> {
    let new = NewBatch {
        id: BatchId::generate(),
        name: validated.name,
        webhook_url: validated.webhook_url,
    };
    let submitted =
        batch::submit(store.as_ref(), new, validated.specs, idempotency.as_ref()).await?;
    let status = if submitted.replayed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((submitted.batch, status))
}

/// The batch object; 404 when unknown (or still being written).
#[utoipa::path(
    get,
    path = "/v1/batches/{id}",
    tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "The batch object", body = BatchView),
        (status = 404, description = "No such batch", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    BatchPath(id): BatchPath,
) -> Result<Json<BatchView>, ApiError> {
    Ok(Json(batch_view(&state, found(&state, &id).await?).await?))
}

pub(crate) async fn found(state: &AppState, id: &BatchId) -> Result<Batch, ApiError> {
    state
        .store()
        .batches()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("batch {id} does not exist")))
}

/// Cancels every chain of the batch that has not ended: its current step, and so the rest of
/// the chain. Finished chains keep their results. 200 with the batch object afterwards.
#[utoipa::path(
    post,
    path = "/v1/batches/{id}/cancel",
    tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "The batch object after cancelling its unfinished chains", body = BatchView),
        (status = 404, description = "No such batch", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    BatchPath(id): BatchPath,
) -> Result<Json<BatchView>, ApiError> {
    found(&state, &id).await?;
    let walker = state.clone();
    let batch = id.clone();
    let cancelled = tokio::spawn(async move {
        walk(
            &walker,
            &batch,
            |chain| {
                chain
                    .current()
                    .filter(|job| !job.is_terminal())
                    .map(|job| job.id.clone())
            },
            cancel_chain,
        )
        .await
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the task cancelling a batch failed");
        ApiError::internal()
    })??;
    tracing::info!(batch = %id, cancelled, "batch cancelled");
    Ok(Json(batch_view(&state, found(&state, &id).await?).await?))
}

/// The answer of `POST /v1/batches/{id}/retry`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = BatchRetried)]
pub(crate) struct Retried {
    /// The batch.
    id: BatchId,
    /// Chains queued again.
    pub(crate) retried: usize,
}

/// Re-drives every chain of the batch whose current step failed, from that step: 202 with how
/// many.
#[utoipa::path(
    post,
    path = "/v1/batches/{id}/retry",
    tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's id")),
    responses(
        (status = 202, description = "How many failed chains were queued again", body = Retried),
        (status = 404, description = "No such batch", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    BatchPath(id): BatchPath,
) -> Result<(StatusCode, Json<Retried>), ApiError> {
    found(&state, &id).await?;
    let walker = state.clone();
    let batch = id.clone();
    let retried = tokio::spawn(async move {
        walk(
            &walker,
            &batch,
            |chain| {
                chain
                    .current()
                    .filter(|job| job.state == JobState::Failed)
                    .map(|job| job.id.clone())
            },
            retry_step,
        )
        .await
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "the task retrying a batch failed");
        ApiError::internal()
    })??;
    tracing::info!(batch = %id, retried, "batch retried");
    Ok((StatusCode::ACCEPTED, Json(Retried { id, retried })))
}

/// Walks the batch's chains a page at a time, applying `act` to the step `pick` chooses of
/// each, [`IN_FLIGHT`] at once; answers how many `act` applied.
async fn walk<P, A, F>(
    state: &AppState,
    batch: &BatchId,
    pick: P,
    act: A,
) -> Result<usize, ApiError>
where
    P: Fn(&Chain) -> Option<JobId>,
    A: Fn(AppState, JobId) -> F,
    F: Future<Output = Result<bool, StoreError>>,
{
    let mut offset = 0;
    let mut applied = 0;
    loop {
        let roots = state.store().batches().roots(batch, offset, PAGE).await?;
        if roots.is_empty() {
            return Ok(applied);
        }
        offset += roots.len();
        let chains = chains::read(state.store(), &roots).await?;
        let picked: Vec<JobId> = chains.iter().filter_map(&pick).collect();
        let done: Vec<bool> = futures::stream::iter(picked)
            .map(|id| act(state.clone(), id))
            .buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await?;
        applied += done.into_iter().filter(|applied| *applied).count();
    }
}

/// Cancels the chain whose current step is `id`. A step that succeeded meanwhile has made
/// its next step: that one is cancelled instead. The cancelled step is rung, so a worker
/// gives back what it holds (its slot, its place in the wait line).
async fn cancel_chain(state: AppState, mut id: JobId) -> Result<bool, StoreError> {
    for _ in 0..=MAX_EXTEND_STEPS {
        match state
            .store()
            .jobs()
            .apply(Transition::cancel(id.clone()))
            .await
        {
            Ok(Outcome::Applied(job)) => {
                super::ring_or_log(&state, &job.id).await;
                return Ok(true);
            }
            Ok(Outcome::Stale { current }) => match current.children.last() {
                Some(next) if current.state == JobState::Succeeded => id = next.clone(),
                _ => return Ok(false),
            },
            Ok(Outcome::TaskTaken { .. }) | Err(StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Retries the failed step `id` and rings it.
async fn retry_step(state: AppState, id: JobId) -> Result<bool, StoreError> {
    match state.store().jobs().apply(Transition::retry(id)).await {
        Ok(Outcome::Applied(job)) => {
            super::ring_or_log(&state, &job.id).await;
            Ok(true)
        }
        Ok(_) | Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Bytes, for the results stream's chunks.
pub(super) fn ndjson_chunk(lines: &[impl Serialize]) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity(lines.len() * 256);
    for line in lines {
        serde_json::to_writer(&mut out, line).map_err(|e| {
            tracing::error!(error = %e, "could not encode a result line");
            ApiError::internal()
        })?;
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}
