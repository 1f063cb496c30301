//! [`WorkerConfig`]: everything a worker process needs besides its connections.
//!
//! The poll and retry defaults are INTERFACE.md's (`poll.*`, `retry.*`), taken from
//! [`pixq_core::settings`]; the rest are the worker's own timings, each a named const so the
//! reasoning behind it sits next to it.

use std::net::SocketAddr;
use std::time::Duration;

use pixq_core::pipeline::Pipeline;
use pixq_core::settings::{
    DEFAULT_POLL_FIRST_AFTER, DEFAULT_POLL_GIVE_UP_AFTER, DEFAULT_POLL_INTERVAL,
    DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_UPSTREAM_MAX_IN_FLIGHT, DEFAULT_WEBHOOKS_GIVE_UP_AFTER,
    DEFAULT_WEBHOOKS_TIMEOUT, DEFAULT_WORKER_CONCURRENCY, MIN_POLL_INTERVAL, Settings,
};
use pixq_core::webhook::{AddressPolicy, SigningKey};
use url::Url;

use crate::error::WorkerError;

/// A job's lease lives this long without renewal (it is renewed every third of it): long
/// enough to ride out a slow store reply, short enough that a dead worker's job is taken
/// again soon (about 6 s after a SIGKILL).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(6);

/// An unfinished job untouched this long, neither scheduled nor leased, is rung again.
pub const DEFAULT_RESCUE_AFTER: Duration = Duration::from_secs(30);

/// How often the rescuer looks (jittered by up to a fifth either way).
pub const DEFAULT_RESCUE_EVERY: Duration = Duration::from_secs(5);

/// How long running handlers may take to finish once shutdown begins.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The first backoff after a failed try; it doubles with every attempt.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(2);

/// The longest backoff between two tries.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);

/// How long after a submit began its task may still appear upstream. An unanswered submit
/// whose task is not found is only given up (and sent again) after this, because the
/// request may still have been on its way: the client's whole-call deadline.
pub const DEFAULT_LOOKUP_GRACE: Duration = pixverse::DEFAULT_REQUEST_TIMEOUT;

/// How often an idle worker looks for due jobs in the schedule; a ring for now in the same
/// process wakes it sooner.
pub const DEFAULT_FETCH_EVERY: Duration = Duration::from_millis(100);

/// How often the janitor sweeps expired finished jobs out of the store.
pub const DEFAULT_JANITOR_EVERY: Duration = Duration::from_secs(10);

/// A handler that takes longer is abandoned and its job rung again; above the client's
/// whole-call deadline, so a slow submit is never cut off by it.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(120);

/// How many unfinished jobs one rescuer pass examines.
pub const DEFAULT_RESCUE_BATCH: usize = 500;

/// The alias the shared limits are kept under when the upstream token is not known (a
/// worker built with [`WorkerConfig::new`]): every such worker shares one cap and one pause.
pub const DEFAULT_TOKEN_ALIAS: &str = "default";

/// The first pause of a token after an account-level error; it doubles with every failed
/// probe, up to [`DEFAULT_PAUSE_BACKOFF_MAX`].
pub const DEFAULT_PAUSE_BACKOFF: Duration = Duration::from_secs(30);

/// The longest pause between two probes of a paused token.
pub const DEFAULT_PAUSE_BACKOFF_MAX: Duration = Duration::from_secs(10 * 60);

/// The least a slot's lease lives: well above the time between two looks at a running task
/// (a poll, a lookup), so a live holder always renews it in time.
pub const MIN_SLOT_TTL: Duration = Duration::from_secs(60);

/// Webhook requests one worker process has in flight at once, all receivers together.
pub const DEFAULT_WEBHOOK_CONCURRENCY: usize = 64;

/// Webhook requests in flight at once to one receiver (scheme, host and port): a slow
/// receiver holds at most this many of [`DEFAULT_WEBHOOK_CONCURRENCY`], never the others'.
pub const DEFAULT_WEBHOOK_PER_HOST: usize = 4;

/// The wait after a webhook's first failed attempt; it doubles with every attempt (with
/// jitter): 2 s, 4 s, 8 s, … up to [`DEFAULT_WEBHOOK_BACKOFF_MAX`].
pub const DEFAULT_WEBHOOK_BACKOFF_BASE: Duration = Duration::from_secs(2);

