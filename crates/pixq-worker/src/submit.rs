//! A `queued` job: wait for its time, resume a task it already has, or submit it once.
//!
//! Before a submit, the token's pause gate ([`crate::pause`]) and a slot of the shared cap
//! ([`crate::capacity`]); a job that meets either waits `queued` without burning an attempt.
//! The body is recorded with [`Transition::begin_submit`] before it is sent, so that a lost
//! answer can be found again by that body ([`crate::lookup`]) instead of paid twice. Only the
//! run that applied `begin_submit` sends.

use std::time::Duration;

use chrono::Utc;
use pixq_core::chain;
use pixq_core::job::{Job, JobError, JobId};
use pixq_core::limits::Gate;
use pixq_core::state::{JobState, Transition, WaitingReason};
use pixq_core::store::Outcome;
use pixverse::{Error, ErrorKind, Submission, SubmitMode, Url};
use tracing::{Span, info, warn};

use crate::capacity::Slot;
use crate::error::StepError;
use crate::handler::Handler;
use crate::lease_guard::LeaseGuard;
use crate::names;
use crate::step::Step;
use crate::telemetry;

/// The wait after a 429 that named no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The code of a job whose stored request no longer builds; only data written by another
/// version of pixq, or edited by hand, gets there.
const BAD_REQUEST: &str = "bad_request";

/// How far a submit got.
enum Sent {
    /// The body went out: the job as `submitting`, and what came back.
    Answered(Box<(Job, Result<Submission, Error>)>),
    /// Nothing was sent; this is the step.
    NotSent(Step),
}

