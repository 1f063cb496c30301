//! pixq's benchmark suite, run by `just bench`: the scenarios of issue 8 (`pipeline`,
//! `latency`, `parked`, `scale`), each against processes of its own (a dedicated
//! `redis-server` or the embedded store, the simulator in this process, the release `pixq`
//! binary), with the BullMQ peer in `pipeline`.
//!
//! Each scenario prints a table and appends one JSON line to `target/bench/results.jsonl`; the
//! run ends by drawing `target/bench/report.svg` from the pipeline's figures.

mod cli;
mod cpu;
mod numbers;
mod peer;
mod pixq;
mod procs;
mod redis_server;
mod redis_stats;
mod report;
mod results;
mod scenarios;
mod sim;
mod table;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Parser;

use crate::cli::{Args, Scenario};
use crate::scenarios::Ctx;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // On SIGINT or SIGTERM the running scenario is dropped, which stops every process it
    // started.
    let outcome = tokio::select! {
        outcome = run(args) => outcome,
        signal = stop_signal() => Err(anyhow::anyhow!("stopped by {signal}")),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("pixq-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Waits for SIGINT or SIGTERM; answers which came.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Runs the scenarios; answers whether every run of every scenario went through.
async fn run(args: Args) -> anyhow::Result<bool> {
    let repo = repo_root();
    let exe_dir = std::env::current_exe()
        .context("cannot find this executable")?
        .parent()
        .map(Path::to_path_buf)
        .context("this executable has no directory")?;
    let pixq = args.pixq.clone().unwrap_or_else(|| exe_dir.join("pixq"));
    if !pixq.is_file() {
        bail!(
            "no pixq binary at {}: build it first (cargo build --release -p pixq -p pixq-bench) \
             or pass --pixq FILE",
            pixq.display()
        );
    }
    if args.workers.contains(&0) || args.scale_workers.contains(&0) {
        bail!("--workers and --scale-workers take counts of at least 1");
    }
    let out = args.out.clone().unwrap_or_else(|| out_dir(&exe_dir, &repo));
    let peer = if args.no_peer {
        None
    } else {
        Some(
            args.peer
                .clone()
                .unwrap_or_else(|| repo.join("scripts/bench-peer.sh")),
        )
    };
    let (commit, dirty) = results::git_state(&repo);
    let cores = cpu::cores();
    println!(
        "pixq-bench: {} at {commit}{}, {cores} cores; results in {}",
        pixq.display(),
        if dirty == Some(true) { " (dirty)" } else { "" },
        out.display()
    );
    let scenarios = args.scenarios();
    let ctx = Ctx { args, pixq, peer };
    let mut all_ok = true;
    let mut pipeline_rows = None;
    for scenario in scenarios {
        let started_at = Utc::now();
        let started = Instant::now();
        let outcome = match scenarios::run(scenario, &ctx).await {
            Ok(outcome) => outcome,
            Err(e) => {
                eprintln!("{}: FAILED: {e:#}", scenario.name());
                all_ok = false;
                continue;
            }
        };
        let duration = started.elapsed();
        println!("\n{}", outcome.table.render());
        println!(
            "({} took {:.1} s)\n",
            scenario.name(),
            duration.as_secs_f64()
        );
        all_ok &= outcome.rows.iter().all(|r| r.get("error").is_none());
        results::append(
            &out,
            &results::Record {
                scenario: scenario.name().to_owned(),
                started_at,
                duration_s: numbers::round2(duration.as_secs_f64()),
                commit: commit.clone(),
                dirty,
                cores,
                bench_version: env!("CARGO_PKG_VERSION"),
                params: outcome.params,
                rows: outcome.rows.clone(),
            },
        )?;
        if scenario == Scenario::Pipeline {
            pipeline_rows = Some((outcome.rows, started_at));
        }
    }
    draw_report(&out, pipeline_rows, &commit, cores);
    Ok(all_ok)
}

/// Draws report.svg from this run's pipeline figures, or else the latest in results.jsonl.
fn draw_report(
    out: &Path,
    rows: Option<(Vec<serde_json::Value>, chrono::DateTime<Utc>)>,
    commit: &str,
    cores: usize,
) {
    let (rows, subtitle) = match rows {
        Some((rows, at)) => (
            rows,
            format!(
                "{} · commit {commit:.10} · {cores} cores",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        None => match results::latest(out, "pipeline") {
            Some(record) => (
                record["rows"].as_array().cloned().unwrap_or_default(),
                format!(
                    "{} · commit {:.10} · {} cores (an earlier run)",
                    record["started_at"].as_str().unwrap_or("?"),
                    record["commit"].as_str().unwrap_or("unknown"),
                    record["cores"]
                ),
            ),
            None => return,
        },
    };
    let path = out.join("report.svg");
    match report::draw(&path, &rows, &subtitle) {
        Ok(()) => println!("report: {}", path.display()),
        Err(e) => eprintln!("report: not drawn: {e:#}"),
    }
}

/// The checkout this bench was built from.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `<target>/bench` when this executable sits in `<target>/<profile>/`, else
/// `<checkout>/target/bench`.
fn out_dir(exe_dir: &Path, repo: &Path) -> PathBuf {
    match exe_dir.parent() {
        Some(target) if target.join("CACHEDIR.TAG").exists() => target.join("bench"),
        _ => repo.join("target/bench"),
    }
}
