//! `pixq api`: the HTTP API only, against Redis, until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pixq_api::{ApiConfig, AppState};
use pixq_core::store::{self, Home};

use crate::{config, shutdown, upstream};

/// Serves the API with the effective configuration.
pub async fn run(config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file, &[])?;
    settings
        .check_api_auth()
        .context(config::InvalidConfiguration)?;
    // The error names the cause and what to check; its source chain would repeat it.
    let store = store::open(&Home::shared(&settings), settings.retention.finished)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    let state = AppState::new(
        store,
        ApiConfig::from_settings(&settings),
        pixq_core::metrics::prometheus_handle(),
    );
    // `pixq api` needs no upstream token; with one, it can make characters.
    let state = if settings.upstream.token.is_some() {
        state.with_upstream(upstream::client(&settings)?)
    } else {
        state
    };
    let listener = tokio::net::TcpListener::bind(settings.api.listen)
        .await
        .with_context(|| format!("cannot listen on api.listen = {}", settings.api.listen))?;
    pixq_api::serve(listener, state, shutdown::on_signal())
        .await
        .context("the API stopped")?;
    Ok(ExitCode::SUCCESS)
}
