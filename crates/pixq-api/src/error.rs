//! [`ApiError`]: the one error shape every route answers with,
//! `{"error":{"code":"…","message":"…","field":"…"?}}`.
//!
//! Handlers return `Result<_, ApiError>`; extractors map their rejections into it; the router's
//! fallbacks and the panic catcher build one too. So a client parses one shape for every 4xx
//! and 5xx. A 5xx names no internals: the details go to the log.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pixq_core::spec::{SpecError, SpecErrorCode};
use pixq_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// A failed request: status, machine-readable code, a message saying what to do, and the field
/// to blame when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    field: Option<String>,
    entries: Vec<EntryError>,
}

/// One bad entry of a batch: where it is (its index in a JSON array, or its line in a text or
/// NDJSON body, from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntryError {
    /// The entry's index in `jobs` or `prompts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The entry's line in a text or NDJSON body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The field to blame within the entry, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A machine-readable code, as for one job.
    pub code: String,
    /// What is wrong, and what to do.
    pub message: String,
}

/// The body of every error response: `{"error": {…}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorEnvelope<'a> {
    /// What went wrong.
    error: ErrorBody<'a>,
}

/// The inside of an error response.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// A machine-readable code, e.g. `invalid_value`, `not_found`, `unauthorized`.
    code: &'a str,
    /// What is wrong, and what to do about it.
    message: &'a str,
    /// The field, query parameter or header to blame, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// A rejected batch's bad entries (at most 100), each by its index or line.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Vec<EntryError>)]
    entries: &'a [EntryError],
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            entries: Vec::new(),
        }
    }

    /// Lists a batch's bad entries beside the error.
    pub fn with_entries(mut self, entries: Vec<EntryError>) -> Self {
        self.entries = entries;
        self
    }

    /// Names the field (a JSON path, query parameter or header) to blame.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 about one input, with a [`SpecErrorCode`]-style code such as `invalid_value`.
    pub fn bad_input(code: SpecErrorCode, field: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code.as_str(), message).with_field(field)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `conflict`: the request is valid but the job's state does not allow it.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 401 `unauthorized`, answered with `WWW-Authenticate: Bearer`.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the header `Authorization: Bearer <token>` with one of api.tokens",
        )
    }

    /// 413 `payload_too_large`.
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is larger than {limit} bytes (api.max_body for a job, \
                 api.max_batch_body for a batch): send less, or split a batch"
            ),
        )
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(expected: &str) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the body with `Content-Type: {expected}`"),
        )
        .with_field("Content-Type")
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not take that method: see the Allow header",
        )
    }

    /// 500 `internal`, with nothing of the cause in it; log the cause before.
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "pixq hit an internal error; the details are in its log",
        )
    }

    /// 503 `store_unavailable`: Redis is down or busy; trying again later may work.
    pub fn store_unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the job store is unavailable: try again shortly",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The field to blame, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What went wrong, for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: &self.code,
                message: &self.message,
                field: self.field.as_deref(),
                entries: &self.entries,
            },
        };
        let mut response = (self.status, Json(envelope)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A body that is not JSON is 400; one that is JSON but not an acceptable job is 422.
impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> Self {
        let status = if e.code == SpecErrorCode::InvalidJson {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError {
            status,
            code: Cow::Borrowed(e.code.as_str()),
            message: e.message,
            field: e.field,
            entries: Vec::new(),
        }
    }
}

/// Store failures: what the client can act on keeps its meaning; the rest is 503 or 500
/// without details (they are logged here).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => ApiError::not_found(format!(
                "job {id} does not exist (finished jobs are deleted after retention.finished)"
            )),
            StoreError::Conflict { key, job } => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                format!(
                    "Idempotency-Key {key:?} was first used with another body (job {job}): \
                     resend the same body, or use a new key"
                ),
            )
            .with_field("Idempotency-Key"),
            StoreError::BatchKeyTaken {
                key,
                batch,
                in_progress,
            } => {
                let (code, what) = if in_progress {
                    (
                        "idempotency_in_progress",
                        "is still being written: wait, then resend the same body",
                    )
                } else {
                    (
                        "idempotency_conflict",
                        "was made from another body: resend the same body, or use a new key",
                    )
                };
                ApiError::new(
                    StatusCode::CONFLICT,
                    code,
                    format!("Idempotency-Key {key:?} names batch {batch}, which {what}"),
                )
                .with_field("Idempotency-Key")
            }
            StoreError::UnknownBatch(batch) => {
                ApiError::not_found(format!("batch {batch} does not exist"))
            }
            StoreError::InvalidCursor(_) => ApiError::bad_input(
                SpecErrorCode::InvalidValue,
                "cursor",
                "this cursor was not issued by pixq: list again without it",
            ),
            e @ StoreError::Unavailable { .. } => {
                if e.is_unreachable() {
                    pixq_core::outage::failed("api", &e);
                } else {
                    tracing::warn!(error = %e, "the store refused a request");
                }
                ApiError::store_unavailable()
            }
            StoreError::Contended(id) => {
                tracing::warn!(job = %id, "job kept changing under a request");
                ApiError::store_unavailable()
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_are_400_for_bad_json_and_422_otherwise() {
        let json = pixq_core::spec::JobSpec::from_json(b"{").unwrap_err();
        assert_eq!(ApiError::from(json).status(), StatusCode::BAD_REQUEST);
        let blank = pixq_core::spec::JobSpec::from_json(br#"{"prompt":" "}"#).unwrap_err();
        let e = ApiError::from(blank);
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.field(), Some("prompt"));
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let e = ApiError::from(StoreError::Corrupt {
            what: "pixq:job:x".into(),
            detail: "secret detail".into(),
        });
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("secret detail"));
    }
}
