//! The job object as the client commands read it.
//!
//! [`JobView`] is deliberately lenient: every field but `id` and `state` may be missing and
//! unknown fields are ignored, so an older `pixq` can still show a job from a newer API.
//! `--json` output never goes through it: it prints what the API sent.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::ApiError;

/// The fields of a job object that the human-readable output shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// `queued`, `submitting`, `generating`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Why a queued job waits: `upstream_capacity`, `rate_limited`, `paused` or `backoff`.
    #[serde(default)]
    pub waiting_reason: Option<String>,
    /// The batch it was submitted in.
    #[serde(default)]
    pub batch_id: Option<String>,
    /// The step this one extends.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The chain's first step.
    #[serde(default)]
    pub root_id: Option<String>,
    /// The position in the chain; 0 is the first generation.
    #[serde(default)]
    pub step: Option<u64>,
    /// The chain's next steps.
    #[serde(default)]
    pub children: Option<Vec<String>>,
    /// `generate` or `extend`.
    #[serde(default)]
    pub action: Option<String>,
    /// The request as given; the prompt is shown from it.
    #[serde(default)]
    pub params: Option<Value>,
    /// Failed tries that count against `retry.max_attempts`.
    #[serde(default)]
    pub attempts: Option<u64>,
    /// The upstream task behind the job.
    #[serde(default)]
    pub upstream: Option<UpstreamView>,
    /// The video, once succeeded.
    #[serde(default)]
    pub result: Option<ResultView>,
    /// Why the job failed or was cancelled.
    #[serde(default)]
    pub error: Option<ErrorView>,
    /// When the job was created.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// When the record last changed.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// When the job ended.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// The job object's `upstream` part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpstreamView {
    /// The upstream task id, once a submit answered.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The upstream's trace id, for support requests.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// When the task id was recorded.
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
}

/// The job object's `result` part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResultView {
    /// The PixVerse video id: an integer, though some clients send it as a string.
    #[serde(default)]
    pub video_id: Option<Value>,
    /// Where the MP4 lives.
    #[serde(default)]
    pub video_url: Option<String>,
}

/// The job object's `error` part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorView {
    /// A machine-readable code, e.g. `poll_timeout`.
    #[serde(default)]
    pub code: String,
    /// A human-readable explanation.
    #[serde(default)]
    pub message: String,
    /// Whether a retry may succeed.
    #[serde(default)]
    pub retryable: Option<bool>,
}

impl JobView {
    /// Reads a job from an element of a listing.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidResponse`] when it is not a job object.
    pub fn from_value(value: &Value) -> Result<Self, ApiError> {
        JobView::deserialize(value).map_err(|err| ApiError::InvalidResponse {
            reason: format!("a job in the listing: {err}"),
        })
    }

    /// Reads a job from a body that may not hold one (e.g. a cancel answered without a body).
    pub fn parse_lenient(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The step's prompt, when its request has one.
    pub fn prompt(&self) -> Option<&str> {
        self.params.as_ref()?.get("prompt")?.as_str()
    }

    /// The finished video's URL, when there is one.
    pub fn video_url(&self) -> Option<&str> {
        self.result.as_ref()?.video_url.as_deref()
    }

    /// Whether the job ended in `failed`, which makes `pixq status` exit 1.
    pub fn is_failed(&self) -> bool {
        self.state == "failed"
    }
}

/// One job as `GET /v1/jobs/{id}` sent it (for `--json`) and as read (for people).
#[derive(Debug, Clone, PartialEq)]
pub struct JobObject {
    /// The body exactly as received.
    pub text: String,
    /// The fields the human-readable output uses.
    pub job: JobView,
}

impl JobObject {
    /// Reads a job body, keeping the text as it came.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidResponse`] when the body is not a job object.
    pub fn parse(text: String) -> Result<Self, ApiError> {
        match serde_json::from_str(&text) {
            Ok(job) => Ok(JobObject { text, job }),
            Err(err) => Err(ApiError::InvalidResponse {
                reason: format!("not a job object: {err}"),
            }),
        }
    }
}

/// One page of `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobsPage {
    /// The jobs as sent, newest first; kept raw so `--json` prints every field.
    pub jobs: Vec<Value>,
    /// Where the next page starts; `None` when the listing is complete.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl JobsPage {
    /// Reads a listing body.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidResponse`] when the body is not `{"jobs":[…],"next_cursor":…}`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        serde_json::from_str(text).map_err(|err| ApiError::InvalidResponse {
            reason: format!("not a job listing: {err}"),
        })
    }
}

/// A timestamp as the client prints it: RFC 3339 in UTC to the second, `-` when unset.
/// Whole seconds keep table columns aligned; `--json` keeps the full precision.
pub fn timestamp(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_owned())
}

/// A video id as text: an integer as digits, a string without quotes.
pub fn video_id(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
