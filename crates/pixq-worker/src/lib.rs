//! pixq's workers: submit each job to the upstream once, wait for its video without holding a
//! slot, finish it and chain the next step; never lose a job, never pay twice.
//!
//! The store ([`pixq_core::store::Store`], Redis or SQLite) is the truth and the schedule in
//! it the doorbell. One worker ([`run`]) is:
//!
//! - an apalis worker whose backend is pixq's own ([`doorbell`](self)): it takes due jobs from
//!   the store's schedule with their leases, as many as handlers are free, in one call;
//! - the handler, which decides by the job's state (submit, look up an unanswered submit,
//!   poll) and settles the lease with the job's next look: `handler`, `submit`, `lookup`,
//!   `poll`, `retry`;
//! - the rescuer, which rings unfinished jobs that are neither scheduled nor leased
//!   (`rescuer`);
//! - the janitor, which sweeps expired finished jobs (`janitor`);
//! - with `[[pipelines]]`, the scheduler, which submits each pipeline's prompts as one batch on
//!   every tick, each tick once however many workers run (`scheduler`);
//! - with `api.webhook_secret`, the delivery service, which sends webhook events from the
//!   store's outbox to users, signed, retried with backoff, through the outbound address
//!   policy, never holding an upstream slot (`webhooks`);
//! - with `worker.metrics_listen`, `GET /metrics` and `GET /healthz` ([`serve_metrics`]).
//!
//! The upstream's limits are shared by every worker (DESIGN decision 4): a job takes one of
//! the token's `upstream.max_in_flight` slots before it submits and holds it until its task
//! ends (`capacity`); an account-level refusal pauses submission on the token, and the next
//! waiting job's submit probes it (`pause`); a job that waits for either, or got a 429, goes
//! back to `queued` without burning an attempt, and parked jobs wake in the order they came.
//!
//! Retries, backoff and delays are pixq's, kept in the schedule; apalis only ever sees jobs
//! that are due now, and handlers answer it `Ok`.
//!
//! ```no_run
//! use std::time::Duration;
//! use pixq_core::store::{Home, open};
//! use pixq_worker::{WorkerConfig, run};
//! use pixverse::{Client, ClientConfig, Token};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let home = Home::Redis { url: "redis://127.0.0.1:6379".into(), prefix: "pixq".into() };
//! let store = open(&home, Duration::from_secs(7 * 24 * 3600)).await?;
//! let client = Client::new(ClientConfig::new(Token::new("sk-...")))?;
//! run(store, client, WorkerConfig::new(), CancellationToken::new()).await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod backoff;
mod capacity;
mod config;
mod doorbell;
mod error;
mod handler;
mod janitor;
mod lease_guard;
mod look;
mod lookup;
mod metrics_server;
mod names;
mod pause;
mod poll;
mod poller;
mod rescuer;
mod retry;
mod run;
mod scheduler;
mod step;
mod submit;
mod telemetry;
mod timing;
mod webhooks;

pub use config::{
    DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX, DEFAULT_FETCH_EVERY, DEFAULT_HANDLER_TIMEOUT,
    DEFAULT_JANITOR_EVERY, DEFAULT_LEASE_TTL, DEFAULT_LOOKUP_GRACE, DEFAULT_PAUSE_BACKOFF,
    DEFAULT_PAUSE_BACKOFF_MAX, DEFAULT_RESCUE_AFTER, DEFAULT_RESCUE_BATCH, DEFAULT_RESCUE_EVERY,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TOKEN_ALIAS, DEFAULT_WEBHOOK_BACKOFF_BASE,
    DEFAULT_WEBHOOK_BACKOFF_MAX, DEFAULT_WEBHOOK_CONCURRENCY, DEFAULT_WEBHOOK_FETCH_EVERY,
    DEFAULT_WEBHOOK_PER_HOST, MIN_SLOT_TTL, WebhookConfig, WorkerConfig,
};
pub use error::WorkerError;
pub use metrics_server::serve_metrics;
pub use run::run;
