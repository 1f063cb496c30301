//! `accept`: one `POST /v1/batches` of `--accept-prompts` prompts (text/plain, 100,000 by
//! default) per backend, timed from the request to the 202: prompts accepted per second.
//! Beside it, the BullMQ peer's `addBulk` of as many jobs (1,000 a call) on its own Redis.
//!
//! A batch's jobs are not due until it is accepted, so the worker sleeps through the
//! measured request. Each backend runs a warm-up batch of 1,000 first.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pixverse_sim::Latency;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Ctx, Outcome, row_json, verdict};
use crate::cli::Backend;
use crate::numbers::round2;
use crate::peer::{self, PeerParams};
use crate::pixq::{Deployment, Settings};
use crate::redis_server::RedisServer;
use crate::sim::Sim;
use crate::table::{Table, num};

/// The prompts of the warm-up batch.
const WARMUP: u64 = 1000;
/// Installing the peer's npm packages on a first run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// The target on Redis (issue 9), prompts per second.
const TARGET_PER_S: f64 = 50_000.0;

/// One system's acceptance.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptRow {
    /// e.g. `pixq redis`.
    pub system: String,
    /// `redis` or `embedded`.
    pub backend: &'static str,
    /// Prompts in the batch.
    pub prompts: u64,
    /// From sending the request to the answer, seconds.
    pub seconds: f64,
    /// Prompts accepted per second.
    pub prompts_per_s: f64,
}

/// Runs the scenario on every backend asked for, and the peer.
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let a = &ctx.args;
    let n = a.accept_prompts;
    // The worker never gets far: jobs become due only at the end, and the upstream is slow.
    let sim = Sim::start(Latency::fixed(Duration::from_secs(600))).await?;
    let mut table = Table::new(
        format!("accept: one batch of {n} prompts per system, timed to the 202"),
        &["system", "prompts", "seconds", "prompts/s", "target"],
    );
    let mut rows = Vec::new();
    for backend in [Backend::Redis, Backend::Embedded] {
        if !a.runs(backend) {
            continue;
        }
        let system = format!("pixq {}", backend.name());
        println!("accept: {system} …");
        let result = run_one(ctx, &sim, backend, &system, n).await;
        if let Ok(r) = &result {
            let target = match backend {
                Backend::Redis => verdict(r.prompts_per_s >= TARGET_PER_S).to_owned(),
                Backend::Embedded => "-".to_owned(),
            };
            table.row(vec![
                r.system.clone(),
                r.prompts.to_string(),
                num(Some(r.seconds), 2),
                num(Some(r.prompts_per_s), 0),
                target,
            ]);
        }
        rows.push(row_json(&system, &result, &mut table));
    }
    if let Some(launcher) = &ctx.peer {
        println!("accept: bullmq addBulk …");
        let result = run_peer(ctx, &sim, launcher, n).await;
        if let Ok(r) = &result {
            table.row(vec![
                r.system.clone(),
                r.prompts.to_string(),
                num(Some(r.seconds), 2),
                num(Some(r.prompts_per_s), 0),
                "-".to_owned(),
            ]);
        }
        rows.push(row_json("bullmq addBulk", &result, &mut table));
    }
    table.note(format!(
        "target: at least {TARGET_PER_S:.0} prompts/s on Redis (issue 9); pixq validates every \
         entry, writes it in chunks and makes the batch visible in one step; the peer adds bare \
         jobs 1,000 a call"
    ));
    Ok(Outcome {
        params: json!({"prompts": n, "warmup": WARMUP, "form": "text/plain"}),
        rows,
        table,
    })
}

async fn run_one(
    ctx: &Ctx,
    sim: &Sim,
    backend: Backend,
    system: &str,
    n: u64,
) -> anyhow::Result<AcceptRow> {
    let a = &ctx.args;
    let settings = Settings {
        upstream: sim.url(),
        concurrency: 1,
        first_after: Duration::from_secs(60),
        interval: Duration::from_secs(10),
        give_up_after: Duration::from_secs(3600),
        callbacks: false,
    };
    let d = Deployment::start(&ctx.pixq, backend, &settings, a.keep_logs).await?;
    let http = reqwest::Client::builder()
        .timeout(a.run_timeout())
        .build()?;
    post_batch(&http, d.api_url(), WARMUP).await?;
    let took = post_batch(&http, d.api_url(), n).await?;
    Ok(AcceptRow {
        system: system.to_owned(),
        backend: backend.name(),
        prompts: n,
        seconds: round2(took.as_secs_f64()),
        prompts_per_s: (n as f64 / took.as_secs_f64().max(1e-9)).round(),
    })
}

/// Posts a batch of `n` prompts as text; how long the API took to accept it.
async fn post_batch(http: &reqwest::Client, api: &str, n: u64) -> anyhow::Result<Duration> {
    let body: String = (0..n)
        .map(|i| format!("a lighthouse in a storm, take {i}\n"))
        .collect();
    let started = Instant::now();
    let response = http
        .post(format!("{api}/v1/batches"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .context("POST /v1/batches")?;
    let took = started.elapsed();
    let status = response.status();
    let batch: Value = response.json().await.context("the batch object")?;
    if status != reqwest::StatusCode::ACCEPTED || batch["total"].as_u64() != Some(n) {
        bail!("POST /v1/batches answered {status}: {batch}");
    }
    Ok(took)
}

/// The peer's addBulk of `n` jobs on a Redis of its own.
async fn run_peer(
    ctx: &Ctx,
    sim: &Sim,
    launcher: &std::path::Path,
    n: u64,
) -> anyhow::Result<AcceptRow> {
    peer::install(launcher, INSTALL_TIMEOUT)
        .await
        .context("the peer cannot run")?;
    let redis = RedisServer::start(ctx.args.keep_logs).await?;
    let params = PeerParams {
        sim_url: sim.url(),
        sim_token: "sim-token".to_owned(),
        redis_url: redis.url().to_owned(),
        n,
        c: 1,
        extend: 0,
        enqueue_only: true,
    };
    let run = peer::run(launcher, &params, ctx.args.run_timeout()).await?;
    let per_s = run.line["enqueue_per_s"]
        .as_f64()
        .context("the peer printed no enqueue_per_s")?;
    let version = run.line["version"].as_str().unwrap_or("?");
    Ok(AcceptRow {
        system: format!("bullmq {version} addBulk"),
        backend: "redis",
        prompts: n,
        seconds: round2(n as f64 / per_s.max(1.0)),
        prompts_per_s: per_s,
    })
}