/// The longest wait between two attempts at one webhook: an hour, so a day of retries makes
/// about thirty attempts.
pub const DEFAULT_WEBHOOK_BACKOFF_MAX: Duration = Duration::from_secs(60 * 60);

/// How often an idle delivery service looks for due webhook events.
pub const DEFAULT_WEBHOOK_FETCH_EVERY: Duration = Duration::from_millis(250);

/// The least a lease may live: it is renewed every third of it.
const MIN_LEASE_TTL: Duration = Duration::from_secs(3);

/// Settings of a worker process. Start from [`WorkerConfig::new`] (or
/// [`WorkerConfig::from_settings`]) and change what differs; [`crate::run`] checks the values.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Handlers running at once in this process (`worker.concurrency`).
    pub concurrency: usize,
    /// The first poll after a submit (`poll.first_after`).
    pub poll_first_after: Duration,
    /// Between polls of a running task (`poll.interval`); at least one second.
    pub poll_interval: Duration,
    /// A task without a result this long after its submit fails the job with `poll_timeout`
    /// (`poll.give_up_after`).
    pub poll_give_up_after: Duration,
    /// Failed tries before a job fails with `max_attempts` (`retry.max_attempts`).
    pub max_attempts: u32,
    /// The base URL the upstream can reach for callbacks (`api.public_url`); `None` means poll
    /// only.
    pub public_url: Option<Url>,
    /// How long a job's lease lives without renewal.
    pub lease_ttl: Duration,
    /// An unfinished job untouched this long, neither scheduled nor leased, is rung again.
    pub rescue_after: Duration,
    /// How often the rescuer looks.
    pub rescue_every: Duration,
    /// How many unfinished jobs one rescuer pass examines.
    pub rescue_batch: usize,
    /// How long running handlers may take to finish once shutdown begins.
    pub shutdown_timeout: Duration,
    /// The first backoff after a failed try; it doubles with every attempt.
    pub backoff_base: Duration,
    /// The longest backoff.
    pub backoff_max: Duration,
    /// How long after a submit began a lookup that finds nothing keeps waiting instead of
    /// letting the job submit again.
    pub lookup_grace: Duration,
    /// How often an idle worker looks for due jobs.
    pub fetch_every: Duration,
    /// How often the janitor sweeps expired finished jobs.
    pub janitor_every: Duration,
    /// A handler that takes longer is abandoned and its job rung again.
    pub handler_timeout: Duration,
    /// Generations in flight per upstream token, across all workers
    /// (`upstream.max_in_flight`).
    pub max_in_flight: u32,
    /// The upstream token's alias (never the token): the key of its shared slots, pause and
    /// wait line, and the `token` label of metrics.
    pub token_alias: String,
    /// The first pause after an account-level error; doubles with every failed probe.
    pub pause_backoff: Duration,
    /// The longest pause between two probes.
    pub pause_backoff_max: Duration,
    /// Where this worker serves `GET /metrics` and `GET /healthz` (`worker.metrics_listen`);
    /// `None` serves nothing.
    pub metrics_listen: Option<SocketAddr>,
    /// The scheduled pipelines this worker's scheduler fires (`[[pipelines]]`); none starts
    /// no scheduler.
    pub pipelines: Vec<Pipeline>,
    /// Delivering webhook events to users (`[webhooks]`, `api.webhook_secret`).
    pub webhooks: WebhookConfig,
}

/// How the delivery service sends webhook events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The key that signs them (`api.webhook_secret`); `None` starts no delivery service
    /// (the API refuses webhook URLs then, so no event is written).
    pub key: Option<SigningKey>,
    /// Which addresses a webhook may reach (`webhooks.allow_networks`).
    pub policy: AddressPolicy,
    /// One attempt's deadline, connecting included (`webhooks.timeout`).
    pub timeout: Duration,
    /// An event not delivered this long after it was written is dead
    /// (`webhooks.give_up_after`).
    pub give_up_after: Duration,
    /// Requests in flight at once from this process.
    pub concurrency: usize,
    /// Requests in flight at once to one receiver.
    pub per_host: usize,
    /// The wait after the first failed attempt; doubles with each attempt.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// How often an idle delivery service looks for due events.
    pub fetch_every: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            key: None,
            policy: AddressPolicy::default(),
            timeout: DEFAULT_WEBHOOKS_TIMEOUT,
            give_up_after: DEFAULT_WEBHOOKS_GIVE_UP_AFTER,
            concurrency: DEFAULT_WEBHOOK_CONCURRENCY,
            per_host: DEFAULT_WEBHOOK_PER_HOST,
            backoff_base: DEFAULT_WEBHOOK_BACKOFF_BASE,
            backoff_max: DEFAULT_WEBHOOK_BACKOFF_MAX,
            fetch_every: DEFAULT_WEBHOOK_FETCH_EVERY,
        }
    }
}

