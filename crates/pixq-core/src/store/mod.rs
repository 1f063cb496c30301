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
//! | characters | [`Characters`] | characters made upstream, their names, creations under way |
//! | batches | [`Batches`] | batches: counts kept as their jobs move, their chains in order |
//! | pipeline runs | [`PipelineRuns`] | each scheduled pipeline's last tick fired and its batch |
//! | outbox | [`Outbox`] | webhook events, written with the transitions that cause them, and their delivery |

mod error;
mod jobs;
mod look;
mod open;
mod wake;

use std::sync::Arc;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use error::{BackendKind, StoreError};
pub use jobs::{Created, Cursor, IdempotencyKey, Jobs, ListFilter, Outcome, Page};
pub use look::{Basis, Claim, Committed, Effects, SlotEffect, SlotRequest, SlotTurn, SubmitTurn};
pub use open::{Home, open};
pub(crate) use wake::Wake;

use crate::batch::Batches;
use crate::character::Characters;
use crate::limits::{Pauses, PollGate, Slots, WaitLine};
use crate::outbox::Outbox;
use crate::pipeline::PipelineRuns;
use crate::queue::{DeadLetters, Schedule};
use crate::state::Transition;

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

    /// Characters made upstream, and the creations under way that guard the payment.
    fn characters(&self) -> &dyn Characters;

    /// Batches: their counts, their chains in order, how they are written.
    fn batches(&self) -> &dyn Batches;

    /// Each scheduled pipeline's last run: what a scheduler starting up catches up from.
    fn pipelines(&self) -> &dyn PipelineRuns;

    /// Webhook events and their delivery.
    fn outbox(&self) -> &dyn Outbox;

    /// Takes up to `limit` due jobs for `holder` as [`Schedule::take_due`] does, each with its
    /// record, in one call: a worker's doorbell.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not read back.
    async fn take(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Claim>, StoreError>;

    /// Applies `transition` as [`Jobs::apply`] does, and when it applies, its `effects` in
    /// the same atomic write. With a `basis` (the record as this caller read it), the write
    /// is conditional on its version and nothing is read first; if the record moved since,
    /// the transition is planned again from the record as it is.
    ///
    /// # Errors
    ///
    /// As [`Jobs::apply`].
    async fn commit(
        &self,
        transition: Transition,
        basis: Option<Basis>,
        effects: Effects,
    ) -> Result<Committed, StoreError>;

    /// Decides, in one atomic step, whether the job may submit now: the token's pause gate
    /// (claiming the one probe once a pause's `until` has passed), then a slot of the shared
    /// cap in the order of the wait line. A job that held a slot already keeps it; a job
    /// that gets one leaves the line; a job that must wait is parked in it (keeping an earlier
    /// place). A probe that finds no free slot hands the probe back at once.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a pause that does not decode.
    async fn take_slot(&self, request: &SlotRequest) -> Result<SlotTurn, StoreError>;

    /// [`Store::take_slot`], and when the job gets its slot, [`Store::commit`] of `transition`
    /// from `basis` (a submit's `begin_submit`, which records the body before it is sent):
    /// what a submit asks of the store before it may send. A transition that did not apply
    /// leaves the slot taken, as two calls would, for the caller to give back.
    ///
    /// The default makes the two calls; a home where each call is a trip through one writer
    /// (SQLite) does both in one atomic step, since a submit waits on every trip.
    ///
    /// # Errors
    ///
    /// As [`Store::take_slot`] and [`Store::commit`].
    async fn take_slot_then_commit(
        &self,
        request: &SlotRequest,
        transition: Transition,
        basis: Option<Basis>,
    ) -> Result<SubmitTurn, StoreError> {
        let (held, probe) = match self.take_slot(request).await?.into_taken() {
            Ok(taken) => taken,
            Err(waits) => return Ok(waits),
        };
        let committed = self.commit(transition, basis, Effects::default()).await?;
        Ok(SubmitTurn::Taken {
            held,
            probe,
            committed: Box::new(committed),
        })
    }

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
