//! The one error type of the client, and what each kind means for the caller.
//!
//! The kind is decided in one place, [`crate::classify`]; this module carries it along with
//! what the upstream said. No message contains the token or the base URL.

use std::fmt;
use std::time::Duration;

/// The endpoint a call went to. A submit (`Videos`) is the one call whose failure can leave a
/// billed task behind, so its errors are classified differently from reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/pixverse/videos`: generate or extend.
    Videos,
    /// `/pixverse/tasks`: retrieve, retrieve_batch, delete.
    Tasks,
    /// `/pixverse/character`.
    Character,
}

impl Endpoint {
    /// The path below the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Videos => "pixverse/videos",
            Endpoint::Tasks => "pixverse/tasks",
            Endpoint::Character => "pixverse/character",
        }
    }

    /// Whether a call here may create a billed task.
    pub fn is_submit(self) -> bool {
        matches!(self, Endpoint::Videos)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "POST /{}", self.path())
    }
}

/// What went wrong, in the terms a worker acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// HTTP 429 or `too_many_requests`. No task was created; retry after the delay (from
    /// `Retry-After`, when the upstream sent one) without spending an attempt.
    RateLimited {
        /// How long the upstream asked us to wait.
        retry_after: Option<Duration>,
    },
    /// A read failed in a way that may pass (5xx, 408, 409, a body that is not JSON, a
    /// transport error), or a submit failed before a byte was sent (connection refused, DNS).
    /// Retry with backoff.
    Transient,
    /// A submit went out and no usable answer came back (5xx, a body that is not JSON or
    /// does not fit, a dropped connection, a timeout). A billed task may exist: do not resubmit
    /// until a task lookup by the recorded body has found nothing.
    OutcomeUnknown,
    /// The request was refused for what it is (`bad_request`, `forbidden` = moderation,
    /// `no_api`, `api_not_implemented`, other 4xx). Retrying it unchanged will not help.
    Permanent,
    /// The token or the account is the problem (`invalid_token`, `token_expired`, `no_token`,
    /// `token_mismatched`, `used_up`, `disabled`, or a 401/403 without a code). Pause
    /// submissions with this token instead of failing every job.
    Account,
    /// `retrieve` found no such task (a record without `id`): wrong id, or cleaned up.
    NotFound,
    /// A read answered 2xx with JSON of an unexpected shape.
    Decode,
    /// The client could not be built or the request could not be formed.
    Config,
}

impl ErrorKind {
    /// Whether the same call may simply be made again (after a backoff): rate limits and
    /// transient failures. An unknown submit outcome is *not* retryable blindly.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::RateLimited { .. } | ErrorKind::Transient)
    }

    /// A short stable name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited { .. } => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::Permanent => "permanent",
            ErrorKind::Account => "account",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Decode => "decode",
            ErrorKind::Config => "config",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            ErrorKind::RateLimited { .. } => {
                "rate limited, no task was created: wait for the retry-after delay (or back off) \
                 and keep polls under one per second per task"
            }
            ErrorKind::Transient => "nothing was created or changed: retry with backoff",
            ErrorKind::OutcomeUnknown => {
                "the submit may have created a billed task: do not resubmit blindly; look for a \
                 task whose request matches the recorded body (retrieve_batch with \
                 created_at_min) or wait for its callback"
            }
            ErrorKind::Permanent => "refused: retrying the same request will not help; fix it",
            ErrorKind::Account => {
                "account problem: fix the token or top up the balance at \
                 platform.acedata.cloud, and pause submissions with this token until then"
            }
            ErrorKind::NotFound => {
                "no such task: the id is wrong or the record was cleaned up (records last about \
                 a day)"
            }
            ErrorKind::Decode => {
                "the upstream answered in an unexpected shape: report it with the trace id"
            }
            ErrorKind::Config => "fix the client configuration",
        }
    }
}

/// Every failure of the client: what kind it is, and what the upstream said.
///
/// Display reads like `POST /pixverse/videos: The specified token is invalid or wrong. (HTTP
/// 401, code invalid_token, trace_id …); account problem: fix the token …`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Inner>);

#[derive(Debug, thiserror::Error)]
#[error("{}", render(self))]
struct Inner {
    kind: ErrorKind,
    endpoint: Option<Endpoint>,
    status: Option<u16>,
    code: Option<String>,
    message: String,
    trace_id: Option<String>,
    #[source]
    source: Option<reqwest::Error>,
}

