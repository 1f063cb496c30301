//! The BullMQ peer (bench/peer-bullmq, started through scripts/bench-peer.sh): the same
//! pipeline written on BullMQ, run against the same simulator on its own Redis.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use tokio::process::Command;

use crate::cpu;

/// The sizes and addresses a peer run gets.
#[derive(Debug, Clone)]
pub struct PeerParams {
    /// The simulator's base URL.
    pub sim_url: String,
    /// The token to use against it.
    pub sim_token: String,
    /// The peer's own Redis.
    pub redis_url: String,
    /// Chains.
    pub n: u64,
    /// BullMQ's worker concurrency.
    pub c: u64,
    /// Extend steps per chain.
    pub extend: u64,
    pub enqueue_only: bool,
}

/// What one peer run printed and cost.
#[derive(Debug, Clone)]
pub struct PeerRun {
    /// The peer's JSON line.
    pub line: Value,
    /// CPU milliseconds of the peer's processes (node), enqueue included.
    pub cpu_ms: f64,
    /// Wall time of the run.
    pub wall: Duration,
}

/// Installs the peer's packages (`--install`): the first time this runs npm, which is not
/// something to time. A missing node or npm is an error saying so.
pub async fn install(launcher: &Path, timeout: Duration) -> anyhow::Result<()> {
    let mut command = Command::new(launcher);
    command.arg("--install");
    let (status, _, stderr) = output(command, timeout).await?;
    if !status.success() {
        bail!(
            "{} --install: {status}: {}",
            launcher.display(),
            last_lines(&stderr, 5)
        );
    }
    Ok(())
}

/// Runs the peer (`MODE=steps`) once, for at most `timeout`.
pub async fn run(
    launcher: &Path,
    params: &PeerParams,
    timeout: Duration,
) -> anyhow::Result<PeerRun> {
    let mut command = Command::new(launcher);
    command
        .env("MODE", "steps")
        .env("SIM_URL", &params.sim_url)
        .env("SIM_TOKEN", &params.sim_token)
        .env("REDIS_URL", &params.redis_url)
        .env("N", params.n.to_string())
        .env("C", params.c.to_string())
        .env("EXTEND", params.extend.to_string())
        .env("ENQUEUE_ONLY", if params.enqueue_only { "1" } else { "0" });
    let cpu_before = cpu::waited_children_ms()?;
    let started = Instant::now();
    let (status, stdout, stderr) = output(command, timeout).await?;
    let wall = started.elapsed();
    let cpu_ms = cpu::waited_children_ms()? - cpu_before;
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    match (status.success(), line) {
        (true, Some(line)) => Ok(PeerRun {
            line: serde_json::from_str(line).with_context(|| format!("the peer printed {line}"))?,
            cpu_ms,
            wall,
        }),
        _ => Err(anyhow!("{status}: {}", last_lines(&stderr, 5))),
    }
}

/// Runs `command` in its own process group with stdin closed, for at most `timeout` (then
/// the whole group is killed); answers its status, stdout and stderr.
async fn output(
    mut command: Command,
    timeout: Duration,
) -> anyhow::Result<(std::process::ExitStatus, String, String)> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let pid = child.id().unwrap_or(0);
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(output) => {
            let output = output?;
            Ok((
                output.status,
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            ))
        }
        Err(_) => {
            // The whole group: the launcher may have children (npm).
            if pid != 0 {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .status();
            }
            bail!("no answer within {timeout:?}")
        }
    }
}

/// The last `n` lines of some output, joined with ` | `.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
