//! The HTTP client: one method per upstream call.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::debug;
use url::Url;

use crate::config::{ClientConfig, redacted_url};
use crate::error::{Endpoint, Error, ErrorKind};
use crate::request::{ExtendRequest, GenerateRequest, object_text};
use crate::response::{self, Answered};
use crate::result::Character;
use crate::submit::{Submission, SubmitBody, SubmitMode};
use crate::task::{BatchQuery, Deleted, TaskBatch, TaskRecord, task_action_text};

/// A client of Ace Data Cloud's Pixverse API. Cheap to clone; clones share one connection pool.
///
/// Every method makes exactly one HTTP call and never retries: whether and when to retry is the
/// caller's decision, made from [`Error::kind`].
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    videos: Url,
    tasks: Url,
    character: Url,
}

impl Client {
    /// A client with these settings.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the token is empty or not valid in an HTTP header, the
    /// user agent is not a valid header value, the base URL has credentials, a query or
    /// cannot carry a path, or the TLS backend fails to start.
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let config_error = |message: &str| Error::new(ErrorKind::Config, None, message);
        let base = &config.base_url;
        if !base.username().is_empty() || base.password().is_some() {
            // reqwest would turn them into a Basic authorization header that replaces the token.
            return Err(config_error(
                "the base URL carries a user or password; remove them: the API token is the only \
                 credential sent",
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(config_error(
                "the base URL has a query or fragment, which would be dropped; remove it",
            ));
        }
        if config.token.is_empty() {
            return Err(config_error(
                "the API token is empty: set ACEDATACLOUD_API_TOKEN or pass a token",
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| {
                config_error("the API token has characters not allowed in an HTTP header")
            })?;
        auth.set_sensitive(true);
        let agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| config_error("the user agent is not a valid HTTP header value"))?;

        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, agent);

        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            // A redirected POST would be resent as a GET, or to another host with our token.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| config_error("the HTTP client could not be built").with_source(e))?;

        let endpoint_url = |endpoint: Endpoint| {
            let mut base = config.base_url.clone();
            if !base.path().ends_with('/') {
                base.set_path(&format!("{}/", base.path()));
            }
            base.join(endpoint.path()).map_err(|_| {
                config_error("the base URL cannot have a path; use e.g. https://api.acedata.cloud")
            })
        };
        Ok(Client {
            videos: endpoint_url(Endpoint::Videos)?,
            tasks: endpoint_url(Endpoint::Tasks)?,
            character: endpoint_url(Endpoint::Character)?,
            http,
            config,
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Submits a generation. Same as `submit(&SubmitBody::generate(request, &mode))`; use
    /// that form when the body must be recorded before it is sent.
    ///
    /// # Errors
    ///
    /// See [`Client::submit`].
    pub async fn generate(
        &self,
        request: &GenerateRequest,
        mode: SubmitMode,
    ) -> Result<Submission, Error> {
        self.submit(&SubmitBody::generate(request, &mode)).await
    }

    /// Submits an extend. Same as `submit(&SubmitBody::extend(request, &mode))`.
    ///
    /// # Errors
    ///
    /// See [`Client::submit`].
    pub async fn extend(
        &self,
        request: &ExtendRequest,
        mode: SubmitMode,
    ) -> Result<Submission, Error> {
        self.submit(&SubmitBody::extend(request, &mode)).await
    }

    /// Sends this exact body to `/pixverse/videos`. A sync body (no `callback_url`, no
    /// `async`) gets the sync timeout, any other the request timeout.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutcomeUnknown`] when the request went out and no usable answer came back:
    /// a task may exist, so do not resubmit before looking it up. A 4xx answer proves no task
    /// was created: [`ErrorKind::RateLimited`], [`ErrorKind::Account`],
    /// [`ErrorKind::Permanent`]. [`ErrorKind::Transient`] when the connection could not be
    /// made at all.
    pub async fn submit(&self, body: &SubmitBody) -> Result<Submission, Error> {
        let timeout = if body.is_sync() {
            self.config.sync_timeout
        } else {
            self.config.request_timeout
        };
        let answered = self
            .call(
                Endpoint::Videos,
                &self.videos,
                action_of(body.as_value()),
                body.as_str().to_owned(),
                timeout,
            )
            .await?;
        let result = self.decode(Endpoint::Videos, &answered)?;
        Submission::from_result(result).ok_or_else(|| {
            response::unexpected(
                Endpoint::Videos,
                &answered,
                "neither a task_id nor a video",
                &self.config.token,
            )
        })
    }

    /// Looks up one task.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when the upstream answers a record without `id`;
    /// [`ErrorKind::RateLimited`] when polled more than once a second; otherwise as classified.
    pub async fn retrieve(&self, task_id: &str) -> Result<TaskRecord, Error> {
        let answered = self
            .tasks_call("retrieve", task_action_text("retrieve", task_id))
            .await?;
        let record: TaskRecord = self.decode(Endpoint::Tasks, &answered)?;
        if record.id.as_deref().is_none_or(str::is_empty) {
            let message = format!("no task with id {task_id:?}");
            return Err(Error::new(
                ErrorKind::NotFound,
                Some(Endpoint::Tasks),
                self.config.token.redact(&message),
            )
            .with_status(answered.status)
            .with_trace_id(answered.trace_id));
        }
        Ok(record)
    }

    /// Looks up many tasks at once, by ids or by creation time; unknown ids are left out.
    ///
    /// # Errors
    ///
    /// As classified for reads.
    pub async fn retrieve_batch(&self, query: &BatchQuery) -> Result<TaskBatch, Error> {
        let answered = self.tasks_call("retrieve_batch", query.body_text()).await?;
        self.decode(Endpoint::Tasks, &answered)
    }

    /// Deletes a task record.
    ///
    /// # Errors
    ///
    /// As classified for reads.
    pub async fn delete(&self, task_id: &str) -> Result<Deleted, Error> {
        let answered = self
            .tasks_call("delete", task_action_text("delete", task_id))
            .await?;
        self.decode(Endpoint::Tasks, &answered)
    }

    /// Makes a character from reference images; pass its
    /// [`asset_id`](Character::asset_id) to a generation.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Decode`] when the answer has no `asset_id`; otherwise as classified.
    pub async fn create_character(&self, images: &[Url]) -> Result<Character, Error> {
        let images: Value = images.iter().map(|u| Value::from(u.as_str())).collect();
        let body = object_text(&[("images", images)]);
        let answered = self
            .call(
                Endpoint::Character,
                &self.character,
                "create",
                body,
                self.config.request_timeout,
            )
            .await?;
        let character: Character = self.decode(Endpoint::Character, &answered)?;
        if character.asset_id().is_none() {
            return Err(response::unexpected(
                Endpoint::Character,
                &answered,
                "no data.asset_id",
                &self.config.token,
            ));
        }
        Ok(character)
    }

    async fn tasks_call(&self, action: &'static str, body: String) -> Result<Answered, Error> {
        self.call(
            Endpoint::Tasks,
            &self.tasks,
            action,
            body,
            self.config.request_timeout,
        )
        .await
    }

    /// One POST, logged at debug level without the token.
    async fn call(
        &self,
        endpoint: Endpoint,
        url: &Url,
        action: &str,
        body: String,
        timeout: Duration,
    ) -> Result<Answered, Error> {
        let started = Instant::now();
        let sent = self
            .http
            .post(url.clone())
            .timeout(timeout)
            .body(body)
            .send()
            .await;
        let result = match sent {
            Ok(response) => response::read(endpoint, response, &self.config.token).await,
            Err(e) => Err(response::transport(
                endpoint,
                e,
                timeout,
                &self.config.token,
            )),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let token = self.config.token.alias();
        match &result {
            Ok(a) => debug!(
                endpoint = endpoint.path(),
                action,
                status = a.status,
                elapsed_ms,
                trace_id = a.trace_id.as_deref(),
                token,
                "pixverse call answered"
            ),
            Err(e) => debug!(
                endpoint = endpoint.path(),
                action,
                status = e.status(),
                elapsed_ms,
                trace_id = e.trace_id(),
                token,
                kind = e.kind().as_str(),
                code = e.code(),
                "pixverse call failed"
            ),
        }
        result
    }

    fn decode<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        answered: &Answered,
    ) -> Result<T, Error> {
        T::deserialize(&answered.value).map_err(|e| {
            response::unexpected(endpoint, answered, &e.to_string(), &self.config.token)
        })
    }
}

/// Shows where the client points, without credentials, and the token only by its alias.
impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &redacted_url(&self.config.base_url))
            .field("token", &self.config.token)
            .finish_non_exhaustive()
    }
}

fn action_of(body: &Value) -> &str {
    body.get("action")
        .and_then(Value::as_str)
        .unwrap_or("generate")
}
