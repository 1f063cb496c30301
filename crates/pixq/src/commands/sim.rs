//! `pixq sim`: the upstream simulator as a server, until SIGINT or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use pixverse_sim::SimArgs;
use tokio::net::TcpListener;

use crate::shutdown;

/// Binds the listen address and serves the simulator until a signal arrives. Bad flags exit 2.
pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let addr = args.listen();
    let config = match args.into_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("pixq sim: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "pixverse simulator listening");
    let token = shutdown::on_signal();
    pixverse_sim::serve(listener, config, token)
        .await
        .context("simulator stopped with an error")?;
    Ok(ExitCode::SUCCESS)
}
