//! Batches: many chains submitted together, counted as they move, and read back in the order
//! they came.
//!
//! A batch counts *chains*, not steps: a prompt with two extends is one entry, `queued` until
//! its first step starts, `running` while any step is under way, `succeeded` when its last
//! step did, `failed` or `cancelled` when a step did. [`ChainState::of`] reads that from the
//! step a write changed, and the store moves the counts in the same write as the step
//! ([`moved`]), so counts are kept, never recounted. A batch is finished when no chain is
//! queued or running.
//!
//! A batch is written in chunks and becomes visible, and runnable, in one last atomic step
//! ([`Batches::accept`]): until then nothing of it is rung, listed as a batch, or counted, and
//! a writer that dies halfway leaves a batch the janitor deletes, never a half batch that
//! workers run. [`submit`] does all of it in one call, for the API and the pipelines alike.

mod submit;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use self::submit::{Submitted, WRITE_CHUNK, fingerprint, submit};
use crate::job::{BatchId, Job, JobId, NewJob};
use crate::state::JobState;
use crate::store::{Cursor, IdempotencyKey, StoreError};

/// How long a batch may stay unaccepted before the janitor takes its writer for dead and
/// discards it. Writing 100,000 chains takes seconds; an API request is cut off long before.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// Where a chain of a batch stands, as its counts see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainState {
    /// No step has started.
    Queued,
    /// A step is under way, or waits after an earlier one succeeded.
    Running,
    /// The last step succeeded.
    Succeeded,
    /// A step failed.
    Failed,
    /// The chain was cancelled.
    Cancelled,
}

impl ChainState {
    /// Every chain state, in the order the counts list them.
    pub const ALL: [ChainState; 5] = [
        ChainState::Queued,
        ChainState::Running,
        ChainState::Succeeded,
        ChainState::Failed,
        ChainState::Cancelled,
    ];

    /// The lower-case name, as the counts spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainState::Queued => "queued",
            ChainState::Running => "running",
            ChainState::Succeeded => "succeeded",
            ChainState::Failed => "failed",
            ChainState::Cancelled => "cancelled",
        }
    }

    /// The state of the chain whose current step is `job`.
    pub fn of(job: &Job) -> ChainState {
        ChainState::at(job.state, job.step, job.chain_len)
    }

    /// The state of a chain of `chain_len` steps whose current step, step `step`, is in
    /// `state`.
    pub fn at(state: JobState, step: u32, chain_len: u32) -> ChainState {
        match state {
            JobState::Queued if step == 0 => ChainState::Queued,
            JobState::Queued | JobState::Submitting | JobState::Generating => ChainState::Running,
            JobState::Succeeded if step.saturating_add(1) >= chain_len => ChainState::Succeeded,
            JobState::Succeeded => ChainState::Running,
            JobState::Failed => ChainState::Failed,
            JobState::Cancelled => ChainState::Cancelled,
        }
    }

    /// Whether the chain has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ChainState::Succeeded | ChainState::Failed | ChainState::Cancelled
        )
    }
}

/// How a write of a batch's step moves its counts: one chain from one state to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The batch.
    pub batch: BatchId,
    /// The chain's state before the write.
    pub from: ChainState,
    /// Its state after.
    pub to: ChainState,
}

/// The move of a write that takes a step of a batch from state `from` to the record `new`,
/// if it changes its chain's state. A step created by the write (a chain's next one) moves
/// nothing: its parent's write already counted the chain as running.
pub fn moved(from: JobState, new: &Job) -> Option<Move> {
    let batch = new.batch_id.clone()?;
    let before = ChainState::at(from, new.step, new.chain_len);
    let after = ChainState::of(new);
    (before != after).then_some(Move {
        batch,
        from: before,
        to: after,
    })
}

