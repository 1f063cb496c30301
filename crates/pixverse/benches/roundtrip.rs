//! `just bench`: how fast the client and the simulator go together over loopback, with figures
//! printed. The simulator runs at zero latency, so every number is overhead: HTTP, JSON, the
//! simulator's bookkeeping. Later pipeline benchmarks build on these as their floor.
//!
//! Env: `N` chains (default 2000), `C` concurrent chains (default 32).

use std::sync::Arc;
use std::time::{Duration, Instant};

use pixverse::{
    BatchQuery, Client, ClientConfig, ExtendRequest, GenerateRequest, Submission, SubmitMode,
    TaskOutcome, Token, Url,
};
use pixverse_sim::{Latency, SimConfig};
use tokio::sync::Semaphore;

const TOKEN: &str = "bench-token";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = env_or("N", 2000);
    let c: usize = env_or("C", 32);
    let config = SimConfig::default()
        .with_latency(Latency::fixed(Duration::ZERO))
        .with_tokens([TOKEN])
        .with_max_in_flight(u32::MAX)
        .with_min_poll_interval(Duration::ZERO);
    let sim = pixverse_sim::spawn(config).await?;
    let client = Client::new(
        ClientConfig::new(Token::new(TOKEN)).with_base_url(Url::parse(&sim.base_url())?),
    )?;
    let rss_before = rss_kib();

    println!("pixverse client against pixverse-sim (latency 0s), N={n} chains, C={c}");

    // One chain: generate, poll until done, extend off the returned id, poll until done.
    let permits = Arc::new(Semaphore::new(c));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let client = client.clone();
        let permits = Arc::clone(&permits);
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            let generate = GenerateRequest::new(format!("bench prompt {i}"));
            let first =
                run_to_video(&client, client.generate(&generate, SubmitMode::Async)).await?;
            let extend = ExtendRequest::new(first, format!("bench extend {i}"));
            run_to_video(&client, client.extend(&extend, SubmitMode::Async)).await?;
            Ok::<Duration, String>(t0.elapsed())
        }));
    }
    let mut chain_times = Vec::with_capacity(n);
    for handle in handles {
        chain_times.push(handle.await??);
    }
    let total = started.elapsed();
    chain_times.sort();

    // Listing recent tasks: the never-pay-twice lookup path.
    let t0 = Instant::now();
    let lookups = 200;
    for _ in 0..lookups {
        let batch = client
            .retrieve_batch(&BatchQuery::created_since(0.0))
            .await?;
        assert_eq!(batch.count, Some(2 * n as u64));
    }
    let lookup_time = t0.elapsed();

    let steps = 2 * n;
    println!(
        "chains: {n} in {:.2}s, {:.0} steps/s, chain p50 {:.1} ms, p99 {:.1} ms",
        total.as_secs_f64(),
        steps as f64 / total.as_secs_f64(),
        ms(percentile(&chain_times, 0.50)),
        ms(percentile(&chain_times, 0.99)),
    );
    println!(
        "retrieve_batch over {} tasks (first page of 50): {:.2} ms each",
        steps,
        ms(lookup_time) / lookups as f64
    );
    if let (Some(before), Some(after)) = (rss_before, rss_kib()) {
        println!(
            "process RSS (client + simulator): {} KiB -> {} KiB, {:.2} KiB per stored task",
            before,
            after,
            after.saturating_sub(before) as f64 / steps as f64
        );
    }
    sim.shutdown().await;
    Ok(())
}

/// Submits, then polls until the task has a video; returns its id.
async fn run_to_video(
    client: &Client,
    submit: impl std::future::Future<Output = Result<Submission, pixverse::Error>>,
) -> Result<pixverse::VideoId, String> {
    let task_id = match submit.await.map_err(|e| e.to_string())? {
        Submission::Accepted { task_id } => task_id,
        other => return Err(format!("unexpected submission {other:?}")),
    };
    loop {
        let record = client.retrieve(&task_id).await.map_err(|e| e.to_string())?;
        match record.outcome() {
            TaskOutcome::Succeeded(video) => return Ok(video.video_id),
            TaskOutcome::Failed { code, message } => return Err(format!("{code}: {message}")),
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
