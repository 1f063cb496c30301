//! [`Janitor`]: deletes finished apalis tasks, which apalis-redis keeps forever.
//!
//! `vacuum()` is not used: it also deletes failed tasks still waiting for a retry (the next
//! worker that promotes one dies) and never trims the done and dead sets (APALIS-NOTES 8).
//! The janitor takes ids out of `{queue}:done` and `{queue}:dead` only, and deletes their
//! `{queue}:data` field and `{queue}:meta:<id>` hash with them (`janitor.lua`). A doorbell
//! carries nothing the store does not know, so nothing is lost with it.
//!
//! Every start of an apalis worker also leaves a `{queue}:workers:metadata:<name>` hash
//! behind (worker names are unique per start, APALIS-NOTES 3). Once a worker has left
//! `{queue}:workers` (another worker's heartbeat removes it after the orphan timeout), the
//! janitor deletes its hash, a few per round.

use std::time::Duration;

use apalis_redis::Config;
use pixq_core::outage;
use redis::Script;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::backoff::jittered;

/// The most ids taken from each set per call.
const PER_CALL: usize = 1000;

/// Keys examined per SCAN step of the worker-metadata sweep (a hint to Redis).
const SCAN_COUNT: usize = 1000;

/// SCAN steps per round: about ten thousand keys a round, so a sweep through a keyspace of
/// millions takes minutes of small steps, never one long one.
const SCAN_STEPS: usize = 10;

/// The janitor of one worker process; several at once do no harm.
pub(crate) struct Janitor {
    conn: ConnectionManager,
    apalis: Config,
    script: Script,
    every: Duration,
    /// Where the worker-metadata sweep goes on from (0: from the start).
    scan_cursor: u64,
}

impl Janitor {
    /// A janitor of the queue configured by `apalis`, cleaning every `every`.
    pub(crate) fn new(conn: ConnectionManager, apalis: Config, every: Duration) -> Self {
        Janitor {
            conn,
            apalis,
            script: Script::new(include_str!("janitor.lua")),
            every,
            scan_cursor: 0,
        }
    }

    /// Cleans until `shutdown`.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        info!(service = "janitor", "started");
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(jittered(self.every)) => {}
            }
            self.round(&shutdown).await;
        }
        info!(service = "janitor", "stopped");
    }

    /// One round: the finished tasks (again at once while there were many), then a few steps
    /// of the worker-metadata sweep.
    async fn round(&mut self, shutdown: &CancellationToken) {
        loop {
            match self.clean().await {
                Ok(removed) if removed >= PER_CALL && !shutdown.is_cancelled() => continue,
                Ok(removed) => {
                    debug!(service = "janitor", removed, "cleaned finished tasks");
                    break;
                }
                Err(e) => {
                    outage::failed("janitor", &e);
                    break;
                }
            }
        }
        for _ in 0..SCAN_STEPS {
            match self.sweep_workers().await {
                Ok(removed) => {
                    if removed > 0 {
                        debug!(
                            service = "janitor",
                            removed, "deleted gone workers' metadata"
                        );
                    }
                    if self.scan_cursor == 0 {
                        break;
                    }
                }
                Err(e) => {
                    outage::failed("janitor", &e);
                    break;
                }
            }
        }
    }

    /// Deletes one round of finished tasks; how many.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub(crate) async fn clean(&self) -> redis::RedisResult<usize> {
        let mut conn = self.conn.clone();
        self.script
            .key(self.apalis.done_jobs_set())
            .key(self.apalis.dead_jobs_set())
            .key(self.apalis.job_data_hash())
            .arg(self.apalis.job_meta_hash())
            .arg(PER_CALL)
            .invoke_async(&mut conn)
            .await
    }

    /// Deletes the metadata of workers no longer registered, from one SCAN step; how many.
    /// Safe against a worker registering meanwhile: apalis writes its name and its metadata
    /// in one script.
    ///
    /// # Errors
    ///
    /// Redis failures.
    async fn sweep_workers(&mut self) -> redis::RedisResult<usize> {
        let mut conn = self.conn.clone();
        let workers = self.apalis.workers_set();
        let prefix = format!("{workers}:metadata:");
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(self.scan_cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut conn)
            .await?;
        self.scan_cursor = next;
        if keys.is_empty() {
            return Ok(0);
        }
        let mut scores = redis::pipe();
        for key in &keys {
            scores.zscore(&workers, key.trim_start_matches(prefix.as_str()));
        }
        let scores: Vec<Option<f64>> = scores.query_async(&mut conn).await?;
        let gone: Vec<&String> = keys
            .iter()
            .zip(scores)
            .filter_map(|(key, score)| score.is_none().then_some(key))
            .collect();
        if !gone.is_empty() {
            let _: () = redis::cmd("DEL").arg(&gone).query_async(&mut conn).await?;
        }
        Ok(gone.len())
    }
}
