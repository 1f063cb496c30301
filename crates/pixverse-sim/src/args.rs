//! The simulator's command-line flags, shared by the `pixverse-sim` binary and `pixq sim`.
//!
//! The flags are read raw and checked in one step, [`SimArgs::into_config`], so every bad value
//! fails with an error that names its flag.

use std::net::SocketAddr;

use crate::{
    config::{
        ConfigError, DEFAULT_LATENCY, DEFAULT_LISTEN, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TOKEN,
        SimConfig,
    },
    fault::FaultRates,
};

/// The simulator's flags; `pixq` embeds them with `#[command(flatten)]`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// The address to serve the simulated upstream on.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Time from submit to a finished task, drawn uniformly from MIN..MAX (or exactly D), e.g.
    /// 60s..120s, 2s..3s, 500ms, 0s. It applies at 540p and 5 s; higher qualities and 8 s take longer.
    #[arg(long, value_name = "MIN..MAX", default_value = DEFAULT_LATENCY)]
    pub latency: String,

    /// An accepted bearer token; repeatable.
    #[arg(long = "token", value_name = "T", default_value = DEFAULT_TOKEN)]
    pub tokens: Vec<String>,

    /// A token whose balance is exhausted: its submits get 403 used_up, its lookups still work; repeatable.
    #[arg(long = "used-up-token", value_name = "T")]
    pub used_up_tokens: Vec<String>,

    /// Generations a token may have running at once; the next submit gets 429 too_many_requests.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: u32,

    /// Inject a fault at a rate from 0 to 1, e.g. timeout=0.1; repeatable. Faults: api_error,
    /// timeout, rate_limit, not_json, drop_after_submit, moderation, generation_failed, bare_error.
    #[arg(long = "fault", value_name = "NAME=RATE")]
    pub faults: Vec<String>,

    /// How finished tasks are POSTed to their callback_url: normal (once), drop (never),
    /// duplicate (twice) or late (5 s after completion).
    #[arg(long, value_name = "MODE", default_value = "normal")]
    pub callbacks: String,

    /// How long an async or callback submit takes to answer after its task was created, e.g.
    /// 2s. Default 0s. For crash tests: a client killed in that window has paid for a task it
    /// never heard of.
    #[arg(long, value_name = "D", default_value = "0s")]
    pub answer_delay: String,

    /// A fixed random seed, for reproducible fault draws and durations.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// The URL clients reach the simulator at, when it is not the listen address (behind a proxy
    /// or a published port): results' video_url, first_frame and last_frame are built on it.
    /// Default: http:// and the listen address (127.0.0.1 for 0.0.0.0).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

impl SimArgs {
    /// The address to bind.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Checks every flag and builds the simulator's settings.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first flag whose value cannot be used.
    pub fn into_config(self) -> Result<SimConfig, ConfigError> {
        let latency = self
            .latency
            .parse()
            .map_err(
                |err: crate::config::ParseLatencyError| ConfigError::Latency {
                    value: self.latency.clone(),
                    reason: err.to_string(),
                },
            )?;
        let callbacks = self.callbacks.parse().map_err(|_| ConfigError::Callbacks {
            value: self.callbacks.clone(),
        })?;
        let mut faults = FaultRates::default();
        for setting in &self.faults {
            let (fault, rate) =
                FaultRates::parse_setting(setting).map_err(|reason| ConfigError::Fault {
                    value: setting.clone(),
                    reason,
                })?;
            faults.set(fault, rate).map_err(|err| ConfigError::Fault {
                value: setting.clone(),
                reason: err.to_string(),
            })?;
        }
        let answer_delay = humantime::parse_duration(self.answer_delay.trim()).map_err(|err| {
            ConfigError::AnswerDelay {
                value: self.answer_delay.clone(),
                reason: err.to_string(),
            }
        })?;
        if self.max_in_flight == 0 {
            return Err(ConfigError::MaxInFlight);
        }
        if self.tokens.iter().any(|token| token.trim().is_empty()) {
            return Err(ConfigError::EmptyToken { flag: "--token" });
        }
        if self
            .used_up_tokens
            .iter()
            .any(|token| token.trim().is_empty())
        {
            return Err(ConfigError::EmptyToken {
                flag: "--used-up-token",
            });
        }
        let public_url = self
            .public_url
            .as_deref()
            .map(parse_public_url)
            .transpose()?;
        Ok(SimConfig {
            latency,
            tokens: self.tokens,
            used_up_tokens: self.used_up_tokens,
            max_in_flight: self.max_in_flight,
            faults,
            callbacks,
            seed: self.seed,
            answer_delay,
            public_url,
            ..SimConfig::default()
        })
    }
}

