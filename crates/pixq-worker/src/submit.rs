//! A `queued` job: wait for its time, resume a task it already has, or submit it once.
//!
//! Before a submit, one store call ([`Store::take_slot_then_commit`]) passes the token's pause
//! gate, takes a slot of the shared cap in the order of the wait line and, with the slot,
//! records the body with [`Transition::begin_submit`]; a job that meets the pause or a full
//! cap waits `queued` without burning an attempt. The body is recorded before it is sent, so
//! that a lost answer can be found again by that body ([`crate::lookup`]) instead of paid
//! twice. Only the run that applied `begin_submit` sends.
//!
//! [`Store::take_slot_then_commit`]: pixq_core::store::Store::take_slot_then_commit

use std::time::Duration;

use chrono::Utc;
use pixq_core::job::{Job, JobError};
use pixq_core::limits::Pause;
use pixq_core::state::{JobState, Transition, WaitingReason};
use pixq_core::store::{Effects, Outcome, SlotRequest, SubmitTurn};
use pixq_core::{callback, chain};
use pixverse::{Error, ErrorKind, Submission, SubmitMode};
use tracing::{Span, info, warn};

use crate::error::StepError;
use crate::handler::{Handler, SlotFate};
use crate::look::Look;
use crate::names;
use crate::step::Step;
use crate::telemetry;

/// The wait after a 429 that named no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The code of a job whose stored request no longer builds; only data written by another
/// version of pixq, or edited by hand, gets there.
const BAD_REQUEST: &str = "bad_request";

impl Handler {
    /// Decides a `queued` job.
    pub(crate) async fn queued(&self, job: Job, look: &Look) -> Result<Step, StepError> {
        // A job waiting for a slot or a pause is woken by a ring before its fallback time.
        let woken_early = matches!(
            job.waiting_reason,
            Some(WaitingReason::UpstreamCapacity | WaitingReason::Paused)
        );
        let due = job.run_at.unwrap_or(job.updated_at);
        if due <= Utc::now() {
            telemetry::queue_wait(due);
        } else if job.run_at.is_some() && !woken_early {
            return Ok(Step::LookAt(due));
        }
        if has_usable_task(&job) {
            // A retried or rescued job whose task may still deliver: never submit again.
            info!("resuming the job's task instead of submitting again");
            let resume = Transition::resume_generating(job.id.clone());
            return self.apply_then(look, &job, resume, Step::again).await;
        }
        self.submit(job, look).await
    }

    /// The pause gate and a slot in turn, then the submit; a probe that proved nothing is
    /// handed on.
    async fn submit(&self, job: Job, look: &Look) -> Result<Step, StepError> {
        let (mode, secret) = self.mode_for(&job);
        let body = match chain::submit_body(&job, &mode) {
            Ok(body) => body,
            Err(e) => {
                let error = JobError::new(BAD_REQUEST, e.to_string(), false);
                return self.fail(look, &job, error).await;
            }
        };
        let begin = Transition::begin_submit(job.id.clone(), body.as_str().to_owned(), secret);
        let (probe, committed) = match self.take_turn(look, &job, begin).await? {
            SubmitTurn::Taken {
                held,
                probe,
                committed,
            } => {
                telemetry::in_flight(self.alias(), held);
                if let Some(pause) = &probe {
                    info!(reason = %pause.reason, "the token is paused; this job's submit probes it");
                }
                (probe, committed)
            }
            SubmitTurn::Wait {
                held,
                earliest_expiry,
                at_head,
            } => {
                telemetry::in_flight(self.alias(), held);
                let at = self.fallback(earliest_expiry, at_head);
                return self
                    .wait(
                        look,
                        &job,
                        WaitingReason::UpstreamCapacity,
                        at,
                        SlotFate::Keep,
                    )
                    .await;
            }
            SubmitTurn::Paused { pause, at_head } => {
                return self.wait_paused(look, &job, &pause, at_head).await;
            }
        };
        let job = match committed.outcome {
            Outcome::Applied(job) => job,
            other => {
                let current = other.into_job();
                self.not_sent(&current, probe.as_ref()).await;
                return Ok(Step::again(current));
            }
        };
        if look.is_lost() {
            // Whoever holds the job now finds it `submitting` and looks before it submits;
            // the slot stays with the job until that lookup concludes.
            warn!("lost the lease before sending the submit; not sending it");
            if let Some(probe) = &probe {
                self.hand_back_probe(probe).await;
            }
            return Ok(Step::LookAt(Utc::now()));
        }
        info!(action = %job.action.as_str(), "submitting");
        let answer = self.client.submit(&body).await;
        telemetry::upstream_call("submit", &answer);
        if let Some(probe) = &probe {
            self.conclude_probe(probe, &answer).await;
        }
        self.answered(job, answer, look).await
    }

    /// The pause gate and a slot of the shared cap, and with the slot, `begin` written from
    /// the record this look saw: one store call.
    async fn take_turn(
        &self,
        look: &Look,
        job: &Job,
        begin: Transition,
    ) -> Result<SubmitTurn, StepError> {
        let request = SlotRequest {
            alias: self.alias().to_owned(),
            job: job.id.clone(),
            max: self.config.max_in_flight,
            ttl: self.config.slot_ttl(),
            probe_window: self.config.probe_window(),
        };
        let mut turn = self
            .store
            .take_slot_then_commit(&request, begin, look.basis_for(job))
            .await?;
        if let SubmitTurn::Taken { committed, .. } = &mut turn {
            look.saw(committed);
        }
        Ok(turn)
    }

