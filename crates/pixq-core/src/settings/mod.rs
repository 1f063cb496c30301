//! pixq's configuration, read in two steps: [`RawSettings`] is what the layers (defaults,
//! `pixq.toml`, `PIXQ__*` environment variables, flags) wrote, all text and all optional;
//! [`Settings::from_raw`] turns it into typed, checked [`Settings`], or a [`SettingsError`]
//! that names the key and says why.
//!
//! Layering itself lives in the binary (it needs the file system and the environment); this
//! module only knows the keys, their defaults (the `DEFAULT_*` consts) and their rules.
//!
//! ```
//! use pixq_core::settings::{DEFAULT_POLL_INTERVAL, RawSettings, RawPoll, Settings};
//!
//! let settings = Settings::from_raw(RawSettings::default())?;
//! assert_eq!(settings.poll.interval, DEFAULT_POLL_INTERVAL);
//!
//! let raw = RawSettings {
//!     poll: Some(RawPoll { interval: Some("500ms".into()), ..RawPoll::default() }),
//!     ..RawSettings::default()
//! };
//! let err = Settings::from_raw(raw).unwrap_err();
//! assert!(err.to_string().starts_with("poll.interval: "));
//! # Ok::<(), pixq_core::settings::SettingsError>(())
//! ```
//!
//! `[[pipelines]]` (scheduled prompt lists) are checked by [`crate::pipeline::load`]; a
//! pipeline's `prompts_file` is read through a [`PromptFiles`](crate::pipeline::PromptFiles)
//! that the binary hands to [`Settings::from_raw_with`]. Environment variables cannot write
//! arrays of tables, so pipelines come from the file.

mod error;
mod raw;
mod render;
mod secret;
mod validate;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use url::Url;

pub use error::SettingsError;
pub use raw::{
    RawApi, RawLog, RawPoll, RawRedis, RawRetention, RawRetry, RawSettings, RawUpstream,
    RawWebhooks, RawWorker,
};
pub(crate) use render::quote;
pub use secret::{MASK, Secret};

/// `redis.prefix`: every key pixq writes starts with `pixq:`.
pub const DEFAULT_REDIS_PREFIX: &str = "pixq";
/// The Redis that `pixq api` and `pixq worker` use when `redis.url` is unset (`pixq run` uses
/// the embedded backend instead).
pub const LOCAL_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// `data_dir`: where the embedded backend keeps its files, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./pixq-data";
/// `api.listen`: loopback, so a fresh install is not reachable from the network and may run
/// without tokens.
pub const DEFAULT_API_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// `api.max_body`: the largest body of `POST /v1/jobs`; a job is a prompt and a few fields.
pub const DEFAULT_API_MAX_BODY: ByteSize = ByteSize::kib(256);
/// `api.max_batch_body`: the largest body of `POST /v1/batches`, room for tens of thousands
/// of prompts.
pub const DEFAULT_API_MAX_BATCH_BODY: ByteSize = ByteSize::mib(16);
/// `upstream.base_url`: Ace Data Cloud's API.
pub const DEFAULT_UPSTREAM_BASE_URL: &str = pixverse::DEFAULT_BASE_URL;
/// The environment variable `upstream.token` falls back to, as Ace Data Cloud's own SDKs read
/// the token.
pub const UPSTREAM_TOKEN_ENV: &str = pixverse::TOKEN_ENV_VAR;
/// `upstream.max_in_flight`: the upstream's own limit of generations running per token.
pub const DEFAULT_UPSTREAM_MAX_IN_FLIGHT: u32 = 5;
/// `upstream.timeout`: the deadline of one upstream call, as the `pixverse` client defaults.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = pixverse::DEFAULT_REQUEST_TIMEOUT;
/// `worker.concurrency`: jobs one worker drives at once; most of them only wait on a poll.
pub const DEFAULT_WORKER_CONCURRENCY: usize = 64;
/// `poll.first_after`: the first poll after a submit, until pixq has learned how long a
/// generation takes.
pub const DEFAULT_POLL_FIRST_AFTER: Duration = Duration::from_secs(60);
/// `poll.interval`: the time between polls of one task.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest `poll.interval`: the upstream answers 429 to a task polled again within 1 s.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// `poll.give_up_after`: after this long without a result the job fails with `poll_timeout`.
pub const DEFAULT_POLL_GIVE_UP_AFTER: Duration = Duration::from_secs(15 * 60);
/// `retry.max_attempts`: failed tries a job may use before it fails with `max_attempts`.
pub const DEFAULT_RETRY_MAX_ATTEMPTS: u32 = 10;
/// `retention.finished`: how long finished jobs are kept before they are pruned.
pub const DEFAULT_RETENTION_FINISHED: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// `webhooks.give_up_after`: a webhook event not delivered this long after it was written (or
/// re-sent) is marked dead, as Standard Webhooks senders commonly do after a day of retries.
pub const DEFAULT_WEBHOOKS_GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// `webhooks.timeout`: one delivery attempt's deadline, connecting included; a receiver is
/// expected to answer at once and do its work afterwards.
pub const DEFAULT_WEBHOOKS_TIMEOUT: Duration = Duration::from_secs(10);