/// An absolute http(s) URL with a host and no query or fragment.
fn parse_public_url(value: &str) -> Result<url::Url, ConfigError> {
    let refuse = |reason: &str| ConfigError::PublicUrl {
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(value.trim()).map_err(|err| refuse(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("expected an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("the URL must have no query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::{CallbackMode, Fault};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(args: &[&str]) -> SimArgs {
        Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))
            .unwrap()
            .sim
    }

    #[test]
    fn defaults_match_the_interface() {
        let args = parse(&[]);
        assert_eq!(args.listen().to_string(), "127.0.0.1:18080");
        let config = args.into_config().unwrap();
        assert_eq!(config.latency.min, Duration::from_secs(60));
        assert_eq!(config.latency.max, Duration::from_secs(120));
        assert_eq!(config.tokens, vec!["sim-token".to_owned()]);
        assert_eq!(config.max_in_flight, 5);
        assert_eq!(config.callbacks, CallbackMode::Normal);
        assert_eq!(config.max_tasks, 1_000_000);
        assert!(config.faults.iter().all(|(_, rate)| rate == 0.0));
    }

    #[test]
    fn flags_reach_the_config() {
        let config = parse(&[
            "--latency",
            "2s..3s",
            "--token",
            "a",
            "--token",
            "b",
            "--used-up-token",
            "c",
            "--max-in-flight",
            "2",
            "--fault",
            "timeout=0.5",
            "--fault",
            "bare_error=1",
            "--callbacks",
            "late",
            "--seed",
            "9",
            "--public-url",
            "http://sim.example:8080/base/",
        ])
        .into_config()
        .unwrap();
        assert_eq!(config.latency.min, Duration::from_secs(2));
        assert_eq!(config.tokens, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(config.used_up_tokens, vec!["c".to_owned()]);
        assert_eq!(config.max_in_flight, 2);
        assert_eq!(config.faults.get(Fault::Timeout), 0.5);
        assert_eq!(config.faults.get(Fault::BareError), 1.0);
        assert_eq!(config.callbacks, CallbackMode::Late);
        assert_eq!(config.seed, Some(9));
        assert_eq!(
            config.public_url.as_ref().map(url::Url::as_str),
            Some("http://sim.example:8080/base/")
        );
    }

    #[test]
    fn bad_values_name_their_flag() {
        let error = |args: &[&str]| parse(args).into_config().unwrap_err().to_string();
        assert!(error(&["--fault", "flaky=0.1"]).starts_with("--fault flaky=0.1"));
        assert!(error(&["--fault", "timeout=1.5"]).contains("--fault"));
        assert!(error(&["--latency", "fast"]).starts_with("--latency"));
        assert!(error(&["--callbacks", "twice"]).starts_with("--callbacks"));
        assert!(error(&["--max-in-flight", "0"]).contains("--max-in-flight"));
        assert!(error(&["--token", ""]).contains("--token"));
        for url in [
            "sim.example:80",
            "ftp://sim.example",
            "http://h/?a=1",
            "nope",
        ] {
            assert!(
                error(&["--public-url", url]).starts_with("--public-url"),
                "{url}"
            );
        }
    }
}
