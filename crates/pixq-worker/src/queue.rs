//! The apalis side: the doorbell queue `{prefix}:doorbell` in apalis-redis, its settings, and
//! how deep its backlog is.
//!
//! apalis-redis 1.0 keeps a queue `Q` in these keys (read from its source and checked with
//! redis-cli): `Q:scheduled` (zset; **every** push lands here, scored by unix seconds, and
//! each fetch promotes every due id to `Q:active` in one `unpack`), `Q:active` (list),
//! `Q:inflight:<worker>` (set; fetched and running), `Q:data` (hash id → payload),
//! `Q:meta:<id>` (hash), `Q:done` and `Q:dead` (sets, never trimmed), `Q:workers` (zset of
//! heartbeats), `Q:workers:metadata:<worker>`, `Q:signal`, and the global
//! `core:apalis:queues:list`.

use std::time::Duration;

use apalis_redis::{Config, RedisStorage};
use redis::aio::ConnectionManager;
use serde_json::Value;

use crate::config::WorkerConfig;

/// How often an apalis worker beats; with [`MISSED_HEARTBEATS`], a worker killed mid-task has
/// its fetched doorbells handed to another after about 6 s instead of 300 s (APALIS-NOTES 2).
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// Beats missed before a worker counts as dead.
pub(crate) const MISSED_HEARTBEATS: usize = 3;

/// The most doorbells one worker fetches at once; those not yet running wait in its inflight
/// set, so a small batch keeps work spread over processes.
const MAX_BATCH: usize = 50;

/// The apalis queue of doorbells for `prefix`.
pub(crate) fn doorbell_queue(prefix: &str) -> String {
    format!("{prefix}:doorbell")
}

/// The apalis-redis settings of the doorbell queue.
pub(crate) fn apalis_config(config: &WorkerConfig) -> Config {
    Config::default()
        .queue(config.doorbell_queue())
        .heartbeat_interval(HEARTBEAT_INTERVAL)
        .missed_heartbeats(MISSED_HEARTBEATS)
        .batch_size(config.concurrency.clamp(1, MAX_BATCH))
}

/// The doorbell queue's storage. Its payload is a plain JSON value: a payload of another
/// shape is then pixq's to set aside, not a decode error that stops the apalis worker
/// (APALIS-NOTES 4).
pub(crate) fn storage(conn: ConnectionManager, config: &WorkerConfig) -> RedisStorage<Value> {
    RedisStorage::new(conn).with_config(apalis_config(config))
}

/// How many doorbells wait in apalis: `LLEN Q:active + ZCARD Q:scheduled`. The pump keeps
/// this under a bound, which keeps `Q:scheduled` far from the size that wedges every fetch.
///
/// # Errors
///
/// Redis failures.
pub(crate) async fn backlog(conn: &ConnectionManager, config: &Config) -> redis::RedisResult<u64> {
    let mut conn = conn.clone();
    let (active, scheduled): (u64, u64) = redis::pipe()
        .llen(config.active_jobs_list())
        .zcard(config.scheduled_jobs_set())
        .query_async(&mut conn)
        .await?;
    Ok(active + scheduled)
}
