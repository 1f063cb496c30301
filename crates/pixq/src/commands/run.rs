//! `pixq run`: the API and a worker in one process, on the embedded SQLite store unless
//! `redis.url` is set, until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pixq_api::{ApiConfig, AppState};
use pixq_core::settings::Settings;
use pixq_core::store::{self, Home, SharedStore};
use pixq_worker::WorkerConfig;
use tokio_util::sync::CancellationToken;

use crate::{config, shutdown, upstream};

/// Serves the API and runs a worker with the effective configuration. On a signal the API
/// stops taking requests and the worker drains as `pixq worker` does; the process exits once
/// both have stopped.
pub async fn run(config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file, &[])?;
    settings
        .check_api_auth()
        .context(config::InvalidConfiguration)?;
    let client = upstream::client(&settings)?;
    let store = open_store(&settings).await?;
    let home = Home::standalone(&settings);
    tracing::info!(store = ?home, "pixq run: the API and a worker in one process");
    let listener = tokio::net::TcpListener::bind(settings.api.listen)
        .await
        .with_context(|| format!("cannot listen on api.listen = {}", settings.api.listen))?;
    let stop = shutdown::on_signal();
    serve_both(store, client, &settings, listener, stop).await?;
    Ok(ExitCode::SUCCESS)
}

/// Opens the store `settings` name: the embedded one under `data_dir`, or Redis when
/// `redis.url` is set. Shared with `pixq demo`, which runs on the same store.
pub(super) async fn open_store(settings: &Settings) -> anyhow::Result<SharedStore> {
    // The error names the cause and what to check; its source chain would repeat it.
    store::open(&Home::standalone(settings), settings.retention.finished)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))
}

/// Runs the API on `listener` and a worker on `store` until `stop`, then waits for both.
/// `pixq demo` runs the same two, so a newcomer sees exactly what `pixq run` does.
pub(super) async fn serve_both(
    store: SharedStore,
    client: pixverse::Client,
    settings: &Settings,
    listener: tokio::net::TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let state = AppState::new(
        store.clone(),
        ApiConfig::from_settings(settings),
        pixq_core::metrics::prometheus_handle(),
    )
    .with_upstream(client.clone());
    // Whichever stops first on its own tells the other to stop too.
    let api = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let served = pixq_api::serve(listener, state, stop.clone()).await;
            stop.cancel();
            served
        })
    };
    let worker = {
        let (stop, config) = (stop.clone(), WorkerConfig::from_settings(settings));
        tokio::spawn(async move {
            let ran = pixq_worker::run(store, client, config, stop.clone()).await;
            stop.cancel();
            ran
        })
    };
    let (api, worker) = tokio::join!(api, worker);
    api.context("the API task")?.context("the API stopped")?;
    worker
        .context("the worker task")?
        .context("the worker stopped")?;
    Ok(())
}
