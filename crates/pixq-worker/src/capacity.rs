//! The shared cap on generations in flight per upstream token (`upstream.max_in_flight`),
//! across all workers: a job takes a [`Slots`] lease before it submits, and holds it until
//! its upstream task ends.
//!
//! - **Taking.** Before `begin_submit`, in one store call with the pause gate
//!   ([`Store::take_slot`]). A job takes a free slot only when it is among the first `free`
//!   jobs of the token's [`WaitLine`] (or fewer jobs wait than slots are free); otherwise, or
//!   when every slot is taken, it is parked in the line and requeued `upstream_capacity`
//!   without burning an attempt, due at a fallback time ([`Handler::fallback`]).
//! - **Holding.** From the submit until the task ends, including for a job cancelled
//!   mid-generation: every poll and every lookup of the job's task renews the lease
//!   ([`WorkerConfig::slot_ttl`]), so a dead worker's slots free themselves.
//! - **Giving back.** When the task ends, or when the submit is proven to have created none
//!   (any refusal, 429 included; a lookup that concluded), in the same write that records why
//!   ([`SlotFate`](crate::handler::SlotFate)). A submit whose outcome is unknown keeps its
//!   slot until its lookup concludes.
//! - **Waking.** Whoever gives a slot back rings the first parked jobs of the line, as many
//!   as slots are free, so parked jobs go in the order they arrived; a job leaves the line
//!   when it gets a slot or ends.
//!
//! [`Slots`]: pixq_core::limits::Slots
//! [`Store::take_slot`]: pixq_core::store::Store::take_slot
//! [`WaitLine`]: pixq_core::limits::WaitLine
//! [`WorkerConfig::slot_ttl`]: crate::WorkerConfig::slot_ttl

use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::job::{Job, JobId};
use pixq_core::limits::Acquire;
use pixq_core::state::JobState;
use pixq_core::store::StoreError;
use tracing::{debug, warn};

use crate::backoff::jittered;
use crate::error::StepError;
use crate::handler::Handler;
use crate::telemetry;

/// A job at the head of the line looks again this soon even if no release wakes it: a wake
/// can be lost (the releasing worker died between its two writes).
const HEAD_RECHECK: Duration = Duration::from_secs(3);

/// A parked job never looks again sooner than this.
const MIN_FALLBACK: Duration = Duration::from_secs(1);

impl Handler {
    /// The alias the shared limits are kept under.
    pub(crate) fn alias(&self) -> &str {
        &self.config.token_alias
    }

    /// Whether `id` is among the first `max_in_flight` jobs of the line: the ones the next
    /// releases wake.
    pub(crate) async fn at_head(&self, id: &JobId) -> Result<bool, StepError> {
        let max = usize::try_from(self.config.max_in_flight).unwrap_or(usize::MAX);
        Ok(self
            .store
            .wait_line()
            .first(self.alias(), max)
            .await?
            .contains(id))
    }

    /// When a parked job looks again if no release wakes it: at the earliest lease expiry
    /// (the latest a dead holder's slot frees itself), and within a few seconds at the head
    /// of the line, where a lost wake would otherwise stall everyone behind it.
    pub(crate) fn fallback(
        &self,
        earliest_expiry: Option<DateTime<Utc>>,
        at_head: bool,
    ) -> DateTime<Utc> {
        let now = Utc::now();
        let soon = now + jittered(HEAD_RECHECK);
        let mut at = earliest_expiry.unwrap_or(soon);
        if at_head {
            at = at.min(soon);
        }
        let at = at.clamp(now + MIN_FALLBACK, now + self.config.slot_ttl());
        debug!(fallback = %at, "waiting in line for a slot");
        at
    }

    /// Renews the slot of `id`, whose task is running (a poll, a lookup). A lease that ran
    /// out (nobody looked at the task for a whole `slot_ttl`) is taken again, over the cap if
    /// need be: the task counts upstream whatever pixq counts, and new submits must see it.
    pub(crate) async fn hold_slot(&self, id: &JobId) -> Result<(), StepError> {
        let (alias, ttl) = (self.alias(), self.config.slot_ttl());
        if self.store.slots().renew(alias, id, ttl).await? {
            return Ok(());
        }
        let taken = self.store.slots().acquire(alias, id, u32::MAX, ttl).await?;
        if let Acquire::Acquired { held, .. } = taken {
            telemetry::in_flight(alias, held);
            debug!(
                held,
                "counted the job's running task against the token's slots again"
            );
        }
        Ok(())
    }

    /// The job's upstream task ended, or its submit is proven to have created none: gives
    /// its slot back and wakes the line. A failure is logged: the lease then runs out on its
    /// own and the parked jobs' fallback times wake them.
    pub(crate) async fn free_slot(&self, id: &JobId) {
        match self.store.slots().release(self.alias(), id).await {
            Ok(true) => self.wake_line().await,
            Ok(false) => {}
            Err(e) => {
                warn!(error = %e, "could not give the job's slot back; its lease runs out on its own")
            }
        }
    }

    /// A transition that touched `current` did not apply: gives back the slot taken for a
    /// submit that was not sent, unless the job is waiting on a task of its own.
    pub(crate) async fn free_slot_unless_running(&self, current: &Job) {
        if !matches!(current.state, JobState::Submitting | JobState::Generating) {
            self.free_slot(&current.id).await;
        }
    }

    /// The job ended (or no longer exists): it leaves the line, gives back any slot, and the
    /// line is woken if that freed anything.
    pub(crate) async fn ended(&self, id: &JobId) {
        self.leave_line(id).await;
        self.free_slot(id).await;
    }

    /// Takes `id` out of the line (a job that no longer waits for a slot: cancelled, failed,
    /// gone); wakes the line if it was in it, since a wake may have gone to it.
    pub(crate) async fn leave_line(&self, id: &JobId) {
        match self.store.wait_line().remove(self.alias(), id).await {
            Ok(true) => self.wake_line().await,
            Ok(false) => {}
            Err(e) => warn!(error = %e, "could not take the job out of the wait line"),
        }
    }

    /// Rings the first parked jobs of the line now, as many as slots are free: only the one
    /// that will probe while the token is paused and its probe is due, none before that.
    pub(crate) async fn wake_line(&self) {
        if let Err(e) = self.try_wake_line().await {
            warn!(error = %e, "could not wake the jobs waiting for a slot; their fallback times will");
        }
    }

    async fn try_wake_line(&self) -> Result<(), StoreError> {
        let alias = self.alias();
        let held = self.store.slots().held(alias).await?;
        telemetry::in_flight(alias, held);
        let mut free =
            usize::try_from(self.config.max_in_flight.saturating_sub(held)).unwrap_or(usize::MAX);
        if free == 0 {
            return Ok(());
        }
        if let Some(pause) = self.store.pauses().status(alias).await? {
            if !pause.probe_due(Utc::now()) {
                return Ok(());
            }
            free = 1;
        }
        let first = self.store.wait_line().first(alias, free).await?;
        if !first.is_empty() {
            self.store.schedule().ring_many(&first, Utc::now()).await?;
            debug!(
                count = first.len(),
                "woke the first jobs waiting for a slot"
            );
        }
        Ok(())
    }
}
