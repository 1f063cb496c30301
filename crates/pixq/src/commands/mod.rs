//! One file per command; `dispatch` routes to them.

mod api;
mod config;
pub mod demo;
mod run;
mod sim;
mod worker;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs one command to completion and says how the process should exit.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Api => api::run(cli.config.as_deref()).await,
        Command::Worker => worker::run(cli.config.as_deref()).await,
        Command::Demo(args) => demo::run(args, cli.config.as_deref()).await,
        Command::Run => run::run(cli.config.as_deref()).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Config => config::run(cli.config.as_deref()),
        Command::Submit(args) => crate::client::submit::run(*args).await,
        Command::Watch(args) => crate::client::watch::run(args).await,
        Command::Status(args) => crate::client::status::run(args).await,
        Command::Jobs(args) => crate::client::jobs::run(args).await,
        Command::Cancel(args) => crate::client::cancel::run(args).await,
        Command::Retry(args) => crate::client::retry::run(args).await,
        Command::Character(args) => crate::client::character::run(args).await,
        Command::Pipelines(args) => crate::client::pipelines::run(args).await,
        Command::Queue(args) => crate::client::queue::run(args).await,
    }
}
