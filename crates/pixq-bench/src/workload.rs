//! The work a scenario hands pixq through its API, how the bench waits for it to end, and the
//! figures the job objects give: chains enqueued, the jobs listed, chain latencies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::numbers::percentile;
use crate::pixq::Deployment;
use crate::sim::Sim;

/// The bodies of `n` chains of one generate and `extend` extends.
pub fn chains(n: u64, extend: u64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let steps: Vec<Value> = (0..extend)
                .map(|k| json!({"prompt": format!("bench extend {k} of {i}")}))
                .collect();
            if steps.is_empty() {
                json!({"prompt": format!("bench prompt {i}")})
            } else {
                json!({"prompt": format!("bench prompt {i}"), "extend": steps})
            }
        })
        .collect()
}

/// An HTTP client for the API.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Posts one body to `POST /v1/jobs`; answers the job object, which must come with 202.
pub async fn post(http: &reqwest::Client, api: &str, body: &Value) -> anyhow::Result<Value> {
    let r = http
        .post(format!("{api}/v1/jobs"))
        .json(body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    if status.as_u16() != 202 {
        bail!("POST /v1/jobs answered {status}: {text}");
    }
    serde_json::from_str(&text).context("POST /v1/jobs answered a body that is not JSON")
}

/// Posts every body to `POST /v1/jobs` from `clients` concurrent HTTP clients; every one must
/// be accepted (202).
pub async fn post_all(api: &str, bodies: Vec<Value>, clients: u64) -> anyhow::Result<()> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bodies, next, api) = (Arc::clone(&bodies), Arc::clone(&next), api.to_owned());
        let http = client()?;
        tasks.push(tokio::spawn(async move {
            while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                post(&http, &api, body).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Pauses (`true`) or resumes the queue of the pixq behind `api`.
pub async fn set_paused(http: &reqwest::Client, api: &str, paused: bool) -> anyhow::Result<()> {
    let action = if paused { "pause" } else { "resume" };
    http.post(format!("{api}/v1/queue/{action}"))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("POST /v1/queue/{action}"))?;
    Ok(())
}

/// Whether no job is `queued`, `submitting` or `generating`. A chain's next step is created
/// in the write that finishes the step before it, so this means every chain has ended.
pub async fn none_unfinished(http: &reqwest::Client, api: &str) -> anyhow::Result<bool> {
    for state in ["queued", "submitting", "generating"] {
        let page: Value = http
            .get(format!("{api}/v1/jobs?state={state}&limit=1"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let empty = page["jobs"].as_array().is_none_or(Vec::is_empty);
        if !empty || !page["next_cursor"].is_null() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Waits until every job has ended. It asks the API every 500 ms while the simulator has
/// created fewer than `tasks` tasks since it had `base` (the asking costs the store a little),
/// then every `then`.
pub async fn wait_all_done(
    deployment: &mut Deployment,
    sim: &Sim,
    base: u64,
    tasks: u64,
    timeout: Duration,
    then: Duration,
) -> anyhow::Result<()> {
    let http = client()?;
    let api = deployment.api_url().to_owned();
    let started = Instant::now();
    let mut last_ask = Instant::now() - Duration::from_secs(1);
    loop {
        deployment.check_alive()?;
        let created = sim.stats().await?.tasks_created().saturating_sub(base);
        let every = if created >= tasks {
            then
        } else {
            Duration::from_millis(500)
        };
        if last_ask.elapsed() >= every {
            last_ask = Instant::now();
            if none_unfinished(&http, &api).await? {
                return Ok(());
            }
        }
        if started.elapsed() > timeout {
            deployment.keep_files();
            bail!(
                "pixq did not finish within {timeout:?}: the simulator saw {created} of {tasks} \
                 tasks; logs in {}",
                deployment.log_dir().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every job, through the API's cursor.
pub async fn all_jobs(http: &reqwest::Client, api: &str) -> anyhow::Result<Vec<Value>> {
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

/// A timestamp field of a job object.
pub fn time(job: &Value, field: &str) -> anyhow::Result<DateTime<Utc>> {
    let text = job[field]
        .as_str()
        .ok_or_else(|| anyhow!("job {} has no {field}", job["id"]))?;
    text.parse()
        .with_context(|| format!("job {}: {field} = {text:?}", job["id"]))
}

/// What the job objects of a run of chains show.
#[derive(Debug, Clone)]
pub struct ChainFigures {
    /// Jobs that did not succeed, or steps a broken chain never made.
    pub failed: u64,
    /// The latest `finished_at`.
    pub last_finish: DateTime<Utc>,
    /// Chain latencies, sorted: a root's `created_at` to its last step's `finished_at`, ms.
    pub latencies_ms: Vec<i64>,
}

impl ChainFigures {
    /// Reads the chains of `1 + extend` steps out of the listed jobs.
    pub fn of(jobs: &[Value], chains: u64, extend: u64) -> anyhow::Result<ChainFigures> {
        let mut by_root: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for job in jobs {
            let root = job["root_id"].as_str().context("a job without root_id")?;
            by_root.entry(root).or_default().push(job);
        }
        let mut failed = chains.saturating_sub(by_root.len() as u64) * (1 + extend);
        let mut last_finish = DateTime::<Utc>::MIN_UTC;
        let mut latencies_ms = Vec::with_capacity(by_root.len());
        for chain in by_root.values() {
            let mut created = None;
            let mut end: Option<(u64, DateTime<Utc>)> = None;
            let missing = (1 + extend).saturating_sub(chain.len() as u64);
            failed += missing;
            let mut ok = missing == 0;
            for job in chain {
                let step = job["step"].as_u64().unwrap_or(0);
                if job["state"] != "succeeded" {
                    failed += 1;
                    ok = false;
                    continue;
                }
                let finished = time(job, "finished_at")?;
                last_finish = last_finish.max(finished);
                if step == 0 {
                    created = Some(time(job, "created_at")?);
                }
                if end.is_none_or(|(s, _)| step > s) {
                    end = Some((step, finished));
                }
            }
            if let (true, Some(created), Some((_, end))) = (ok, created, end) {
                latencies_ms.push((end - created).num_milliseconds());
            }
        }
        latencies_ms.sort_unstable();
        Ok(ChainFigures {
            failed,
            last_finish,
            latencies_ms,
        })
    }

    /// The p50 of the chain latencies, ms.
    pub fn p50(&self) -> Option<i64> {
        percentile(&self.latencies_ms, 0.50)
    }

    /// The p99 of the chain latencies, ms.
    pub fn p99(&self) -> Option<i64> {
        percentile(&self.latencies_ms, 0.99)
    }
}
