//! `pixq sim`: the upstream simulator as a server, until SIGINT or SIGTERM.

use std::process::ExitCode;

use pixverse_sim::{RunError, SimArgs};

use crate::shutdown;

/// Serves the simulator until a signal arrives. Bad flags exit 2.
pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    match pixverse_sim::run_with_args(args, shutdown::on_signal()).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(RunError::Config(err)) => {
            eprintln!("pixq sim: {err}");
            Ok(ExitCode::from(2))
        }
        Err(err) => Err(err.into()),
    }
}