impl WebhookConfig {
    /// A taken event stays leased this long: one attempt's deadline and time to record what
    /// became of it. A deliverer killed mid-attempt stops holding the event when it runs out.
    pub fn lease(&self) -> Duration {
        self.timeout.saturating_add(Duration::from_secs(5))
    }

    /// The webhook part of validated [`Settings`]. The secret was checked when the settings
    /// were read, so a key that does not decode here is treated as unset.
    pub fn from_settings(settings: &Settings) -> Self {
        WebhookConfig {
            key: settings
                .api
                .webhook_secret
                .as_ref()
                .and_then(|secret| SigningKey::from_secret(secret.expose()).ok()),
            policy: AddressPolicy::new(settings.webhooks.allow_networks.clone()),
            timeout: settings.webhooks.timeout,
            give_up_after: settings.webhooks.give_up_after,
            ..Self::default()
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: DEFAULT_WORKER_CONCURRENCY,
            poll_first_after: DEFAULT_POLL_FIRST_AFTER,
            poll_interval: DEFAULT_POLL_INTERVAL,
            poll_give_up_after: DEFAULT_POLL_GIVE_UP_AFTER,
            max_attempts: DEFAULT_RETRY_MAX_ATTEMPTS,
            public_url: None,
            lease_ttl: DEFAULT_LEASE_TTL,
            rescue_after: DEFAULT_RESCUE_AFTER,
            rescue_every: DEFAULT_RESCUE_EVERY,
            rescue_batch: DEFAULT_RESCUE_BATCH,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            lookup_grace: DEFAULT_LOOKUP_GRACE,
            fetch_every: DEFAULT_FETCH_EVERY,
            janitor_every: DEFAULT_JANITOR_EVERY,
            handler_timeout: DEFAULT_HANDLER_TIMEOUT,
            max_in_flight: DEFAULT_UPSTREAM_MAX_IN_FLIGHT,
            token_alias: DEFAULT_TOKEN_ALIAS.to_owned(),
            pause_backoff: DEFAULT_PAUSE_BACKOFF,
            pause_backoff_max: DEFAULT_PAUSE_BACKOFF_MAX,
            metrics_listen: None,
            pipelines: Vec::new(),
            webhooks: WebhookConfig::default(),
        }
    }
}

