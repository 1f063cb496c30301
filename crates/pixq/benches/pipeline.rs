//! `just bench`: pixq's whole pipeline, with figures printed. `N` generate jobs, each with
//! `EXTEND` extend steps, go in through `POST /v1/jobs` (from `CLIENTS` concurrent HTTP
//! clients); then `WORKERS` worker processes (`worker.concurrency` = `C`) run every chain to its
//! end against an in-process simulator at zero latency, so every number is pixq's overhead:
//! HTTP, Redis, the schedule, apalis, the store's Lua writes.
//!
//! pixq runs as it is deployed: `pixq api` and `pixq worker` are processes of the release
//! binary that `cargo bench` builds next to this benchmark (`CARGO_BIN_EXE_pixq`), configured
//! through their `PIXQ__…` variables, each with its own runtime and Redis connections; only
//! the simulator and the load shares this process. The workers start once every job is in,
//! like the BullMQ peer's (`../shared/peers/bullmq`), and the figures are the peer's:
//!
//! - `enqueue_per_s`: jobs accepted per second of enqueueing;
//! - `steps_per_s`: upstream steps finished per second, from the end of enqueueing to the last
//!   step's `finished_at`;
//! - `chain_p50_ms`, `chain_p99_ms`: from a chain's `created_at` to its last step's
//!   `finished_at` (time waiting in the backlog included, as the peer's).
//!
//! Polls: `poll.first_after` 0 s and `poll.interval` 1 s, the least the settings allow; the
//! simulator refuses a second poll of a task within a second, as the upstream does.
//!
//! With `PIXQ_BENCH_PEER` naming an executable (`just bench` passes `scripts/bench-peer.sh`),
//! the peer runs next against the same simulator and Redis with the same `N`, `C` and
//! `EXTEND`, and both lines are printed side by side; a peer that cannot run is reported and
//! skipped.
//!
//! Env: `N` (2000), `C` (64), `EXTEND` (1, at most 10), `WORKERS` (1), `CLIENTS` (16),
//! `TIMEOUT` seconds per run (600), `REDIS_URL` (`redis://127.0.0.1:6379`), `RUST_LOG` for the
//! pixq processes (their default when unset), `PIXQ_BENCH_KEEP_LOGS` to keep their logs.
//! Every Redis key it writes is under `pixq-bench-<uuid>:` and deleted at the end.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pixverse_sim::{Latency, SimConfig};
use serde_json::{Value, json};

type BoxError = Box<dyn Error + Send + Sync>;

const TOKEN: &str = "bench-token";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

struct Params {
    n: usize,
    c: usize,
    extend: usize,
    workers: usize,
    clients: usize,
    timeout: Duration,
    redis_url: String,
}

/// What one system achieved, in the peer's terms.
struct Figures {
    steps: usize,
    failed: usize,
    enqueue_per_s: u64,
    steps_per_s: u64,
    chain_p50_ms: Option<i64>,
    chain_p99_ms: Option<i64>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let params = Params {
        n: env_or("N", 2000).max(1),
        c: env_or("C", 64).max(1),
        extend: env_or("EXTEND", 1),
        workers: env_or("WORKERS", 1).max(1),
        clients: env_or("CLIENTS", 16).max(1),
        timeout: Duration::from_secs(env_or("TIMEOUT", 600) as u64),
        redis_url: std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned()),
    };
    if params.extend > 10 {
        return Err("EXTEND must be at most 10 (the API's limit on extend steps)".into());
    }
    let sim = pixverse_sim::spawn(
        SimConfig::default()
            .with_latency(Latency::fixed(Duration::ZERO))
            .with_tokens([TOKEN])
            .with_max_in_flight(u32::MAX),
    )
    .await?;
    let sim_url = sim.base_url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let pixq = match run_pixq(&params, &sim_url, &http).await {
        Ok(figures) => figures,
        Err(e) => {
            sim.shutdown().await;
            return Err(e);
        }
    };
    println!("{}", pixq_line(&params, &pixq));

    if let Some(peer) = std::env::var_os("PIXQ_BENCH_PEER") {
        let before = sim_stats(&http, &sim_url).await?;
        match run_peer(Path::new(&peer), &params, &sim_url).await {
            Ok((raw, line)) => {
                let after = sim_stats(&http, &sim_url).await?;
                println!("{raw}");
                side_by_side(&params, &pixq, &line, &requests_between(&before, &after));
            }
            Err(why) => println!("BullMQ peer: not run: {why}"),
        }
    }
    sim.shutdown().await;
    Ok(())
}