/// How many chains of a batch are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    /// Not started.
    pub queued: u64,
    /// Under way.
    pub running: u64,
    /// Every step succeeded.
    pub succeeded: u64,
    /// A step failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl Counts {
    /// The count of chains in `state`.
    pub fn get(&self, state: ChainState) -> u64 {
        match state {
            ChainState::Queued => self.queued,
            ChainState::Running => self.running,
            ChainState::Succeeded => self.succeeded,
            ChainState::Failed => self.failed,
            ChainState::Cancelled => self.cancelled,
        }
    }

    /// The count of chains in `state`, to change.
    pub fn get_mut(&mut self, state: ChainState) -> &mut u64 {
        match state {
            ChainState::Queued => &mut self.queued,
            ChainState::Running => &mut self.running,
            ChainState::Succeeded => &mut self.succeeded,
            ChainState::Failed => &mut self.failed,
            ChainState::Cancelled => &mut self.cancelled,
        }
    }

    /// Chains that have not ended.
    pub fn unfinished(&self) -> u64 {
        self.queued + self.running
    }
}

/// A batch as it is created: its id and what it carries beside its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBatch {
    /// The id, `batch_<uuidv7>`.
    pub id: BatchId,
    /// A name for people (a pipeline's batches are named after it and the tick).
    pub name: Option<String>,
    /// Where to POST the batch object when it ends.
    pub webhook_url: Option<String>,
}

impl NewBatch {
    /// A batch with a fresh id and no name.
    pub fn new() -> Self {
        NewBatch {
            id: BatchId::generate(),
            name: None,
            webhook_url: None,
        }
    }
}

impl Default for NewBatch {
    fn default() -> Self {
        NewBatch::new()
    }
}

/// The stored batch: what the batch object shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Its id.
    pub id: BatchId,
    /// Its name, if any.
    #[serde(default)]
    pub name: Option<String>,
    /// How many chains it has.
    pub total: u64,
    /// How many are in each state.
    pub counts: Counts,
    /// Where to POST the batch object when it ends.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When its last chain ended; cleared when a retry re-opens it.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// The answer of [`Batches::begin`].
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// The batch is being written: add its jobs, then accept it.
    Writing,
    /// The idempotency key already names this accepted batch, made from the same body:
    /// answer it, write nothing.
    Replayed(Batch),
}

/// One page of [`Batches::list`], newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPage {
    /// The batches, newest first.
    pub batches: Vec<Batch>,
    /// Where the next page starts; `None` when the listing is complete.
    pub next_cursor: Option<Cursor>,
}

