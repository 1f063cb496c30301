//! [`Rescuer`]: rings any unfinished job that nothing will otherwise look at.
//!
//! The store and the schedule cannot be written in one transaction, and a queue message can
//! be lost (a worker killed between fetching and leasing, a Redis that lost writes). So every
//! few seconds the rescuer reads the unfinished jobs untouched for `rescue_after` and rings
//! each one that is neither scheduled nor leased.

use std::time::Duration;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use pixq_core::job::Job;
use pixq_core::outage;
use pixq_core::queue::{Leases, Schedule};
use pixq_core::redis::RedisStore;
use pixq_core::store::{Store, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::jittered;

/// How many jobs are checked at once (the connection pipelines the calls).
const CHECKS_AT_ONCE: usize = 16;

/// The rescuer of one worker process.
pub(crate) struct Rescuer {
    store: RedisStore,
    schedule: Schedule,
    leases: Leases,
    after: Duration,
    every: Duration,
    batch: usize,
    /// Where the next round starts among the quiet unfinished jobs: each round looks at the
    /// next `batch` of them, so a lost job behind thousands of waiting ones is still reached.
    offset: usize,
}

impl Rescuer {
    /// A rescuer of jobs untouched for `after`, looking every `every` at up to `batch` jobs.
    pub(crate) fn new(
        store: RedisStore,
        schedule: Schedule,
        leases: Leases,
        after: Duration,
        every: Duration,
        batch: usize,
    ) -> Self {
        Rescuer {
            store,
            schedule,
            leases,
            after,
            every,
            batch,
            offset: 0,
        }
    }

    /// Rescues until `shutdown`.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        info!(service = "rescuer", after = ?self.after, "started");
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(jittered(self.every)) => {}
            }
            match self.round().await {
                Ok(_) => {
                    outage::recovered("rescuer");
                }
                Err(e) => {
                    outage::failed("rescuer", &e);
                }
            }
        }
        info!(service = "rescuer", "stopped");
    }

    async fn round(&mut self) -> Result<usize, StoreError> {
        let now = Utc::now();
        let cutoff = now - self.after;
        let offset = self.offset;
        let jobs = self
            .store
            .unfinished_older_than(cutoff, offset, self.batch)
            .await?;
        let next = if jobs.len() < self.batch {
            0
        } else {
            offset + jobs.len()
        };
        self.offset = next;
        let rung: Vec<bool> = stream::iter(jobs)
            .map(|job| self.rescue(job))
            .buffer_unordered(CHECKS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(rung.into_iter().filter(|r| *r).count())
    }

    /// Rings `job` now if it is neither scheduled nor leased; whether it did.
    async fn rescue(&self, job: Job) -> Result<bool, StoreError> {
        if self.schedule.due_at(&job.id).await?.is_some() || self.leases.is_held(&job.id).await? {
            return Ok(false);
        }
        self.schedule.ring(&job.id, Utc::now()).await?;
        warn!(
            service = "rescuer",
            job_id = %job.id,
            state = %job.state,
            updated_at = %job.updated_at,
            "rang a job that was neither scheduled nor leased"
        );
        Ok(true)
    }
}
