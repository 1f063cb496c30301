//! The upstream's error bodies, in one place so every route answers with the same shapes.
//!
//! - Gateway errors (auth, balance, rate limit, validation, routing, timeout):
//!   `{"error":{"code","message"},"trace_id"}` with no `success` key.
//! - Task failures (moderation at submit, `api_error`, a failed task's `response`):
//!   `{"success":false,"error":{"code","message"},"trace_id","task_id"?}`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use uuid::Uuid;

/// The message of `used_up`, as the gateway words it.
pub(crate) const USED_UP: &str = "Your balance is not sufficient for current request, please buy more in Ace Data Cloud https://platform.acedata.cloud";
/// The message of `forbidden` (content moderation), as the upstream words it.
pub(crate) const FORBIDDEN: &str =
    "Sorry! Our AI moderators feel your prompt might be against our community standards.";
/// The message of an `api_error`, as the upstream words it.
pub(crate) const FETCH_FAILED: &str = "fetch failed";
/// The message of the gateway's generic invalid-payload error.
pub(crate) const INVALID_JSON: &str = "The json payload is not valid to request the API";
/// The bare-string `error` of the `bare_error` fault.
pub(crate) const BARE_ERROR: &str = "upstream facilitator rejected the request";

/// A gateway error: a status, a code and a message. Rendered with a fresh `trace_id`.
#[derive(Debug, Clone)]
pub(crate) struct GatewayError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: bool,
}

impl GatewayError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: false,
        }
    }

    /// 400 `no_token`: no `authorization` header.
    pub(crate) fn no_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "no_token",
            "The authorization header is missing, please provide a token.",
        )
    }

    /// 401 `invalid_token`: an unknown or revoked token.
    pub(crate) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The specified token is invalid or wrong.",
        )
    }

    /// 401 `token_expired`.
    pub(crate) fn token_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "The specified token has expired.",
        )
    }

    /// 400 `token_mismatched`: a token of another service.
    pub(crate) fn token_mismatched() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "token_mismatched",
            "The specified token is not matched with API.",
        )
    }

    /// 403 `used_up`: the balance is exhausted.
    pub(crate) fn used_up() -> Self {
        Self::new(StatusCode::FORBIDDEN, "used_up", USED_UP)
    }

    /// 403 `disabled`: the application was disabled.
    pub(crate) fn disabled() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "disabled",
            "Your application has been disabled by Ace Data Cloud due to abnormal usage behavior, \
             please contact our support to get more information.",
        )
    }

    /// 400 `bad_request` with a message naming the field.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 `api_not_implemented`: an action the endpoint does not have.
    pub(crate) fn api_not_implemented() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "api_not_implemented",
            "The API is not implemented.",
        )
    }

    /// 404 `no_api`: a path the gateway does not route.
    pub(crate) fn no_api() -> Self {
        Self::new(StatusCode::NOT_FOUND, "no_api", "The API is not found.")
    }

    /// 429 `too_many_requests` with `Retry-After: 1`.
    pub(crate) fn too_many_requests() -> Self {
        Self {
            retry_after: true,
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "You have exceeded the rate limit.",
            )
        }
    }

    /// 504 `timeout`: the gateway gave up waiting (the task may still run).
    pub(crate) fn timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "Timeout to generate the video.",
        )
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"code": self.code, "message": self.message},
            "trace_id": Uuid::new_v4().to_string(),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A task-failure body: `success: false`, the error, the trace id and, when a task id exists,
/// the task id.
pub(crate) fn task_failure(
    code: &str,
    message: &str,
    trace_id: &str,
    task_id: Option<&str>,
) -> Value {
    let mut body = json!({
        "success": false,
        "error": {"code": code, "message": message},
        "trace_id": trace_id,
    });
    if let (Some(task_id), Some(map)) = (task_id, body.as_object_mut()) {
        map.insert("task_id".to_owned(), Value::from(task_id));
    }
    body
}

/// The HTTP status that goes with a task failure's code when it is the answer to a request.
pub(crate) fn status_of(code: &str) -> StatusCode {
    match code {
        "forbidden" => StatusCode::FORBIDDEN,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        "bad_request" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Every way a request is refused, so handlers can use `?` and render one shape per case.
#[derive(Debug, Clone)]
pub(crate) enum Rejection {
    /// A gateway error (auth, validation, rate limit, timeout, routing).
    Gateway(GatewayError),
    /// 500 `api_error` as a task failure without a task: the fixture `error-api-error.json`.
    ApiError,
    /// 403 `forbidden` as a task failure whose task id names no stored task: the fixture
    /// `error-forbidden-task.json`.
    Moderation,
    /// 400 with `error` as a bare string: the fixture `error-bare-string.json`.
    BareError,
}

impl From<GatewayError> for Rejection {
    fn from(error: GatewayError) -> Self {
        Self::Gateway(error)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let trace_id = Uuid::new_v4().to_string();
        match self {
            Self::Gateway(error) => error.into_response(),
            Self::ApiError => {
                let body = task_failure("api_error", FETCH_FAILED, &trace_id, None);
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }
            Self::Moderation => {
                let task_id = Uuid::new_v4().to_string();
                let body = task_failure("forbidden", FORBIDDEN, &trace_id, Some(&task_id));
                (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
            }
            Self::BareError => {
                let body = json!({"error": BARE_ERROR, "trace_id": trace_id});
                (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
            }
        }
    }
}

/// 200 with an HTML gateway page instead of JSON.
pub(crate) fn not_json() -> Response {
    const PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
                        <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
                        </body>\r\n</html>\r\n";
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
        PAGE,
    )
        .into_response()
}
