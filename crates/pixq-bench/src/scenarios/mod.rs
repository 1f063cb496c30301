//! The scenarios of the suite, one module each, and what they share: the context they run in
//! and the outcome they hand back.

pub mod accept;
pub mod latency;
pub mod parked;
pub mod pipeline;
pub mod scale;

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{Args, Scenario};
use crate::table::Table;

/// What every scenario needs: the flags and where the programs are.
#[derive(Debug)]
pub struct Ctx {
    /// The command line.
    pub args: Args,
    /// The `pixq` binary.
    pub pixq: PathBuf,
    /// The BullMQ peer's launcher, unless the peer is skipped.
    pub peer: Option<PathBuf>,
}

/// What a scenario ran: its parameters, one row per run, and its printed table.
#[derive(Debug)]
pub struct Outcome {
    /// The parameters, for results.jsonl.
    pub params: Value,
    /// One object per run (a system, a backend, a mode), with its figures or its `error`.
    pub rows: Vec<Value>,
    /// The table, as printed.
    pub table: Table,
}

/// Runs one scenario.
pub async fn run(scenario: Scenario, ctx: &Ctx) -> anyhow::Result<Outcome> {
    match scenario {
        Scenario::Pipeline => pipeline::run(ctx).await,
        Scenario::Latency => latency::run(ctx).await,
        Scenario::Parked => parked::run(ctx).await,
        Scenario::Scale => scale::run(ctx).await,
        Scenario::Accept => accept::run(ctx).await,
    }
}

/// A row's JSON: the figures, or `{"system", "error"}` for a run that went wrong (printed
/// under the table too).
pub fn row_json<T: Serialize>(
    system: &str,
    result: &anyhow::Result<T>,
    table: &mut Table,
) -> Value {
    match result {
        Ok(row) => serde_json::to_value(row)
            .unwrap_or_else(|e| json!({"system": system, "error": e.to_string()})),
        Err(e) => {
            table.note(format!("{system}: FAILED: {e:#}"));
            json!({"system": system, "error": format!("{e:#}")})
        }
    }
}

/// `ok` or `MISSED` beside a target.
pub fn verdict(met: bool) -> &'static str {
    if met { "ok" } else { "MISSED" }
}
