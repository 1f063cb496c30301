//! [`ApiError`]: every way a call to the pixq API can fail, classified once, so each command
//! maps a failure to the same message and exit code.

use serde::Deserialize;

use super::Exit;

/// Why a call to the pixq API failed. Each variant has one exit code ([`ApiError::exit`]) and a
/// message that says what to do next; none of them ever contains the token.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: the job (or batch) does not exist, or no longer does.
    #[error(
        "not found: {message} (check the id; finished jobs are deleted after retention.finished)"
    )]
    NotFound {
        /// The server's explanation.
        message: String,
    },
    /// 409: the request conflicts with the record's state, e.g. cancelling a finished job.
    #[error("conflict: {message}")]
    Conflict {
        /// The server's error code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// Another 4xx: the input was invalid (400, 413, 415, 422, …).
    #[error("the API rejected the request ({status}, {code}): {message}{}", field_note(.field))]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's error code.
        code: String,
        /// The server's explanation.
        message: String,
        /// The input field at fault, when the server named one.
        field: Option<String>,
        /// For a rejected batch, each bad entry (the server lists at most 100).
        entries: Vec<RejectedEntry>,
    },
    /// No answer: the connection was refused, dropped or timed out.
    #[error(
        "cannot reach the pixq API at {api}: {reason} (start it with `pixq run` or `pixq api`, or point --api / PIXQ_API_URL at it)"
    )]
    Unreachable {
        /// The API's base URL, without any password.
        api: String,
        /// What the network said.
        reason: String,
    },
    /// 401 or 403: the token is missing, unknown or not allowed.
    #[error("the API refused the request ({status}): {message} ({})", token_hint(*.token_given))]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The server's explanation, scrubbed of the token.
        message: String,
        /// Whether a token was sent at all, which changes the advice.
        token_given: bool,
    },
    /// A 5xx or a 429: the API could not serve the request now.
    #[error("the API could not answer ({status}): {message} (try again later; see the API's log)")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// A 2xx whose body is not what the pixq API sends.
    #[error("the API's answer could not be read: {reason} (is --api pointing at a pixq API?)")]
    InvalidResponse {
        /// What was wrong with the body.
        reason: String,
    },
    /// The command line cannot make a request, e.g. a blank id or a token that is not a valid
    /// header value.
    #[error("{0}")]
    BadArgument(String),
}

fn field_note(field: &Option<String>) -> String {
    field
        .as_deref()
        .map(|field| format!(" (field `{field}`)"))
        .unwrap_or_default()
}

fn token_hint(token_given: bool) -> &'static str {
    if token_given {
        "check --token or PIXQ_API_TOKEN against the API's api.tokens"
    } else {
        "the API needs a token: pass --token or set PIXQ_API_TOKEN"
    }
}

impl ApiError {
    /// The exit code INTERFACE.md gives this failure; see the table in the [`client`](super) docs.
    pub fn exit(&self) -> Exit {
        match self {
            ApiError::NotFound { .. } | ApiError::Conflict { .. } => Exit::Failed,
            ApiError::Rejected { .. }
            | ApiError::Unauthorized { .. }
            | ApiError::BadArgument(_) => Exit::Usage,
            ApiError::Unreachable { .. }
            | ApiError::Server { .. }
            | ApiError::InvalidResponse { .. } => Exit::Unreachable,
        }
    }
}

/// The body of every pixq API error: `{"error":{"code","message","field"?}}`.
#[derive(Deserialize)]
pub(super) struct ErrorBody {
    pub(super) error: ErrorDetail,
}

#[derive(Deserialize)]
pub(super) struct ErrorDetail {
    pub(super) code: String,
    pub(super) message: String,
    #[serde(default)]
    pub(super) field: Option<String>,
    #[serde(default)]
    pub(super) entries: Vec<RejectedEntry>,
}

/// One bad entry of a rejected batch: `{"index","field","code","message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RejectedEntry {
    /// The entry's place in the batch's `jobs`, from 0. (A text or NDJSON body gets `line`
    /// instead; `pixq submit` always sends `jobs`.)
    #[serde(default)]
    pub index: Option<usize>,
    /// The field at fault within the entry, e.g. `prompt` or `extend[0].duration`.
    #[serde(default)]
    pub field: Option<String>,
    /// A machine-readable code, e.g. `missing_field`.
    #[serde(default)]
    pub code: String,
    /// What is wrong and what to do instead.
    #[serde(default)]
    pub message: String,
}
