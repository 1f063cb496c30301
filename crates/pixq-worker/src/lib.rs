//! pixq's workers: submit each job to the upstream once, wait for its video without holding a
//! slot, finish it and chain the next step; never lose a job, never pay twice.
//!
//! The store ([`pixq_core::redis::RedisStore`]) is the truth; the apalis queue is only a
//! doorbell. One worker process ([`run`]) is:
//!
//! - an apalis-redis worker on the queue `{prefix}:doorbell`, whose handler takes the job's
//!   lease, decides by the job's state (submit, look up an unanswered submit, poll) and rings
//!   pixq's schedule for the next look: `handler`, `submit`, `lookup`, `poll`, `retry`;
//! - the pump, which moves due jobs from the schedule into apalis while apalis's backlog is
//!   small (`pump`);
//! - the rescuer, which rings unfinished jobs that are neither scheduled nor leased
//!   (`rescuer`);
//! - the janitor, which deletes finished apalis tasks (`janitor`);
//! - with `worker.metrics_listen`, `GET /metrics` and `GET /healthz` ([`serve_metrics`]).
//!
//! The upstream's limits are shared by every worker (DESIGN decision 4): a job takes one of
//! the token's `upstream.max_in_flight` slots before it submits and holds it until its task
//! ends (`capacity`); an account-level refusal pauses submission on the token, and the next
//! waiting job's submit probes it (`pause`); a job that waits for either, or got a 429, goes
//! back to `queued` without burning an attempt, and parked jobs wake in the order they came.
//!
//! Retries, backoff and delays are pixq's, kept in the schedule; apalis only ever sees tasks
//! that are due now, and handlers answer it `Ok`.
//!
//! ```no_run
//! use pixq_worker::{WorkerConfig, connect, run};
//! use pixverse::{Client, ClientConfig, Token};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let conn = connect("redis://127.0.0.1:6379").await?;
//! let client = Client::new(ClientConfig::new(Token::new("sk-...")))?;
//! let shutdown = CancellationToken::new();
//! run(conn, client, WorkerConfig::new("pixq"), shutdown).await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod backoff;
mod capacity;
mod config;
mod error;
mod handler;
mod janitor;
mod lease_guard;
mod lookup;
mod metrics_server;
mod names;
mod pause;
mod poll;
mod poll_gate;
mod pump;
mod queue;
mod rescuer;
mod restart;
mod retry;
mod run;
mod step;
mod submit;
mod telemetry;

pub use config::{
    DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX, DEFAULT_FETCH_EVERY, DEFAULT_HANDLER_TIMEOUT,
    DEFAULT_JANITOR_EVERY, DEFAULT_LEASE_TTL, DEFAULT_LOOKUP_GRACE, DEFAULT_PAUSE_BACKOFF,
    DEFAULT_PAUSE_BACKOFF_MAX, DEFAULT_PUMP_EVERY, DEFAULT_RESCUE_AFTER, DEFAULT_RESCUE_BATCH,
    DEFAULT_RESCUE_EVERY, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TOKEN_ALIAS, MIN_SLOT_TTL,
    WorkerConfig,
};
pub use error::WorkerError;
pub use metrics_server::serve_metrics;
pub use run::{REDIS_CONNECTION_TIMEOUT, REDIS_RESPONSE_TIMEOUT, connect, run};
pub use telemetry::prometheus_handle;

/// The apalis queue of doorbells for keys under `prefix`: `{prefix}:doorbell`. Exposed so
/// that tools and tests can look into it with apalis-redis.
pub fn doorbell_queue(prefix: &str) -> String {
    queue::doorbell_queue(prefix)
}
