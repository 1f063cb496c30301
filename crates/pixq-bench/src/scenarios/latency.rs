//! `latency`: one job at a time on an idle system (one worker), zero upstream latency,
//! `poll.first_after` 0 s: from enqueue to `succeeded`, `--latency-jobs` times per backend, or
//! as many as fit in `--latency-budget` seconds.
//!
//! The figure is the job object's own `finished_at − created_at`. The client's view (the POST
//! sent to a `GET /v1/jobs/{id}`, asked every 5 ms, showing `succeeded`) is beside it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pixverse_sim::Latency;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome, row_json, verdict};
use crate::cli::Backend;
use crate::numbers::percentile;
use crate::pixq::{Deployment, Settings};
use crate::sim::Sim;
use crate::table::{Table, num};
use crate::workload::{self, time};

/// Jobs run before the measured ones, to warm connections and caches.
const WARMUP: u64 = 5;
/// How often the client asks for the job.
const ASK_EVERY: Duration = Duration::from_millis(5);
/// The longest one job may take.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// One backend's latencies.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    /// e.g. `pixq redis ×1`.
    pub system: String,
    /// `redis` or `embedded`.
    pub backend: &'static str,
    /// Jobs measured (fewer than asked when the time budget ran out).
    pub jobs: u64,
    /// Jobs that did not succeed.
    pub failed: u64,
    /// `finished_at − created_at`, p50, ms.
    pub p50_ms: Option<i64>,
    /// The same, p99.
    pub p99_ms: Option<i64>,
    /// The same, the worst.
    pub max_ms: Option<i64>,
    /// Of which `created_at` to `upstream.submitted_at`, p50, ms: the wait before the submit.
    pub to_submit_p50_ms: Option<i64>,
    /// The client's view, p50, ms.
    pub client_p50_ms: Option<i64>,
    /// The client's view, p99, ms.
    pub client_p99_ms: Option<i64>,
}

/// Runs the scenario on every backend asked for.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let a = &ctx.args;
    let sim = Sim::start(Latency::fixed(Duration::ZERO)).await?;
    let mut table = Table::new(
        format!(
            "latency: {} jobs (or {} s) one at a time per backend, idle system, simulator at 0 s, \
             poll.first_after 0 s",
            a.latency_jobs, a.latency_budget
        ),
        &[
            "system",
            "jobs",
            "p50 ms",
            "p99 ms",
            "max ms",
            "to submit p50",
            "client p50",
            "client p99",
            "failed",
            "target",
        ],
    );
    let mut rows = Vec::new();
    for backend in [Backend::Redis, Backend::Embedded] {
        if !a.runs(backend) {
            continue;
        }
        let system = match backend {
            Backend::Redis => "pixq redis ×1",
            Backend::Embedded => "pixq embedded",
        };
        println!("latency: {system} …");
        let result = run_one(ctx, &sim, backend, system).await;
        if let Ok(r) = &result {
            let met = matches!((r.p50_ms, r.p99_ms), (Some(p50), Some(p99)) if p50 < 50 && p99 < 150)
                && r.failed == 0;
            table.row(vec![
                r.system.clone(),
                r.jobs.to_string(),
                num(r.p50_ms.map(|v| v as f64), 0),
                num(r.p99_ms.map(|v| v as f64), 0),
                num(r.max_ms.map(|v| v as f64), 0),
                num(r.to_submit_p50_ms.map(|v| v as f64), 0),
                num(r.client_p50_ms.map(|v| v as f64), 0),
                num(r.client_p99_ms.map(|v| v as f64), 0),
                r.failed.to_string(),
                verdict(met).to_owned(),
            ]);
        }
        rows.push(row_json(system, &result, &mut table));
    }
    table.note("target: p50 < 50 ms and p99 < 150 ms (issue 8); to submit: created_at to upstream.submitted_at");
    Ok(Outcome {
        params: json!({
            "jobs": a.latency_jobs, "budget_s": a.latency_budget, "warmup": WARMUP, "latency": "0s",
            "poll_first_after": "0s", "poll_interval": "1s",
            "client_asks_every_ms": ASK_EVERY.as_millis() as u64,
        }),
        rows,
        table,
    })
}

async fn run_one(
    ctx: &Ctx,
    sim: &Sim,
    backend: Backend,
    system: &str,
) -> anyhow::Result<LatencyRow> {
    let a = &ctx.args;
    let settings = Settings {
        upstream: sim.url(),
        concurrency: a.concurrency,
        first_after: Duration::ZERO,
        interval: Duration::from_secs(1),
        give_up_after: Duration::from_secs(60),
        callbacks: false,
    };
    let mut d = Deployment::start(&ctx.pixq, backend, &settings, a.keep_logs).await?;
    d.start_workers(1)?;
    let http = workload::client()?;
    for i in 0..WARMUP {
        one_job(&http, &mut d, i).await.context("a warm-up job")?;
    }
    let mut server = Vec::new();
    let mut to_submit = Vec::new();
    let mut client = Vec::new();
    let mut failed = 0;
    let budget = Instant::now() + Duration::from_secs(a.latency_budget);
    let mut sent = 0;
    for i in 0..a.latency_jobs {
        if Instant::now() > budget {
            break;
        }
        sent += 1;
        let (job, seen) = one_job(&http, &mut d, WARMUP + i).await?;
        if job["state"] != "succeeded" {
            failed += 1;
            continue;
        }
        let took = time(&job, "finished_at")? - time(&job, "created_at")?;
        server.push(took.num_milliseconds());
        if let Some(at) = job["upstream"]["submitted_at"].as_str() {
            let at: chrono::DateTime<chrono::Utc> = at.parse()?;
            to_submit.push((at - time(&job, "created_at")?).num_milliseconds());
        }
        client.push(seen.as_millis() as i64);
    }
    d.stop_pixq();
    server.sort_unstable();
    to_submit.sort_unstable();
    client.sort_unstable();
    Ok(LatencyRow {
        system: system.to_owned(),
        backend: backend.name(),
        jobs: sent,
        failed,
        p50_ms: percentile(&server, 0.50),
        p99_ms: percentile(&server, 0.99),
        max_ms: server.last().copied(),
        to_submit_p50_ms: percentile(&to_submit, 0.50),
        client_p50_ms: percentile(&client, 0.50),
        client_p99_ms: percentile(&client, 0.99),
    })
}

/// Enqueues one job and asks for it until it has ended: the job object, and how long the
/// client waited.
async fn one_job(
    http: &reqwest::Client,
    d: &mut Deployment,
    i: u64,
) -> anyhow::Result<(Value, Duration)> {
    let api = d.api_url().to_owned();
    let started = Instant::now();
    let job = workload::post(http, &api, &json!({"prompt": format!("latency {i}")})).await?;
    let id = job["id"]
        .as_str()
        .context("a job object without id")?
        .to_owned();
    loop {
        let job: Value = http
            .get(format!("{api}/v1/jobs/{id}"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if matches!(
            job["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            return Ok((job, started.elapsed()));
        }
        if started.elapsed() > JOB_TIMEOUT {
            d.check_alive()?;
            d.keep_files();
            bail!(
                "job {id} still {} after {JOB_TIMEOUT:?}; logs in {}",
                job["state"],
                d.log_dir().display()
            );
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
}
