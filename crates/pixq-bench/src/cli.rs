//! The command line: which scenarios to run, and the flags that size them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// pixq's benchmark suite. Every scenario starts its own Redis (or embedded store), simulator
/// and pixq processes on loopback, prints a table and appends one line to results.jsonl.
#[derive(Debug, Parser)]
#[command(name = "pixq-bench", version, about, long_about = None)]
pub struct Args {
    /// The scenarios to run, in this order; all of them when none is named.
    #[arg(value_enum)]
    pub scenarios: Vec<Scenario>,

    /// Chains in `pipeline` and `scale`: each is one generate plus `--extend` extends.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub n: u64,

    /// Extend steps per chain in `pipeline` and `scale` (the API allows at most 10).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=10))]
    pub extend: u64,

    /// `worker.concurrency` of every pixq worker, and the BullMQ peer's concurrency.
    #[arg(long, short = 'c', default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrency: u64,

    /// Worker processes of the Redis runs of `pipeline` (the embedded run is one process).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    pub workers: Vec<usize>,

    /// Worker processes of the runs of `scale`.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    pub scale_workers: Vec<usize>,

    /// Concurrent HTTP clients that enqueue jobs through `POST /v1/jobs`.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub clients: u64,

    /// Jobs of `latency`, sent one at a time, per backend.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub latency_jobs: u64,

    /// The most seconds `latency` spends per backend: it stops sending jobs after this, even
    /// short of `--latency-jobs`.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub latency_budget: u64,

    /// `parked` at its quick size: 2,000 jobs at 6–12 s of upstream latency (the default).
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,

    /// `parked` at full size: 10,000 jobs at 60–120 s of upstream latency.
    #[arg(long)]
    pub full: bool,

    /// Prompts in the `accept` scenario's batch.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub accept_prompts: u64,

    /// Jobs in flight in `parked`, instead of the size's default.
    #[arg(long)]
    pub parked_jobs: Option<u64>,

    /// The backends to run: `redis`, `embedded`, or both.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Backend::Redis, Backend::Embedded])]
    pub backends: Vec<Backend>,

    /// Skip the BullMQ peer.
    #[arg(long)]
    pub no_peer: bool,

    /// The peer's launcher (default: scripts/bench-peer.sh of this checkout).
    #[arg(long, value_name = "FILE")]
    pub peer: Option<PathBuf>,

    /// The pixq binary (default: `pixq` next to this executable).
    #[arg(long, value_name = "FILE")]
    pub pixq: Option<PathBuf>,

    /// Where results.jsonl and report.svg go (default: `bench` in the target directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The longest one run (one system in one scenario) may take, in seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,

    /// Keep the processes' logs and data directories, and print where they are.
    #[arg(long)]
    pub keep_logs: bool,
}

impl Args {
    /// The scenarios to run: the named ones, or all in the suite's order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        if self.scenarios.is_empty() {
            Scenario::value_variants().to_vec()
        } else {
            self.scenarios.clone()
        }
    }

    /// Whether `backend` is among the ones to run.
    pub fn runs(&self, backend: Backend) -> bool {
        self.backends.contains(&backend)
    }

    /// The time limit of one run.
    pub fn run_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }
}

/// One scenario of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Chains through the whole pipeline at zero upstream latency, beside the BullMQ peer.
    Pipeline,
    /// One job at a time on an idle system: enqueue to `succeeded`.
    Latency,
    /// Many generations in flight at once on a slow upstream, polled and called back.
    Parked,
    /// The pipeline workload at 1, 2 and 4 worker processes: Redis cost per step.
    Scale,
    /// One batch of 100,000 prompts: prompts accepted per second, beside BullMQ's addBulk.
    Accept,
}

impl Scenario {
    /// The scenario's name in tables and results.jsonl.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pipeline => "pipeline",
            Scenario::Latency => "latency",
            Scenario::Parked => "parked",
            Scenario::Scale => "scale",
            Scenario::Accept => "accept",
        }
    }
}

/// Where pixq keeps its state in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// `pixq api` and `pixq worker` processes on a dedicated `redis-server`.
    Redis,
    /// One `pixq run` process on the embedded SQLite store.
    Embedded,
}

impl Backend {
    /// The backend's name in tables and results.jsonl.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Redis => "redis",
            Backend::Embedded => "embedded",
        }
    }
}
