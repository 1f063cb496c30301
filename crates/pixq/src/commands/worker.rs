//! `pixq worker`: one worker process against Redis and the upstream, until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pixq_core::store::{self, Home};
use pixq_worker::WorkerConfig;

use crate::{config, shutdown, upstream};

/// Runs the worker with the effective configuration.
pub async fn run(config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file, &[])?;
    let client = upstream::client(&settings)?;
    // The error names the cause and what to check; its source chain would repeat it.
    let store = store::open(&Home::shared(&settings), settings.retention.finished)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    pixq_worker::run(
        store,
        client,
        WorkerConfig::from_settings(&settings),
        shutdown::on_signal(),
    )
    .await
    .context("the worker stopped")?;
    Ok(ExitCode::SUCCESS)
}
