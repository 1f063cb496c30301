//! The HTTP side of the client commands: one [`ApiClient`] that sends requests to the pixq API
//! and turns every failure into an [`ApiError`].

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use super::batch::{BatchObject, BatchRetry, Results};
use super::error::{ErrorBody, RejectedEntry};
use super::job::{JobObject, JobView, JobsPage};
use super::{ApiArgs, ApiError, plain};

/// How long to wait for a TCP connection: a local API answers at once, so a long wait only
/// delays the "is it running?" hint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one request may take in all. Every call here reads or changes one small record,
/// except the two below.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a batch may take to send or its results to arrive: up to 100,000 jobs each way.
const BULK_TIMEOUT: Duration = Duration::from_secs(300);

/// The header that makes a submit safe to repeat.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Why a token was refused before sending; it never quotes the token.
const BAD_TOKEN: &str =
    "the token has characters an HTTP header cannot carry; check --token or PIXQ_API_TOKEN";

/// What replaces the token wherever the server echoed it back.
const MASK: &str = "***";

/// What one request sends besides its method and path.
#[derive(Default)]
struct Call<'a> {
    query: &'a [(&'a str, &'a str)],
    json: Option<&'a Value>,
    idempotency_key: Option<&'a str>,
    timeout: Option<Duration>,
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

    /// `POST /v1/batches` with `{"jobs": [...]}`: the batch as accepted.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::Rejected`] with `entries` when jobs are invalid, and
    /// without them when the batch is too big (413).
    pub async fn submit_batch(
        &self,
        jobs: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<BatchObject, ApiError> {
        let call = Call {
            json: Some(jobs),
            idempotency_key,
            timeout: Some(BULK_TIMEOUT),
            ..Call::default()
        };
        let text = self.send(Method::POST, &["v1", "batches"], call).await?;
        BatchObject::parse(text)
    }

    /// `GET /v1/batches/{id}`: the batch's counts and times.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::NotFound`] for an unknown id.
    pub async fn batch(&self, id: &str) -> Result<BatchObject, ApiError> {
        let text = self
            .call(Method::GET, &["v1", "batches", checked(id)?], &[])
            .await?;
        BatchObject::parse(text)
    }

    /// `GET /v1/batches/{id}/results`: one line per job, in submission order.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::InvalidResponse`] for a line that is not a result.
    pub async fn batch_results(&self, id: &str) -> Result<Results, ApiError> {
        let call = Call {
            timeout: Some(BULK_TIMEOUT),
            ..Call::default()
        };
        let segments = ["v1", "batches", checked(id)?, "results"];
        let text = self.send(Method::GET, &segments, call).await?;
        Results::parse(&text)
    }

    /// `POST /v1/batches/{id}/cancel`: the batch as it stands afterwards.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`].
    pub async fn cancel_batch(&self, id: &str) -> Result<BatchObject, ApiError> {
        let text = self
            .call(
                Method::POST,
                &["v1", "batches", checked(id)?, "cancel"],
                &[],
            )
            .await?;
        BatchObject::parse(text)
    }

    /// `POST /v1/batches/{id}/retry`: how many failed jobs go round again.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`].
    pub async fn retry_batch(&self, id: &str) -> Result<BatchRetry, ApiError> {
        let text = self
            .call(Method::POST, &["v1", "batches", checked(id)?, "retry"], &[])
            .await?;
        serde_json::from_str(&text).map_err(|err| ApiError::InvalidResponse {
            reason: format!("not a batch retry answer: {err}"),
        })
    }

    /// `POST /v1/characters`: the character, made upstream or replayed for the same key.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`]; [`ApiError::Conflict`] for a taken name, or a key used with another
    /// body or still in progress.
    pub async fn create_character(
        &self,
        body: &Value,
        idempotency_key: &str,
    ) -> Result<Value, ApiError> {
        let call = Call {
            json: Some(body),
            idempotency_key: Some(idempotency_key),
            timeout: Some(BULK_TIMEOUT),
            ..Call::default()
        };
        let text = self.send(Method::POST, &["v1", "characters"], call).await?;
        serde_json::from_str(&text).map_err(|err| ApiError::InvalidResponse {
            reason: format!("not a character: {err}"),
        })
    }

    /// `GET /v1/characters`: every character, newest first.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`].
    pub async fn characters(&self) -> Result<Vec<Value>, ApiError> {
        let text = self.call(Method::GET, &["v1", "characters"], &[]).await?;
        let body: Value = serde_json::from_str(&text).map_err(|err| ApiError::InvalidResponse {
            reason: format!("not a character list: {err}"),
        })?;
        body["characters"]
            .as_array()
            .cloned()
            .ok_or_else(|| ApiError::InvalidResponse {
                reason: "the answer has no `characters` list".into(),
            })
    }

    /// `GET /v1/pipelines`: every scheduled pipeline with its next and last runs.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`].
    pub async fn pipelines(&self) -> Result<Vec<Value>, ApiError> {
        let text = self.call(Method::GET, &["v1", "pipelines"], &[]).await?;
        let body: Value = serde_json::from_str(&text).map_err(|err| ApiError::InvalidResponse {
            reason: format!("not a pipeline list: {err}"),
        })?;
        body["pipelines"]
            .as_array()
            .cloned()
            .ok_or_else(|| ApiError::InvalidResponse {
                reason: "the answer has no `pipelines` list".into(),
            })
    }

    /// `GET /v1/queue`, or with `action` (`pause`, `resume`) `POST /v1/queue/{action}`:
    /// whether the queue is paused afterwards.
    ///
    /// # Errors
    ///
    /// Any [`ApiError`].
    pub async fn queue(&self, action: Option<&str>) -> Result<bool, ApiError> {
        let text = match action {
            Some(action) => {
                self.call(Method::POST, &["v1", "queue", action], &[])
                    .await?
            }
            None => self.call(Method::GET, &["v1", "queue"], &[]).await?,
        };
        let body: Value = serde_json::from_str(&text).map_err(|err| ApiError::InvalidResponse {
            reason: format!("not a queue object: {err}"),
        })?;
        body["paused"]
            .as_bool()
            .ok_or_else(|| ApiError::InvalidResponse {
                reason: "the answer has no `paused`".into(),
            })
    }

    /// Sends a request with a query and nothing else; see [`ApiClient::send`].
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<String, ApiError> {
        let call = Call {
            query,
            ..Call::default()
        };
        self.send(method, segments, call).await
    }

    /// Sends one request and returns the body of a 2xx answer; everything else becomes an
    /// [`ApiError`]. Path segments are percent-encoded, so an id cannot reach another route.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        call: Call<'_>,
    ) -> Result<String, ApiError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::BadArgument(format!("--api {} is not a base URL", self.shown)))?
            .pop_if_empty()
            .extend(segments);
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query);
        }
        let mut request = self.http.request(method, url);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        if let Some(key) = call.idempotency_key {
            let key = HeaderValue::from_str(key).map_err(|_| {
                ApiError::BadArgument(
                    "the idempotency key has characters an HTTP header cannot carry".into(),
                )
            })?;
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        if let Some(body) = call.json {
            request = request.json(body);
        }
        let timeout = call.timeout.unwrap_or(REQUEST_TIMEOUT);
        request = request.timeout(timeout);
        let response = request
            .send()
            .await
            .map_err(|err| self.unreachable(err, timeout))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|err| self.unreachable(err, timeout))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(self.classify(status, &text))
        }
    }

    /// Turns a non-2xx answer into the variant its status calls for.
    fn classify(&self, status: StatusCode, body: &str) -> ApiError {
        let (code, message, field, entries) = match serde_json::from_str::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => (
                error.code,
                self.scrub(&error.message),
                error.field,
                error.entries,
            ),
            Err(_) => (
                String::from("unknown"),
                status
                    .canonical_reason()
                    .unwrap_or("no reason given")
                    .to_owned(),
                None,
                Vec::new(),
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
                entries: entries
                    .into_iter()
                    .map(|entry| RejectedEntry {
                        field: entry.field.map(|field| self.scrub(&field)),
                        message: self.scrub(&entry.message),
                        ..entry
                    })
                    .collect(),
            },
            _ => ApiError::Server {
                status: status_code,
                message,
            },
        }
    }

    /// Turns a request that got no (complete) answer into [`ApiError::Unreachable`].
    fn unreachable(&self, err: reqwest::Error, timeout: Duration) -> ApiError {
        let reason = if err.is_timeout() {
            format!(
                "timed out ({}s to connect, {}s in all)",
                CONNECT_TIMEOUT.as_secs(),
                timeout.as_secs()
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
            "{id:?} is not an id; pass one such as job_0190… or batch_0190…"
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
