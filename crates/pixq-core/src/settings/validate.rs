//! [`Settings::from_raw`]: every key's rule, in the order of `deploy/pixq.example.toml`.

use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawApi, RawPoll, RawRedis, RawUpstream, RawWebhooks};
use super::value::{count, duration, present, size, socket_addr, url};
use super::*;
use crate::pipeline::{self, NoPromptFiles, PromptFiles};

/// The schemes of a Redis URL.
const REDIS_SCHEMES: &[&str] = &["redis", "rediss"];
/// The schemes of an HTTP URL.
const HTTP_SCHEMES: &[&str] = &["http", "https"];
/// The shortest duration a timeout or a retention may have; zero would mean "never wait" or
/// "delete at once", never what anyone wants.
const NONZERO: Duration = Duration::from_millis(1);

impl Settings {
    /// Checks every key of `raw` and fills in the defaults of the keys it leaves unset.
    ///
    /// A blank value counts as unset (so `PIXQ__REDIS__URL=` clears a URL a file set), except
    /// for `redis.prefix` and `data_dir`, where a blank most likely is a template variable
    /// that went missing and falling back to the default would share another deployment's
    /// data.
    ///
    /// A pipeline's `prompts_file` is refused here (see [`Settings::from_raw_with`]).
    ///
    /// # Errors
    ///
    /// The first key whose value is unusable, as a [`SettingsError`] naming it.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, SettingsError> {
        Self::from_raw_with(raw, &NoPromptFiles)
    }

    /// [`Settings::from_raw`], reading the pipelines' `prompts_file`s through `files`.
    ///
    /// # Errors
    ///
    /// As [`Settings::from_raw`]; a pipeline's errors name it (`pipelines[daily].schedule`).
    pub fn from_raw_with(
        mut raw: RawSettings,
        files: &dyn PromptFiles,
    ) -> Result<Settings, SettingsError> {
        let pipelines = raw.pipelines.take().unwrap_or_default();
        let mut settings = Settings {
            redis: redis(raw.redis.unwrap_or_default())?,
            data_dir: data_dir(raw.data_dir.as_deref())?,
            api: api(raw.api.unwrap_or_default())?,
            upstream: upstream(raw.upstream.unwrap_or_default())?,
            worker: WorkerSettings {
                concurrency: count(
                    "worker.concurrency",
                    raw.worker.as_ref().and_then(|w| w.concurrency.as_deref()),
                    DEFAULT_WORKER_CONCURRENCY,
                )?,
                metrics_listen: socket_addr(
                    "worker.metrics_listen",
                    raw.worker
                        .as_ref()
                        .and_then(|w| w.metrics_listen.as_deref()),
                )?,
            },
            poll: poll(raw.poll.unwrap_or_default())?,
            retry: RetrySettings {
                max_attempts: count(
                    "retry.max_attempts",
                    raw.retry.as_ref().and_then(|r| r.max_attempts.as_deref()),
                    DEFAULT_RETRY_MAX_ATTEMPTS,
                )?,
            },
            retention: RetentionSettings {
                finished: duration(
                    "retention.finished",
                    raw.retention.as_ref().and_then(|r| r.finished.as_deref()),
                    DEFAULT_RETENTION_FINISHED,
                    Duration::from_secs(1),
                )?,
            },
            webhooks: webhooks(raw.webhooks.unwrap_or_default())?,
            log: LogSettings {
                format: log_format(raw.log.as_ref().and_then(|l| l.format.as_deref()))?,
            },
            pipelines: Vec::new(),
        };
        settings.pipelines =
            pipeline::load::pipelines(pipelines, settings.api.webhook_secret.is_some(), files)?;
        Ok(settings)
    }
}

impl LogFormat {
    /// The `log.format` of `raw`, checked alone: the log is set up before the rest of the
    /// configuration is read.
    ///
    /// # Errors
    ///
    /// A value other than `text` or `json`, naming `log.format`.
    pub fn of(raw: &RawSettings) -> Result<LogFormat, SettingsError> {
        log_format(raw.log.as_ref().and_then(|l| l.format.as_deref()))
    }
}

fn log_format(raw: Option<&str>) -> Result<LogFormat, SettingsError> {
    match present(raw) {
        None => Ok(LogFormat::default()),
        Some(text) => [LogFormat::Text, LogFormat::Json]
            .into_iter()
            .find(|f| f.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                SettingsError::new(
                    "log.format",
                    format!("{text:?} is not a log format"),
                    "\"text\" or \"json\"",
                )
            }),
    }
}

fn redis(raw: RawRedis) -> Result<RedisSettings, SettingsError> {
    let prefix = match raw.prefix.as_deref() {
        None => DEFAULT_REDIS_PREFIX.to_owned(),
        Some(text) => {
            let expected = "a non-empty name without spaces, e.g. \"pixq\" or \"pixq-staging\"";
            if text.is_empty() {
                return Err(SettingsError::new("redis.prefix", "it is empty", expected));
            }
            if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(SettingsError::new(
                    "redis.prefix",
                    format!("{text:?} contains whitespace or control characters"),
                    expected,
                ));
            }
            text.to_owned()
        }
    };
    Ok(RedisSettings {
        url: url("redis.url", raw.url.as_deref(), REDIS_SCHEMES)?,
        prefix,
    })
}

fn data_dir(raw: Option<&str>) -> Result<PathBuf, SettingsError> {
    match raw {
        None => Ok(PathBuf::from(DEFAULT_DATA_DIR)),
        Some(text) => present(Some(text)).map(PathBuf::from).ok_or_else(|| {
            SettingsError::new(
                "data_dir",
                "it is empty",
                "a directory path, e.g. \"./pixq-data\"",
            )
        }),
    }
}