/// The validated configuration every pixq role starts from.
///
/// Build it with [`Settings::from_raw`]; every field then holds a checked value (a default
/// when the key was not set). `Debug` masks secrets and URL passwords.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[redis]`: where the shared state lives.
    pub redis: RedisSettings,
    /// `data_dir`: the embedded backend's files.
    pub data_dir: PathBuf,
    /// `[api]`: the HTTP API.
    pub api: ApiSettings,
    /// `[upstream]`: Ace Data Cloud's Pixverse API.
    pub upstream: UpstreamSettings,
    /// `[worker]`: a worker process.
    pub worker: WorkerSettings,
    /// `[poll]`: when to ask the upstream about a running task.
    pub poll: PollSettings,
    /// `[retry]`: how often a job is retried.
    pub retry: RetrySettings,
    /// `[retention]`: how long records are kept.
    pub retention: RetentionSettings,
    /// `[webhooks]`: delivering events to users' `webhook_url`s.
    pub webhooks: WebhookSettings,
    /// `[log]`: how the server roles write their log lines.
    pub log: LogSettings,
    /// `[[pipelines]]`: prompt lists submitted on a schedule, checked, their prompts read.
    pub pipelines: Vec<crate::pipeline::Pipeline>,
}

/// `[log]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogSettings {
    /// `log.format`: `text` (the default) or `json`.
    pub format: LogFormat,
}

/// `log.format`: how `pixq api`, `pixq worker` and `pixq run` write log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line an event, with the fields of its spans.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `fields`, and `spans` (each
    /// open span with its fields: `job_id`, `batch_id`, `task_id`…), for log collectors.
    Json,
}

impl LogFormat {
    /// The name as `log.format` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// `[redis]`.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis.url` (`redis://` or `rediss://`); `None` means the embedded backend for
    /// `pixq run` and [`LOCAL_REDIS_URL`] for `pixq api` and `pixq worker`.
    pub url: Option<Url>,
    /// `redis.prefix`: non-empty, no whitespace; every key starts with `{prefix}:` so several
    /// deployments can share one Redis.
    pub prefix: String,
}

impl RedisSettings {
    /// The Redis to connect to when one is required (`pixq api`, `pixq worker`): `redis.url`,
    /// or [`LOCAL_REDIS_URL`] when it is unset.
    pub fn url_or_local(&self) -> &str {
        self.url.as_ref().map_or(LOCAL_REDIS_URL, Url::as_str)
    }
}

/// `[api]`.
#[derive(Clone)]
pub struct ApiSettings {
    /// `api.listen`: the address the API binds.
    pub listen: SocketAddr,
    /// `api.tokens`: the bearer tokens the API accepts; empty means no auth, which
    /// [`Settings::check_api_auth`] allows only on loopback.
    pub tokens: Vec<Secret>,
    /// `api.public_url`: the base URL the upstream can reach for callbacks; `None` means no
    /// callbacks, poll only.
    pub public_url: Option<Url>,
    /// `api.max_body`: the largest body of `POST /v1/jobs`; larger is 413.
    pub max_body: ByteSize,
    /// `api.max_batch_body`: the largest body of `POST /v1/batches`; at least `max_body`.
    pub max_batch_body: ByteSize,
    /// `api.webhook_secret`: signs the webhooks pixq sends to users (Standard Webhooks):
    /// `whsec_` + base64 of at least 16 bytes, checked to decode into a
    /// [`SigningKey`](crate::webhook::SigningKey). Unset: jobs and batches with a
    /// `webhook_url` are refused.
    pub webhook_secret: Option<Secret>,
}

