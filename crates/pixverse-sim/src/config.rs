//! The simulator's validated settings: what `SimArgs::into_config` produces and what tests build
//! directly with `SimConfig::default()` and the `with_*` setters.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use url::Url;

use crate::fault::{Fault, FaultRates};

/// The address `pixverse-sim` and `pixq sim` listen on when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:18080";
/// The default `--latency`: the 1–2 minutes the upstream documents for a generation.
pub const DEFAULT_LATENCY: &str = "60s..120s";
/// The token accepted when no `--token` is given.
pub const DEFAULT_TOKEN: &str = "sim-token";
/// The default `--max-in-flight`: the platform's guidance of about 5 video tasks per token.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 5;
/// Tasks kept in memory at most; the oldest are evicted beyond this (INTERFACE.md asks for at
/// least 1,000,000).
pub const DEFAULT_MAX_TASKS: usize = 1_000_000;
/// How long a task record is kept: the upstream cleans records up after about a day.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// The upstream allows one poll a second per task.
pub const DEFAULT_MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long one callback POST may take before it counts as failed.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long after completion a `late` callback is sent.
pub const DEFAULT_LATE_CALLBACK_DELAY: Duration = Duration::from_secs(5);

/// Everything the simulator needs to run. Build it with `Default` and the `with_*` setters, or
/// from the command line with [`crate::SimArgs::into_config`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Time from submit to a finished task at 540p and 5 s (see the crate doc for the factors).
    pub latency: Latency,
    /// Tokens accepted with the state `ok`.
    pub tokens: Vec<String>,
    /// Tokens whose balance is exhausted: their submits get 403 `used_up`, lookups still work.
    pub used_up_tokens: Vec<String>,
    /// Generations one token may have unfinished at once; the next submit gets 429.
    pub max_in_flight: u32,
    /// The starting fault rates; `POST /_sim/faults` changes them at run time.
    pub faults: FaultRates,
    /// How completed tasks are reported to their `callback_url`.
    pub callbacks: CallbackMode,
    /// Seeds fault draws, durations and generated seeds, for reproducible runs.
    pub seed: Option<u64>,
    /// Tasks (and ledger entries) kept at most; the oldest are evicted and counted.
    pub max_tasks: usize,
    /// Tasks (and ledger entries) older than this are evicted and counted.
    pub retention: Duration,
    /// A poll of one task sooner than this after its last accepted poll gets 429.
    pub min_poll_interval: Duration,
    /// The timeout of one callback POST.
    pub callback_timeout: Duration,
    /// The delay of a `late` callback after the task finished.
    pub late_callback_delay: Duration,
    /// How long an async or callback submit takes to answer after its task was created.
    /// The real gateway answers in a fraction of a second; a longer delay lets a test kill a
    /// client while its submits are in the air, with their tasks already made.
    pub answer_delay: Duration,
    /// The URL clients reach the simulator at, on which results' `video_url`, `first_frame` and
    /// `last_frame` are built. `None`: the address it listens on (loopback for `0.0.0.0`/`::`).
    pub public_url: Option<Url>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            latency: Latency::between(Duration::from_secs(60), Duration::from_secs(120)),
            tokens: vec![DEFAULT_TOKEN.to_owned()],
            used_up_tokens: Vec::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            faults: FaultRates::default(),
            callbacks: CallbackMode::Normal,
            seed: None,
            max_tasks: DEFAULT_MAX_TASKS,
            retention: DEFAULT_RETENTION,
            min_poll_interval: DEFAULT_MIN_POLL_INTERVAL,
            callback_timeout: DEFAULT_CALLBACK_TIMEOUT,
            late_callback_delay: DEFAULT_LATE_CALLBACK_DELAY,
            answer_delay: Duration::ZERO,
            public_url: None,
        }
    }
}

impl SimConfig {
    /// Sets the URL the simulator is reached at, for when it runs behind another address (a
    /// proxy, a container's published port): media URLs in results are built on it. A path is
    /// kept (`https://host/sim` gives `https://host/sim/_sim/media/…`).
    #[must_use]
    pub fn with_public_url(mut self, url: Url) -> Self {
        self.public_url = Some(url);
        self
    }

