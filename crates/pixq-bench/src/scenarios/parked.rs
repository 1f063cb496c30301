//! `parked`: many generations in flight at once on a slow upstream, held by one worker
//! process (`pixq worker` on Redis, or `pixq run`), in poll mode and in callback mode
//! (`api.public_url` set, the simulator calls back).
//!
//! Sizes: `--quick` (the default) is 2,000 jobs at 6–12 s with `poll.first_after` 6 s and
//! `poll.interval` 1 s; `--full` is 10,000 jobs at 60–120 s with pixq's defaults, 60 s and 10 s:
//! the same shape, ten times slower.
//!
//! Figures: the worker's peak RSS (`VmHWM`) and its RSS before any job; its CPU, in percent of
//! one core, from the moment every task has been submitted to the moment every job has ended
//! (the parked phase, its polls and completions included); upstream requests per finished
//! video over the whole run; the most generations the simulator saw in flight at once.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pixverse_sim::Latency;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome, row_json, verdict};
use crate::cli::Backend;
use crate::cpu;
use crate::numbers::round2;
use crate::pixq::{Deployment, Settings};
use crate::redis_stats::Snapshot;
use crate::sim::{Requests, Sim};
use crate::table::{Table, num};
use crate::workload;

/// The size of a run.
#[derive(Debug, Clone, Copy, Serialize)]
struct Size {
    jobs: u64,
    latency_min_s: u64,
    latency_max_s: u64,
    first_after_s: u64,
    interval_s: u64,
}

/// One backend in one mode.
#[derive(Debug, Clone, Serialize)]
pub struct ParkedRow {
    /// e.g. `pixq redis ×1, poll`.
    pub system: String,
    /// `redis` or `embedded`.
    pub backend: &'static str,
    /// `poll` or `callback`.
    pub mode: &'static str,
    /// Jobs enqueued.
    pub jobs: u64,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// The most generations in flight at once, as the simulator saw them.
    pub max_in_flight: u64,
    /// Seconds from the first POST until every task had been submitted.
    pub submit_s: f64,
    /// Seconds of the parked phase: every task submitted to every job ended.
    pub parked_s: f64,
    /// The working process's RSS before any job, MiB.
    pub rss_idle_mib: f64,
    /// Its peak RSS (VmHWM), MiB.
    pub rss_peak_mib: f64,
    /// Its CPU over the parked phase, percent of one core.
    pub cpu_pct_parked: f64,
    /// Redis's CPU over the parked phase, percent of one core (Redis only).
    pub redis_cpu_pct_parked: Option<f64>,
    /// Upstream requests per finished video.
    pub upstream_requests_per_video: f64,
    /// The upstream requests, by endpoint and status.
    pub upstream: Requests,
    /// Callbacks the simulator sent.
    pub callbacks_sent: u64,
}

/// Runs the scenario: each backend asked for, in poll mode then callback mode.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let a = &ctx.args;
    let size = if a.full {
        Size {
            jobs: a.parked_jobs.unwrap_or(10_000),
            latency_min_s: 60,
            latency_max_s: 120,
            first_after_s: 60,
            interval_s: 10,
        }
    } else {
        Size {
            jobs: a.parked_jobs.unwrap_or(2_000),
            latency_min_s: 6,
            latency_max_s: 12,
            first_after_s: 6,
            interval_s: 1,
        }
    };
    let mut table = Table::new(
        format!(
            "parked ({}): {} jobs at {}–{} s upstream latency, one worker process, \
             poll.first_after {} s, poll.interval {} s",
            if a.full { "full" } else { "quick" },
            size.jobs,
            size.latency_min_s,
            size.latency_max_s,
            size.first_after_s,
            size.interval_s
        ),
        &[
            "system",
            "in flight",
            "RSS idle MiB",
            "RSS peak MiB",
            "CPU % parked",
            "Redis CPU %",
            "upstream req/video",
            "succeeded",
            "targets",
        ],
    );
    let mut rows = Vec::new();
    for backend in [Backend::Redis, Backend::Embedded] {
        if !a.runs(backend) {
            continue;
        }
        for callbacks in [false, true] {
            let system = format!(
                "{}, {}",
                match backend {
                    Backend::Redis => "pixq redis ×1",
                    Backend::Embedded => "pixq embedded",
                },
                if callbacks { "callback" } else { "poll" }
            );
            println!("parked: {system} …");
            let result = run_one(ctx, size, backend, callbacks, &system).await;
            if let Ok(r) = &result {
                table.row(cells(r));
            }
            rows.push(row_json(&system, &result, &mut table));
        }
    }
    table.note(
        "targets (issue 8, at full size): RSS ≤ 150 MiB, CPU < 5 % of a core, \
         upstream requests per video ≤ 1.5 polled, ≤ 1.1 called back",
    );
    Ok(Outcome {
        params: json!({"size": if a.full { "full" } else { "quick" }, "run": size,
            "concurrency": a.concurrency, "clients": a.clients}),
        rows,
        table,
    })
}