fn render(e: &Inner) -> String {
    let mut out = String::new();
    if let Some(endpoint) = e.endpoint {
        out.push_str(&format!("{endpoint}: "));
    }
    out.push_str(e.message.trim_end_matches('.'));
    let mut facts = Vec::new();
    if let Some(status) = e.status {
        facts.push(format!("HTTP {status}"));
    }
    if let Some(code) = &e.code {
        facts.push(format!("code {code}"));
    }
    if let Some(trace_id) = &e.trace_id {
        facts.push(format!("trace_id {trace_id}"));
    }
    if !facts.is_empty() {
        out.push_str(&format!(" ({})", facts.join(", ")));
    }
    out.push_str("; ");
    out.push_str(e.kind.advice());
    if let ErrorKind::RateLimited {
        retry_after: Some(delay),
    } = e.kind
    {
        out.push_str(&format!(" (retry after {} s)", delay.as_secs_f64()));
    }
    out
}

impl Error {
    pub(crate) fn new(
        kind: ErrorKind,
        endpoint: Option<Endpoint>,
        message: impl Into<String>,
    ) -> Self {
        Error(Box::new(Inner {
            kind,
            endpoint,
            status: None,
            code: None,
            message: message.into(),
            trace_id: None,
            source: None,
        }))
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    pub(crate) fn with_code(mut self, code: Option<String>) -> Self {
        self.0.code = code;
        self
    }

    pub(crate) fn with_trace_id(mut self, trace_id: Option<String>) -> Self {
        self.0.trace_id = trace_id;
        self
    }

    /// Keeps a transport error as the source, with its URL removed.
    pub(crate) fn with_source(mut self, source: reqwest::Error) -> Self {
        self.0.source = Some(source.without_url());
        self
    }

    /// What kind of failure this is; decides what the caller does next.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The endpoint called, when the error came from a call.
    pub fn endpoint(&self) -> Option<Endpoint> {
        self.0.endpoint
    }

    /// The upstream's `error.code`, when it sent one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The HTTP status, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// How long the upstream asked us to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.0.kind {
            ErrorKind::RateLimited { retry_after } => retry_after,
            _ => None,
        }
    }

    /// The upstream's trace id, for support requests.
    pub fn trace_id(&self) -> Option<&str> {
        self.0.trace_id.as_deref()
    }

    /// What the upstream (or the transport) said, without the advice.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the same call may be made again after a backoff.
    pub fn is_retryable(&self) -> bool {
        self.0.kind.is_retryable()
    }

    /// Whether a submit may have created a billed task that nobody has heard of.
    pub fn is_outcome_unknown(&self) -> bool {
        self.0.kind == ErrorKind::OutcomeUnknown
    }

    /// Whether the token or account is at fault, so submissions with it should pause.
    pub fn is_account_level(&self) -> bool {
        self.0.kind == ErrorKind::Account
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_carries_message_facts_and_advice() {
        let e = Error::new(
            ErrorKind::Account,
            Some(Endpoint::Videos),
            "The specified token is invalid.",
        )
        .with_status(401)
        .with_code(Some("invalid_token".into()))
        .with_trace_id(Some("tr-1".into()));
        let text = e.to_string();
        assert!(
            text.starts_with("POST /pixverse/videos: The specified token is invalid ("),
            "{text}"
        );
        assert!(
            text.contains("HTTP 401, code invalid_token, trace_id tr-1"),
            "{text}"
        );
        assert!(text.contains("pause submissions"), "{text}");
    }

    #[test]
    fn helpers_follow_the_kind() {
        let limited = ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        };
        let e = Error::new(limited, None, "slow down");
        assert!(e.is_retryable() && !e.is_outcome_unknown() && !e.is_account_level());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(e.to_string().contains("retry after 3 s"), "{e}");
        let unknown = Error::new(ErrorKind::OutcomeUnknown, Some(Endpoint::Videos), "x");
        assert!(unknown.is_outcome_unknown() && !unknown.is_retryable());
        assert!(Error::new(ErrorKind::Account, None, "x").is_account_level());
        assert!(Error::new(ErrorKind::Transient, None, "x").is_retryable());
        assert!(!Error::new(ErrorKind::Permanent, None, "x").is_retryable());
    }
}
