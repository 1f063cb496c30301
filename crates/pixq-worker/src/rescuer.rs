//! [`Rescuer`]: rings any unfinished job that nothing will otherwise look at.
//!
//! A job record and its look in the schedule are written in separate calls (the API creates
//! the job, then rings it), and a store can lose writes (a Redis restarted without AOF). So
//! every few seconds the rescuer reads the unfinished jobs untouched for `rescue_after` and
//! rings each one that is neither scheduled nor leased.

use std::time::Duration;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use pixq_core::job::Job;
use pixq_core::outage;
use pixq_core::store::{SharedStore, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::jittered;

/// How many jobs are checked at once (the connection pipelines the calls).
const CHECKS_AT_ONCE: usize = 16;

/// The rescuer of one worker process.
pub(crate) struct Rescuer {
    store: SharedStore,
    after: Duration,
    every: Duration,
    batch: usize,
    /// Where the next round starts among the quiet unfinished jobs: each round looks at the
    /// next `batch` of them, so a lost job behind thousands of waiting ones is still reached.
    offset: usize,
}

impl Rescuer {
    /// A rescuer of jobs untouched for `after`, looking every `every` at up to `batch` jobs.
    pub(crate) fn new(store: SharedStore, after: Duration, every: Duration, batch: usize) -> Self {
        Rescuer {
            store,
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
            .jobs()
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

    /// Rings `job` now if it is neither scheduled nor leased and has not moved since it was
    /// listed (a job that just ended is no longer tracked, and needs no ring); whether it did.
    async fn rescue(&self, job: Job) -> Result<bool, StoreError> {
        let schedule = self.store.schedule();
        if schedule.is_tracked(&job.id).await? {
            return Ok(false);
        }
        let now = self.store.jobs().get(&job.id).await?;
        if now.is_none_or(|now| now.is_terminal() || now.updated_at != job.updated_at) {
            return Ok(false);
        }
        schedule.ring(&job.id, Utc::now()).await?;
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
