//! The seam: [`Store`], every piece of state pixq keeps, behind one interface with two homes.
//!
//! - [`crate::redis::RedisStore`]: many processes on many machines sharing one Redis.
//! - [`crate::sqlite::SqliteStore`]: one process on one machine (`pixq run`), one file under
//!   `data_dir`.
//!
//! Both keep the same promises, method for method, and one conformance suite
//! (`tests/store_suite`) runs against each. The API, the workers and the rescuer hold a
//! [`SharedStore`] and never name a backend's own types. [`open`] builds one from the
//! settings.
//!
//! The state, by part:
//!
//! | part | trait | what it holds |
//! |---|---|---|
//! | jobs | [`Jobs`] | job records, their indexes, task-id claims, idempotency keys |
//! | schedule | [`Schedule`] | each job's next look, and the lease of the worker looking |
//! | slots | [`Slots`] | generations in flight per upstream token |
//! | wait line | [`WaitLine`] | jobs waiting for a slot, in order |
//! | pauses | [`Pauses`] | tokens paused after an account-level refusal |
//! | poll gate | [`PollGate`] | one poll a second per upstream task |
//! | dead letters | [`DeadLetters`] | schedule entries that name no job |

mod error;
mod jobs;
mod open;

use std::sync::Arc;

use async_trait::async_trait;

pub use error::{BackendKind, StoreError};
pub use jobs::{Created, Cursor, IdempotencyKey, Jobs, ListFilter, Outcome, Page};
pub use open::{Home, open};

use crate::limits::{Pauses, PollGate, Slots, WaitLine};
use crate::queue::{DeadLetters, Schedule};

/// Everything pixq keeps, in one home. See the [module docs](self).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which home this is.
    fn kind(&self) -> BackendKind;

    /// Job records.
    fn jobs(&self) -> &dyn Jobs;

    /// Each job's next look and its lease.
    fn schedule(&self) -> &dyn Schedule;

    /// Generations in flight per upstream token.
    fn slots(&self) -> &dyn Slots;

    /// Jobs waiting for a slot.
    fn wait_line(&self) -> &dyn WaitLine;

    /// Paused upstream tokens.
    fn pauses(&self) -> &dyn Pauses;

    /// One poll a second per upstream task.
    fn poll_gate(&self) -> &dyn PollGate;

    /// Schedule entries set aside.
    fn dead_letters(&self) -> &dyn DeadLetters;

    /// Answers when the backend is reachable and working: readiness.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] saying why not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Resolves when a look may have become due sooner than the next poll of the schedule
    /// would notice: a ring for now in this process. A worker waits on it between polls;
    /// rings from other processes are found by polling.
    async fn rung(&self);
}

/// A store shared by every part of a process.
pub type SharedStore = Arc<dyn Store>;