    /// The base of the media URLs when listening on `addr`, without a trailing slash: the
    /// public URL if set, else `http://` and the address, with an unspecified IP (`0.0.0.0`,
    /// `::`) replaced by loopback.
    pub fn public_base(&self, addr: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => {
                let mut addr = addr;
                if addr.ip().is_unspecified() {
                    addr.set_ip(match addr {
                        SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                format!("http://{addr}")
            }
        }
    }

    /// Sets how long an async or callback submit takes to answer once its task exists.
    #[must_use]
    pub fn with_answer_delay(mut self, delay: Duration) -> Self {
        self.answer_delay = delay;
        self
    }

    /// Sets the latency range.
    #[must_use]
    pub fn with_latency(mut self, latency: Latency) -> Self {
        self.latency = latency;
        self
    }

    /// Replaces the accepted tokens.
    #[must_use]
    pub fn with_tokens<I, T>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a token whose balance is exhausted.
    #[must_use]
    pub fn with_used_up_token(mut self, token: impl Into<String>) -> Self {
        self.used_up_tokens.push(token.into());
        self
    }

    /// Sets the per-token limit of unfinished generations.
    #[must_use]
    pub fn with_max_in_flight(mut self, max: u32) -> Self {
        self.max_in_flight = max;
        self
    }

    /// Sets one fault's rate. A rate outside `0..=1` is clamped and NaN counts as 0; use
    /// [`FaultRates::set`] to have such a rate rejected instead.
    #[must_use]
    pub fn with_fault(mut self, fault: Fault, rate: f64) -> Self {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        // The clamped rate is always valid, so `set` cannot fail here.
        let _ = self.faults.set(fault, rate);
        self
    }

    /// Sets the callback mode.
    #[must_use]
    pub fn with_callbacks(mut self, mode: CallbackMode) -> Self {
        self.callbacks = mode;
        self
    }

    /// Fixes the random seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the number of tasks and ledger entries kept.
    #[must_use]
    pub fn with_max_tasks(mut self, max: usize) -> Self {
        self.max_tasks = max;
        self
    }

    /// Sets how long tasks and ledger entries are kept.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Sets the per-task poll window (zero turns the poll rate limit off).
    #[must_use]
    pub fn with_min_poll_interval(mut self, interval: Duration) -> Self {
        self.min_poll_interval = interval;
        self
    }

    /// Sets the delay of `late` callbacks.
    #[must_use]
    pub fn with_late_callback_delay(mut self, delay: Duration) -> Self {
        self.late_callback_delay = delay;
        self
    }
}

/// The range a task's base duration is drawn from, uniformly.
///
/// Parses from `MIN..MAX` or a single `D`, in humantime units: `60s..120s`, `500ms`, `0s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// The shortest base duration.
    pub min: Duration,
    /// The longest base duration.
    pub max: Duration,
}

impl Latency {
    /// Every task takes exactly `duration` (times its factor).
    pub fn fixed(duration: Duration) -> Self {
        Self {
            min: duration,
            max: duration,
        }
    }

    /// A range between two durations, in either order.
    pub fn between(a: Duration, b: Duration) -> Self {
        Self {
            min: a.min(b),
            max: a.max(b),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let min = humantime::format_duration(self.min);
        if self.min == self.max {
            write!(f, "{min}")
        } else {
            write!(f, "{min}..{}", humantime::format_duration(self.max))
        }
    }
}

impl FromStr for Latency {
    type Err = ParseLatencyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |part: &str| {
            humantime::parse_duration(part.trim()).map_err(|err| ParseLatencyError {
                reason: format!(
                    "`{}` is not a duration ({err}); write e.g. 500ms or 60s",
                    part.trim()
                ),
            })
        };
        match s.split_once("..") {
            None => parse(s).map(Self::fixed),
            Some((min, max)) => {
                let (min, max) = (parse(min)?, parse(max)?);
                if min > max {
                    return Err(ParseLatencyError {
                        reason: "the minimum is larger than the maximum".to_owned(),
                    });
                }
                Ok(Self { min, max })
            }
        }
    }
}

/// A latency that does not parse; the message says how to write one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct ParseLatencyError {
    reason: String,
}

