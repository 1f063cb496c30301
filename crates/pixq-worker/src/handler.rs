//! [`Handler`]: what a worker does with a job it was handed, leased.
//!
//! 1. Check that the schedule entry names a job pixq could have written; one that does not
//!    goes to the dead letters and leaves the schedule.
//! 2. Hold the lease (renewed in the background) while the job is handled: the backend took
//!    it with the job ([`crate::doorbell`]), so no other worker handles the job meanwhile.
//! 3. Read the job and decide by its state ([`Handler::decide`]): submit it
//!    ([`crate::submit`], behind the token's pause and slots: [`crate::pause`],
//!    [`crate::capacity`]), find the task of an unanswered submit ([`crate::lookup`]), or poll
//!    its task ([`crate::poll`]). Each returns a [`Step`].
//! 4. Settle the lease with the next look the step asks for (and ring the chain's next step).
//!    Every exit path either reaches a terminal state or books a look; a settle that fails
//!    leaves the lease to run out, after which the job is taken again.
//!
//! The handler always answers apalis `Ok`: retries and backoff are pixq's, kept in the
//! schedule, and apalis never retries anything.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use chrono::{DateTime, Utc};
use pixq_core::job::Job;
use pixq_core::outage;
use pixq_core::queue::{Lease, PayloadError, check_job_id};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{Claim, Committed, Effects, Outcome, SharedStore, SlotEffect};
use pixverse::Client;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, error, field, info_span, warn};

use crate::config::WorkerConfig;
use crate::doorbell::InFlight;
use crate::error::StepError;
use crate::lease_guard::LeaseGuard;
use crate::look::Look;
use crate::poller::Poller;
use crate::step::Step;
use crate::timing::PollTiming;

/// After a store failure or a handler that ran too long, the job is looked at again after
/// this.
const LOOK_AGAIN_AFTER_ERROR: Duration = Duration::from_secs(3);

/// A job whose record keeps changing under the handler is decided again at most this often
/// in one run; then it is rung for a moment later.
const MAX_DECISIONS: usize = 4;

/// Everything a handler run needs. One per process, shared by every run.
#[derive(Debug)]
pub(crate) struct Handler {
    pub(crate) store: SharedStore,
    pub(crate) client: Client,
    pub(crate) config: Arc<WorkerConfig>,
    pub(crate) in_flight: InFlight,
    pub(crate) timing: PollTiming,
    pub(crate) poller: Poller,
    /// Cancelled when the worker drains: a look then takes no next job with its last write.
    pub(crate) draining: CancellationToken,
}

/// The apalis handler: one job taken with its lease, then each job the look's last write took
/// for it (a home that takes them with the write: [`Effects::take_next`]), until one takes
/// none. apalis hands out the rest.
///
/// # Errors
///
/// Never: pixq handles every failure itself (it settles the lease with the next look, or
/// leaves the lease to run out, after which the job is taken again).
pub(crate) async fn on_doorbell(
    claim: Claim,
    handler: Data<Arc<Handler>>,
) -> Result<(), BoxDynError> {
    let _counted = handler.in_flight.start();
    let mut next = Some(claim);
    while let Some(claim) = next {
        next = handler.doorbell(claim).await;
    }
    Ok(())
}

impl Handler {
    /// The handler of one worker process.
    pub(crate) fn new(
        store: SharedStore,
        client: Client,
        config: Arc<WorkerConfig>,
        in_flight: InFlight,
        draining: CancellationToken,
    ) -> Self {
        let timing = PollTiming::new(
            config.poll_first_after,
            config.poll_interval,
            config.poll_give_up_after / 2,
            config.public_url.is_some(),
        );
        let poller = Poller::spawn(client.clone(), in_flight.clone(), config.concurrency);
        Handler {
            store,
            client,
            config,
            in_flight,
            timing,
            poller,
            draining,
        }
    }