    /// The submit was not sent after all (the job moved): its slot goes back unless it waits
    /// on a task of its own, and a probe it claimed is handed on.
    async fn not_sent(&self, current: &Job, probe: Option<&Pause>) {
        self.free_slot_unless_running(current).await;
        if let Some(probe) = probe {
            self.hand_back_probe(probe).await;
        }
    }

    /// What the submit's answer means for the job.
    async fn answered(
        &self,
        job: Job,
        answer: Result<Submission, Error>,
        look: &Look,
    ) -> Result<Step, StepError> {
        match answer {
            Ok(submission) => match submission.task_id() {
                Some(task) => self.claim_answer(job, task.to_owned(), look).await,
                None => {
                    warn!("the submit's answer named no task; looking the task up");
                    self.lookup(job, look).await
                }
            },
            Err(e) if e.is_outcome_unknown() => {
                warn!(error = %e, "the submit's outcome is unknown; looking for its task before anything else");
                self.lookup(job, look).await
            }
            Err(e) => self.refused(job, &e, look).await,
        }
    }

    /// Records the task id the submit answered, as an atomic claim, and books the first poll
    /// in the same write.
    async fn claim_answer(&self, job: Job, task: String, look: &Look) -> Result<Step, StepError> {
        let submitted = Transition::submitted(job.id.clone(), task.clone(), None);
        let first_poll = Utc::now() + self.timing.first_poll_after();
        let effects = Effects {
            settle: Some((look.lease().clone(), Some(first_poll))),
            ..Effects::default()
        };
        let committed = self.commit(look, &job, submitted, effects).await?;
        match committed.outcome {
            Outcome::Applied(_) => {
                Span::current().record("task_id", task.as_str());
                info!("submitted");
                Ok(Step::Settled)
            }
            Outcome::TaskTaken { by, current } => {
                warn!(%task, holder = %by, "another job holds the task the submit answered; looking up");
                self.lookup(current, look).await
            }
            Outcome::Stale { current } => self.keep_late_task(current, &task, None, look).await,
        }
    }

    /// The job moved while a submit that created `task` was in the air. A cancelled job
    /// records the task (the upstream runs and bills it) and is watched to its end, for its
    /// late result and its slot; otherwise the task runs untracked and its slot runs out with
    /// its lease.
    pub(crate) async fn keep_late_task(
        &self,
        current: Job,
        task: &str,
        trace_id: Option<String>,
        look: &Look,
    ) -> Result<Step, StepError> {
        if current.state == JobState::Cancelled && current.upstream.task_id.is_none() {
            let late = Transition::record_late_task(current.id.clone(), task.to_owned(), trace_id);
            let committed = self
                .commit(look, &current, late, Effects::default())
                .await?;
            match committed.outcome {
                Outcome::Applied(_) => {
                    Span::current().record("task_id", task);
                    info!(%task, "the job was cancelled while its submit was in flight; watching its task to its end");
                    return Ok(Step::LookAt(Utc::now() + self.timing.first_poll_after()));
                }
                Outcome::TaskTaken { by, current } => {
                    warn!(%task, holder = %by, "the cancelled job's task is held by another job");
                    return Ok(Step::again(current));
                }
                Outcome::Stale { current } => return Ok(Step::again(current)),
            }
        }
        warn!(%task, state = %current.state, "the job moved while its submit was in flight; its task is not recorded");
        Ok(Step::again(current))
    }

    /// A submit that was answered with a refusal: no task was created, so the slot goes
    /// back in the same write. A 429 and a pause wait without burning an attempt.
    async fn refused(&self, job: Job, e: &Error, look: &Look) -> Result<Step, StepError> {
        let now = Utc::now();
        match e.kind() {
            ErrorKind::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                self.wait(
                    look,
                    &job,
                    WaitingReason::RateLimited,
                    now + wait,
                    SlotFate::Release,
                )
                .await
            }
            ErrorKind::Account => self.pause_for(look, &job, e).await,
            ErrorKind::Permanent => {
                let code = e.code().unwrap_or(BAD_REQUEST);
                let error = JobError::new(code, e.message(), false);
                self.fail(look, &job, error).await
            }
            _ => {
                self.retry_later(look, &job, &e.to_string(), SlotFate::Release)
                    .await
            }
        }
    }

    /// Callback mode (with this job's secret, kept across tries) when there is a public URL;
    /// polling only otherwise.
    fn mode_for(&self, job: &Job) -> (SubmitMode, Option<String>) {
        let Some(base) = &self.config.public_url else {
            return (SubmitMode::Async, None);
        };
        let secret = job
            .upstream
            .callback_secret
            .clone()
            .unwrap_or_else(names::callback_secret);
        match callback::url(base, &job.id, &secret) {
            Some(url) => (SubmitMode::Callback(url), Some(secret)),
            None => {
                warn!(%base, "the public URL cannot carry a path; polling only");
                (SubmitMode::Async, None)
            }
        }
    }
}

/// Whether the job has a task id that did not already fail it.
fn has_usable_task(job: &Job) -> bool {
    job.upstream
        .task_id
        .as_ref()
        .is_some_and(|task| !job.upstream.previous_task_ids.contains(task))
}
