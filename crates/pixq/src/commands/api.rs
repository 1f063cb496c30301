//! `pixq api`: the HTTP API only, against Redis, until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pixq_api::{ApiConfig, AppState, UpstreamLimits};
use pixq_core::queue::Schedule;
use pixq_core::redis::RedisStore;

use crate::{config, shutdown};

/// Serves the API with the effective configuration.
pub async fn run(config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file, &[])?;
    settings
        .check_api_auth()
        .context(config::InvalidConfiguration)?;
    // The error names the cause and the key to check; its source chain would repeat it.
    let conn = pixq_worker::connect(settings.redis.url_or_local())
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to Redis: {e}"))?;
    let prefix = &settings.redis.prefix;
    let store = RedisStore::new(conn.clone(), prefix, settings.retention.finished);
    let schedule = Schedule::new(conn.clone(), prefix);
    let api = ApiConfig::from_settings(&settings);
    let limits = UpstreamLimits::new(conn.clone(), prefix);
    let state = AppState::new(
        store,
        schedule,
        conn,
        api,
        pixq_api::prometheus_handle(),
        limits,
    );
    let listener = tokio::net::TcpListener::bind(settings.api.listen)
        .await
        .with_context(|| format!("cannot listen on api.listen = {}", settings.api.listen))?;
    pixq_api::serve(listener, state, shutdown::on_signal())
        .await
        .context("the API stopped")?;
    Ok(ExitCode::SUCCESS)
}
