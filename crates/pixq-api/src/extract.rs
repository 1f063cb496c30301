//! Extractors that answer bad input with [`ApiError`] instead of axum's plain-text
//! rejections: a JSON body bounded by `api.max_body`, and a job id from the path.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use pixq_core::job::JobId;
use pixq_core::spec::SpecErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

/// A request body declared as `application/json` and at most `api.max_body` bytes, not yet
/// parsed (the caller parses it with its own error paths).
///
/// The declared `Content-Length` is checked before reading, and the read itself is bounded
/// (by the router's `DefaultBodyLimit`), so a chunked body cannot grow past the limit either.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Bytes);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::unsupported_media_type("application/json"));
        }
        Ok(JsonBody(read_body(request, state).await?))
    }
}

/// Reads a body of at most `api.max_body` bytes: 413 when the declared length or the bytes
/// read exceed it.
///
/// # Errors
///
/// 413 over the limit; 400 when the body could not be read (the client went away mid-way).
pub async fn read_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    read_body_up_to(request, state, state.config().max_body).await
}

/// Reads a body of at most `limit` bytes: 413 when the declared length or the bytes read
/// exceed it. The route must allow that much with its own `DefaultBodyLimit`.
///
/// # Errors
///
/// As [`read_body`].
pub async fn read_body_up_to(
    request: Request,
    state: &AppState,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if declared_length(request.headers()).is_some_and(|len| len > limit) {
        return Err(ApiError::too_large(limit));
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(limit)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "the request body could not be read: send it again",
                )
            }
        })
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|len| usize::try_from(len).unwrap_or(usize::MAX))
}

/// Whether the content type is `application/json`, with any parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The `{id}` of a job route. Any text is accepted: an id pixq never issued is simply not
/// found.
#[derive(Debug, Clone)]
pub struct JobPath(pub JobId);

impl FromRequestParts<AppState> for JobPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                ApiError::bad_input(
                    SpecErrorCode::InvalidValue,
                    "id",
                    format!(
                        "the job id in the path cannot be read: {}",
                        rejection.body_text()
                    ),
                )
            })?;
        let id = JobId::from(id);
        crate::routes::record_job(&id);
        Ok(JobPath(id))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/jsonx")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
