//! The HTTP side of the client commands: one [`ApiClient`] that sends requests to the pixq API,
//! and one [`ApiError`] that classifies every way a call can fail, so each command maps a
//! failure to the same message and exit code.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

use super::job::{JobObject, JobView, JobsPage};
use super::{ApiArgs, Exit, plain};

/// How long to wait for a TCP connection: a local API answers at once, so a long wait only
/// delays the "is it running?" hint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one request may take in all. Every call here reads or changes one small record.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a token was refused before sending; it never quotes the token.
const BAD_TOKEN: &str =
    "the token has characters an HTTP header cannot carry; check --token or PIXQ_API_TOKEN";

/// What replaces the token wherever the server echoed it back.
const MASK: &str = "***";

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
    /// The exit code INTERFACE.md gives this failure; see the table in the module docs.
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
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    #[serde(default)]
    field: Option<String>,
}

/// Which jobs `GET /v1/jobs` should list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<String>,
    /// Only jobs of this batch.
    pub batch: Option<String>,
}

/// A client of the pixq HTTP API, built from `--api` and `--token`.
///
/// It deliberately has no `Debug`: it holds the token to scrub it from server messages.
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    /// The base URL as messages show it: without a password.
    shown: String,
    auth: Option<HeaderValue>,
    token: Option<String>,
}

impl ApiClient {
    /// Prepares a client; nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`ApiError::BadArgument`] when the URL cannot take a path or the token is not a valid
    /// header value; [`ApiError::Unreachable`] when no HTTP client can be set up at all.
    pub fn new(args: &ApiArgs) -> Result<Self, ApiError> {
        if args.api.cannot_be_a_base() {
            return Err(ApiError::BadArgument(format!(
                "--api {} is not a base URL; use e.g. {}",
                args.api,
                super::DEFAULT_API_URL
            )));
        }
        let mut shown = args.api.clone();
        // An http(s) URL always accepts an empty password; an error here changes nothing shown.
        let _ = shown.set_password(None);
        let token = args.token.clone().filter(|token| !token.trim().is_empty());
        let auth = match &token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| ApiError::BadArgument(BAD_TOKEN.into()))?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("pixq/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ApiError::Unreachable {
                api: shown.to_string(),
                reason: format!("cannot set up an HTTP client: {}", innermost(err)),
            })?;
        Ok(ApiClient {
            http,
            base: args.api.clone(),
            shown: shown.to_string(),
            auth,
            token: token.map(|token| token.trim().to_owned()),
        })
    }

    /// `GET /v1/jobs/{id}`: one job, as sent and as read.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::NotFound`] for an unknown id.
    pub async fn job(&self, id: &str) -> Result<JobObject, ApiError> {
        let text = self
            .call(Method::GET, &["v1", "jobs", checked(id)?], &[])
            .await?;
        JobObject::parse(text)
    }

    /// `GET /v1/jobs`: one page of jobs, newest first, of at most `limit` jobs (it may be
    /// shorter while `next_cursor` is set).
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::Rejected`] for a filter or cursor the API does not accept.
    pub async fn jobs_page(
        &self,
        filter: &JobFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<JobsPage, ApiError> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        query.extend(filter.state.as_deref().map(|state| ("state", state)));
        query.extend(filter.batch.as_deref().map(|batch| ("batch", batch)));
        query.extend(cursor.map(|cursor| ("cursor", cursor)));
        let text = self.call(Method::GET, &["v1", "jobs"], &query).await?;
        JobsPage::parse(&text)
    }

    /// `POST /v1/jobs/{id}/cancel`: the job as it stands afterwards, when the API sent it.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::Conflict`] when the job has already finished.
    pub async fn cancel_job(&self, id: &str) -> Result<Option<JobView>, ApiError> {
        let text = self
            .call(Method::POST, &["v1", "jobs", checked(id)?, "cancel"], &[])
            .await?;
        Ok(JobView::parse_lenient(&text))
    }

    /// `POST /v1/jobs/{id}/retry`: the job as it stands afterwards, when the API sent it.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::Conflict`] when the job cannot be retried in its state.
    pub async fn retry_job(&self, id: &str) -> Result<Option<JobView>, ApiError> {
        let text = self
            .call(Method::POST, &["v1", "jobs", checked(id)?, "retry"], &[])
            .await?;
        Ok(JobView::parse_lenient(&text))
    }

    /// Sends one request and returns the body of a 2xx answer; everything else becomes an
    /// [`ApiError`]. Path segments are percent-encoded, so an id cannot reach another route.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<String, ApiError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::BadArgument(format!("--api {} is not a base URL", self.shown)))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method, url);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request.send().await.map_err(|err| self.unreachable(err))?;
        let status = response.status();
        let text = response.text().await.map_err(|err| self.unreachable(err))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(self.classify(status, &text))
        }
    }

    /// Turns a non-2xx answer into the variant its status calls for.
    fn classify(&self, status: StatusCode, body: &str) -> ApiError {
        let (code, message, field) = match serde_json::from_str::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => (error.code, self.scrub(&error.message), error.field),
            Err(_) => (
                String::from("unknown"),
                status
                    .canonical_reason()
                    .unwrap_or("no reason given")
                    .to_owned(),
                None,
            ),
        };
        let status_code = status.as_u16();
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound { message },
            StatusCode::CONFLICT => ApiError::Conflict { code, message },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::Unauthorized {
                status: status_code,
                message,
                token_given: self.auth.is_some(),
            },
            StatusCode::TOO_MANY_REQUESTS => ApiError::Server {
                status: status_code,
                message,
            },
            _ if status.is_client_error() => ApiError::Rejected {
                status: status_code,
                code,
                message,
                field: field.map(|field| self.scrub(&field)),
            },
            _ => ApiError::Server {
                status: status_code,
                message,
            },
        }
    }

    /// Turns a request that got no (complete) answer into [`ApiError::Unreachable`].
    fn unreachable(&self, err: reqwest::Error) -> ApiError {
        let reason = if err.is_timeout() {
            format!(
                "timed out ({}s to connect, {}s in all)",
                CONNECT_TIMEOUT.as_secs(),
                REQUEST_TIMEOUT.as_secs()
            )
        } else {
            innermost(err)
        };
        ApiError::Unreachable {
            api: self.shown.clone(),
            reason: self.scrub(&reason),
        }
    }

    /// Masks the token in text the server sent, in case it echoed the `Authorization` header,
    /// and drops control characters.
    fn scrub(&self, text: &str) -> String {
        let text = plain(text);
        match &self.token {
            Some(token) => text.replace(token.as_str(), MASK),
            None => text,
        }
    }
}

/// Refuses an id that would address another route: blank (`GET /v1/jobs/` lists jobs), or
/// `.` and `..`, which URL normalisation drops. Other ids are percent-encoded as one segment.
fn checked(id: &str) -> Result<&str, ApiError> {
    let id = id.trim();
    if matches!(id, "" | "." | "..") {
        Err(ApiError::BadArgument(format!(
            "{id:?} is not a job id; pass one such as job_0190…"
        )))
    } else {
        Ok(id)
    }
}

/// The most specific cause of a network error (e.g. "Connection refused (os error 111)"),
/// without the URL that reqwest's own message repeats.
fn innermost(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut cause: &dyn std::error::Error = &err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
