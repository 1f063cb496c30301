//! `pipeline`: `--n` chains of one generate and `--extend` extends through the whole pipeline
//! at zero upstream latency (`poll.first_after` 0 s, `poll.interval` 1 s, the least allowed),
//! on Redis with each of `--workers` worker processes and on the embedded backend; then the
//! BullMQ peer (`MODE=steps`) against the same simulator and a fresh Redis of its own.
//!
//! Figures, per system:
//! - steps/s: upstream steps finished per second, from the moment the workers may start to
//!   the last `finished_at`. As for the peer, they start once every job is in: on Redis the
//!   worker processes start then; `pixq run`'s worker runs from the start, so its queue is
//!   paused while jobs come in (`POST /v1/queue/pause`) and resumed then;
//! - chain p50, p99: a chain's `created_at` to its last step's `finished_at`;
//! - enqueue/s: jobs accepted per second by `POST /v1/jobs` (`--clients` at once);
//! - Redis CPU per 1,000 steps, commands and scripts per step, over the whole run (enqueue
//!   included, as the peer's can only be measured); the run alone is in results.jsonl;
//! - CPU per step of the system's own processes (pixq api + workers, `pixq run`, or node);
//! - upstream requests per step.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use pixverse_sim::Latency;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome, row_json, verdict};
use crate::cli::Backend;
use crate::cpu;
use crate::numbers::{per_second, round2};
use crate::peer::{self, PeerParams};
use crate::pixq::{Deployment, Settings};
use crate::redis_server::RedisServer;
use crate::redis_stats::{PerStep, Snapshot};
use crate::sim::{Requests, Sim, TOKEN};
use crate::table::{Table, num};
use crate::workload::{self, ChainFigures};

/// How long the peer's first `npm install` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// One system's run of the workload.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineRow {
    /// e.g. `pixq redis ×2`, `pixq embedded`, `bullmq 6.7.0`.
    pub system: String,
    /// `redis` or `embedded`.
    pub backend: &'static str,
    /// Worker processes.
    pub workers: usize,
    /// Steps the workload has.
    pub steps: u64,
    /// Steps that did not succeed.
    pub failed: u64,
    /// Finished steps per second.
    pub steps_per_s: f64,
    /// Where the steps/s window starts: `enqueued` or `enqueue_start`.
    pub steps_window_from: &'static str,
    /// Seconds of the steps/s window.
    pub run_s: f64,
    /// Chain latency p50, ms.
    pub chain_p50_ms: Option<i64>,
    /// Chain latency p99, ms.
    pub chain_p99_ms: Option<i64>,
    /// Jobs accepted per second of enqueueing.
    pub enqueue_per_s: f64,
    /// Redis's cost per step over the whole run (Redis systems only).
    pub redis: Option<PerStep>,
    /// Redis's cost per step from the end of enqueueing (pixq on Redis only).
    pub redis_run_only: Option<PerStep>,
    /// CPU ms per step of the system's own processes, enqueueing included.
    pub cpu_ms_per_step: f64,
    /// CPU ms per step of the `pixq worker` processes alone.
    pub worker_cpu_ms_per_step: Option<f64>,
    /// Upstream requests per step.
    pub upstream_requests_per_step: f64,
    /// The upstream requests, by endpoint and status.
    pub upstream: Requests,
    /// pixq's figure over the peer's: Redis CPU per step and steps/s.
    pub vs_peer: Option<Value>,
}

impl PipelineRow {
    /// Redis CPU ms per step, when measured.
    pub fn redis_cpu_ms_per_step(&self) -> Option<f64> {
        self.redis.as_ref().map(|r| r.cpu_ms_per_1k_steps / 1000.0)
    }
}

