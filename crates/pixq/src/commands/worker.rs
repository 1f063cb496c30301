//! `pixq worker`: one worker process against Redis and the upstream, until SIGINT or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pixq_worker::WorkerConfig;
use pixverse::{Client, ClientConfig};

use crate::{config, shutdown};

/// Runs the worker with the effective configuration.
pub async fn run(config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file, &[])?;
    let token = settings
        .upstream
        .token
        .as_ref()
        .context("upstream.token is not set: set it, or ACEDATACLOUD_API_TOKEN")
        .context(config::InvalidConfiguration)?;
    let client = Client::new(
        ClientConfig::new(token.to_token())
            .with_base_url(settings.upstream.base_url.clone())
            .with_request_timeout(settings.upstream.timeout),
    )
    .context("cannot build the upstream client")?;
    // The error names the cause and the key to check; its source chain would repeat it.
    let conn = pixq_worker::connect(settings.redis.url_or_local())
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to Redis: {e}"))?;
    pixq_worker::run(
        conn,
        client,
        WorkerConfig::from_settings(&settings),
        shutdown::on_signal(),
    )
    .await
    .context("the worker stopped")?;
    Ok(ExitCode::SUCCESS)
}
