//! Counters for `GET /_sim/stats`: requests per endpoint and status, and callback outcomes.
//! (In-flight counts live with the tokens' load, task counts with the store.)

use std::collections::BTreeMap;

use serde::Serialize;

/// What happened to callbacks.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct CallbackCounts {
    /// POSTs answered with a 2xx.
    pub(crate) sent: u64,
    /// POSTs answered otherwise, or not at all.
    pub(crate) failed: u64,
    /// Callbacks not sent because the mode is `drop`.
    pub(crate) dropped: u64,
    /// Callbacks sent twice because the mode is `duplicate`.
    pub(crate) duplicated: u64,
}

/// The counters, all from zero at start.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: BTreeMap<&'static str, BTreeMap<String, u64>>,
    pub(crate) callbacks: CallbackCounts,
}

impl Stats {
    /// Counts one answered request: `outcome` is the status code, or `dropped` when the
    /// connection was closed without an answer.
    pub(crate) fn count_request(&mut self, endpoint: &'static str, outcome: String) {
        *self
            .requests
            .entry(endpoint)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    /// Requests per endpoint and outcome.
    pub(crate) fn requests(&self) -> &BTreeMap<&'static str, BTreeMap<String, u64>> {
        &self.requests
    }
}