/// Runs the scenario: every backend asked for, then the peer.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let a = &ctx.args;
    let sim = Sim::start(Latency::fixed(Duration::ZERO)).await?;
    let mut runs: Vec<(String, anyhow::Result<PipelineRow>)> = Vec::new();
    if a.runs(Backend::Redis) {
        for &w in &a.workers {
            let system = format!("pixq redis ×{w}");
            println!("pipeline: {system} …");
            runs.push((system, run_pixq(ctx, &sim, Backend::Redis, w).await));
        }
    }
    if a.runs(Backend::Embedded) {
        let system = "pixq embedded".to_owned();
        println!("pipeline: {system} …");
        runs.push((system, run_pixq(ctx, &sim, Backend::Embedded, 1).await));
    }
    let peer = match &ctx.peer {
        Some(launcher) => {
            println!("pipeline: the BullMQ peer …");
            Some(run_peer(ctx, &sim, launcher).await)
        }
        None => None,
    };
    compare(&mut runs, peer.as_ref());
    let mut table = Table::new(
        format!(
            "pipeline: {} chains of 1 generate + {} extend, concurrency {}, simulator at 0 s",
            a.n, a.extend, a.concurrency
        ),
        &[
            "system",
            "steps/s",
            "p50 ms",
            "p99 ms",
            "enqueue/s",
            "Redis CPU ms/1k steps",
            "cmds/step",
            "scripts/step",
            "proc CPU ms/step",
            "worker CPU ms/step",
            "upstream req/step",
            "failed",
        ],
    );
    let mut rows = Vec::new();
    for (system, result) in &runs {
        if let Ok(r) = result {
            table.row(cells(r));
        }
        rows.push(row_json(system, result, &mut table));
    }
    // A peer that cannot run is reported and skipped: it never fails the bench.
    match &peer {
        None => table.note("BullMQ peer: skipped (--no-peer)"),
        Some((system, Ok(r))) => {
            table.row(cells(r));
            rows.push(row_json(system, &Ok::<_, anyhow::Error>(r), &mut table));
        }
        Some((system, Err(e))) => {
            table.note(format!("BullMQ peer: not run: {e:#}"));
            rows.push(json!({"system": system, "skipped": format!("{e:#}")}));
        }
    }
    for (_, r) in runs
        .iter()
        .filter_map(|(s, r)| r.as_ref().ok().map(|r| (s, r)))
    {
        if let Some(vs) = &r.vs_peer {
            let cpu = vs["redis_cpu_per_step"].as_f64();
            let rate = vs["steps_per_s"].as_f64();
            table.note(format!(
                "{} / peer: Redis CPU per step {} (target ≤ 0.5: {}), steps/s {} (target ≥ 2: {})",
                r.system,
                num(cpu, 2),
                cpu.map_or("-", |c| verdict(c <= 0.5)),
                num(rate, 2),
                rate.map_or("-", |x| verdict(x >= 2.0)),
            ));
        }
    }
    if runs
        .iter()
        .any(|(_, r)| matches!(r, Ok(r) if r.backend == "embedded"))
    {
        table.note("pixq embedded: its queue is paused while the jobs come in and resumed once all are in, as the Redis runs start their workers then.");
    }
    Ok(Outcome {
        params: json!({
            "n": a.n, "extend": a.extend, "concurrency": a.concurrency,
            "workers": a.workers, "clients": a.clients,
            "latency": "0s", "poll_first_after": "0s", "poll_interval": "1s",
            "peer_mode": "steps",
        }),
        rows,
        table,
    })
}

/// A table row for one system.
pub fn cells(r: &PipelineRow) -> Vec<String> {
    let redis = r.redis.as_ref();
    vec![
        r.system.clone(),
        num(Some(r.steps_per_s), 0),
        num(r.chain_p50_ms.map(|v| v as f64), 0),
        num(r.chain_p99_ms.map(|v| v as f64), 0),
        num(Some(r.enqueue_per_s), 0),
        num(redis.map(|x| x.cpu_ms_per_1k_steps), 0),
        num(redis.map(|x| x.commands_per_step), 1),
        num(redis.map(|x| x.scripts_per_step), 1),
        num(Some(r.cpu_ms_per_step), 2),
        num(r.worker_cpu_ms_per_step, 2),
        num(Some(r.upstream_requests_per_step), 2),
        r.failed.to_string(),
    ]
}

