//! `scale`: the pipeline workload on Redis at each of `--scale-workers` worker processes
//! (1, 2, 4): whether Redis's cost per step stays flat as workers are added.

use pixverse_sim::Latency;
use serde_json::json;

use super::pipeline::{PipelineRow, run_pixq};
use super::{Ctx, Outcome, row_json};
use crate::cli::Backend;
use crate::numbers::round2;
use crate::sim::Sim;
use crate::table::{Table, num};

/// Runs the scenario (Redis only: with `--backends embedded` it has nothing to run).
pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let a = &ctx.args;
    let mut table = Table::new(
        format!(
            "scale: {} chains of 1 generate + {} extend, concurrency {} per worker, on Redis",
            a.n, a.extend, a.concurrency
        ),
        &[
            "workers",
            "steps/s",
            "p99 ms",
            "Redis CPU ms/1k steps",
            "vs 1st",
            "cmds/step",
            "scripts/step",
            "worker CPU ms/step",
            "failed",
        ],
    );
    let mut rows = Vec::new();
    if !a.runs(Backend::Redis) {
        table.note("skipped: scale runs on Redis only");
    } else {
        let sim = Sim::start(Latency::fixed(std::time::Duration::ZERO)).await?;
        let mut first: Option<f64> = None;
        for &w in &a.scale_workers {
            let system = format!("pixq redis ×{w}");
            println!("scale: {system} …");
            let result = run_pixq(ctx, &sim, Backend::Redis, w).await;
            if let Ok(r) = &result {
                let cpu = r.redis.as_ref().map(|x| x.cpu_ms_per_1k_steps);
                if first.is_none() {
                    first = cpu;
                }
                table.row(cells(r, first));
            }
            rows.push(row_json(&system, &result, &mut table));
        }
        table.note("vs 1st: Redis CPU per step over the first row's; flat is 1.00.");
    }
    Ok(Outcome {
        params: json!({
            "n": a.n, "extend": a.extend, "concurrency": a.concurrency,
            "workers": a.scale_workers, "clients": a.clients,
            "latency": "0s", "poll_first_after": "0s", "poll_interval": "1s",
        }),
        rows,
        table,
    })
}

fn cells(r: &PipelineRow, first: Option<f64>) -> Vec<String> {
    let redis = r.redis.as_ref();
    let cpu = redis.map(|x| x.cpu_ms_per_1k_steps);
    let ratio = match (cpu, first) {
        (Some(c), Some(f)) if f > 0.0 => Some(round2(c / f)),
        _ => None,
    };
    vec![
        r.workers.to_string(),
        num(Some(r.steps_per_s), 0),
        num(r.chain_p99_ms.map(|v| v as f64), 0),
        num(cpu, 0),
        num(ratio, 2),
        num(redis.map(|x| x.commands_per_step), 1),
        num(redis.map(|x| x.scripts_per_step), 1),
        num(r.worker_cpu_ms_per_step, 2),
        r.failed.to_string(),
    ]
}
