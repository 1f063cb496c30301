//! [`RedisStore`]: the [`Store`] for many processes on many machines, sharing one Redis.
//!
//! This module owns every Redis key pixq writes ([`keys`](self) lists each family) and every
//! Lua script (each a `.lua` file beside its typed handle). Nothing outside it names a Redis
//! type. One file per part of the store:
//!
//! - `jobs`: records, indexes, task claims, idempotency keys (`create.lua`, `commit.lua`,
//!   `list.lua`, `prune.lua`, all prefixed with `prelude.lua`);
//! - `schedule`: due times and leases (`take_due.lua`, `renew_lease.lua`, `settle.lua`);
//! - `slots`, `wait_line`, `pauses`, `poll_gate`, `dead_letters`.
//! - `characters`: characters and creations under way (`character_begin.lua`,
//!   `character_finish.lua`, `character_abandon.lua`, standalone).
//! - `pipelines`: each scheduled pipeline's last run (`pipeline_record.lua`, standalone).
//! - `outbox`: webhook events, written by `commit.lua`, taken, recorded and re-sent by
//!   `outbox_take.lua`, `outbox_record.lua` and `outbox_resend.lua` (standalone, timed).
//!
//! Scripts that compare times read the Redis server's clock (`now.lua`), so the clocks of
//! worker machines do not matter. Needs Redis 7. Keys are built from the prefix, so a Redis
//! Cluster would need a hash-tagged prefix such as `{pixq}` (see `docs/scaling.md`).
//!
//! ```no_run
//! use std::time::Duration;
//! use pixq_core::redis::RedisStore;
//! use pixq_core::store::Store;
//!
//! # async fn run() -> Result<(), pixq_core::store::StoreError> {
//! let store = RedisStore::connect("redis://127.0.0.1:6379", "pixq", Duration::from_secs(604_800))
//!     .await?;
//! store.ping().await?;
//! # Ok(())
//! # }
//! ```

mod batches;
mod characters;
mod dead_letters;
mod jobs;
mod keys;
mod outbox;
mod pauses;
mod pipelines;
mod poll_gate;
mod schedule;
mod scripts;
mod slots;
mod wait_line;

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;

use self::keys::Keys;
use self::scripts::Scripts;
use crate::batch::Batches;
use crate::character::Characters;
use crate::job::JobId;
use crate::limits::{Pauses, PollGate, Slots, WaitLine};
use crate::outbox::Outbox;
use crate::pipeline::PipelineRuns;
use crate::queue::{DeadLetters, Lease, Schedule};
use crate::state::Transition;
use crate::store::{
    BackendKind, Basis, Claim, Committed, Effects, Jobs, SlotRequest, SlotTurn, Store, StoreError,
    Wake,
};