/// Fills each pixq row's `vs_peer` from the peer's row.
fn compare(
    runs: &mut [(String, anyhow::Result<PipelineRow>)],
    peer: Option<&(String, anyhow::Result<PipelineRow>)>,
) {
    let Some((_, Ok(peer))) = peer else {
        return;
    };
    for (_, run) in runs.iter_mut() {
        let Ok(row) = run else { continue };
        let cpu = match (row.redis_cpu_ms_per_step(), peer.redis_cpu_ms_per_step()) {
            (Some(ours), Some(theirs)) if theirs > 0.0 => Some(round2(ours / theirs)),
            _ => None,
        };
        let rate = (peer.steps_per_s > 0.0).then(|| round2(row.steps_per_s / peer.steps_per_s));
        row.vs_peer = Some(json!({"redis_cpu_per_step": cpu, "steps_per_s": rate}));
    }
}

/// One run of pixq on `backend` with `workers` worker processes (Redis) against `sim`.
pub async fn run_pixq(
    ctx: &Ctx,
    sim: &Sim,
    backend: Backend,
    workers: usize,
) -> anyhow::Result<PipelineRow> {
    let a = &ctx.args;
    let settings = Settings {
        upstream: sim.url(),
        concurrency: a.concurrency,
        first_after: Duration::ZERO,
        interval: Duration::from_secs(1),
        give_up_after: Duration::from_secs(300),
        callbacks: false,
    };
    let mut d = Deployment::start(&ctx.pixq, backend, &settings, a.keep_logs).await?;
    let http = workload::client()?;
    let mut redis = match d.redis() {
        Some(r) => Some(r.connect().await?),
        None => None,
    };
    let steps = a.n * (1 + a.extend);
    let bodies = workload::chains(a.n, a.extend);

    let r0 = snapshot(redis.as_mut()).await?;
    let cpu0 = cpu::processes_ms(&d.all_pids());
    let sim0 = sim.stats().await?;

    // `pixq run` works from the start: its queue waits while the jobs come in, as the
    // worker processes of a Redis run do by starting after.
    if backend == Backend::Embedded {
        workload::set_paused(&http, d.api_url(), true).await?;
    }
    let t0 = Instant::now();
    workload::post_all(d.api_url(), bodies, a.clients)
        .await
        .context("enqueueing")?;
    let enqueue = t0.elapsed();
    let enqueued_at = Utc::now();
    let r1 = snapshot(redis.as_mut()).await?;
    d.start_workers(workers)?;
    if backend == Backend::Embedded {
        workload::set_paused(&http, d.api_url(), false).await?;
    }
    workload::wait_all_done(
        &mut d,
        sim,
        sim0.tasks_created(),
        steps,
        a.run_timeout(),
        Duration::from_millis(25),
    )
    .await?;
    let r2 = snapshot(redis.as_mut()).await?;
    let cpu_all = cpu::processes_ms(&d.all_pids()) - cpu0;
    let cpu_workers = cpu::processes_ms(&d.worker_pids());
    let sim2 = sim.stats().await?;
    let jobs = workload::all_jobs(&http, d.api_url()).await?;
    d.stop_pixq();

    let f = ChainFigures::of(&jobs, a.n, a.extend)?;
    // Both windows run from the end of enqueueing, when the workers may start.
    let (from, window_start) = ("enqueued", enqueued_at);
    let run_ms = (f.last_finish - window_start).num_milliseconds().max(1) as f64;
    let done = steps.saturating_sub(f.failed);
    let upstream = sim0.until(&sim2);
    Ok(PipelineRow {
        system: match backend {
            Backend::Redis => format!("pixq redis ×{workers}"),
            Backend::Embedded => "pixq embedded".to_owned(),
        },
        backend: backend.name(),
        workers,
        steps,
        failed: f.failed,
        steps_per_s: per_second(done, run_ms),
        steps_window_from: from,
        run_s: round2(run_ms / 1000.0),
        chain_p50_ms: f.p50(),
        chain_p99_ms: f.p99(),
        enqueue_per_s: per_second(a.n, enqueue.as_secs_f64() * 1000.0),
        redis: spent(&r0, &r2, steps),
        redis_run_only: spent(&r1, &r2, steps),
        cpu_ms_per_step: round2(cpu_all / steps as f64),
        worker_cpu_ms_per_step: (backend == Backend::Redis)
            .then(|| round2(cpu_workers / steps as f64)),
        upstream_requests_per_step: upstream.per(steps),
        upstream,
        vs_peer: None,
    })
}