fn api(raw: RawApi) -> Result<ApiSettings, SettingsError> {
    let max_body = size(
        "api.max_body",
        raw.max_body.as_deref(),
        DEFAULT_API_MAX_BODY,
    )?;
    let max_batch_body = size(
        "api.max_batch_body",
        raw.max_batch_body.as_deref(),
        DEFAULT_API_MAX_BATCH_BODY,
    )?;
    if max_batch_body < max_body {
        return Err(SettingsError::new(
            "api.max_batch_body",
            format!(
                "{} is smaller than api.max_body ({})",
                value::format_size(max_batch_body),
                value::format_size(max_body)
            ),
            "a size at least api.max_body, since a batch may hold one job",
        ));
    }
    Ok(ApiSettings {
        listen: socket_addr("api.listen", raw.listen.as_deref())?.unwrap_or(DEFAULT_API_LISTEN),
        tokens: tokens(raw.tokens.unwrap_or_default())?,
        public_url: url("api.public_url", raw.public_url.as_deref(), HTTP_SCHEMES)?,
        max_body,
        max_batch_body,
        webhook_secret: webhook_secret(raw.webhook_secret)?,
    })
}

/// `api.webhook_secret`: unset when blank; otherwise it must decode into a signing key.
fn webhook_secret(raw: Option<Secret>) -> Result<Option<Secret>, SettingsError> {
    let Some(secret) = secret(raw) else {
        return Ok(None);
    };
    crate::webhook::SigningKey::from_secret(secret.expose()).map_err(|e| {
        SettingsError::new(
            "api.webhook_secret",
            e.to_string(),
            "a Standard Webhooks secret: whsec_ followed by base64 of 16 to 64 random bytes",
        )
    })?;
    Ok(Some(secret))
}

fn webhooks(raw: RawWebhooks) -> Result<WebhookSettings, SettingsError> {
    let allow_networks = raw
        .allow_networks
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, text)| !text.is_empty())
        .map(|(i, text)| {
            let key = format!("webhooks.allow_networks[{i}]");
            let expected =
                "a CIDR block such as \"127.0.0.1/32\" or \"10.0.0.0/8\", or one address";
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    SettingsError::new(key, format!("{text:?} is not a CIDR block"), expected)
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WebhookSettings {
        allow_networks,
        give_up_after: duration(
            "webhooks.give_up_after",
            raw.give_up_after.as_deref(),
            DEFAULT_WEBHOOKS_GIVE_UP_AFTER,
            Duration::from_secs(1),
        )?,
        timeout: duration(
            "webhooks.timeout",
            raw.timeout.as_deref(),
            DEFAULT_WEBHOOKS_TIMEOUT,
            Duration::from_millis(100),
        )?,
    })
}

/// The API tokens, trimmed; a blank entry or one with inner whitespace is an error, since it
/// cannot be sent as `Authorization: Bearer <token>`.
fn tokens(raw: Vec<Secret>) -> Result<Vec<Secret>, SettingsError> {
    raw.iter()
        .enumerate()
        .map(|(i, token)| {
            let key = format!("api.tokens[{i}]");
            let expected =
                "a non-empty token without spaces (lists in env vars are comma-separated)";
            let text = token.expose().trim();
            if text.is_empty() {
                return Err(SettingsError::new(key, "the entry is blank", expected));
            }
            if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(SettingsError::new(
                    key,
                    "the token contains whitespace or control characters",
                    expected,
                ));
            }
            Ok(Secret::new(text))
        })
        .collect()
}

/// A secret, trimmed; blank means unset.
fn secret(raw: Option<Secret>) -> Option<Secret> {
    raw.as_ref()
        .and_then(|s| present(Some(s.expose())))
        .map(Secret::new)
}

fn upstream(raw: RawUpstream) -> Result<UpstreamSettings, SettingsError> {
    let base_url = url(
        "upstream.base_url",
        Some(present(raw.base_url.as_deref()).unwrap_or(DEFAULT_UPSTREAM_BASE_URL)),
        HTTP_SCHEMES,
    )?
    .ok_or_else(|| {
        SettingsError::new(
            "upstream.base_url",
            "it is empty",
            "an http:// or https:// URL",
        )
    })?;
    Ok(UpstreamSettings {
        base_url,
        token: secret(raw.token),
        max_in_flight: count(
            "upstream.max_in_flight",
            raw.max_in_flight.as_deref(),
            DEFAULT_UPSTREAM_MAX_IN_FLIGHT,
        )?,
        timeout: duration(
            "upstream.timeout",
            raw.timeout.as_deref(),
            DEFAULT_UPSTREAM_TIMEOUT,
            NONZERO,
        )?,
    })
}

fn poll(raw: RawPoll) -> Result<PollSettings, SettingsError> {
    let first_after = duration(
        "poll.first_after",
        raw.first_after.as_deref(),
        DEFAULT_POLL_FIRST_AFTER,
        Duration::ZERO,
    )?;
    let interval = duration(
        "poll.interval",
        raw.interval.as_deref(),
        DEFAULT_POLL_INTERVAL,
        MIN_POLL_INTERVAL,
    )?;
    let give_up_after = duration(
        "poll.give_up_after",
        raw.give_up_after.as_deref(),
        DEFAULT_POLL_GIVE_UP_AFTER,
        NONZERO,
    )?;
    if give_up_after <= first_after {
        return Err(SettingsError::new(
            "poll.give_up_after",
            format!(
                "{} is not longer than poll.first_after ({}), so no job would ever be polled",
                value::format_duration(give_up_after),
                value::format_duration(first_after)
            ),
            "a duration longer than poll.first_after",
        ));
    }
    Ok(PollSettings {
        first_after,
        interval,
        give_up_after,
    })
}
