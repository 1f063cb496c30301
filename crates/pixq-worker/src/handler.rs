//! [`Handler`]: what a worker does when a doorbell rings.
//!
//! 1. Decode the payload in pixq's own code; one that is not a [`Doorbell`] goes to the
//!    [`DeadLetters`] and the handler returns `Ok`, so the apalis worker goes on.
//! 2. Take the job's lease before anything else. If another run holds it, ring the job for
//!    when that lease ends and return: a doorbell rung twice costs one Redis call.
//! 3. Read the job and decide by its state ([`Handler::decide`]): submit it
//!    ([`crate::submit`], behind the token's pause and slots: [`crate::pause`],
//!    [`crate::capacity`]), find the task of an unanswered submit ([`crate::lookup`]), or poll
//!    its task ([`crate::poll`]). Each returns a [`Step`].
//! 4. Ring what the step says (this job later, or the chain's next step now), then release
//!    the lease. Every exit path either reaches a terminal state or rings the schedule.
//!
//! The handler answers apalis `Ok` for everything pixq handles itself: pixq does its own
//! retries and backoff through the schedule and never uses apalis-redis's hidden 25 retries
//! (APALIS-NOTES 6). Only when even ringing fails does it answer an [`AbortError`], which
//! apalis does not retry; the rescuer rings the job again later.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{AbortError, BoxDynError, Data, WorkerContext};
use chrono::{DateTime, Utc};
use pixq_core::job::{Job, JobId};
use pixq_core::limits::{Pauses, Slots, WaitLine};
use pixq_core::outage;
use pixq_core::queue::{DeadLetters, Doorbell, Leases, PayloadError, Schedule};
use pixq_core::redis::RedisStore;
use pixq_core::state::JobState;
use pixq_core::store::Store;
use pixverse::Client;
use redis::aio::ConnectionManager;
use serde_json::Value;
use tracing::{Instrument, Span, debug, error, field, info_span, warn};

use crate::config::WorkerConfig;
use crate::error::StepError;
use crate::lease_guard::LeaseGuard;
use crate::names;
use crate::poll_gate::PollGate;
use crate::step::Step;

/// After a store failure or a handler that ran too long, the job is looked at again after
/// this.
const LOOK_AGAIN_AFTER_ERROR: Duration = Duration::from_secs(3);

/// A job whose record keeps changing under the handler is decided again at most this often
/// in one run; then it is rung for a moment later.
const MAX_DECISIONS: usize = 4;

/// A doorbell for a job leased by another run is rung for a little after that lease ends.
const AFTER_LEASE: Duration = Duration::from_millis(50);

/// Everything a handler run needs. One per process, shared by every run.
#[derive(Debug)]
pub(crate) struct Handler {
    pub(crate) store: RedisStore,
    pub(crate) schedule: Schedule,
    pub(crate) leases: Leases,
    pub(crate) dead_letters: DeadLetters,
    pub(crate) gate: PollGate,
    pub(crate) slots: Slots,
    pub(crate) waits: WaitLine,
    pub(crate) pauses: Pauses,
    pub(crate) client: Client,
    pub(crate) config: Arc<WorkerConfig>,
}

/// The apalis handler: one doorbell.
///
/// # Errors
///
/// An [`AbortError`] only when the job could not be rung again (Redis is down); apalis then
/// moves the task to its dead set instead of retrying it, and the rescuer rings the job later.
pub(crate) async fn on_doorbell(
    payload: Value,
    handler: Data<Arc<Handler>>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    handler.doorbell(payload, worker.name()).await
}

impl Handler {
    /// The handler for keys under the configured prefix, sharing `conn`.
    pub(crate) fn new(conn: ConnectionManager, client: Client, config: Arc<WorkerConfig>) -> Self {
        let prefix = config.prefix.as_str();
        Handler {
            store: RedisStore::new(conn.clone(), prefix, config.retention),
            schedule: Schedule::new(conn.clone(), prefix),
            leases: Leases::new(conn.clone(), prefix),
            dead_letters: DeadLetters::new(conn.clone(), prefix),
            gate: PollGate::new(conn.clone(), prefix),
            slots: Slots::new(conn.clone(), prefix),
            waits: WaitLine::new(conn.clone(), prefix),
            pauses: Pauses::new(conn, prefix),
            client,
            config,
        }
    }