impl WorkerConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The worker's part of validated [`Settings`]; the lookup grace follows the upstream
    /// call deadline, the token alias is the upstream token's ([`DEFAULT_TOKEN_ALIAS`] when
    /// none is set), and the timings INTERFACE.md does not name keep their defaults.
    pub fn from_settings(settings: &Settings) -> Self {
        let token_alias = settings
            .upstream
            .token
            .as_ref()
            .map_or_else(|| DEFAULT_TOKEN_ALIAS.to_owned(), |token| token.alias());
        WorkerConfig {
            concurrency: settings.worker.concurrency,
            poll_first_after: settings.poll.first_after,
            poll_interval: settings.poll.interval,
            poll_give_up_after: settings.poll.give_up_after,
            max_attempts: settings.retry.max_attempts,
            public_url: settings.api.public_url.clone(),
            lookup_grace: settings.upstream.timeout,
            max_in_flight: settings.upstream.max_in_flight,
            token_alias,
            metrics_listen: settings.worker.metrics_listen,
            pipelines: settings.pipelines.clone(),
            webhooks: WebhookConfig::from_settings(settings),
            ..Self::default()
        }
    }

    /// How long a slot's lease lives without renewal: three poll intervals past the first
    /// poll (the longest a live holder goes without looking at its task is the wait for that
    /// first poll), at least [`MIN_SLOT_TTL`]. Every poll and every lookup of the job's task
    /// renews it.
    pub fn slot_ttl(&self) -> Duration {
        let interval = self.poll_interval.saturating_mul(3);
        interval
            .max(self.poll_first_after.saturating_add(interval))
            .max(MIN_SLOT_TTL)
    }

    /// While one job's submit probes a paused token, the others wait this long for its
    /// answer before another may probe: the upstream call's deadline.
    pub fn probe_window(&self) -> Duration {
        self.lookup_grace.max(Duration::from_secs(1))
    }

    /// Checks the values that would make a worker misbehave.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Config`] naming the field and why.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let bad = |field: &str, why: &str| {
            Err(WorkerError::Config {
                field: field.to_owned(),
                reason: why.to_owned(),
            })
        };
        if self.concurrency == 0 {
            return bad("concurrency", "must be at least 1");
        }
        if self.poll_interval < MIN_POLL_INTERVAL {
            return bad(
                "poll_interval",
                "must be at least 1s: the upstream allows one poll a second per task",
            );
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1");
        }
        if self.lease_ttl < MIN_LEASE_TTL {
            return bad(
                "lease_ttl",
                "must be at least 3s: it is renewed every third",
            );
        }
        for (field, value) in [
            ("rescue_every", self.rescue_every),
            ("fetch_every", self.fetch_every),
            ("janitor_every", self.janitor_every),
            ("handler_timeout", self.handler_timeout),
            ("backoff_base", self.backoff_base),
        ] {
            if value.is_zero() {
                return bad(field, "must be more than zero");
            }
        }
        if self.rescue_batch == 0 {
            return bad("rescue_batch", "must be at least 1");
        }
        if self.backoff_max < self.backoff_base {
            return bad("backoff_max", "must not be less than backoff_base");
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight", "must be at least 1");
        }
        if self.token_alias.is_empty() || self.token_alias.chars().any(char::is_whitespace) {
            return bad("token_alias", "must be non-empty and without spaces");
        }
        if self.pause_backoff.is_zero() {
            return bad("pause_backoff", "must be more than zero");
        }
        if self.pause_backoff_max < self.pause_backoff {
            return bad("pause_backoff_max", "must not be less than pause_backoff");
        }
        let hooks = &self.webhooks;
        for (field, value) in [
            ("webhooks.timeout", hooks.timeout),
            ("webhooks.give_up_after", hooks.give_up_after),
            ("webhooks.backoff_base", hooks.backoff_base),
            ("webhooks.fetch_every", hooks.fetch_every),
        ] {
            if value.is_zero() {
                return bad(field, "must be more than zero");
            }
        }
        if hooks.concurrency == 0 || hooks.per_host == 0 {
            return bad("webhooks.concurrency", "must be at least 1, per host too");
        }
        if hooks.backoff_max < hooks.backoff_base {
            return bad(
                "webhooks.backoff_max",
                "must not be less than webhooks.backoff_base",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_interface_ones_and_valid() {
        let c = WorkerConfig::new();
        assert_eq!(c.poll_first_after, Duration::from_secs(60));
        assert_eq!(c.poll_interval, Duration::from_secs(10));
        assert_eq!(c.poll_give_up_after, Duration::from_secs(900));
        assert_eq!((c.max_attempts, c.concurrency), (10, 64));
        assert_eq!((c.max_in_flight, c.token_alias.as_str()), (5, "default"));
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.slot_ttl(), Duration::from_secs(90));
        c.validate().unwrap();
    }

    #[test]
    fn the_slot_ttl_outlives_the_first_poll_and_three_intervals() {
        let mut c = WorkerConfig::new();
        c.poll_interval = Duration::from_secs(30);
        assert_eq!(c.slot_ttl(), Duration::from_secs(150));
        c.poll_first_after = Duration::from_millis(200);
        c.poll_interval = Duration::from_secs(1);
        assert_eq!(c.slot_ttl(), Duration::from_secs(60));
    }

    #[test]
    fn from_settings_takes_the_cap_the_alias_and_the_metrics_address() {
        let raw: pixq_core::settings::RawSettings = serde_json::from_value(serde_json::json!({
            "upstream": {"token": "sk-secret", "max_in_flight": "7"},
            "worker": {"metrics_listen": "127.0.0.1:9100"}
        }))
        .unwrap();
        let settings = Settings::from_raw(raw).unwrap();
        let c = WorkerConfig::from_settings(&settings);
        assert_eq!(c.max_in_flight, 7);
        assert_eq!(c.token_alias, pixverse::Token::new("sk-secret").alias());
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
        c.validate().unwrap();
    }

    #[test]
    fn a_poll_interval_under_a_second_is_refused_by_name() {
        let mut c = WorkerConfig::new();
        c.poll_interval = Duration::from_millis(500);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("poll_interval"), "{err}");
    }
}
