//! The command line: one subcommand per role.

use clap::{Parser, Subcommand};

/// pixq turns prompt lists into finished Pixverse videos, reliably and at scale.
#[derive(Debug, Parser)]
#[command(name = "pixq", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles and client commands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the upstream simulator: a local stand-in for Ace Data Cloud's Pixverse API.
    Sim(pixverse_sim::SimArgs),
}
