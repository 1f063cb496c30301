//! A faithful local stand-in for Ace Data Cloud's Pixverse API (see `UPSTREAM.md`), for tests,
//! benchmarks and demos: the same endpoints, bodies, error envelopes and limits, with generation
//! replaced by a timer and with faults injected on demand.
//!
//! - [`serve`] runs it on a listener until a cancellation token fires; [`spawn`] runs it on a
//!   free loopback port in the background and returns a [`SimHandle`].
//! - [`SimConfig`] holds the settings; [`SimArgs`] are the command-line flags of the
//!   `pixverse-sim` binary and `pixq sim`, turned into a config by [`SimArgs::into_config`].
//! - [`Fault`] names the injectable faults; `POST /_sim/faults` changes their rates at run time.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use pixverse_sim::{Fault, SimConfig};
//!
//! let config = SimConfig::default()
//!     .with_latency("200ms..300ms".parse().expect("a valid latency"))
//!     .with_fault(Fault::Timeout, 0.1);
//! let sim = pixverse_sim::spawn(config).await?;
//! // POST {"prompt":"a paper boat","async":true} to {base_url}/pixverse/videos with
//! // `authorization: Bearer sim-token`, then poll {base_url}/pixverse/tasks.
//! println!("simulator at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! - `POST /pixverse/videos`, `/pixverse/tasks`, `/pixverse/character`: the upstream API.
//! - `GET /_sim/ledger`, `GET /_sim/stats`, `POST /_sim/faults`, `POST /_sim/tokens`,
//!   `POST /_sim/latency`, `GET /_sim/healthz`: admin, no token needed.
//! - `GET /_sim/media/{task_id}.mp4` and `GET /_sim/media/{task_id}.svg[?frame=last]`: the media
//!   of a task that succeeded, no token needed (404 for any other task). See below.
//!
//! # Media
//!
//! A successful result's `video_url`, `first_frame` and `last_frame` point at the simulator
//! itself, so a demo or a dashboard shows real pictures without a network:
//!
//! - `{public}/_sim/media/{task_id}.mp4`: the same tiny playable MP4 for every task (1 s, 160x90,
//!   H.264, 3.7 KB, kept in `media/sample.mp4`), `video/mp4`, with `Accept-Ranges: bytes`; a
//!   single `Range` gets 206 with `Content-Range` (what `<video>` asks for), one past the end
//!   416, several ranges the whole body.
//! - `{public}/_sim/media/{task_id}.svg` (and `?frame=last` for `last_frame`): an `image/svg+xml`
//!   poster of the video's pixel size showing the prompt, XML-escaped and wrapped, with the
//!   model, quality and duration, on a gradient whose colors come from the task id.
//!
//! `{public}` is [`SimConfig::with_public_url`] (`--public-url`), for a simulator reached through
//! another address, and otherwise `http://` and the listen address, with `0.0.0.0` or `::` read
//! as loopback ([`SimHandle::public_url`]). The upstream's own URLs are on `media.pixverse.ai`
//! and its frames are empty; the simulator departs from that on purpose.
//!
//! # Timing
//!
//! A task's duration, from submit to `finished_at`, is drawn uniformly from the latency range
//! and multiplied by a factor; `started_at` comes after a queue delay of 2–10 % of it.
//!
//! | quality | factor | | duration | factor |
//! |---|---|---|---|---|
//! | 360p | 0.8 | | 5 s | 1.0 |
//! | 540p | 1.0 | | 8 s | 1.5 |
//! | 720p | 1.3 | | | |
//! | 1080p | 1.8 | | | |
//!
//! The two factors multiply: 720p at 8 s takes 1.95 times the base latency.
//!
//! # Choices where the upstream is silent
//!
//! - `retrieve` and `delete` find any token's task; `retrieve_batch` is scoped to the caller.
//! - An unknown id gives `{}` to `retrieve` and `"deleted": false` to `delete`.
//! - A used-up token can create no character either; characters are not tasks and not in the
//!   ledger.
//! - `action` defaults to `retrieve` on `/pixverse/tasks`.
//! - `video_width` and `video_height` are the pixel size of the quality and aspect ratio.
//! - With `--seed`, fault draws, durations, generated seeds and id steps repeat; UUIDs do not.

