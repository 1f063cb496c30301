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
use pixq_core::job::{Job, JobId};
use pixq_core::outage;
use pixq_core::queue::{Lease, PayloadError, check_job_id};
use pixq_core::state::JobState;
use pixq_core::store::SharedStore;
use pixverse::Client;
use serde_json::json;
use tracing::{Instrument, Span, debug, error, field, info_span, warn};

use crate::config::WorkerConfig;
use crate::doorbell::InFlight;
use crate::error::StepError;
use crate::lease_guard::LeaseGuard;
use crate::step::Step;

/// After a store failure or a handler that ran too long, the job is looked at again after
/// this.
const LOOK_AGAIN_AFTER_ERROR: Duration = Duration::from_secs(3);

/// How often ringing a chain's next step is tried (100 ms doubling: about 6 s in all).
const RING_TRIES: u32 = 6;

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
}

/// The apalis handler: one leased job.
///
/// # Errors
///
/// Never: pixq handles every failure itself (it settles the lease with the next look, or
/// leaves the lease to run out, after which the job is taken again).
pub(crate) async fn on_doorbell(
    lease: Lease,
    handler: Data<Arc<Handler>>,
) -> Result<(), BoxDynError> {
    let _counted = handler.in_flight.start();
    handler.doorbell(lease).await;
    Ok(())
}

impl Handler {
    /// The handler of one worker process.
    pub(crate) fn new(
        store: SharedStore,
        client: Client,
        config: Arc<WorkerConfig>,
        in_flight: InFlight,
    ) -> Self {
        Handler {
            store,
            client,
            config,
            in_flight,
        }
    }

    async fn doorbell(&self, lease: Lease) {
        if let Err(e) = check_job_id(&lease.job) {
            return self.set_aside(lease, &e).await;
        }
        let span = info_span!("job", job_id = %lease.job, task_id = field::Empty);
        self.look(lease).instrument(span).await;
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

    /// Holds the lease, decides, books the next look, settles.
    async fn look(&self, lease: Lease) {
        let ttl = self.config.lease_ttl;
        let guard = LeaseGuard::hold(self.store.clone(), lease.clone(), ttl);
        let decided = tokio::time::timeout(
            self.config.handler_timeout,
            self.process(&lease.job, &guard),
        );
        let next = match decided.await {
            Ok(Ok(step)) => self.follow(step).await,
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
        guard.stop().await;
        self.settle(&lease, next).await;
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

    async fn process(&self, id: &JobId, lease: &LeaseGuard) -> Result<Step, StepError> {
        let Some(mut job) = self.store.jobs().get(id).await? else {
            debug!("no such job (never created, or expired after retention)");
            self.ended(id).await;
            return Ok(Step::Done);
        };
        for _ in 0..MAX_DECISIONS {
            match self.decide(job, lease).await? {
                Step::Again(current) => job = *current,
                step => return Ok(step),
            }
        }
        Ok(Step::LookAt(Utc::now() + LOOK_AGAIN_AFTER_ERROR))
    }

    /// One decision, by the job's state.
    async fn decide(&self, job: Job, lease: &LeaseGuard) -> Result<Step, StepError> {
        if let Some(task) = &job.upstream.task_id {
            Span::current().record("task_id", task.as_str());
        }
        match job.state {
            JobState::Queued => self.queued(job, lease).await,
            // The run before died mid-submit or lost the answer: find its task first.
            JobState::Submitting => self.lookup(job).await,
            JobState::Generating => self.poll(job).await,
            JobState::Cancelled => self.poll_cancelled(job).await,
            JobState::Succeeded | JobState::Failed => {
                // Normally out of the line already; a crash between two writes may have
                // left it there, at the head, where it would hold the others back.
                self.leave_line(&job.id).await;
                Ok(Step::Done)
            }
        }
    }

    /// What `step` asks for: the next look at this job, after ringing the chain's next step.
    async fn follow(&self, step: Step) -> Option<DateTime<Utc>> {
        match step {
            Step::Done => None,
            Step::LookAt(at) => Some(at),
            Step::Again(_) => Some(Utc::now()),
            Step::Chain(next) => {
                self.ring_next_step(&next).await;
                None
            }
        }
    }

    /// Rings the chain's next step, trying again for a few seconds (the store may be coming
    /// back); past that the rescuer rings it.
    async fn ring_next_step(&self, next: &JobId) {
        let mut wait = Duration::from_millis(100);
        for _ in 0..RING_TRIES {
            match self.store.schedule().ring(next, Utc::now()).await {
                Ok(()) => return,
                Err(e) if e.is_unreachable() => {
                    outage::failed("handler", &e);
                }
                Err(e) => warn!(job = %next, error = %e, "could not ring the chain's next step"),
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        warn!(job = %next, "could not ring the chain's next step; the rescuer will");
    }
}
