//! The upstream simulator, in this process, and the requests it answered.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use pixverse_sim::{Latency, SimConfig, SimHandle};
use serde::Serialize;
use serde_json::Value;

/// The token pixq and the peer use against the simulator.
pub const TOKEN: &str = "bench-token";

/// A simulator on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct Sim {
    handle: SimHandle,
    http: reqwest::Client,
}

impl Sim {
    /// Starts the simulator with `latency` from submit to a finished task, accepting
    /// [`TOKEN`] with no cap worth the name on generations in flight.
    pub async fn start(latency: Latency) -> anyhow::Result<Sim> {
        let handle = pixverse_sim::spawn(
            SimConfig::default()
                .with_latency(latency)
                .with_tokens([TOKEN])
                .with_max_in_flight(u32::MAX),
        )
        .await
        .context("cannot start the simulator")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Sim { handle, http })
    }

    /// The base URL to give pixq and the peer.
    pub fn url(&self) -> String {
        self.handle.base_url()
    }

    /// `GET /_sim/stats`.
    pub async fn stats(&self) -> anyhow::Result<Stats> {
        let value = self
            .http
            .get(format!("{}/_sim/stats", self.url()))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
            .context("GET /_sim/stats")?;
        Ok(Stats(value))
    }
}

/// One reading of `GET /_sim/stats`.
#[derive(Debug, Clone, Default)]
pub struct Stats(Value);

impl Stats {
    /// Tasks created so far: submits answered 200.
    pub fn tasks_created(&self) -> u64 {
        self.0["requests"]["videos"]["200"].as_u64().unwrap_or(0)
    }

    /// The most generations the bench's token had in flight at once.
    pub fn max_in_flight_seen(&self) -> u64 {
        self.0["max_in_flight_seen"][TOKEN].as_u64().unwrap_or(0)
    }

    /// Callbacks sent so far.
    pub fn callbacks_sent(&self) -> u64 {
        self.0["callbacks"]["sent"].as_u64().unwrap_or(0)
    }

    /// The requests answered from `self` to `later`.
    pub fn until(&self, later: &Stats) -> Requests {
        let mut out = Requests::default();
        let Some(endpoints) = later.0["requests"].as_object() else {
            return out;
        };
        for (endpoint, outcomes) in endpoints {
            for (outcome, count) in outcomes.as_object().into_iter().flatten() {
                let was = self.0["requests"][endpoint][outcome].as_u64().unwrap_or(0);
                let n = count.as_u64().unwrap_or(0).saturating_sub(was);
                if n == 0 {
                    continue;
                }
                out.total += n;
                *out.by_endpoint
                    .entry(format!("{endpoint} {outcome}"))
                    .or_default() += n;
                if outcome == "429" {
                    out.refused += n;
                }
            }
        }
        out
    }
}

/// Upstream requests over an interval.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Requests {
    /// Every request.
    pub total: u64,
    /// Those answered 429.
    pub refused: u64,
    /// By `"<endpoint> <status>"`, e.g. `"tasks 200"`.
    pub by_endpoint: BTreeMap<String, u64>,
}

impl Requests {
    /// Requests per `unit` (a step, a video).
    pub fn per(&self, unit: u64) -> f64 {
        crate::numbers::round2(self.total as f64 / unit.max(1) as f64)
    }
}