/// Runs pixq's pipeline once: API up, jobs in, workers on, every chain to its end.
async fn run_pixq(
    params: &Params,
    sim_url: &str,
    http: &reqwest::Client,
) -> Result<Figures, BoxError> {
    let mut redis = redis::Client::open(params.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("Redis at {} must be up: {e}", params.redis_url))?;
    let mut run = Processes::new(params, sim_url)?;
    let steps = params.n * (1 + params.extend);
    println!(
        "pixq pipeline: N={} chains of 1 generate + {} extend, C={}, {} worker process(es), \
         {} HTTP clients; simulator at 0s latency, 1 poll/s/task; release build",
        params.n, params.extend, params.c, params.workers, params.clients
    );

    run.start("api")?;
    let api = format!("http://{}", run.api_listen);
    wait_healthy(http, &api, &mut run).await?;

    let bodies: Vec<Value> = (0..params.n)
        .map(|i| {
            let extend: Vec<Value> = (0..params.extend)
                .map(|k| json!({"prompt": format!("bench extend {k} of {i}")}))
                .collect();
            json!({"prompt": format!("bench prompt {i}"), "extend": extend})
        })
        .collect();
    let t0 = Instant::now();
    post_all(&api, bodies, params.clients).await?;
    let enqueue_time = t0.elapsed();
    let enqueued_at = Utc::now();

    let stats_before = sim_stats(http, sim_url).await?;
    for _ in 0..params.workers {
        run.start("worker")?;
    }
    // Every later step is created in the same write that finishes the one before, so an empty
    // `unfinished` index means every chain has ended.
    let deadline = Instant::now() + params.timeout;
    loop {
        let unfinished: u64 = redis::cmd("ZCARD")
            .arg(format!("{}:unfinished", run.prefix))
            .query_async(&mut redis)
            .await?;
        if unfinished == 0 {
            break;
        }
        run.check_alive()?;
        if Instant::now() > deadline {
            run.keep_logs = true;
            return Err(format!(
                "{unfinished} jobs unfinished after {:?}; logs in {}",
                params.timeout,
                run.log_dir.display()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats_after = sim_stats(http, sim_url).await?;

    let jobs = all_jobs(http, &api).await?;
    run.stop();
    if jobs.len() < params.n {
        return Err(format!("the API lists {} jobs, expected {}", jobs.len(), params.n).into());
    }
    let mut chains: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for job in &jobs {
        let root = job["root_id"].as_str().ok_or("a job without root_id")?;
        chains.entry(root).or_default().push(job);
    }
    let mut failed = 0;
    let mut last_finish = enqueued_at;
    let mut latencies = Vec::with_capacity(params.n);
    for chain in chains.values() {
        let mut created = None;
        let mut end: Option<(u64, DateTime<Utc>)> = None;
        let mut ok = chain.len() == 1 + params.extend;
        for job in chain {
            let step = job["step"].as_u64().unwrap_or(0);
            let finished = time(&job["finished_at"])?;
            last_finish = last_finish.max(finished);
            if job["state"] != "succeeded" {
                failed += 1;
                ok = false;
            }
            if step == 0 {
                created = Some(time(&job["created_at"])?);
            }
            if end.is_none_or(|(s, _)| step > s) {
                end = Some((step, finished));
            }
        }
        if let (true, Some(created), Some((_, end))) = (ok, created, end) {
            latencies.push((end - created).num_milliseconds());
        }
    }
    latencies.sort_unstable();
    let run_ms = (last_finish - enqueued_at).num_milliseconds().max(1);
    let figures = Figures {
        steps,
        failed,
        enqueue_per_s: per_second(params.n, enqueue_time.as_millis().max(1) as i64),
        steps_per_s: per_second(steps, run_ms),
        chain_p50_ms: percentile(&latencies, 0.50),
        chain_p99_ms: percentile(&latencies, 0.99),
    };
    let requests = requests_between(&stats_before, &stats_after);
    println!(
        "  enqueue: {} jobs through POST /v1/jobs in {:.2}s: {}/s",
        params.n,
        enqueue_time.as_secs_f64(),
        figures.enqueue_per_s
    );
    println!(
        "  run: {} steps ({} jobs listed, {} not succeeded) in {:.2}s: {} steps/s; \
         chain p50 {} ms, p99 {} ms",
        steps,
        jobs.len(),
        failed,
        run_ms as f64 / 1000.0,
        figures.steps_per_s,
        show(figures.chain_p50_ms),
        show(figures.chain_p99_ms),
    );
    println!("  upstream: {}", requests.summary(steps));
    Ok(figures)
}

/// The peer's line, keys in its order (`serde_json` would sort them), with `WORKERS` added.
fn pixq_line(params: &Params, f: &Figures) -> String {
    let ms = |v: Option<i64>| v.map_or_else(|| "null".to_owned(), |v| v.to_string());
    format!(
        "{{\"system\":\"pixq\",\"version\":\"{}\",\"N\":{},\"C\":{},\"EXTEND\":{},\"WORKERS\":{},\
         \"steps\":{},\"failed\":{},\"enqueue_per_s\":{},\"steps_per_s\":{},\
         \"chain_p50_ms\":{},\"chain_p99_ms\":{}}}",
        env!("CARGO_PKG_VERSION"),
        params.n,
        params.c,
        params.extend,
        params.workers,
        f.steps,
        f.failed,
        f.enqueue_per_s,
        f.steps_per_s,
        ms(f.chain_p50_ms),
        ms(f.chain_p99_ms),
    )
}

/// `pixq api` and `pixq worker` processes under one Redis prefix; killed, and the prefix's keys
/// deleted, when dropped.
struct Processes {
    prefix: String,
    redis_url: String,
    api_listen: String,
    log_dir: PathBuf,
    env: Vec<(&'static str, String)>,
    children: Vec<(String, Child)>,
    keep_logs: bool,
}

impl Processes {
    fn new(params: &Params, sim_url: &str) -> Result<Processes, BoxError> {
        let prefix = format!("pixq-bench-{}", uuid::Uuid::new_v4().simple());
        let api_listen = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .to_string();
        let log_dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&log_dir)?;
        let mut env = vec![
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("PIXQ__REDIS__URL", params.redis_url.clone()),
            ("PIXQ__REDIS__PREFIX", prefix.clone()),
            ("PIXQ__API__LISTEN", api_listen.clone()),
            ("PIXQ__UPSTREAM__BASE_URL", sim_url.to_owned()),
            ("PIXQ__UPSTREAM__TOKEN", TOKEN.to_owned()),
            ("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "1000000".to_owned()),
            ("PIXQ__WORKER__CONCURRENCY", params.c.to_string()),
            ("PIXQ__POLL__FIRST_AFTER", "0s".to_owned()),
            ("PIXQ__POLL__INTERVAL", "1s".to_owned()),
            ("PIXQ__POLL__GIVE_UP_AFTER", "5m".to_owned()),
        ];
        if let Ok(filter) = std::env::var("RUST_LOG") {
            env.push(("RUST_LOG", filter));
        }
        Ok(Processes {
            prefix,
            redis_url: params.redis_url.clone(),
            api_listen,
            log_dir,
            env,
            children: Vec::new(),
            keep_logs: std::env::var_os("PIXQ_BENCH_KEEP_LOGS").is_some(),
        })
    }

    /// Starts `pixq <role>` in the log directory (so no stray `pixq.toml` is read), its output
    /// in `<role>-<n>.log`.
    fn start(&mut self, role: &str) -> Result<(), BoxError> {
        let name = format!("{role}-{}", self.children.len());
        let log = std::fs::File::create(self.log_dir.join(format!("{name}.log")))?;
        let child = Command::new(env!("CARGO_BIN_EXE_pixq"))
            .arg(role)
            .current_dir(&self.log_dir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.children.push((name, child));
        Ok(())
    }

    fn check_alive(&mut self) -> Result<(), BoxError> {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                self.keep_logs = true;
                return Err(format!(
                    "pixq {name} exited ({status}); logs in {}",
                    self.log_dir.display()
                )
                .into());
            }
        }
        Ok(())
    }

    /// SIGTERM to every process, then SIGKILL to any still running after 10 s.
    fn stop(&mut self) {
        for (_, child) in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.children {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
        if let Ok(client) = redis::Client::open(self.redis_url.as_str())
            && let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2))
        {
            delete_matching(&mut conn, &format!("{}:*", self.prefix));
            // apalis-redis registers every queue in a global zset; take this run's entry out.
            let _: Result<(), _> = redis::cmd("ZREM")
                .arg("core:apalis:queues:list")
                .arg(format!(
                    "{}:workers",
                    pixq_worker::doorbell_queue(&self.prefix)
                ))
                .query(&mut conn);
        }
        if self.keep_logs {
            eprintln!(
                "logs of the pixq processes are in {}",
                self.log_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}

/// Deletes the keys matching `pattern` (SCAN, never KEYS, on a shared Redis).
fn delete_matching(conn: &mut redis::Connection, pattern: &str) {
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(conn)
        else {
            return;
        };
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(conn);
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

async fn wait_healthy(
    http: &reqwest::Client,
    api: &str,
    run: &mut Processes,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{api}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        run.check_alive()?;
        if Instant::now() > deadline {
            run.keep_logs = true;
            return Err("pixq api never answered /healthz within 30s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts every body to `POST /v1/jobs` from `clients` concurrent HTTP clients; every one must
/// be accepted (202).
async fn post_all(api: &str, bodies: Vec<Value>, clients: usize) -> Result<(), BoxError> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{api}/v1/jobs");
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (bodies, next, url) = (Arc::clone(&bodies), Arc::clone(&next), url.clone());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return Ok::<(), String>(());
                };
                let r = http
                    .post(&url)
                    .json(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status();
                let text = r.text().await.map_err(|e| e.to_string())?;
                if status.as_u16() != 202 {
                    return Err(format!("POST /v1/jobs answered {status}: {text}"));
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Every job, newest first, through the API's cursor.
async fn all_jobs(http: &reqwest::Client, api: &str) -> Result<Vec<Value>, BoxError> {
    let mut jobs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{api}/v1/jobs?limit=500&cursor={c}"),
            None => format!("{api}/v1/jobs?limit=500"),
        };
        let page: Value = http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        jobs.extend(page["jobs"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(jobs),
        }
    }
}

/// Runs the peer with the simulator's and Redis's addresses, for at most `TIMEOUT`; answers its
/// JSON line as printed and parsed, or why there is none. Its Redis keys (`bull:peer-<pid>-…`) are deleted after.
async fn run_peer(peer: &Path, params: &Params, sim_url: &str) -> Result<(String, Value), String> {
    use tokio::process::Command;
    let child = Command::new(peer)
        .env("SIM_URL", sim_url)
        .env("SIM_TOKEN", TOKEN)
        .env("REDIS_URL", &params.redis_url)
        .env("N", params.n.to_string())
        .env("C", params.c.to_string())
        .env("EXTEND", params.extend.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", peer.display()))?;
    let pid = child.id().unwrap_or(0);
    println!(
        "BullMQ peer ({}): the same N, C and EXTEND, one worker, same simulator and Redis",
        peer.display()
    );
    let outcome = tokio::time::timeout(params.timeout, child.wait_with_output()).await;
    if let Ok(client) = redis::Client::open(params.redis_url.as_str())
        && let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2))
    {
        delete_matching(&mut conn, &format!("bull:peer-{pid}-*"));
    }
    let output = match outcome {
        Ok(output) => output.map_err(|e| e.to_string())?,
        Err(_) => {
            // The whole group: the peer's script may have children (npm).
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            return Err(format!("no answer within {:?}", params.timeout));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    match (output.status.success(), line) {
        (true, Some(line)) => serde_json::from_str(line)
            .map(|value| (line.trim().to_owned(), value))
            .map_err(|e| format!("{e}: {line}")),
        _ => {
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(format!("{} {}", output.status, tail.join(" | ")))
        }
    }
}

fn side_by_side(params: &Params, pixq: &Figures, peer: &Value, peer_requests: &Requests) {
    let name = peer["peer"].as_str().unwrap_or("peer");
    let version = peer["version"].as_str().unwrap_or("?");
    println!("  upstream ({name}): {}", peer_requests.summary(pixq.steps));
    println!(
        "side by side (N={}, C={}, EXTEND={}; pixq with {} worker process(es)):",
        params.n, params.c, params.extend, params.workers
    );
    println!(
        "  {:<14} {:>12} {:>12}",
        "",
        format!("pixq {}", env!("CARGO_PKG_VERSION")),
        format!("{name} {version}")
    );
    let num = |v: &Value| v.as_i64().map_or_else(|| "-".to_owned(), |v| v.to_string());
    let rows = [
        (
            "enqueue/s",
            Some(pixq.enqueue_per_s as i64),
            "enqueue_per_s",
        ),
        ("steps/s", Some(pixq.steps_per_s as i64), "steps_per_s"),
        ("chain p50 ms", pixq.chain_p50_ms, "chain_p50_ms"),
        ("chain p99 ms", pixq.chain_p99_ms, "chain_p99_ms"),
        ("failed", Some(pixq.failed as i64), "failed"),
    ];
    for (label, ours, key) in rows {
        println!("  {label:<14} {:>12} {:>12}", show(ours), num(&peer[key]));
    }
}

/// Upstream requests the simulator answered between two `/_sim/stats`.
struct Requests {
    total: u64,
    refused: u64,
    by_endpoint: BTreeMap<String, u64>,
}

impl Requests {
    fn summary(&self, steps: usize) -> String {
        let endpoints: Vec<String> = self
            .by_endpoint
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect();
        format!(
            "{} requests ({:.2} a step: {}), {} answered 429",
            self.total,
            self.total as f64 / steps.max(1) as f64,
            endpoints.join(", "),
            self.refused
        )
    }
}

fn requests_between(before: &Value, after: &Value) -> Requests {
    let mut out = Requests {
        total: 0,
        refused: 0,
        by_endpoint: BTreeMap::new(),
    };
    let Some(endpoints) = after["requests"].as_object() else {
        return out;
    };
    for (endpoint, outcomes) in endpoints {
        for (outcome, count) in outcomes.as_object().into_iter().flatten() {
            let was = before["requests"][endpoint][outcome].as_u64().unwrap_or(0);
            let n = count.as_u64().unwrap_or(0).saturating_sub(was);
            out.total += n;
            *out.by_endpoint.entry(endpoint.clone()).or_default() += n;
            if outcome == "429" {
                out.refused += n;
            }
        }
    }
    out.by_endpoint.retain(|_, n| *n > 0);
    out
}

async fn sim_stats(http: &reqwest::Client, sim_url: &str) -> Result<Value, BoxError> {
    Ok(http
        .get(format!("{sim_url}/_sim/stats"))
        .send()
        .await?
        .json()
        .await?)
}

fn time(value: &Value) -> Result<DateTime<Utc>, BoxError> {
    let text = value.as_str().ok_or("a job without a timestamp")?;
    Ok(text.parse()?)
}

/// The peer's percentile: the element at `floor(len × q)`.
fn percentile(sorted: &[i64], q: f64) -> Option<i64> {
    let idx = (sorted.len() as f64 * q).floor() as usize;
    sorted.get(idx.min(sorted.len().saturating_sub(1))).copied()
}

fn per_second(count: usize, ms: i64) -> u64 {
    (count as f64 * 1000.0 / ms.max(1) as f64).round() as u64
}

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