    async fn doorbell(&self, payload: Value, worker: &str) -> Result<(), BoxDynError> {
        let bell = match Doorbell::from_value(&payload) {
            Ok(bell) => bell,
            Err(e) => return self.set_aside(payload, &e).await,
        };
        let span = info_span!("job", job_id = %bell.job_id, task_id = field::Empty);
        self.look(&bell.job_id, worker).instrument(span).await
    }

    async fn set_aside(&self, payload: Value, err: &PayloadError) -> Result<(), BoxDynError> {
        warn!(error = %err, %payload, "a queue payload is not a doorbell; set aside in the dead letters");
        self.dead_letters
            .put(payload, &err.to_string())
            .await
            .map_err(|e| {
                error!(error = %e, "could not keep a bad payload in the dead letters");
                AbortError::new(e).into()
            })
    }

    /// Takes the lease, decides, rings, releases.
    async fn look(&self, id: &JobId, worker: &str) -> Result<(), BoxDynError> {
        let ttl = self.config.lease_ttl;
        let lease = match self.leases.acquire(id, &names::holder(worker), ttl).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return self.busy(id).await,
            Err(e) => {
                outage::failed("handler", &e);
                return self.ring(id, Utc::now() + LOOK_AGAIN_AFTER_ERROR).await;
            }
        };
        let guard = LeaseGuard::hold(self.leases.clone(), lease, ttl);
        let decided = tokio::time::timeout(self.config.handler_timeout, self.process(id, &guard));
        let rung = match decided.await {
            Ok(Ok(step)) => self.follow(id, step).await,
            Ok(Err(e)) if outage::is_down() => {
                debug!(error = %e, "the store failed while Redis is unreachable; looking again shortly");
                self.ring(id, Utc::now() + LOOK_AGAIN_AFTER_ERROR).await
            }
            Ok(Err(e)) => {
                warn!(error = %e, "the store failed while handling the job; looking again shortly");
                self.ring(id, Utc::now() + LOOK_AGAIN_AFTER_ERROR).await
            }
            Err(_) => {
                warn!(timeout = ?self.config.handler_timeout, "handling the job took too long; looking again shortly");
                self.ring(id, Utc::now() + LOOK_AGAIN_AFTER_ERROR).await
            }
        };
        guard.release().await;
        rung
    }

    /// Another run holds the job: ring it for when that lease ends, in case the holder dies.
    async fn busy(&self, id: &JobId) -> Result<(), BoxDynError> {
        let left = match self.leases.holder(id).await {
            Ok(Some((_, left))) => left,
            Ok(None) => Duration::ZERO,
            Err(e) => {
                warn!(error = %e, "could not read the job's lease");
                LOOK_AGAIN_AFTER_ERROR
            }
        };
        debug!(
            wait_ms = left.as_millis() as u64,
            "another run holds the job; ringing it for when that lease ends"
        );
        self.ring(id, Utc::now() + left + AFTER_LEASE).await
    }

    async fn process(&self, id: &JobId, lease: &LeaseGuard) -> Result<Step, StepError> {
        let Some(mut job) = self.store.get(id).await? else {
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

    /// Rings what `step` asks for.
    async fn follow(&self, id: &JobId, step: Step) -> Result<(), BoxDynError> {
        match step {
            Step::Done => Ok(()),
            Step::LookAt(at) => self.ring(id, at).await,
            Step::Chain(next) => self.ring(&next, Utc::now()).await,
            Step::Again(job) => self.ring(&job.id, Utc::now()).await,
        }
    }

    async fn ring(&self, id: &JobId, at: DateTime<Utc>) -> Result<(), BoxDynError> {
        self.schedule.ring(id, at).await.map_err(|e| {
            error!(job = %id, error = %e, "could not ring the job; the rescuer will");
            AbortError::new(e).into()
        })
    }
}
