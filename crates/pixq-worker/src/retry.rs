//! The transitions a look ends with: wait without burning an attempt, retry after a backoff
//! (or give up at `retry.max_attempts`), fail. Each is the look's last write: it settles the
//! lease with the job's next look, and gives the job's slot back when told, in one call.

use chrono::{DateTime, Utc};
use pixq_core::job::{Job, JobError};
use pixq_core::state::{Transition, WaitingReason};
use tracing::{debug, info, warn};

use crate::backoff::backoff;
use crate::error::StepError;
use crate::handler::{Handler, SlotFate};
use crate::look::Look;
use crate::step::Step;
use crate::telemetry;

/// The code of a job that used up `retry.max_attempts`.
pub(crate) const MAX_ATTEMPTS: &str = "max_attempts";

impl Handler {
    /// Applies `transition` as a write in the middle of a look; if it applied, `then` says
    /// what comes next, otherwise the job is decided again from its record as it is now.
    pub(crate) async fn apply_then(
        &self,
        look: &Look,
        job: &Job,
        transition: Transition,
        then: impl FnOnce(Job) -> Step,
    ) -> Result<Step, StepError> {
        let committed = self
            .commit(look, job, transition, Default::default())
            .await?;
        Ok(match committed.outcome {
            pixq_core::store::Outcome::Applied(job) => then(job),
            other => Step::again(other.into_job()),
        })
    }

    /// Back to `queued` for `reason` until `at`, without burning an attempt: a rate limit or
    /// a pause says nothing about the job.
    pub(crate) async fn wait(
        &self,
        look: &Look,
        job: &Job,
        reason: WaitingReason,
        at: DateTime<Utc>,
        slot: SlotFate,
    ) -> Result<Step, StepError> {
        if reason == WaitingReason::RateLimited {
            info!(%reason, until = %at, "job waits");
        } else {
            debug!(%reason, until = %at, "job waits");
        }
        let requeue = Transition::requeue(job.id.clone(), reason, Some(at), false);
        Ok(self.finish(look, job, requeue, Some(at), slot).await?.0)
    }

    /// A failed try: back to `queued` after an exponential backoff, burning an attempt; or,
    /// when that attempt would reach `retry.max_attempts`, fail with `max_attempts`.
    pub(crate) async fn retry_later(
        &self,
        look: &Look,
        job: &Job,
        why: &str,
        slot: SlotFate,
    ) -> Result<Step, StepError> {
        let tries = job.attempts.saturating_add(1);
        if tries >= self.config.max_attempts {
            let message = format!("gave up after {tries} failed tries; the last: {why}");
            return self
                .fail(look, job, JobError::new(MAX_ATTEMPTS, message, true))
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
        Ok(self.finish(look, job, requeue, Some(at), slot).await?.0)
    }

    /// The job ends `failed` with `error`: its slot goes back and it leaves the line.
    pub(crate) async fn fail(
        &self,
        look: &Look,
        job: &Job,
        error: JobError,
    ) -> Result<Step, StepError> {
        warn!(code = %error.code, message = %error.message, "job failed");
        let fail = Transition::fail(job.id.clone(), error);
        let (step, failed) = self.finish(look, job, fail, None, SlotFate::Ended).await?;
        if let Some(failed) = failed {
            telemetry::finished(&failed);
        }
        Ok(step)
    }

    /// The job's task failed for good: first give the task up (burning the attempt, so a
    /// later retry of the job submits anew instead of resuming a dead task), then fail.
    pub(crate) async fn fail_task(
        &self,
        look: &Look,
        job: &Job,
        error: JobError,
    ) -> Result<Step, StepError> {
        let requeue = Transition::requeue(job.id.clone(), WaitingReason::Backoff, None, true);
        let committed = self.commit(look, job, requeue, Default::default()).await?;
        match committed.outcome {
            pixq_core::store::Outcome::Applied(queued) => self.fail(look, &queued, error).await,
            other => Ok(Step::again(other.into_job())),
        }
    }
}
