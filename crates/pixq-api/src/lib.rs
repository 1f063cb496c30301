//! pixq's HTTP API: jobs in, job objects out, the upstream's callbacks, health and metrics.
//!
//! The API validates a job at the door ([`pixq_core::spec::JobSpec`]), writes it to the store
//! (the truth about every job) and rings the store's schedule (the workers' doorbell). It
//! never talks to the upstream: workers do (the one exception, `POST /v1/characters`, makes a
//! character with the client of [`AppState::with_upstream`]). It works on any store behind
//! the seam
//! ([`pixq_core::store::Store`]): Redis for `pixq api`, SQLite or Redis in `pixq run`. Its
//! main types:
//!
//! - [`ApiConfig`]: tokens, body limit, public URL.
//! - [`AppState`]: the store, the config and the metrics handle, shared by every request.
//! - [`router`] builds the axum router; [`serve`] runs it on a listener until shutdown.
//! - [`ApiError`]: the one error shape, `{"error":{"code","message","field"?}}`.
//! - [`JobView`], [`BatchView`]: the job and batch objects (`pixq_core::view`, shared with the
//!   webhooks that carry them), with how their webhook fared.
//!
//! Every request has a 10 s deadline, after which it is answered 503 `store_unavailable`:
//! every route waits on the store only, and a connection that keeps reconnecting to a Redis
//! that is gone must not hold clients for as long as its retries last.
//!
//! ```no_run
//! use std::time::Duration;
//! use pixq_api::{ApiConfig, AppState, serve};
//! use pixq_core::store::{Home, open};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let home = Home::Redis { url: "redis://127.0.0.1:6379".into(), prefix: "pixq".into() };
//! let store = open(&home, Duration::from_secs(7 * 24 * 3600)).await?;
//! let state = AppState::new(store, ApiConfig::default(), pixq_core::metrics::prometheus_handle());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, state, CancellationToken::new()).await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod auth;
mod batch_body;
mod batch_view;
mod chains;
mod characters;
mod config;
mod dashboard;
mod error;
mod extract;
mod openapi;
mod overview;
mod routes;
mod state;
mod webhooks;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use batch_view::{ResultError, ResultLine};
pub use config::{ApiConfig, DEFAULT_MAX_BATCH_BODY, DEFAULT_MAX_BODY};
pub use error::ApiError;
pub use error::EntryError;
pub use overview::{Overview, PauseView, QueueDepth, TokenLoad};
pub use pixq_core::view::{BatchView, JobView, UpstreamView, WebhookView};
pub use state::AppState;

/// Every route of the API with its middleware (auth on `/v1`, body limit, JSON errors for
/// unknown paths, wrong methods and panics, request tracing), ready to serve or to test with
/// `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves the API on `listener` until `shutdown` is cancelled, then stops taking connections
/// and lets the requests in flight finish.
///
/// # Errors
///
/// The listener's I/O errors.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "API listening");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
