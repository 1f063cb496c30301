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
    /// A first run with nothing to set up: the simulator, the API and a worker in this
    /// process submit the sample prompts with one extend each, show progress, print the results.
    ///
    /// Needs no Redis, no token and no configuration, and reads none (`pixq.toml`, PIXQ__* and
    /// REDIS_URL are ignored). Exits 0 when every chain succeeded, 1 otherwise.
    Demo(crate::commands::demo::DemoArgs),
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
    /// Submit a prompt file (.txt, .jsonl or .csv; `-` for stdin) as one batch.
    ///
    /// Checks every line first: a bad line exits 2, naming the file, the line and the field,
    /// and sends nothing. With --wait, shows progress until every job has ended, prints the
    /// results, and exits 0 when all succeeded, 1 otherwise.
    Submit(Box<crate::client::submit::SubmitArgs>),
    /// Follow a batch or a job until it ends, with progress, then print the results.
    Watch(crate::client::watch::WatchArgs),
    /// Show a job or a batch, human readable; `--json` gives the raw object.
    Status(crate::client::status::StatusArgs),
    /// List jobs, newest first.
    Jobs(crate::client::jobs::JobsArgs),
    /// Cancel a job and its chain, or every unfinished job of a batch.
    Cancel(crate::client::cancel::CancelArgs),
    /// Re-drive a failed job from its failed step, or every failed job of a batch.
    Retry(crate::client::retry::RetryArgs),
    /// Make a reusable character from images (`create URL… --name N`), or list them.
    ///
    /// A job, a batch default or a CSV column names it by its asset id or its name.
    Character(crate::client::character::CharacterArgs),
    /// List the scheduled pipelines with their schedules, next and last runs.
    ///
    /// Pipelines are `[[pipelines]]` tables of the configuration; every worker fires their
    /// ticks, each tick once. `--json` gives the API's answer as is.
    Pipelines(crate::client::pipelines::PipelinesArgs),
    /// Show whether the queue is paused; `pause` or `resume` it for every worker at once.
    ///
    /// While paused no worker starts a new look (no submit, no poll); looks under way finish
    /// and jobs are still accepted.
    Queue(crate::client::queue::QueueArgs),
}