/// Batches in the store. Each backend moves the counts in the same write as the step that
/// moves them (see [`moved`]); these are the calls around that.
///
/// Writing a batch is three steps: [`begin`](Batches::begin), [`add`](Batches::add) in
/// chunks, [`accept`](Batches::accept). Until the last, the batch is invisible and none of
/// its jobs is due, so a writer that dies halfway leaves nothing that runs, only rows that
/// [`sweep_abandoned`](Batches::sweep_abandoned) deletes.
#[async_trait]
pub trait Batches: Send + Sync {
    /// Starts writing `batch`. An idempotency key is taken here, so a second request with
    /// the same key waits for nothing and pays for nothing: it is answered the first batch
    /// (replayed), or refused while that batch is still being written or for another body.
    ///
    /// # Errors
    ///
    /// [`StoreError::BatchKeyTaken`]; [`StoreError::DuplicateBatch`] when the id exists;
    /// backend failures.
    async fn begin(
        &self,
        batch: &NewBatch,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Begun, StoreError>;

    /// Writes one chunk of the batch's chains (their first steps, in order), all or none.
    /// They are not due, and do not run, until the batch is accepted.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownBatch`] when the batch is not being written;
    /// [`StoreError::Duplicate`] when a job id exists; backend failures.
    async fn add(&self, batch: &BatchId, jobs: Vec<NewJob>) -> Result<(), StoreError>;

    /// Makes the batch visible, with every chain counted as queued, and every first step
    /// due now. The flip is one atomic step; the first steps are made due right after it
    /// (in chunks, on Redis), and if this process dies in between, the rescuer makes the
    /// rest due.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownBatch`] when the batch is not being written; backend failures.
    async fn accept(&self, batch: &BatchId) -> Result<Batch, StoreError>;

    /// Deletes a batch that is still being written, with its jobs (its writer gave up);
    /// whether there was one.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn discard(&self, batch: &BatchId) -> Result<bool, StoreError>;

    /// The batch, once accepted; `None` when unknown, still being written, or expired.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`].
    async fn get(&self, batch: &BatchId) -> Result<Option<Batch>, StoreError>;

    /// The chains' first steps, in the order they were submitted, from `offset`, at most
    /// `limit`: what the results stream, cancel and retry walk.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn roots(
        &self,
        batch: &BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError>;

    /// Accepted batches, newest first (by when they were accepted, then by id), from
    /// `cursor`, at most `limit`: what the dashboard and `GET /v1/batches` list. Expired
    /// batches are not listed. A page may be shorter than `limit` while `next_cursor` is set.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidCursor`] for a cursor this store did not issue; backend
    /// failures; [`StoreError::Corrupt`].
    async fn list(&self, cursor: Option<&Cursor>, limit: usize) -> Result<BatchPage, StoreError>;

    /// Discards batches begun more than `older_than` ago and never accepted (their writer
    /// died); answers how many.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn sweep_abandoned(&self, older_than: std::time::Duration) -> Result<usize, StoreError>;
}

/// The cursor that continues a batch listing after `batch`: `<created ms>:<batch id>`, the
/// order both homes list in.
pub(crate) fn cursor_after(batch: &Batch) -> Cursor {
    Cursor::new(format!(
        "{}:{}",
        batch.created_at.timestamp_millis(),
        batch.id
    ))
}

/// Reads a cursor made by [`cursor_after`]: the creation (ms) and the id to list after.
pub(crate) fn parse_cursor(cursor: &Cursor) -> Result<(i64, BatchId), StoreError> {
    let invalid = || StoreError::InvalidCursor(cursor.as_str().to_owned());
    let (ms, id) = cursor.as_str().split_once(':').ok_or_else(invalid)?;
    let ms = ms.parse::<i64>().map_err(|_| invalid())?;
    if !id.starts_with("batch_") {
        return Err(invalid());
    }
    Ok((ms, BatchId::from(id)))
}

/// The step of a chain that decides its state: the last one that exists. `steps` are the
/// chain's steps in order as read (`None` for one not created yet, or expired).
pub fn current_step(steps: &[Option<Job>]) -> Option<&Job> {
    steps.iter().rev().flatten().next()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::job::{Action, NextStep};

    fn chain(len: u32) -> Job {
        NewJob::new(Action::Generate, json!({"prompt": "a"}))
            .with_chain_len(len)
            .in_batch(BatchId::from("batch_1"))
            .into_job(Utc::now())
    }

    #[test]
    fn a_chain_is_queued_until_its_first_step_starts_and_succeeded_only_at_its_end() {
        let mut root = chain(2);
        assert_eq!(ChainState::of(&root), ChainState::Queued);
        root.state = JobState::Submitting;
        assert_eq!(ChainState::of(&root), ChainState::Running);
        root.state = JobState::Succeeded;
        assert_eq!(ChainState::of(&root), ChainState::Running, "one step to go");
        let mut last = NextStep {
            action: Action::Extend,
            params: json!({}),
        }
        .into_job(&root, Utc::now());
        assert_eq!(ChainState::of(&last), ChainState::Running);
        last.state = JobState::Succeeded;
        assert_eq!(ChainState::of(&last), ChainState::Succeeded);
        last.state = JobState::Failed;
        assert_eq!(ChainState::of(&last), ChainState::Failed);
    }

    #[test]
    fn only_writes_that_change_a_batch_chain_move_its_counts() {
        let queued = chain(1);
        let mut running = queued.clone();
        running.state = JobState::Submitting;
        assert_eq!(
            moved(queued.state, &running),
            Some(Move {
                batch: BatchId::from("batch_1"),
                from: ChainState::Queued,
                to: ChainState::Running,
            })
        );
        let mut generating = running.clone();
        generating.state = JobState::Generating;
        assert_eq!(moved(running.state, &generating), None);
        let mut alone = running.clone();
        alone.batch_id = None;
        assert_eq!(moved(JobState::Queued, &alone), None, "not in a batch");
    }
}
