//! `POST /v1/jobs` and `GET /v1/jobs/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pixq_core::chain;
use pixq_core::metrics::JOBS_ENQUEUED;
use pixq_core::spec::{JobSpec, SpecErrorCode};
use pixq_core::store::IdempotencyKey;
use serde_json::Value;

use super::ring_or_log;
use crate::characters::resolve_asset_names;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{JobPath, JsonBody};
use crate::openapi::V1Errors;
use crate::openapi::bodies::JobRequest;
use crate::state::AppState;
use crate::webhooks::{job_view, require_secret};
use pixq_core::view::JobView;

/// The longest `Idempotency-Key` accepted, in bytes.
const MAX_IDEMPOTENCY_KEY: usize = 255;

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Validates the body, creates the job (or replays it for a repeated `Idempotency-Key`) and
/// rings the doorbell: 202 for a new job, 200 for a replay.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body (1 to 255 printable characters)")),
    request_body(content = JobRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "The job was created", body = JobView,
         headers(("Location" = String, description = "The job's URL"))),
        (status = 200, description = "A replay: the job first made with this Idempotency-Key", body = JobView),
        (status = 400, description = "The body is not JSON, or a header is invalid", body = ErrorEnvelope),
        (status = 409, description = "The Idempotency-Key was first used with another body", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than api.max_body", body = ErrorEnvelope),
        (status = 415, description = "The body is not application/json", body = ErrorEnvelope),
        (status = 422, description = "The body is not an acceptable job; `field` names the culprit", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    // Read as a value first, to swap a character's name in `asset_id` for its number; a body
    // that is not JSON gets the spec's own error, with line and column.
    let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
        return Err(JobSpec::from_json(&body)
            .err()
            .map_or_else(ApiError::internal, ApiError::from));
    };
    resolve_asset_names(state.store(), &mut value).await?;
    let spec = JobSpec::from_value(&value)?;
    if spec.webhook_url().is_some() {
        require_secret(&state, "webhook_url")?;
    }
    let idempotency = key.map(|key| IdempotencyKey {
        key,
        fingerprint: spec.fingerprint(),
    });
    let created = state
        .store()
        .jobs()
        .create(chain::new_job(&spec), idempotency)
        .await?;
    let job = created.job;
    super::record_job(&job.id);
    if let Some(batch) = &job.batch_id {
        super::record_batch(batch);
    }
    let status = if created.replayed {
        StatusCode::OK
    } else {
        metrics::counter!(JOBS_ENQUEUED).increment(1);
        ring_or_log(&state, &job.id).await;
        tracing::info!(job = %job.id, steps = spec.steps(), "job created");
        StatusCode::ACCEPTED
    };
    let location = HeaderValue::from_str(&format!("/v1/jobs/{}", job.id)).ok();
    let mut response = (status, Json(JobView::from(job))).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The job object; 404 when unknown.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job object", body = JobView),
        (status = 404, description = "No such job (finished jobs are deleted after retention.finished)", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn show(
    State(state): State<AppState>,
    JobPath(id): JobPath,
) -> Result<Json<JobView>, ApiError> {
    match state.store().jobs().get(&id).await? {
        Some(job) => Ok(Json(job_view(&state, job).await?)),
        None => Err(ApiError::not_found(format!("job {id} does not exist"))),
    }
}

/// The `Idempotency-Key` header: printable text of 1 to 255 bytes, when given.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid =
        |message: &str| ApiError::bad_input(SpecErrorCode::InvalidValue, IDEMPOTENCY_KEY, message);
    let text = value
        .to_str()
        .map_err(|_| invalid("the Idempotency-Key must be printable ASCII"))?
        .trim();
    if text.is_empty() {
        return Err(invalid(
            "the Idempotency-Key is empty: leave the header out, or send a key",
        ));
    }
    if text.len() > MAX_IDEMPOTENCY_KEY {
        return Err(invalid(&format!(
            "the Idempotency-Key is {} characters long; at most {MAX_IDEMPOTENCY_KEY} are accepted",
            text.len()
        )));
    }
    Ok(Some(text.to_owned()))
}