impl Handler {
    /// Decides a `queued` job.
    pub(crate) async fn queued(&self, job: Job, lease: &LeaseGuard) -> Result<Step, StepError> {
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
            return self.apply_then(resume, Step::again).await;
        }
        self.submit(job, lease).await
    }

    /// The pause gate, then the submit; a probe that proved nothing is handed on.
    async fn submit(&self, job: Job, lease: &LeaseGuard) -> Result<Step, StepError> {
        let probe = match self.pause_gate().await? {
            Gate::Open => None,
            Gate::Probe(pause) => {
                info!(reason = %pause.reason, "the token is paused; this job's submit probes it");
                Some(pause)
            }
            Gate::Paused(pause) => return self.wait_paused(&job, pause.until).await,
        };
        let sent = self.send(job, lease, probe.is_some()).await;
        let (job, answer) = match sent {
            Ok(Sent::Answered(answered)) => *answered,
            not_sent => {
                if let Some(probe) = &probe {
                    self.hand_back_probe(probe).await;
                }
                return match not_sent {
                    Ok(Sent::NotSent(step)) => Ok(step),
                    Err(e) => Err(e),
                    Ok(Sent::Answered(_)) => unreachable!("matched above"),
                };
            }
        };
        if let Some(probe) = &probe {
            self.conclude_probe(probe, &answer).await;
        }
        self.answered(job, answer).await
    }

    /// Takes a slot, records the body, sends it. `probing` takes the slot out of turn.
    async fn send(&self, job: Job, lease: &LeaseGuard, probing: bool) -> Result<Sent, StepError> {
        let (mode, secret) = self.mode_for(&job);
        let body = match chain::submit_body(&job, &mode) {
            Ok(body) => body,
            Err(e) => {
                let error = JobError::new(BAD_REQUEST, e.to_string(), false);
                return Ok(Sent::NotSent(self.fail(&job, error).await?));
            }
        };
        if let Slot::Wait(at) = self.take_slot(&job, probing).await? {
            let step = self.wait(&job, WaitingReason::UpstreamCapacity, at).await?;
            return Ok(Sent::NotSent(step));
        }
        let begin = Transition::begin_submit(job.id.clone(), body.as_str().to_owned(), secret);
        let job = match self.store.jobs().apply(begin).await? {
            Outcome::Applied(job) => job,
            other => {
                let current = other.into_job();
                self.free_slot_unless_running(&current).await;
                return Ok(Sent::NotSent(Step::again(current)));
            }
        };
        if lease.is_lost() {
            // Whoever holds the job now finds it `submitting` and looks before it submits;
            // the slot stays with the job until that lookup concludes.
            warn!("lost the lease before sending the submit; not sending it");
            return Ok(Sent::NotSent(Step::LookAt(Utc::now())));
        }
        info!(action = %job.action.as_str(), "submitting");
        let answer = self.client.submit(&body).await;
        telemetry::upstream_call("submit", &answer);
        Ok(Sent::Answered(Box::new((job, answer))))
    }

    /// What the submit's answer means for the job.
    async fn answered(
        &self,
        job: Job,
        answer: Result<Submission, Error>,
    ) -> Result<Step, StepError> {
        match answer {
            Ok(submission) => match submission.task_id() {
                Some(task) => self.claim_answer(job, task.to_owned()).await,
                None => {
                    warn!("the submit's answer named no task; looking the task up");
                    self.lookup(job).await
                }
            },
            Err(e) if e.is_outcome_unknown() => {
                warn!(error = %e, "the submit's outcome is unknown; looking for its task before anything else");
                self.lookup(job).await
            }
            Err(e) => self.refused(job, &e).await,
        }
    }

    /// Records the task id the submit answered, as an atomic claim.
    async fn claim_answer(&self, job: Job, task: String) -> Result<Step, StepError> {
        let submitted = Transition::submitted(job.id.clone(), task.clone(), None);
        match self.store.jobs().apply(submitted).await? {
            Outcome::Applied(_) => {
                Span::current().record("task_id", task.as_str());
                info!("submitted");
                Ok(Step::LookAt(Utc::now() + self.config.poll_first_after))
            }
            Outcome::TaskTaken { by, current } => {
                warn!(%task, holder = %by, "another job holds the task the submit answered; looking up");
                self.lookup(current).await
            }
            Outcome::Stale { current } => self.keep_late_task(current, &task, None).await,
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
    ) -> Result<Step, StepError> {
        if current.state == JobState::Cancelled && current.upstream.task_id.is_none() {
            let late = Transition::record_late_task(current.id.clone(), task.to_owned(), trace_id);
            match self.store.jobs().apply(late).await? {
                Outcome::Applied(_) => {
                    Span::current().record("task_id", task);
                    info!(%task, "the job was cancelled while its submit was in flight; watching its task to its end");
                    return Ok(Step::LookAt(Utc::now() + self.config.poll_first_after));
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
    /// back at once. A 429 and a pause wait without burning an attempt.
    async fn refused(&self, job: Job, e: &Error) -> Result<Step, StepError> {
        self.free_slot(&job.id).await;
        let now = Utc::now();
        match e.kind() {
            ErrorKind::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                self.wait(&job, WaitingReason::RateLimited, now + wait)
                    .await
            }
            ErrorKind::Account => self.pause_for(&job, e).await,
            ErrorKind::Permanent => {
                let code = e.code().unwrap_or(BAD_REQUEST);
                let error = JobError::new(code, e.message(), false);
                self.fail(&job, error).await
            }
            _ => self.retry_later(&job, &e.to_string()).await,
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
        match callback_url(base, &job.id, &secret) {
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

/// `<public_url>/v1/upstream/callback/<job_id>/<secret>`, keeping any path prefix.
fn callback_url(base: &Url, id: &JobId, secret: &str) -> Option<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.pop_if_empty().extend([
        "v1",
        "upstream",
        "callback",
        id.as_str(),
        secret,
    ]);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_url_keeps_the_public_path() {
        let id = JobId::from("job_1");
        for base in [
            "https://pixq.example",
            "https://pixq.example/",
            "https://pixq.example/pixq/",
        ] {
            let url = callback_url(&Url::parse(base).unwrap(), &id, "abc").unwrap();
            let path = url.path().trim_start_matches("/pixq");
            assert_eq!(path, "/v1/upstream/callback/job_1/abc", "{base}");
        }
    }
}
