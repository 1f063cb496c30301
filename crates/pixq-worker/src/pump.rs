//! [`Pump`]: moves due jobs from pixq's [`Schedule`] into the apalis queue, a bounded number
//! at a time.
//!
//! apalis-redis promotes every due task of `{queue}:scheduled` in one Lua `unpack`, and about
//! 8000 of them make every fetch fail (APALIS-NOTES 5); every push lands in that set. So the
//! schedule keeps the backlog, of any size, and the pump hands apalis only what keeps its
//! backlog (`{queue}:active` + `{queue}:scheduled`) under [`WorkerConfig::backlog_bound`].
//! Delays live in the schedule: the pump never pushes a delayed task.
//!
//! [`WorkerConfig::backlog_bound`]: crate::WorkerConfig::backlog_bound

use std::time::Duration;

use apalis::prelude::TaskSink;
use apalis_redis::{Config, RedisStorage};
use chrono::Utc;
use pixq_core::outage;
use pixq_core::queue::{Doorbell, Schedule};
use redis::aio::ConnectionManager;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::error::LoopError;
use crate::queue;

/// The most doorbells one push carries.
const CHUNK: usize = 500;

/// The wait after a first failed round; it doubles with each failure in a row.
const AFTER_ERROR: Duration = Duration::from_millis(200);

/// The longest wait between failed rounds.
const AFTER_ERROR_MAX: Duration = Duration::from_secs(5);

/// The pump of one worker process. Every process runs one; together they may overshoot the
/// bound by a round each, which stays far below the wedge.
pub(crate) struct Pump {
    conn: ConnectionManager,
    schedule: Schedule,
    storage: RedisStorage<Value>,
    apalis: Config,
    bound: u64,
    every: Duration,
}

impl Pump {
    /// A pump from `schedule` into `storage` (whose config is `apalis`), keeping the backlog
    /// under `bound`, looking every `every` when nothing was due.
    pub(crate) fn new(
        conn: ConnectionManager,
        schedule: Schedule,
        storage: RedisStorage<Value>,
        bound: u64,
        every: Duration,
    ) -> Self {
        let apalis = storage.get_config().clone();
        Pump {
            conn,
            schedule,
            storage,
            apalis,
            bound,
            every,
        }
    }

    /// Pumps until `shutdown`.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        info!(service = "pump", bound = self.bound, "started");
        let mut wait = Duration::ZERO;
        let mut failures: u32 = 0;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
            let round = self.round().await;
            if round.is_ok() {
                outage::recovered("pump");
                failures = 0;
            }
            wait = match round {
                Ok(Moved::Full) => Duration::ZERO,
                Ok(Moved::Some | Moved::Nothing) => self.every,
                Err(e) => {
                    outage::failed("pump", &e);
                    failures = failures.saturating_add(1);
                    AFTER_ERROR
                        .saturating_mul(1 << failures.min(5))
                        .min(AFTER_ERROR_MAX)
                }
            };
        }
        info!(service = "pump", "stopped");
    }

    async fn round(&mut self) -> Result<Moved, LoopError> {
        let backlog = queue::backlog(&self.conn, &self.apalis).await?;
        metrics::gauge!("pixq_queue_depth", "queue" => "doorbell").set(backlog as f64);
        let room = usize::try_from(self.bound.saturating_sub(backlog)).unwrap_or(CHUNK);
        let limit = room.min(CHUNK);
        if limit == 0 {
            return Ok(Moved::Nothing);
        }
        let now = Utc::now();
        let ids = self.schedule.take_due(now, limit).await?;
        if ids.is_empty() {
            return Ok(Moved::Nothing);
        }
        let bells: Vec<Value> = ids
            .iter()
            .map(|id| Doorbell::new(id.clone()).to_value())
            .collect();
        if let Err(e) = self.storage.push_bulk(bells).await {
            // Put them back at once rather than leave them to the rescuer.
            if let Err(back) = self.schedule.ring_many(&ids, now).await {
                error!(service = "pump", error = %back, count = ids.len(), "could not ring due jobs back after a failed push; the rescuer will");
            }
            return Err(LoopError::Push(e.to_string()));
        }
        debug!(
            service = "pump",
            count = ids.len(),
            backlog,
            "rang doorbells"
        );
        Ok(if ids.len() == limit {
            Moved::Full
        } else {
            Moved::Some
        })
    }
}

/// How much a round moved.
enum Moved {
    /// Nothing was due, or apalis had no room.
    Nothing,
    /// Fewer than asked: nothing more is due right now.
    Some,
    /// As many as asked: more may be due, go again at once.
    Full,
}