/// How the simulator delivers a finished task's body to its `callback_url`. The upstream
/// documents at-most-once, possibly lost callbacks; the modes let a client test each case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackMode {
    /// One POST on completion.
    #[default]
    Normal,
    /// No POST at all: the client must find the result by polling.
    Drop,
    /// Two POSTs of the same body: the client must be idempotent.
    Duplicate,
    /// One POST, `late_callback_delay` after completion: the client may have polled already.
    Late,
}

impl CallbackMode {
    /// The flag value: `normal`, `drop`, `duplicate` or `late`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Drop => "drop",
            Self::Duplicate => "duplicate",
            Self::Late => "late",
        }
    }
}

impl FromStr for CallbackMode {
    type Err = ParseCallbackModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Self::Normal),
            "drop" => Ok(Self::Drop),
            "duplicate" => Ok(Self::Duplicate),
            "late" => Ok(Self::Late),
            _ => Err(ParseCallbackModeError),
        }
    }
}

/// A callback mode that is not one of the four.
#[derive(Debug, Clone, thiserror::Error)]
#[error("expected normal, drop, duplicate or late")]
pub struct ParseCallbackModeError;

/// A command-line value that cannot be used; the message names the flag and what to write.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--latency` does not parse.
    #[error("--latency {value}: {reason}")]
    Latency {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A `--fault` is not `NAME=RATE` with a known name and a rate from 0 to 1.
    #[error("--fault {value}: {reason}")]
    Fault {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `--callbacks` is not a known mode.
    #[error("--callbacks {value}: expected normal, drop, duplicate or late")]
    Callbacks {
        /// The value given.
        value: String,
    },
    /// `--answer-delay` does not parse as a duration.
    #[error("--answer-delay {value}: {reason}")]
    AnswerDelay {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `--public-url` is not an absolute http(s) URL without query or fragment.
    #[error("--public-url {value}: {reason}")]
    PublicUrl {
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// `--max-in-flight` is 0, which would refuse every submit.
    #[error("--max-in-flight must be at least 1")]
    MaxInFlight,
    /// A `--token` or `--used-up-token` is empty.
    #[error("{flag} must not be empty")]
    EmptyToken {
        /// The flag that was empty.
        flag: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_parses_ranges_and_single_durations() {
        let range: Latency = "60s..120s".parse().unwrap();
        assert_eq!(range.min, Duration::from_secs(60));
        assert_eq!(range.max, Duration::from_secs(120));
        assert_eq!(
            "500ms".parse::<Latency>().unwrap(),
            Latency::fixed(Duration::from_millis(500))
        );
        assert_eq!(
            "0s".parse::<Latency>().unwrap(),
            Latency::fixed(Duration::ZERO)
        );
        assert!("3s..2s".parse::<Latency>().is_err());
        assert!("soon".parse::<Latency>().is_err());
    }

    #[test]
    fn latency_displays_in_the_form_it_parses() {
        let range: Latency = "200ms..300ms".parse().unwrap();
        assert_eq!(range.to_string().parse::<Latency>().unwrap(), range);
    }

    #[test]
    fn public_base_defaults_to_the_reachable_listen_address() {
        let config = SimConfig::default();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            config.public_base(addr("127.0.0.1:18080")),
            "http://127.0.0.1:18080"
        );
        assert_eq!(
            config.public_base(addr("0.0.0.0:18080")),
            "http://127.0.0.1:18080"
        );
        assert_eq!(config.public_base(addr("[::]:9")), "http://[::1]:9");
        let behind = config.with_public_url("https://sim.example/".parse().unwrap());
        assert_eq!(behind.public_base(addr("0.0.0.0:1")), "https://sim.example");
    }

    #[test]
    fn callback_modes_round_trip() {
        for mode in [
            CallbackMode::Normal,
            CallbackMode::Drop,
            CallbackMode::Duplicate,
            CallbackMode::Late,
        ] {
            assert_eq!(mode.as_str().parse::<CallbackMode>().unwrap(), mode);
        }
        assert!("twice".parse::<CallbackMode>().is_err());
    }
}