fn cells(r: &ParkedRow) -> Vec<String> {
    let limit = if r.mode == "callback" { 1.1 } else { 1.5 };
    let met = [
        r.rss_peak_mib <= 150.0,
        r.cpu_pct_parked < 5.0,
        r.upstream_requests_per_video <= limit,
    ];
    vec![
        r.system.clone(),
        r.max_in_flight.to_string(),
        num(Some(r.rss_idle_mib), 1),
        num(Some(r.rss_peak_mib), 1),
        num(Some(r.cpu_pct_parked), 1),
        num(r.redis_cpu_pct_parked, 1),
        num(Some(r.upstream_requests_per_video), 2),
        format!("{}/{}", r.succeeded, r.jobs),
        met.iter()
            .map(|m| verdict(*m))
            .collect::<Vec<_>>()
            .join(","),
    ]
}

async fn run_one(
    ctx: &Ctx,
    size: Size,
    backend: Backend,
    callbacks: bool,
    system: &str,
) -> anyhow::Result<ParkedRow> {
    let a = &ctx.args;
    let sim = Sim::start(Latency::between(
        Duration::from_secs(size.latency_min_s),
        Duration::from_secs(size.latency_max_s),
    ))
    .await?;
    let settings = Settings {
        upstream: sim.url(),
        concurrency: a.concurrency,
        first_after: Duration::from_secs(size.first_after_s),
        interval: Duration::from_secs(size.interval_s),
        give_up_after: Duration::from_secs((size.latency_max_s * 3).max(900)),
        callbacks,
    };
    let mut d = Deployment::start(&ctx.pixq, backend, &settings, a.keep_logs).await?;
    d.start_workers(1)?;
    let mut redis = match d.redis() {
        Some(r) => Some(r.connect().await?),
        None => None,
    };
    let pid = d.working_pid();
    // Let the worker settle before its idle size is read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.check_alive()?;
    let rss_idle = cpu::status_kib(pid, "VmRSS")?;
    let sim0 = sim.stats().await?;
    let started = Instant::now();
    let bodies: Vec<Value> = (0..size.jobs)
        .map(|i| json!({"prompt": format!("parked {i}")}))
        .collect();
    workload::post_all(d.api_url(), bodies, a.clients)
        .await
        .context("enqueueing")?;

    // The parked phase starts once every task is upstream.
    let deadline = started + a.run_timeout();
    loop {
        d.check_alive()?;
        let created = sim.stats().await?.tasks_created() - sim0.tasks_created();
        if created >= size.jobs {
            break;
        }
        if Instant::now() > deadline {
            d.keep_files();
            bail!(
                "only {created} of {} jobs were submitted within {:?}; logs in {}",
                size.jobs,
                a.run_timeout(),
                d.log_dir().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let submit = started.elapsed();
    let parked = Instant::now();
    let cpu0 = cpu::process_ms(pid)?;
    let r0 = match redis.as_mut() {
        Some(c) => Some(Snapshot::take(c).await?),
        None => None,
    };
    let left = a.run_timeout().saturating_sub(started.elapsed());
    workload::wait_all_done(
        &mut d,
        &sim,
        sim0.tasks_created(),
        size.jobs,
        left,
        Duration::from_secs(1),
    )
    .await?;
    let parked_ms = parked.elapsed().as_secs_f64() * 1000.0;
    let cpu_ms = cpu::process_ms(pid)? - cpu0;
    let redis_cpu_ms = match (redis.as_mut(), &r0) {
        (Some(c), Some(r0)) => Some(r0.until(&Snapshot::take(c).await?).cpu_ms),
        _ => None,
    };
    let rss_peak = cpu::status_kib(pid, "VmHWM")?;
    let sim1 = sim.stats().await?;
    let http = workload::client()?;
    let jobs = workload::all_jobs(&http, d.api_url()).await?;
    d.stop_pixq();
    let succeeded = jobs.iter().filter(|j| j["state"] == "succeeded").count() as u64;
    let upstream = sim0.until(&sim1);
    let pct = |ms: f64| round2(ms * 100.0 / parked_ms.max(1.0));
    Ok(ParkedRow {
        system: system.to_owned(),
        backend: backend.name(),
        mode: if callbacks { "callback" } else { "poll" },
        jobs: size.jobs,
        succeeded,
        max_in_flight: sim1.max_in_flight_seen(),
        submit_s: round2(submit.as_secs_f64()),
        parked_s: round2(parked_ms / 1000.0),
        rss_idle_mib: round2(rss_idle as f64 / 1024.0),
        rss_peak_mib: round2(rss_peak as f64 / 1024.0),
        cpu_pct_parked: pct(cpu_ms),
        redis_cpu_pct_parked: redis_cpu_ms.map(pct),
        upstream_requests_per_video: upstream.per(succeeded),
        upstream,
        callbacks_sent: sim1.callbacks_sent().saturating_sub(sim0.callbacks_sent()),
    })
}
