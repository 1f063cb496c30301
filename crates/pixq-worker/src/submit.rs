//! A `queued` job: wait for its time, resume a task it already has, or submit it once.
//!
//! The body is recorded with [`Transition::begin_submit`] before it is sent, so that a lost
//! answer can be found again by that body ([`crate::lookup`]) instead of paid twice. Only the
//! run that applied `begin_submit` sends.

use std::time::Duration;

use chrono::Utc;
use pixq_core::chain;
use pixq_core::job::{Job, JobError, JobId};
use pixq_core::state::{Transition, WaitingReason};
use pixq_core::store::{Outcome, Store};
use pixverse::{Error, ErrorKind, Submission, SubmitMode, Url};
use tracing::{Span, info, warn};

use crate::error::StepError;
use crate::handler::Handler;
use crate::lease_guard::LeaseGuard;
use crate::names;
use crate::step::Step;

/// How long submission pauses after an account-level error (a later change pauses the whole
/// token instead).
const ACCOUNT_PAUSE: Duration = Duration::from_secs(30);

/// The wait after a 429 that named no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The code of a job whose stored request no longer builds; only data written by another
/// version of pixq, or edited by hand, gets there.
const BAD_REQUEST: &str = "bad_request";

impl Handler {
    /// Decides a `queued` job.
    pub(crate) async fn queued(&self, job: Job, lease: &LeaseGuard) -> Result<Step, StepError> {
        if let Some(at) = job.run_at.filter(|at| *at > Utc::now()) {
            return Ok(Step::LookAt(at));
        }
        if has_usable_task(&job) {
            // A retried or rescued job whose task may still deliver: never submit again.
            info!("resuming the job's task instead of submitting again");
            let resume = Transition::resume_generating(job.id.clone());
            return self.apply_then(resume, Step::again).await;
        }
        self.submit(job, lease).await
    }

    async fn submit(&self, job: Job, lease: &LeaseGuard) -> Result<Step, StepError> {
        let (mode, secret) = self.mode_for(&job);
        let body = match chain::submit_body(&job, &mode) {
            Ok(body) => body,
            Err(e) => {
                let error = JobError::new(BAD_REQUEST, e.to_string(), false);
                return self.fail(&job, error).await;
            }
        };
        let begin = Transition::begin_submit(job.id.clone(), body.as_str().to_owned(), secret);
        let job = match self.store.apply(begin).await? {
            Outcome::Applied(job) => job,
            other => return Ok(Step::again(other.into_job())),
        };
        if lease.is_lost() {
            // Whoever holds the job now finds it `submitting` and looks before it submits.
            warn!("lost the lease before sending the submit; not sending it");
            return Ok(Step::LookAt(Utc::now()));
        }
        info!(action = %job.action.as_str(), "submitting");
        let answer = self.client.submit(&body).await;
        self.answered(job, answer).await
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
        match self.store.apply(submitted).await? {
            Outcome::Applied(_) => {
                Span::current().record("task_id", task.as_str());
                info!("submitted");
                Ok(Step::LookAt(Utc::now() + self.config.poll_first_after))
            }
            Outcome::TaskTaken { by, current } => {
                warn!(%task, holder = %by, "another job holds the task the submit answered; looking up");
                self.lookup(current).await
            }
            Outcome::Stale { current } => {
                warn!(%task, state = %current.state, "the job moved while its submit was in flight; its task is not recorded");
                Ok(Step::again(current))
            }
        }
    }

    /// A submit that was answered with a refusal: no task was created.
    async fn refused(&self, job: Job, e: &Error) -> Result<Step, StepError> {
        let now = Utc::now();
        match e.kind() {
            ErrorKind::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                self.wait(&job, WaitingReason::RateLimited, now + wait)
                    .await
            }
            ErrorKind::Account => {
                warn!(error = %e, "account-level refusal; pausing this job's submission");
                self.wait(&job, WaitingReason::Paused, now + ACCOUNT_PAUSE)
                    .await
            }
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