/// `[upstream]`.
#[derive(Clone)]
pub struct UpstreamSettings {
    /// `upstream.base_url` (http or https).
    pub base_url: Url,
    /// `upstream.token` (falls back to [`UPSTREAM_TOKEN_ENV`]); `None` is allowed at load,
    /// the roles that call the upstream refuse to start without it.
    pub token: Option<Secret>,
    /// `upstream.max_in_flight`: generations in flight per token, across all workers (≥ 1).
    pub max_in_flight: u32,
    /// `upstream.timeout`: the deadline of one upstream call.
    pub timeout: Duration,
}

/// `[worker]`.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `worker.concurrency`: jobs one worker drives at once (≥ 1).
    pub concurrency: usize,
    /// `worker.metrics_listen`: where a worker serves its own `/metrics`; `None` means it
    /// does not.
    pub metrics_listen: Option<SocketAddr>,
}

/// `[poll]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSettings {
    /// `poll.first_after`: the first poll after a submit.
    pub first_after: Duration,
    /// `poll.interval`: between polls of one task; at least [`MIN_POLL_INTERVAL`].
    pub interval: Duration,
    /// `poll.give_up_after`: longer than `first_after`; then the job fails with
    /// `poll_timeout`.
    pub give_up_after: Duration,
}

/// `[retry]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySettings {
    /// `retry.max_attempts`: failed tries before a job fails for good (≥ 1).
    pub max_attempts: u32,
}

/// `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `webhooks.allow_networks`: CIDR blocks webhooks may reach although they are private,
    /// loopback or link-local (a cloud metadata address only with an entry for itself).
    pub allow_networks: Vec<ipnet::IpNet>,
    /// `webhooks.give_up_after`: then an event never delivered is marked dead.
    pub give_up_after: Duration,
    /// `webhooks.timeout`: the deadline of one delivery attempt.
    pub timeout: Duration,
}

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `retention.finished`: how long a finished job is kept.
    pub finished: Duration,
}

impl Settings {
    /// Checks the API's auth rule: an API without tokens must listen on loopback only, so
    /// nobody opens an unauthenticated queue to the network by accident.
    ///
    /// It is not part of [`Settings::from_raw`] because only `pixq api` and `pixq run` serve
    /// the API; a worker may share a file whose `api.listen` is public.
    ///
    /// # Errors
    ///
    /// An `api.tokens` error when the list is empty and `api.listen` is not a loopback address.
    pub fn check_api_auth(&self) -> Result<(), SettingsError> {
        let listen = self.api.listen;
        if self.api.tokens.is_empty() && !listen.ip().to_canonical().is_loopback() {
            return Err(SettingsError::new(
                "api.tokens",
                format!("the list is empty while api.listen {listen} is not a loopback address"),
                "at least one token (e.g. PIXQ__API__TOKENS=…), or api.listen on 127.0.0.1 or [::1]",
            ));
        }
        Ok(())
    }
}

/// Debug output of an optional URL with its password masked.
struct DebugUrl<'a>(Option<&'a Url>);

impl fmt::Debug for DebugUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(url) => write!(f, "Some({:?})", value::masked_url(url)),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &DebugUrl(self.url.as_ref()))
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSettings")
            .field("listen", &self.listen)
            .field("tokens", &self.tokens)
            .field("public_url", &DebugUrl(self.public_url.as_ref()))
            .field("max_body", &self.max_body)
            .field("max_batch_body", &self.max_batch_body)
            .field("webhook_secret", &self.webhook_secret)
            .finish()
    }
}

impl fmt::Debug for UpstreamSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamSettings")
            .field("base_url", &value::masked_url(&self.base_url))
            .field("token", &self.token)
            .field("max_in_flight", &self.max_in_flight)
            .field("timeout", &self.timeout)
            .finish()
    }
}
