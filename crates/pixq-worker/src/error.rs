//! [`WorkerError`]: why a worker could not start or keep running.

use pixq_core::store::StoreError;

/// Why [`crate::run`] failed. Once running, a worker does not stop on store or upstream
/// errors: it logs them, backs off and carries on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A configuration value would make the worker misbehave.
    #[error("worker configuration: {field} {reason}")]
    Config {
        /// The field of [`crate::WorkerConfig`].
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The metrics address (`worker.metrics_listen`) could not be listened on.
    #[error("cannot listen on {addr} for /metrics: {source} (check worker.metrics_listen)")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Why one look at a job stopped early. The handler then rings the job again a little later;
/// these never reach apalis.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The store (or the schedule, the leases) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
