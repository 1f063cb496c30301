//! Injected faults: their names, their rates, and the seedable dice that decide each request.

use std::{fmt, str::FromStr, time::Duration};

use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::config::Latency;

/// A way the upstream misbehaves. Each has a rate from 0 to 1, drawn per request on the
/// endpoints named in INTERFACE.md's fault table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Submit or tasks: 500 `api_error` at once; no task.
    ApiError,
    /// Submit: 504 `timeout` at once, but the task is created and runs.
    Timeout,
    /// Submit or tasks: 429 `too_many_requests` with `Retry-After: 1`; no task.
    RateLimit,
    /// Submit: 200 with a body that is not JSON; the task is created.
    NotJson,
    /// Submit: the connection closes without a single response byte; the task is created.
    DropAfterSubmit,
    /// Submit: 403 `forbidden` (content moderation) at once; no task.
    Moderation,
    /// Submit: accepted, but the task later fails with `api_error` (unbilled).
    GenerationFailed,
    /// Submit (extension): 400 whose `error` is a bare string, not an object; no task.
    BareError,
}

impl Fault {
    /// Every fault, in a fixed order (the order of [`FaultRates`]' listing).
    pub const ALL: [Fault; 8] = [
        Fault::ApiError,
        Fault::Timeout,
        Fault::RateLimit,
        Fault::NotJson,
        Fault::DropAfterSubmit,
        Fault::Moderation,
        Fault::GenerationFailed,
        Fault::BareError,
    ];

    /// The snake_case name used by `--fault` and `POST /_sim/faults`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiError => "api_error",
            Self::Timeout => "timeout",
            Self::RateLimit => "rate_limit",
            Self::NotJson => "not_json",
            Self::DropAfterSubmit => "drop_after_submit",
            Self::Moderation => "moderation",
            Self::GenerationFailed => "generation_failed",
            Self::BareError => "bare_error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Fault {
    type Err = FaultError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|fault| fault.as_str() == s)
            .ok_or_else(|| FaultError::Unknown { name: s.to_owned() })
    }
}

/// A fault name or rate that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// The name is not one of the faults.
    #[error(
        "unknown fault `{name}`; expected one of api_error, timeout, rate_limit, not_json, \
         drop_after_submit, moderation, generation_failed, bare_error"
    )]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The rate is not a number from 0 to 1.
    #[error("the rate of {fault} must be a number from 0 to 1, got {rate}")]
    Rate {
        /// The fault whose rate was refused.
        fault: Fault,
        /// The rate given.
        rate: f64,
    },
}

/// The current rate of every fault; all are 0 by default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultRates {
    rates: [f64; Fault::ALL.len()],
}

impl FaultRates {
    /// The rate of one fault.
    pub fn get(&self, fault: Fault) -> f64 {
        self.rates[fault.index()]
    }

    /// Sets one fault's rate.
    ///
    /// # Errors
    ///
    /// [`FaultError::Rate`] when `rate` is not within `0..=1` (or is NaN); the rate is unchanged.
    pub fn set(&mut self, fault: Fault, rate: f64) -> Result<(), FaultError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(FaultError::Rate { fault, rate });
        }
        self.rates[fault.index()] = rate;
        Ok(())
    }

    /// Every fault with its rate, in [`Fault::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Fault, f64)> + '_ {
        Fault::ALL.into_iter().map(|fault| (fault, self.get(fault)))
    }

    /// Parses one `NAME=RATE` setting, as `--fault` takes it.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong: no `=`, an unknown name, or a rate that is not 0..=1.
    pub fn parse_setting(setting: &str) -> Result<(Fault, f64), String> {
        let (name, rate) = setting
            .split_once('=')
            .ok_or_else(|| "expected NAME=RATE, e.g. timeout=0.1".to_owned())?;
        let fault: Fault = name
            .trim()
            .parse()
            .map_err(|err: FaultError| err.to_string())?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("the rate `{}` is not a number from 0 to 1", rate.trim()))?;
        if !(0.0..=1.0).contains(&rate) {
            return Err(FaultError::Rate { fault, rate }.to_string());
        }
        Ok((fault, rate))
    }
}

/// The simulator's only source of chance: fault draws, task durations and generated seeds.
/// Seeded, the same sequence of requests gets the same answers.
#[derive(Debug)]
pub(crate) struct Dice {
    rng: SmallRng,
}

impl Dice {
    /// Seeded when `seed` is given, from the OS otherwise.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        };
        Self { rng }
    }

    /// Whether a fault with this rate strikes now. Rates of 0 and 1 draw nothing, so turning
    /// one fault on does not shift the draws of the others.
    pub(crate) fn strikes(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            false
        } else if rate >= 1.0 {
            true
        } else {
            self.rng.random::<f64>() < rate
        }
    }

    /// A duration drawn uniformly from `latency`.
    pub(crate) fn duration(&mut self, latency: Latency) -> Duration {
        if latency.min == latency.max {
            return latency.min;
        }
        let (min, max) = (latency.min.as_secs_f64(), latency.max.as_secs_f64());
        Duration::from_secs_f64(self.rng.random_range(min..=max))
    }

    /// A fraction drawn uniformly from `low..=high`.
    pub(crate) fn fraction(&mut self, low: f64, high: f64) -> f64 {
        self.rng.random_range(low..=high)
    }

    /// A generation seed in the upstream's range 0..=2147483647.
    pub(crate) fn seed(&mut self) -> u32 {
        self.rng.random_range(0..=2_147_483_647)
    }

    /// A step between two consecutive video or asset ids.
    pub(crate) fn id_step(&mut self) -> i64 {
        self.rng.random_range(64..=8192)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(fault.as_str().parse::<Fault>().unwrap(), fault);
        }
        assert!("flaky".parse::<Fault>().is_err());
    }

    #[test]
    fn settings_name_what_is_wrong() {
        assert_eq!(
            FaultRates::parse_setting("timeout=0.25").unwrap(),
            (Fault::Timeout, 0.25)
        );
        assert!(
            FaultRates::parse_setting("timeout")
                .unwrap_err()
                .contains("NAME=RATE")
        );
        assert!(
            FaultRates::parse_setting("flaky=0.1")
                .unwrap_err()
                .contains("flaky")
        );
        assert!(
            FaultRates::parse_setting("timeout=2")
                .unwrap_err()
                .contains("0 to 1")
        );
        assert!(
            FaultRates::parse_setting("timeout=NaN")
                .unwrap_err()
                .contains("0 to 1")
        );
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        let mut rates = FaultRates::default();
        assert!(rates.set(Fault::ApiError, -0.1).is_err());
        assert!(rates.set(Fault::ApiError, f64::NAN).is_err());
        rates.set(Fault::ApiError, 1.0).unwrap();
        assert_eq!(rates.get(Fault::ApiError), 1.0);
    }

    #[test]
    fn seeded_dice_repeat_themselves() {
        let draws = |seed| {
            let mut dice = Dice::new(Some(seed));
            (0..64).map(|_| dice.strikes(0.5)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }
}
