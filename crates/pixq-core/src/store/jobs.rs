//! [`Jobs`]: the truth about every job record. The schedule is only the doorbell.
//!
//! Every backend (Redis in [`crate::redis`], SQLite in [`crate::sqlite`]) keeps the same
//! promises, checked by one conformance suite (`tests/store_suite`):
//!
//! - a transition is one conditional write: it is [`Outcome::Applied`] only if the job was in
//!   one of the states its constructor names when the write happened, and otherwise
//!   [`Outcome::Stale`] with the record as it is, so a late or duplicated event cannot move
//!   a finished job;
//! - a task id belongs to at most one job ([`Outcome::TaskTaken`]);
//! - the next chain step is created in the same write that finishes its parent, at most once;
//! - an idempotency key replays its first job for the same body and conflicts for another;
//! - finished jobs disappear after `retention.finished`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::job::{BatchId, Job, JobId, NewJob};
use crate::state::{JobState, Transition};
use crate::store::StoreError;

/// An `Idempotency-Key` header and the fingerprint of the body it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The header's value, as the client sent it.
    pub key: String,
    /// A digest of the request body (computed by the API); equal bodies, equal fingerprints.
    pub fingerprint: String,
}

/// The answer of [`Jobs::create`].
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The job: the new one, or the first one created under the same idempotency key.
    pub job: Job,
    /// `true` when an idempotency key with the same body replayed an earlier job.
    pub replayed: bool,
}

/// The answer of [`Jobs::apply`]. Never a silent no-op: either the change happened, or the
/// caller learns what the job looks like instead.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a Stale outcome means the change did not happen"]
pub enum Outcome {
    /// The transition was written; this is the new record.
    Applied(Job),
    /// The job was not in a state the transition starts from (or lacked what it needs, such
    /// as a task id to resume); nothing changed.
    Stale {
        /// The record as it is.
        current: Job,
    },
    /// [`Transition::submitted`] named a task id that another job already holds; nothing
    /// changed. Look for another candidate task, or submit anew.
    TaskTaken {
        /// The job that holds the task id.
        by: JobId,
        /// This job's record, unchanged.
        current: Job,
    },
}

impl Outcome {
    /// Whether the transition was written.
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied(_))
    }

    /// The job's record after the call, whichever way it went.
    pub fn job(&self) -> &Job {
        match self {
            Outcome::Applied(job)
            | Outcome::Stale { current: job }
            | Outcome::TaskTaken { current: job, .. } => job,
        }
    }

    /// The job's record after the call, whichever way it went.
    pub fn into_job(self) -> Job {
        match self {
            Outcome::Applied(job)
            | Outcome::Stale { current: job }
            | Outcome::TaskTaken { current: job, .. } => job,
        }
    }
}

/// Which jobs [`Jobs::list`] returns; every field narrows the listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this batch.
    pub batch: Option<BatchId>,
}

/// Where the next page of a listing starts. Opaque: hand back what a [`Page`] gave.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a cursor as a client sent it; a store rejects one it did not issue with
    /// [`StoreError::InvalidCursor`].
    pub fn new(text: impl Into<String>) -> Self {
        Cursor(text.into())
    }

    /// The text to hand to a client.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The jobs, newest first. A page may be shorter than asked while `next_cursor` is set:
    /// a store bounds the work one call does.
    pub jobs: Vec<Job>,
    /// Where the next page starts; `None` when the listing is complete.
    pub next_cursor: Option<Cursor>,
}

/// The truth about every job. See the [module docs](self) for the promises every backend
/// keeps.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Creates a chain's first step, queued. With an idempotency key: the same key and
    /// fingerprint return the first job with `replayed: true`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the key was used with another fingerprint;
    /// [`StoreError::Duplicate`] when the id exists; backend failures.
    async fn create(
        &self,
        job: NewJob,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError>;

    /// Creates many first steps at once (a batch), all or none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] when an id exists or appears twice in `jobs` (nothing is
    /// created); backend failures.
    async fn create_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError>;

    /// The job's record; `None` when unknown or expired.
    ///
    /// # Errors
    ///
    /// Backend failures and [`StoreError::Corrupt`].
    async fn get(&self, id: &JobId) -> Result<Option<Job>, StoreError>;

    /// The records of `ids`, in the same order (`None` for unknown or expired ones), in one
    /// round trip: what a batch's results and controls read a page of chains with.
    ///
    /// # Errors
    ///
    /// Backend failures and [`StoreError::Corrupt`].
    async fn get_many(&self, ids: &[JobId]) -> Result<Vec<Option<Job>>, StoreError>;

    /// Applies a transition as one conditional write: [`Outcome::Applied`] if the job was in
    /// a state the transition starts from, otherwise [`Outcome::Stale`] (or
    /// [`Outcome::TaskTaken`]) and nothing changes.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown job; [`StoreError::Contended`] when the record
    /// kept changing; backend failures.
    async fn apply(&self, transition: Transition) -> Result<Outcome, StoreError>;

    /// The job that holds an upstream task id (e.g. for a callback or a lookup).
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn job_for_task(&self, task_id: &str) -> Result<Option<JobId>, StoreError>;

    /// Jobs newest first (by creation), `limit` at most, starting after `cursor`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidCursor`]; backend failures.
    async fn list(
        &self,
        filter: &ListFilter,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError>;

    /// Unfinished jobs whose record has not changed since `cutoff`, oldest change first,
    /// skipping the first `offset` of them, at most `limit`: what a rescuer re-enqueues. The
    /// offset lets a rescuer sweep past thousands of quiet jobs that are merely waiting.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn unfinished_older_than(
        &self,
        cutoff: DateTime<Utc>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError>;

    /// Sweeps up to `limit` finished jobs whose retention has passed out of every index and
    /// deletes what is left of them; answers how many. Listings and transitions already sweep
    /// a few each; a janitor calls this to catch up.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn prune_expired(&self, limit: usize) -> Result<usize, StoreError>;
}