/// redis-rs's default 500 ms response timeout has been seen to kill workers under load; a
/// slow reply should be waited for, a dead server noticed.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for a TCP connection to Redis.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis-backed [`Store`]. Clones share one multiplexed, reconnecting connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
    retention: Duration,
    wake: Arc<Wake>,
    /// The client behind `conn`, for the subscription that hears rings from other processes;
    /// `None` for a store made over a connection alone (then only this process's rings wake).
    client: Option<::redis::Client>,
    listening: Arc<OnceLock<()>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url`, with a response timeout of [`RESPONSE_TIMEOUT`]; every
    /// key starts with `{prefix}:`, and finished jobs expire `retention` after they finish.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the URL is invalid or Redis cannot be reached.
    pub async fn connect(url: &str, prefix: &str, retention: Duration) -> Result<Self, StoreError> {
        let client = ::redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECTION_TIMEOUT));
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(RedisStore {
            client: Some(client),
            ..Self::new(conn, prefix, retention)
        })
    }

    /// A store over an existing connection, sharing it: for tools and tests that hold one.
    pub fn new(conn: ConnectionManager, prefix: &str, retention: Duration) -> Self {
        RedisStore {
            conn,
            keys: Keys::new(prefix),
            scripts: Arc::new(Scripts::new()),
            retention,
            wake: Arc::new(Wake::default()),
            client: None,
            listening: Arc::new(OnceLock::new()),
        }
    }

    /// The same data, with finished jobs expiring after `retention`.
    pub fn with_retention(&self, retention: Duration) -> Self {
        RedisStore {
            retention,
            ..self.clone()
        }
    }

    /// A connection handle (cheap: it is shared).
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> BackendKind {
        BackendKind::Redis
    }

    fn jobs(&self) -> &dyn Jobs {
        self
    }

    fn schedule(&self) -> &dyn Schedule {
        self
    }

    fn slots(&self) -> &dyn Slots {
        self
    }

    fn wait_line(&self) -> &dyn WaitLine {
        self
    }

    fn pauses(&self) -> &dyn Pauses {
        self
    }

    fn poll_gate(&self) -> &dyn PollGate {
        self
    }

    fn dead_letters(&self) -> &dyn DeadLetters {
        self
    }

    fn characters(&self) -> &dyn Characters {
        self
    }

    fn batches(&self) -> &dyn Batches {
        self
    }

    fn pipelines(&self) -> &dyn PipelineRuns {
        self
    }

    fn outbox(&self) -> &dyn Outbox {
        self
    }

    async fn take(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        let flat = self.invoke_take(now, limit, holder, ttl, true).await?;
        let mut claims = Vec::with_capacity(flat.len() / 3);
        for row in flat.chunks(3) {
            let [id, version, json] = row else {
                return Err(StoreError::corrupt(
                    "the reply of take.lua",
                    format!("{} values, not triples", flat.len()),
                ));
            };
            let record = if json.is_empty() {
                None
            } else {
                let what = self.keys.job(&JobId::from(id.as_str()));
                let version = version.parse::<u64>().map_err(|_| {
                    StoreError::corrupt(&what, format!("the version {version:?} is not a number"))
                })?;
                let job = serde_json::from_str(json)
                    .map_err(|e| StoreError::corrupt(&what, e.to_string()))?;
                Some(Basis { job, version })
            };
            claims.push(Claim {
                lease: Lease {
                    job: JobId::from(id.as_str()),
                    holder: holder.to_owned(),
                },
                record,
            });
        }
        Ok(claims)
    }

    async fn commit(
        &self,
        transition: Transition,
        basis: Option<Basis>,
        effects: Effects,
    ) -> Result<Committed, StoreError> {
        self.commit_with(transition, basis, &effects).await
    }

    async fn take_slot(&self, request: &SlotRequest) -> Result<SlotTurn, StoreError> {
        let what = self.keys.slots(&request.alias);
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .scripts
            .take_slot
            .prepare_invoke()
            .arg(&self.keys.layout()[..])
            .arg(&request.alias)
            .arg(request.job.as_str())
            .arg(request.max)
            .arg(millis(request.ttl))
            .arg(millis(request.probe_window))
            .invoke_async(&mut conn)
            .await?;
        let corrupt = || StoreError::corrupt(&what, format!("take_slot.lua answered {reply:?}"));
        let count = |n: &str| n.parse::<u32>().map_err(|_| corrupt());
        match reply.as_slice() {
            [tag, held, probe] if tag == "taken" => Ok(SlotTurn::Taken {
                held: count(held)?,
                probe: if probe.is_empty() {
                    None
                } else {
                    Some(self.decode_pause(&request.alias, probe)?)
                },
            }),
            [tag, held, earliest, head] if tag == "wait" => {
                let earliest = earliest.parse::<i64>().map_err(|_| corrupt())?;
                Ok(SlotTurn::Wait {
                    held: count(held)?,
                    earliest_expiry: if earliest < 0 {
                        None
                    } else {
                        Some(from_millis(earliest, &what)?)
                    },
                    at_head: head == "1",
                })
            }
            [tag, pause, head] if tag == "paused" => Ok(SlotTurn::Paused {
                pause: self.decode_pause(&request.alias, pause)?,
                at_head: head == "1",
            }),
            _ => Err(corrupt()),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let _: String = ::redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    async fn rung(&self) {
        if let Some(client) = &self.client {
            self.listening.get_or_init(|| {
                let channel = self.keys.rung_channel();
                tokio::spawn(listen(client.clone(), channel, Arc::downgrade(&self.wake)));
            });
        }
        self.wake.wait().await;
    }
}

/// Hears the rings for now that other processes publish (the API's, above all), and wakes
/// this process's worker; reconnects after a second when the subscription drops, and ends
/// with the store.
async fn listen(client: ::redis::Client, channel: String, wake: Weak<Wake>) {
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await
            && pubsub.subscribe(&channel).await.is_ok()
        {
            let mut messages = pubsub.on_message();
            while messages.next().await.is_some() {
                match wake.upgrade() {
                    Some(wake) => wake.now(),
                    None => return,
                }
            }
        }
        if wake.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl From<::redis::RedisError> for StoreError {
    fn from(e: ::redis::RedisError) -> Self {
        let unreachable = e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_timeout();
        StoreError::Unavailable {
            backend: BackendKind::Redis,
            detail: e.to_string(),
            unreachable,
        }
    }
}

/// Whole milliseconds of `d`, at least 1 (Redis refuses a zero time to live).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A time in milliseconds read back from Redis; `what` names the key for the error.
fn from_millis(ms: i64, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::corrupt(what, format!("{ms} is not a time in milliseconds")))
}
