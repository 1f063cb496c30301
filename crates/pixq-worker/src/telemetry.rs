//! The worker's metrics, by the names of INTERFACE.md, recorded through the `metrics` facade;
//! and the process's Prometheus recorder that renders them.
//!
//! Whatever recorder the process installed receives them: the worker's own
//! ([`prometheus_handle`], when `worker.metrics_listen` is set), the API's in `pixq run`, or
//! none at all (then recording costs next to nothing). The `token` label is always the
//! token's alias, never the token.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pixq_core::job::Job;
use pixq_core::limits::{Pauses, Slots};
use pixq_core::outage;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::jittered;

/// Counter: jobs that reached a terminal state, by `state`.
pub(crate) const JOBS_FINISHED: &str = "pixq_jobs_finished_total";

/// Gauge: generations pixq counts in flight on a token (live slot leases), by `token`.
pub(crate) const IN_FLIGHT: &str = "pixq_in_flight";

/// Gauge: 1 while submission on a token is paused, else 0, by `token`.
pub(crate) const UPSTREAM_PAUSED: &str = "pixq_upstream_paused";

/// Counter: upstream calls, by `endpoint` (`submit`, `retrieve`, `retrieve_batch`) and
/// `status` (the HTTP status, or the error kind when no answer came).
pub(crate) const UPSTREAM_REQUESTS: &str = "pixq_upstream_requests_total";

/// Histogram: seconds from a job's creation to its end.
pub(crate) const JOB_DURATION: &str = "pixq_job_duration_seconds";

/// Histogram: seconds from when a job was due to when a handler took it up.
pub(crate) const QUEUE_WAIT: &str = "pixq_queue_wait_seconds";

/// How often the gauges of the shared limits are read back from Redis: other workers change
/// them too.
const GAUGES_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The handle of the Prometheus recorder this crate installed, installing it on first use.
///
/// The `metrics` facade has one recorder per process. If another was installed first (by the
/// API in the same process, say), this one is not: a warning is logged and the handle renders
/// only what is recorded through it.
pub fn prometheus_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                warn!(
                    "a metrics recorder was already installed in this process; the worker's /metrics shows only its own handle's data"
                );
            }
            describe();
            handle
        })
        .clone()
}

/// Help texts of the worker's metrics.
fn describe() {
    metrics::describe_counter!(JOBS_FINISHED, "Jobs that reached a terminal state.");
    metrics::describe_gauge!(
        IN_FLIGHT,
        "Generations in flight on an upstream token (live slot leases), across all workers."
    );
    metrics::describe_gauge!(
        UPSTREAM_PAUSED,
        "1 while submission on an upstream token is paused by an account-level error."
    );
    metrics::describe_counter!(
        UPSTREAM_REQUESTS,
        "Calls to the upstream, by endpoint and HTTP status (or error kind)."
    );
    metrics::describe_histogram!(
        JOB_DURATION,
        metrics::Unit::Seconds,
        "Time from a job's creation to its end."
    );
    metrics::describe_histogram!(
        QUEUE_WAIT,
        metrics::Unit::Seconds,
        "Time from when a job was due to when a worker took it up."
    );
}

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

/// Reads the shared limits of one token back into their gauges every few seconds, since
/// other workers take, free and pause them too.
pub(crate) struct Gauges {
    slots: Slots,
    pauses: Pauses,
    alias: String,
}

impl Gauges {
    /// The gauges of `alias`.
    pub(crate) fn new(slots: Slots, pauses: Pauses, alias: String) -> Self {
        Gauges {
            slots,
            pauses,
            alias,
        }
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
        match self.slots.held(&self.alias).await {
            Ok(held) => in_flight(&self.alias, held),
            Err(e) => {
                outage::failed("gauges", &e);
            }
        }
        match self.pauses.status(&self.alias).await {
            Ok(pause) => paused(&self.alias, pause.is_some()),
            Err(e) => {
                outage::failed("gauges", &e);
            }
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