#![deny(missing_docs)]

mod admission;
mod args;
mod callback;
mod config;
mod envelope;
mod fault;
mod ledger;
mod lifecycle;
mod listener;
mod media;
mod routes;
mod state;
mod stats;
mod store;
mod task;
mod templates;
mod token;
mod validate;

use std::{io, net::SocketAddr};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

pub use crate::{
    args::SimArgs,
    config::{
        CallbackMode, ConfigError, DEFAULT_CALLBACK_TIMEOUT, DEFAULT_LATE_CALLBACK_DELAY,
        DEFAULT_LATENCY, DEFAULT_LISTEN, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_TASKS,
        DEFAULT_MIN_POLL_INTERVAL, DEFAULT_RETENTION, DEFAULT_TOKEN, Latency,
        ParseCallbackModeError, ParseLatencyError, SimConfig,
    },
    fault::{Fault, FaultError, FaultRates},
};
use crate::{
    listener::{Connection, KillableListener},
    state::Sim,
};

/// Serves the simulator on `listener` until `shutdown` is cancelled, then stops accepting,
/// ends held sync requests with 504 and returns once open connections have closed.
///
/// # Errors
///
/// When the callback HTTP client cannot be built or the server fails.
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let public_base = config.public_base(listener.local_addr()?);
    let sim = Sim::new(config, public_base, shutdown.clone())?;
    run(listener, sim, shutdown).await
}

async fn run(listener: TcpListener, sim: Sim, shutdown: CancellationToken) -> io::Result<()> {
    let app = routes::router(sim).into_make_service_with_connect_info::<Connection>();
    axum::serve(KillableListener::new(listener), app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Why a simulator started from command-line flags stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The flags were wrong; binaries exit 2 on this.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: io::Error,
    },
    /// The server failed while running.
    #[error("simulator stopped with an error: {0}")]
    Serve(#[source] io::Error),
}

/// Serves the simulator as the flags say until `shutdown` is cancelled: the whole of
/// `pixverse-sim` and `pixq sim`, less their signal handling.
///
/// # Errors
///
/// Bad flags, an address that cannot be bound, or a server failure.
pub async fn run_with_args(args: SimArgs, shutdown: CancellationToken) -> Result<(), RunError> {
    let addr = args.listen();
    let config = args.into_config()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Bind { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!(
        %addr,
        public_url = %config.public_base(bound),
        latency = %config.latency,
        "pixverse simulator listening"
    );
    serve(listener, config, shutdown)
        .await
        .map_err(RunError::Serve)
}

/// Starts the simulator on a free port of 127.0.0.1 in a background task: the way tests and
/// `pixq demo` embed it.
///
/// # Errors
///
/// When no port can be bound or the callback HTTP client cannot be built.
pub async fn spawn(config: SimConfig) -> io::Result<SimHandle> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let public_url = config.public_base(addr);
    let sim = Sim::new(config, public_url.clone(), shutdown.clone())?;
    let task = tokio::spawn(run(listener, sim, shutdown.clone()));
    tracing::debug!(%addr, %public_url, "simulator spawned");
    Ok(SimHandle {
        addr,
        public_url,
        shutdown,
        task: Some(task),
    })
}

/// A simulator running in the background. Dropping it stops the simulator too; call
/// [`SimHandle::shutdown`] to also wait until it has stopped.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    public_url: String,
    shutdown: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a client, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL results' `video_url`, `first_frame` and `last_frame` start with (no trailing
    /// slash): [`SimConfig::with_public_url`] if set, else [`SimHandle::base_url`].
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Stops the simulator and waits until it has stopped.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "simulator stopped with an error"),
                Err(err) => tracing::warn!(error = %err, "simulator task failed"),
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