    /// One look at the job `claim` names; answers the next job its last write took.
    async fn doorbell(&self, claim: Claim) -> Option<Claim> {
        if let Err(e) = check_job_id(&claim.lease.job) {
            self.set_aside(claim.lease, &e).await;
            return None;
        }
        // Every line of this look carries the job, its batch and its upstream task; the
        // step spans below name what the look does (submit, lookup, poll, commit).
        let span = info_span!(
            "job",
            job_id = %claim.lease.job,
            batch_id = field::Empty,
            task_id = field::Empty,
        );
        self.look(claim).instrument(span).await
    }

    /// A schedule entry that names no job pixq could have written: kept in the dead letters
    /// and taken out of the schedule.
    async fn set_aside(&self, lease: Lease, err: &PayloadError) {
        warn!(error = %err, "a schedule entry is not a job id; set aside in the dead letters");
        let payload = json!({"job_id": lease.job.as_str()});
        if let Err(e) = self
            .store
            .dead_letters()
            .put(payload, &err.to_string())
            .await
        {
            error!(error = %e, "could not keep a bad schedule entry in the dead letters");
        }
        self.settle(&lease, None).await;
    }

    /// Holds the lease, decides; the step's last write settled the lease with the next
    /// look (and may have taken the next job, answered), or it is settled here.
    async fn look(&self, claim: Claim) -> Option<Claim> {
        let guard = LeaseGuard::hold(
            self.store.clone(),
            claim.lease.clone(),
            self.config.lease_ttl,
        );
        let look = Look::new(claim.lease, guard, claim.record);
        let decided = tokio::time::timeout(self.config.handler_timeout, self.process(&look)).await;
        let next = match decided {
            Ok(Ok(Step::Settled)) => return look.end().await.1,
            Ok(Ok(Step::Done)) => None,
            Ok(Ok(Step::LookAt(at))) => Some(at),
            Ok(Ok(Step::Again(_))) => Some(Utc::now()),
            Ok(Err(StepError::Store(e))) if e.is_unreachable() || outage::is_down() => {
                if !outage::failed("handler", &e) {
                    debug!(error = %e, "the store failed while it is unreachable; looking again shortly");
                }
                Some(Utc::now() + LOOK_AGAIN_AFTER_ERROR)
            }
            Ok(Err(e)) => {
                warn!(error = %e, "the store failed while handling the job; looking again shortly");
                Some(Utc::now() + LOOK_AGAIN_AFTER_ERROR)
            }
            Err(_) => {
                warn!(timeout = ?self.config.handler_timeout, "handling the job took too long; looking again shortly");
                Some(Utc::now() + LOOK_AGAIN_AFTER_ERROR)
            }
        };
        let (lease, taken) = look.end().await;
        self.settle(&lease, next).await;
        taken
    }

    /// Ends the lease and books the next look. A failure is logged: the lease then runs out
    /// and the job is taken again, so nothing is lost.
    async fn settle(&self, lease: &Lease, next: Option<DateTime<Utc>>) {
        match self.store.schedule().settle(lease, next).await {
            Ok(true) => {}
            Ok(false) => debug!("the lease had already run out"),
            Err(e) if e.is_unreachable() => {
                outage::failed("handler", &e);
            }
            Err(e) => {
                error!(error = %e, "could not settle the job's lease; it is taken again when the lease runs out");
            }
        }
    }

    async fn process(&self, look: &Look) -> Result<Step, StepError> {
        let id = &look.lease().job;
        let job = match look.record() {
            Some(job) => job,
            None => match self.store.jobs().get(id).await? {
                Some(job) => job,
                None => {
                    debug!("no such job (never created, or expired after retention)");
                    self.ended(id).await;
                    return Ok(Step::Done);
                }
            },
        };
        let mut job = job;
        for _ in 0..MAX_DECISIONS {
            match self.decide(job, look).await? {
                Step::Again(current) => job = *current,
                step => return Ok(step),
            }
        }
        Ok(Step::LookAt(Utc::now() + LOOK_AGAIN_AFTER_ERROR))
    }

