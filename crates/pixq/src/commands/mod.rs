//! One file per command; `dispatch` routes to them.

mod sim;

use std::process::ExitCode;

use crate::cli::Command;

/// Runs one command to completion and says how the process should exit.
pub async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Sim(args) => sim::run(args).await,
    }
}
