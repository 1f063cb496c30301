//! The worker's metrics, recorded through the `metrics` facade under the names of
//! [`pixq_core::metrics`]; and the loop that reads the shared limits back into their gauges.
//!
//! Whatever recorder the process installed receives them: the one of
//! [`pixq_core::metrics::prometheus_handle`] when this process serves `/metrics` (the API, a
//! worker's `worker.metrics_listen`, `pixq run`), or none at all (then recording costs next
//! to nothing). The `token` label is always the token's alias, never the token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::job::Job;
use pixq_core::metrics::{
    IN_FLIGHT, JOB_DURATION, JOBS_FINISHED, QUEUE_DEPTH, QUEUE_WAIT, UPSTREAM_PAUSED,
    UPSTREAM_REQUESTS,
};
use pixq_core::outage;
use pixq_core::store::SharedStore;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::backoff::jittered;

/// How often the gauges of the shared limits and the schedule are read back from the store:
/// other workers change them too.
const GAUGES_EVERY: Duration = Duration::from_secs(5);

/// Counts one upstream call to `endpoint` and how it ended.
pub(crate) fn upstream_call<T>(endpoint: &'static str, result: &Result<T, pixverse::Error>) {
    let status = match result {
        Ok(_) => "200".to_owned(),
        Err(e) => e
            .status()
            .map_or_else(|| e.kind().as_str().to_owned(), |s| s.to_string()),
    };
    metrics::counter!(UPSTREAM_REQUESTS, "endpoint" => endpoint, "status" => status).increment(1);
}

/// Counts `job`, just applied to a terminal state, and observes its duration.
pub(crate) fn finished(job: &Job) {
    metrics::counter!(JOBS_FINISHED, "state" => job.state.as_str()).increment(1);
    let end = job.finished_at.unwrap_or(job.updated_at);
    metrics::histogram!(JOB_DURATION).record(seconds_between(job.created_at, end));
}

/// Observes how long a job waited between being due at `due` and being taken up now.
pub(crate) fn queue_wait(due: DateTime<Utc>) {
    metrics::histogram!(QUEUE_WAIT).record(seconds_between(due, Utc::now()));
}

/// Sets `pixq_in_flight{token}`.
pub(crate) fn in_flight(alias: &str, held: u32) {
    metrics::gauge!(IN_FLIGHT, "token" => alias.to_owned()).set(f64::from(held));
}

/// Sets `pixq_upstream_paused{token}`.
pub(crate) fn paused(alias: &str, paused: bool) {
    let value = if paused { 1.0 } else { 0.0 };
    metrics::gauge!(UPSTREAM_PAUSED, "token" => alias.to_owned()).set(value);
}

/// Seconds from `from` to `to`, never negative.
fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).to_std().unwrap_or_default().as_secs_f64()
}

/// Reads the shared limits of one token, and the schedule's depth, back into their gauges
/// every few seconds, since other workers take, free and pause them too.
pub(crate) struct Gauges {
    store: SharedStore,
    alias: String,
}

impl Gauges {
    /// The gauges of `alias`.
    pub(crate) fn new(store: SharedStore, alias: String) -> Self {
        Gauges { store, alias }
    }

    /// Reads until `shutdown`.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        info!(service = "gauges", token = %self.alias, "started");
        loop {
            self.round().await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(jittered(GAUGES_EVERY)) => {}
            }
        }
        info!(service = "gauges", "stopped");
    }

    async fn round(&self) {
        match self.store.slots().held(&self.alias).await {
            Ok(held) => in_flight(&self.alias, held),
            Err(e) => {
                outage::failed("gauges", &e);
            }
        }
        match self.store.pauses().status(&self.alias).await {
            Ok(pause) => paused(&self.alias, pause.is_some()),
            Err(e) => {
                outage::failed("gauges", &e);
            }
        }
        queue_depths(&self.store).await;
    }
}

/// Sets `pixq_queue_depth{queue="due"}` and `{queue="leased"}` from the schedule.
pub(crate) async fn queue_depths(store: &SharedStore) {
    let schedule = store.schedule();
    match (schedule.len().await, schedule.leased_count().await) {
        (Ok(due), Ok(leased)) => {
            // A gauge is an f64; a queue never gets near 2^53 entries.
            #[allow(clippy::cast_precision_loss)]
            {
                metrics::gauge!(QUEUE_DEPTH, "queue" => "due").set(due as f64);
                metrics::gauge!(QUEUE_DEPTH, "queue" => "leased").set(leased as f64);
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            outage::failed("gauges", &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_never_negative() {
        let now = Utc::now();
        assert_eq!(
            seconds_between(now, now - chrono::TimeDelta::seconds(5)),
            0.0
        );
        assert_eq!(
            seconds_between(now - chrono::TimeDelta::seconds(2), now),
            2.0
        );
    }
}