    /// One decision, by the job's state.
    async fn decide(&self, job: Job, look: &Look) -> Result<Step, StepError> {
        let span = Span::current();
        if let Some(batch) = &job.batch_id {
            span.record("batch_id", batch.as_str());
        }
        if let Some(task) = &job.upstream.task_id {
            span.record("task_id", task.as_str());
        }
        // A step learns its task id as it goes (submit, lookup) and records it on its span.
        let step = |name: &'static str| match name {
            "submit" => info_span!("submit", task_id = field::Empty),
            "lookup" => info_span!("lookup", task_id = field::Empty),
            _ => info_span!("poll"),
        };
        match job.state {
            JobState::Queued => self.queued(job, look).instrument(step("submit")).await,
            // The run before died mid-submit or lost the answer: find its task first.
            JobState::Submitting => self.lookup(job, look).instrument(step("lookup")).await,
            JobState::Generating => self.poll(job, look).instrument(step("poll")).await,
            JobState::Cancelled => {
                self.poll_cancelled(job, look)
                    .instrument(step("poll"))
                    .await
            }
            JobState::Succeeded | JobState::Failed => {
                // Normally out of the line already; a crash between two writes may have
                // left it there, at the head, where it would hold the others back.
                self.leave_line(&job.id).await;
                Ok(Step::Done)
            }
        }
    }

    /// Writes `transition` from `job` (without reading it first when it is the record this
    /// look last saw) with `effects`. A write that settles the lease is the look's last, so
    /// it also takes the worker's next job ([`Handler::take_next`]).
    pub(crate) async fn commit(
        &self,
        look: &Look,
        job: &Job,
        transition: Transition,
        effects: Effects,
    ) -> Result<Committed, StepError> {
        let effects = Effects {
            take_next: effects.settle.as_ref().and(self.take_next()),
            ..effects
        };
        let committed = async {
            let committed = self
                .store
                .commit(transition, look.basis_for(job), effects)
                .await?;
            debug!(
                state = %committed.outcome.job().state,
                applied = matches!(committed.outcome, Outcome::Applied(_)),
                "committed"
            );
            Ok::<_, StepError>(committed)
        }
        .instrument(info_span!("commit"))
        .await?;
        let mut committed = committed;
        look.saw(&mut committed);
        Ok(committed)
    }

    /// The look's last write: `transition`, settling the lease with the next look at `next`
    /// (and the slot as `slot` says) when it applies; otherwise the job is decided again
    /// from its record as it is.
    pub(crate) async fn finish(
        &self,
        look: &Look,
        job: &Job,
        transition: Transition,
        next: Option<DateTime<Utc>>,
        slot: SlotFate,
    ) -> Result<(Step, Option<Job>), StepError> {
        let effects = Effects {
            settle: Some((look.lease().clone(), next)),
            slot: self.slot_effect(slot),
            ..Effects::default()
        };
        let committed = self.commit(look, job, transition, effects).await?;
        Ok(match committed.outcome {
            Outcome::Applied(job) => (Step::Settled, Some(job)),
            other => (Step::again(other.into_job()), None),
        })
    }

    /// How long to lease the next job a look's last write takes for this worker: none while
    /// draining.
    fn take_next(&self) -> Option<Duration> {
        (!self.draining.is_cancelled()).then_some(self.config.lease_ttl)
    }

    /// What a look's last write does to the job's slot.
    pub(crate) fn slot_effect(&self, slot: SlotFate) -> Option<SlotEffect> {
        let (release, leave_line) = match slot {
            SlotFate::Keep => return None,
            SlotFate::Release => (true, false),
            SlotFate::Ended => (true, true),
        };
        Some(SlotEffect {
            alias: self.config.token_alias.clone(),
            max: self.config.max_in_flight,
            release,
            leave_line,
        })
    }
}

/// What a look's last write does with the job's slot of the shared cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotFate {
    /// Nothing: the job keeps a slot it holds (its task runs), or holds none.
    Keep,
    /// Gives it back: the submit created no task, or the task ended.
    Release,
    /// The job ended: gives its slot back and takes it out of the wait line.
    Ended,
}
