//! The process's Prometheus recorder and the names of the metrics the API sets.
//!
//! The `metrics` crate has one global recorder per process. [`prometheus_handle`] installs a
//! Prometheus recorder the first time it is called and hands out the same handle after, so
//! several API servers in one process (tests, `pixq run`) render the same registry.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Counter: jobs created through the API (idempotent replays do not count).
pub const JOBS_ENQUEUED: &str = "pixq_jobs_enqueued_total";

/// Gauge: jobs per queue; the API sets `queue="due"` from the schedule at scrape time.
pub const QUEUE_DEPTH: &str = "pixq_queue_depth";

/// Counter: jobs that reached a terminal state; the API counts the cancelled ones.
pub const JOBS_FINISHED: &str = "pixq_jobs_finished_total";

/// Gauge: generations in flight per token alias, as the workers' slots count them.
pub const IN_FLIGHT: &str = "pixq_in_flight";

/// Gauge: 1 while submission is paused for a token alias (an account-level error), else 0.
pub const UPSTREAM_PAUSED: &str = "pixq_upstream_paused";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The handle of the process's Prometheus recorder, installing it on first use.
///
/// If some other recorder was installed before (by code that does not use this function),
/// the handle renders only what is recorded through it: a warning is logged, and the caller
/// should pass that recorder's own handle to [`AppState::new`](crate::AppState::new) instead.
pub fn prometheus_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only its own handle's data"
                );
            }
            describe();
            handle
        })
        .clone()
}

/// Registers the API's metrics with their help text, and makes the counter appear at 0 before
/// the first job, so dashboards see the series from the start.
pub(crate) fn describe() {
    metrics::describe_counter!(JOBS_ENQUEUED, "Jobs created through the API.");
    metrics::describe_gauge!(QUEUE_DEPTH, "Jobs waiting in each of pixq's queues.");
    metrics::describe_gauge!(IN_FLIGHT, "Generations in flight per upstream token alias.");
    metrics::describe_gauge!(
        UPSTREAM_PAUSED,
        "1 while submission is paused for an upstream token alias."
    );
    metrics::counter!(JOBS_ENQUEUED).increment(0);
}
