//! [`Slots`]: generations in flight per upstream token, capped across all workers.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::job::JobId;
use crate::store::StoreError;

/// What [`Slots::acquire`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a job that did not get a slot must not submit"]
pub enum Acquire {
    /// The job holds a slot until `until` (server time); it may submit.
    Acquired {
        /// When the lease runs out unless renewed.
        until: DateTime<Utc>,
        /// The job held a slot already (a retried step) and it was only renewed: no second
        /// slot was taken.
        renewed: bool,
        /// Live leases on the token now, this one included.
        held: u32,
    },
    /// Every slot is taken; the job must wait without submitting.
    Full {
        /// Live leases on the token.
        held: u32,
        /// When the earliest lease runs out unless renewed: the latest a slot frees itself
        /// if its holder died, so a parked job can be scheduled to try again then even if no
        /// release wakes it. `None` only when `max` is 0 and nothing is held.
        earliest_expiry: Option<DateTime<Utc>>,
    },
}

impl Acquire {
    /// Whether the job holds a slot and may submit.
    pub fn is_acquired(&self) -> bool {
        matches!(self, Acquire::Acquired { .. })
    }
}

/// A lease-based distributed semaphore capping generations in flight per upstream token,
/// across all workers: the upstream refuses (or 429s) submits beyond its per-token limit, and
/// each worker alone cannot know what the others have running.
///
/// Per token alias (never the token), the set of jobs holding a slot, each with when its
/// lease expires. A job holds its slot from the submit until its upstream task ends,
/// *including* a job cancelled mid-generation: the upstream keeps generating it and counts
/// it. The lease is short (e.g. 60 s) and is renewed by whoever looks at the running task
/// (the poll or the callback), so a slot of a worker that died, or of a task nobody looks at
/// any more, frees itself when its lease expires. Keep the lease well above the interval
/// between two looks at a task.
///
/// Every operation is atomic and reads the backend's own clock, so concurrent workers on
/// machines with different clocks can never hold more than `max` between them.
#[async_trait]
pub trait Slots: Send + Sync {
    /// Takes a slot on `alias` for `job` for `ttl`, unless `max` are held already.
    ///
    /// Idempotent per job: a job that holds a slot already only has its lease renewed, so a
    /// step retried after a crash or a duplicate delivery never takes two. Expired leases are
    /// dropped first, so a dead holder's slot goes to the next acquirer.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn acquire(
        &self,
        alias: &str,
        job: &JobId,
        max: u32,
        ttl: Duration,
    ) -> Result<Acquire, StoreError>;

    /// Extends `job`'s lease on `alias` to `ttl` from now; `false` when it was lost (expired,
    /// and the slot perhaps taken since), and the caller must acquire again before it may
    /// count the task as holding a slot.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn renew(&self, alias: &str, job: &JobId, ttl: Duration) -> Result<bool, StoreError>;

    /// Gives `job`'s slot on `alias` back, when its upstream task has ended or it failed
    /// before the upstream took it; `false` when the lease had already expired or was never
    /// held. Either way the job holds no slot afterwards.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn release(&self, alias: &str, job: &JobId) -> Result<bool, StoreError>;

    /// How many live leases `alias` has: the generations pixq counts as in flight on it
    /// (`pixq_in_flight{token}`).
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn held(&self, alias: &str) -> Result<u32, StoreError>;

    /// The jobs holding a live lease on `alias`, each with when its lease runs out, the
    /// earliest first: for an operator asking what occupies the token.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn holders(&self, alias: &str) -> Result<Vec<(JobId, DateTime<Utc>)>, StoreError>;

    /// Every token alias that ever took a slot, sorted: lets a scrape report
    /// `pixq_in_flight{token}` without knowing the tokens.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn aliases(&self) -> Result<Vec<String>, StoreError>;
}
