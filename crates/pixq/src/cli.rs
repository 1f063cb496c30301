//! The command line: global flags, then one subcommand per role.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// pixq turns prompt lists into finished Pixverse videos, reliably and at scale.
#[derive(Debug, Parser)]
#[command(name = "pixq", version, about, long_about = None)]
pub struct Cli {
    /// Read the configuration from FILE instead of ./pixq.toml.
    ///
    /// FILE is TOML and must exist. PIXQ__* environment variables still override it. Accepted
    /// before or after the command.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles and client commands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and run a worker in one process: pixq on one machine.
    ///
    /// Keeps its state in a SQLite file under data_dir (default ./pixq-data) unless redis.url
    /// is set. Needs nothing else running. SIGTERM drains it like a worker.
    Run,
    /// Serve the HTTP API: jobs in, job objects out, the upstream's callbacks. Needs Redis.
    Api,
    /// Run a worker: submit jobs upstream, wait for their videos, chain the next steps. Needs
    /// Redis; run any number of them, on any number of machines.
    Worker,
    /// Serve the upstream simulator: a local stand-in for Ace Data Cloud's Pixverse API.
    Sim(pixverse_sim::SimArgs),
    /// Print the effective configuration, with secrets masked.
    ///
    /// Shows what the defaults, the file and the PIXQ__* environment variables add up to, as
    /// TOML. Exits 2, naming the key, when the configuration is invalid.
    Config,
    /// Show a job, human readable; `--json` gives the raw object.
    Status(crate::client::status::StatusArgs),
    /// List jobs, newest first.
    Jobs(crate::client::jobs::JobsArgs),
    /// Cancel a job and its chain.
    Cancel(crate::client::cancel::CancelArgs),
    /// Re-drive a failed job from its failed step.
    Retry(crate::client::retry::RetryArgs),
}