/// The BullMQ peer against `sim`, on a Redis of its own.
async fn run_peer(
    ctx: &Ctx,
    sim: &Sim,
    launcher: &std::path::Path,
) -> (String, anyhow::Result<PipelineRow>) {
    let system = "bullmq (steps)".to_owned();
    let result = async {
        peer::install(launcher, INSTALL_TIMEOUT)
            .await
            .context("the peer cannot run")?;
        let a = &ctx.args;
        let redis = RedisServer::start(a.keep_logs).await?;
        let mut conn = redis.connect().await?;
        let params = PeerParams {
            sim_url: sim.url(),
            sim_token: TOKEN.to_owned(),
            redis_url: redis.url().to_owned(),
            n: a.n,
            c: a.concurrency,
            extend: a.extend,
            enqueue_only: false,
        };
        let r0 = Snapshot::take(&mut conn).await?;
        let sim0 = sim.stats().await?;
        let run = peer::run(launcher, &params, a.run_timeout()).await?;
        let r1 = Snapshot::take(&mut conn).await?;
        let sim1 = sim.stats().await?;
        let line = &run.line;
        let steps = line["steps"].as_u64().unwrap_or(a.n * (1 + a.extend));
        let upstream = sim0.until(&sim1);
        let version = line["version"].as_str().unwrap_or("?");
        Ok(PipelineRow {
            system: format!("bullmq {version} (steps)"),
            backend: "redis",
            workers: 1,
            steps,
            failed: line["failed"].as_u64().unwrap_or(0),
            steps_per_s: line["steps_per_s"].as_f64().unwrap_or(0.0),
            steps_window_from: "enqueued",
            run_s: round2(run.wall.as_secs_f64()),
            chain_p50_ms: line["chain_p50_ms"].as_i64(),
            chain_p99_ms: line["chain_p99_ms"].as_i64(),
            enqueue_per_s: line["enqueue_per_s"].as_f64().unwrap_or(0.0),
            redis: Some(r0.until(&r1).per_step(steps)),
            redis_run_only: None,
            cpu_ms_per_step: round2(run.cpu_ms / steps.max(1) as f64),
            worker_cpu_ms_per_step: None,
            upstream_requests_per_step: upstream.per(steps),
            upstream,
            vs_peer: None,
        })
    }
    .await;
    (system, result)
}

/// Redis's counters, when the run has a Redis.
async fn snapshot(
    conn: Option<&mut redis::aio::MultiplexedConnection>,
) -> anyhow::Result<Option<Snapshot>> {
    match conn {
        Some(conn) => Ok(Some(Snapshot::take(conn).await?)),
        None => Ok(None),
    }
}

/// Redis's cost per step between two snapshots, when there are both.
fn spent(from: &Option<Snapshot>, to: &Option<Snapshot>, steps: u64) -> Option<PerStep> {
    Some(from.as_ref()?.until(to.as_ref()?).per_step(steps))
}
