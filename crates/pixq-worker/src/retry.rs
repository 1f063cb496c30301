//! The transitions every worker step ends with: wait without burning an attempt, retry after
//! a backoff (or give up at `retry.max_attempts`), fail.

use chrono::{DateTime, Utc};
use pixq_core::job::{Job, JobError};
use pixq_core::state::{Transition, WaitingReason};
use pixq_core::store::Outcome;
use tracing::{debug, info, warn};

use crate::backoff::backoff;
use crate::error::StepError;
use crate::handler::Handler;
use crate::step::Step;
use crate::telemetry;

/// The code of a job that used up `retry.max_attempts`.
pub(crate) const MAX_ATTEMPTS: &str = "max_attempts";

impl Handler {
    /// Applies `transition`; if it applied, `then` says what comes next, otherwise the job is
    /// decided again from its record as it is now.
    pub(crate) async fn apply_then(
        &self,
        transition: Transition,
        then: impl FnOnce(Job) -> Step,
    ) -> Result<Step, StepError> {
        Ok(match self.store.jobs().apply(transition).await? {
            Outcome::Applied(job) => then(job),
            other => Step::again(other.into_job()),
        })
    }

    /// Back to `queued` for `reason` until `at`, without burning an attempt: a rate limit or
    /// a pause says nothing about the job.
    pub(crate) async fn wait(
        &self,
        job: &Job,
        reason: WaitingReason,
        at: DateTime<Utc>,
    ) -> Result<Step, StepError> {
        if reason == WaitingReason::RateLimited {
            info!(%reason, until = %at, "job waits");
        } else {
            debug!(%reason, until = %at, "job waits");
        }
        let requeue = Transition::requeue(job.id.clone(), reason, Some(at), false);
        self.apply_then(requeue, |_| Step::LookAt(at)).await
    }

    /// A failed try: back to `queued` after an exponential backoff, burning an attempt; or,
    /// when that attempt would reach `retry.max_attempts`, fail with `max_attempts`.
    pub(crate) async fn retry_later(&self, job: &Job, why: &str) -> Result<Step, StepError> {
        let tries = job.attempts.saturating_add(1);
        if tries >= self.config.max_attempts {
            let message = format!("gave up after {tries} failed tries; the last: {why}");
            return self
                .fail(job, JobError::new(MAX_ATTEMPTS, message, true))
                .await;
        }
        let wait = backoff(
            job.attempts,
            self.config.backoff_base,
            self.config.backoff_max,
        );
        let at = Utc::now() + wait;
        info!(
            attempt = tries,
            retry_in_ms = wait.as_millis() as u64,
            why,
            "try failed; backing off"
        );
        let requeue = Transition::requeue(job.id.clone(), WaitingReason::Backoff, Some(at), true);
        self.apply_then(requeue, |_| Step::LookAt(at)).await
    }

    /// The job ends `failed` with `error`.
    pub(crate) async fn fail(&self, job: &Job, error: JobError) -> Result<Step, StepError> {
        warn!(code = %error.code, message = %error.message, "job failed");
        Ok(
            match self
                .store
                .jobs()
                .apply(Transition::fail(job.id.clone(), error))
                .await?
            {
                Outcome::Applied(failed) => {
                    telemetry::finished(&failed);
                    self.ended(&failed.id).await;
                    Step::Done
                }
                other => Step::again(other.into_job()),
            },
        )
    }

    /// The job's task failed for good: first give the task up (burning the attempt, so a
    /// later retry of the job submits anew instead of resuming a dead task), then fail.
    pub(crate) async fn fail_task(&self, job: &Job, error: JobError) -> Result<Step, StepError> {
        let requeue = Transition::requeue(job.id.clone(), WaitingReason::Backoff, None, true);
        match self.store.jobs().apply(requeue).await? {
            Outcome::Applied(queued) => self.fail(&queued, error).await,
            other => Ok(Step::again(other.into_job())),
        }
    }
}
