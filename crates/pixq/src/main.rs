//! `pixq`: the one binary. It parses the command line, runs the chosen role, and turns the
//! outcome into an exit code in one place. Everything with behaviour lives in the library crates.

mod cli;
mod client;
mod commands;
mod config;
mod logging;
#[cfg(feature = "otel")]
mod otel;
mod prompt_files;
mod shutdown;
mod upstream;

use std::process::ExitCode;

use clap::Parser;
use pixq_core::settings::LogFormat;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("pixq: {err:#}");
            if config::is_invalid(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Builds the runtime and dispatches to the command. Kept apart from `main` so the exit-code
/// decision stays in one place.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The server roles log as `log.format` says; the others write for a person at a terminal.
    let (filter, format) = match cli.command {
        cli::Command::Demo(_) => (logging::DEMO_FILTER, LogFormat::Text),
        cli::Command::Api | cli::Command::Worker | cli::Command::Run => (
            logging::DEFAULT_FILTER,
            config::log_format(cli.config.as_deref()),
        ),
        _ => (logging::DEFAULT_FILTER, LogFormat::Text),
    };
    // Declared before the runtime, so it drops after it: the span export is flushed last.
    let _logging = logging::init(filter, format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(commands::dispatch(cli))
}
