//! [`Schedule`]: when a worker should next look at each job, and which worker is looking.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::job::JobId;
use crate::store::StoreError;

/// One worker's claim on one job, from [`Schedule::take_due`] until [`Schedule::settle`].
///
/// At most one live lease exists per job, so a job rung twice, or taken over from a worker
/// that died, is never handled by two workers at once. The holder is unique per take: a
/// worker whose lease ran out and was taken over cannot renew or settle the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job: JobId,
    /// Who holds it: the worker's name and a random part per take.
    pub holder: String,
}

/// pixq's schedule: each job's next look (its due time), and the lease of the worker looking
/// at it now.
///
/// - **Ringing** is "no later than": ringing a job already due earlier keeps the earlier
///   time, so a callback that asks for a look now is never pushed back by a poll scheduled for
///   later. Ringing a leased job is remembered and applied when its lease is settled, so the
///   look happens after the current one, never beside it.
/// - **Taking** leases due jobs to one worker, for a time to live, in one atomic step; a job
///   whose lease ran out (its worker died) is due again at once. So a job is never lost
///   between the schedule and a worker, and never handled twice at once.
/// - **Settling** ends the lease and books the next look, in one step.
///
/// Lease times are kept by the backend's own clock (for Redis, the server's), so workers on
/// machines whose clocks differ agree on who holds what. Due times are the callers'.
#[async_trait]
pub trait Schedule: Send + Sync {
    /// Asks for a look at `id` no later than `at`.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn ring(&self, id: &JobId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.ring_many(std::slice::from_ref(id), at).await
    }

    /// Asks for a look at each of `ids` no later than `at`. A backend writes in bounded
    /// chunks; the chunks written before one failed stay written.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn ring_many(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Leases up to `limit` jobs to `holder` for `ttl`: jobs due at `now` that nobody holds,
    /// the longest due first, then jobs whose lease ran out. A taken job leaves the due
    /// list; a due job that is leased stays with its lease until it is settled.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StoreError>;

    /// Extends `lease` to `ttl` from now; `false` when it was lost (it ran out and perhaps
    /// another worker took the job), and its holder must stop.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError>;

    /// Ends `lease` and books the job's next look: at `next`, or earlier if the job was rung
    /// while leased; with `next` `None`, only if it was rung. `false` when the lease had
    /// already been lost (the next look is still booked: ringing never hurts).
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn settle(&self, lease: &Lease, next: Option<DateTime<Utc>>) -> Result<bool, StoreError>;

    /// When `id` is due, if a look is booked and it is not leased.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn due_at(&self, id: &JobId) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Who holds a live lease on `id`, and for how much longer.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn holder(&self, id: &JobId) -> Result<Option<(String, Duration)>, StoreError>;

    /// Whether anything will look at `id` without help: a look is booked (or asked for while
    /// leased), or a worker holds it, even past its lease (it is then taken again). Answered
    /// in one atomic read, so a job moving from due to leased is never seen as neither. The
    /// rescuer rings the unfinished jobs for which this is false.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn is_tracked(&self, id: &JobId) -> Result<bool, StoreError>;

    /// How many looks are booked, due or not (leased jobs not counted).
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn len(&self) -> Result<u64, StoreError>;

    /// Whether no look is booked.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }

    /// How many looks are due at `now`.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn due_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// How many jobs are leased now: being looked at by some worker.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn leased_count(&self) -> Result<u64, StoreError>;

    /// Pauses the queue (`true`) or resumes it (`false`), for every worker: while it is
    /// paused, taking leases nothing, so no new look starts; looks under way finish, and
    /// jobs keep being accepted and rung. Resuming wakes the workers. What an operator stops
    /// the spending with, without stopping a process.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn set_paused(&self, paused: bool) -> Result<(), StoreError>;

    /// Whether the queue is paused.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn is_paused(&self) -> Result<bool, StoreError>;
}
