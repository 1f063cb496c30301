//! Every metric pixq exports: its name (INTERFACE.md fixes them), its help text, and the one
//! Prometheus recorder of the process.
//!
//! The `metrics` facade has one recorder per process. [`prometheus_handle`] installs it the
//! first time it is called, from whichever part of the process starts first (the API, a
//! worker's `/metrics`, `pixq run`), and hands out the same handle after; so one process
//! serves every metric from one `/metrics`. Code records through the facade with these names;
//! with no recorder installed, recording costs next to nothing.
//!
//! The `token` label is always the token's alias, never the token.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: jobs created through the API (idempotent replays do not count).
pub const JOBS_ENQUEUED: &str = "pixq_jobs_enqueued_total";

/// Counter: jobs that reached a terminal state, by `state`.
pub const JOBS_FINISHED: &str = "pixq_jobs_finished_total";

/// Gauge: jobs by `queue`: `due` (a look booked), `leased` (a worker is looking).
pub const QUEUE_DEPTH: &str = "pixq_queue_depth";

/// Gauge: generations pixq counts in flight on a token (live slot leases), by `token`.
pub const IN_FLIGHT: &str = "pixq_in_flight";

/// Gauge: 1 while submission on a token is paused, else 0, by `token`.
pub const UPSTREAM_PAUSED: &str = "pixq_upstream_paused";

/// Counter: upstream calls, by `endpoint` (`submit`, `retrieve`, `retrieve_batch`) and
/// `status` (the HTTP status, or the error kind when no answer came).
pub const UPSTREAM_REQUESTS: &str = "pixq_upstream_requests_total";

/// Histogram: seconds from a job's creation to its end.
pub const JOB_DURATION: &str = "pixq_job_duration_seconds";

/// Histogram: seconds from when a job was due to when a worker took it up.
pub const QUEUE_WAIT: &str = "pixq_queue_wait_seconds";

/// Counter: webhook delivery attempts, by `outcome`: `delivered`, `failed` (retried later),
/// `gave_up` (dead after `webhooks.give_up_after`), `refused` (the outbound policy), and
/// `postponed` (untried: the receiver's host had all its deliveries in flight).
pub const WEBHOOK_DELIVERIES: &str = "pixq_webhook_deliveries_total";

/// Histogram: seconds one webhook request took, answered or not.
pub const WEBHOOK_REQUEST_DURATION: &str = "pixq_webhook_request_seconds";

/// Gauge: webhook requests this process has in flight.
pub const WEBHOOK_IN_FLIGHT: &str = "pixq_webhook_in_flight";

/// Buckets of [`JOB_DURATION`]: a generation takes one to two minutes, a chain of extends
/// several, a backlog hours.
const JOB_DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 3600.0, 14400.0,
];

/// Buckets of [`QUEUE_WAIT`]: milliseconds on an idle system, minutes behind a backlog.
const QUEUE_WAIT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The handle of the process's Prometheus recorder, installing it on first use.
///
/// If some other recorder was installed before (by code that does not use this function),
/// the handle renders only what is recorded through it, and a warning says so.
pub fn prometheus_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(JOB_DURATION.to_owned()),
                    JOB_DURATION_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(QUEUE_WAIT.to_owned()),
                        QUEUE_WAIT_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(WEBHOOK_REQUEST_DURATION.to_owned()),
                        QUEUE_WAIT_BUCKETS,
                    )
                });
            let recorder = match builder {
                Ok(builder) => builder.build_recorder(),
                // Only an empty bucket list fails, and the lists above are not empty.
                Err(_) => PrometheusBuilder::new().build_recorder(),
            };
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed in this process; /metrics shows only what is recorded through pixq's handle"
                );
            }
            describe();
            handle
        })
        .clone()
}

/// Registers every metric's help text, and makes the enqueue counter appear at 0 before the
/// first job, so dashboards see the series from the start.
fn describe() {
    metrics::describe_counter!(JOBS_ENQUEUED, "Jobs created through the API.");
    metrics::describe_counter!(JOBS_FINISHED, "Jobs that reached a terminal state.");
    metrics::describe_gauge!(
        QUEUE_DEPTH,
        "Jobs with a look booked (queue=due) or being looked at (queue=leased)."
    );
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
    metrics::describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts, by outcome (delivered, failed, gave_up, refused, postponed)."
    );
    metrics::describe_histogram!(
        WEBHOOK_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time one webhook request took, answered or not."
    );
    metrics::describe_gauge!(
        WEBHOOK_IN_FLIGHT,
        "Webhook requests this process has in flight."
    );
    metrics::counter!(JOBS_ENQUEUED).increment(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exported buckets: a job's duration from seconds to hours, a queue wait from
    /// milliseconds to a quarter of an hour; not the exporter's summary default.
    #[test]
    fn histograms_export_their_own_buckets() {
        let handle = prometheus_handle();
        metrics::histogram!(JOB_DURATION).record(75.0);
        metrics::histogram!(QUEUE_WAIT).record(0.02);
        let text = handle.render();
        for le in ["1", "60", "90", "600", "1200", "3600", "14400", "+Inf"] {
            let series = format!("{JOB_DURATION}_bucket{{le=\"{le}\"}}");
            assert!(text.contains(&series), "no {series} in\n{text}");
        }
        for le in ["0.005", "0.025", "1", "60", "900"] {
            let series = format!("{QUEUE_WAIT}_bucket{{le=\"{le}\"}}");
            assert!(text.contains(&series), "no {series} in\n{text}");
        }
        assert!(
            !text.contains(&format!("{JOB_DURATION}{{quantile")),
            "{text}"
        );
    }
}
