//! A `generating` job: poll its task, at most once a second, until it ends or
//! `poll.give_up_after` passes; finish the job and create the chain's next step. A cancelled
//! job's task is polled too, for a while, so a result that comes late is recorded.
//!
//! Polls go through the worker's [`Poller`](crate::poller::Poller), which asks for many tasks
//! in one `retrieve_batch`. A look that finds the task running renews the job's slot of the
//! shared cap; the write that records the task's end gives the slot back and wakes the line.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::chain;
use pixq_core::job::{Job, JobError, JobId, JobResult, NextStep};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{Effects, Outcome};
use pixverse::{TaskOutcome, TaskRecord, Video};
use tracing::{error, info, warn};

use crate::error::StepError;
use crate::handler::{Handler, SlotFate};
use crate::look::Look;
use crate::poller::Answer;
use crate::step::Step;
use crate::telemetry;

/// The code of a job whose task gave no result within `poll.give_up_after`.
const POLL_TIMEOUT: &str = "poll_timeout";

/// The least wait after a 429 on a poll.
const MIN_POLL_WAIT: Duration = Duration::from_secs(1);

/// Task failure codes that trying again will not fix. Belongs with the error taxonomy in
/// `pixverse` (which classifies HTTP answers, not task records, today).
const PERMANENT_TASK_CODES: &[&str] =
    &["bad_request", "forbidden", "no_api", "api_not_implemented"];

/// What a poll gave.
enum Polled {
    /// The task's record.
    Record(Box<TaskRecord>),
    /// No record now (the gate, a 429, an error): poll again at this time.
    Later(DateTime<Utc>),
    /// The upstream has no such task (a record without `id`).
    Gone,
}

impl Handler {
    /// Decides a `generating` job.
    pub(crate) async fn poll(&self, job: Job, look: &Look) -> Result<Step, StepError> {
        let Some(task) = job.upstream.task_id.clone() else {
            return self
                .retry_later(look, &job, "generating without a task id", SlotFate::Keep)
                .await;
        };
        // Since the job began waiting for this task: its submit, or a retry that resumed it
        // (a generating job's record changes only when it enters generating).
        let since = job
            .upstream
            .submitted_at
            .map_or(job.updated_at, |at| at.max(job.updated_at));
        let waited = (Utc::now() - since).to_std().unwrap_or_default();
        if waited > self.config.poll_give_up_after {
            let message = format!(
                "task {task} gave no result within {} s",
                self.config.poll_give_up_after.as_secs()
            );
            return self
                .fail(look, &job, JobError::new(POLL_TIMEOUT, message, true))
                .await;
        }
        let record = match self.retrieve(&task).await? {
            Polled::Record(record) => record,
            Polled::Later(at) => {
                self.hold_slot(&job.id).await?;
                return Ok(Step::LookAt(at));
            }
            // Just after a submit the record may not be readable yet; long after, the task
            // is gone for good (records last about a day) and cannot deliver: try anew
            // rather than wait for `poll_timeout` on every retry.
            Polled::Gone if waited > self.config.lookup_grace => {
                warn!("the upstream no longer knows the task");
                return self
                    .retry_later(
                        look,
                        &job,
                        "the upstream no longer knows the task",
                        SlotFate::Release,
                    )
                    .await;
            }
            Polled::Gone => {
                self.hold_slot(&job.id).await?;
                return Ok(Step::LookAt(Utc::now() + self.config.poll_interval));
            }
        };
        let outcome = record.outcome();
        if !matches!(outcome, TaskOutcome::Running) {
            self.timing.saw_done(waited);
        }
        match outcome {
            TaskOutcome::Running => {
                self.hold_slot(&job.id).await?;
                Ok(Step::LookAt(Utc::now() + self.config.poll_interval))
            }
            TaskOutcome::Succeeded(video) => self.succeed(job, &video, look).await,
            TaskOutcome::Failed { code, message } if is_permanent(&code) => {
                self.fail_task(look, &job, JobError::new(code, message, false))
                    .await
            }
            TaskOutcome::Failed { code, message } => {
                info!(%code, %message, "the task failed; the job will be submitted again");
                let why = format!("the task failed: {code}: {message}");
                self.retry_later(look, &job, &why, SlotFate::Release).await
            }
        }
    }

    /// A cancelled job whose task may still finish: poll it until it ends (or
    /// `poll.give_up_after` after the cancel) and keep a result as `late_result`.
    pub(crate) async fn poll_cancelled(&self, job: Job, look: &Look) -> Result<Step, StepError> {
        let Some(task) = job.upstream.task_id.clone() else {
            // Cancelled before its task was recorded: it waits for no slot any more. A slot
            // taken for a submit whose task went unrecorded runs out with its lease.
            self.leave_line(&job.id).await;
            return Ok(Step::Done);
        };
        let ended = job.finished_at.unwrap_or(job.updated_at);
        let since = (Utc::now() - ended).to_std().unwrap_or_default();
        if job.late_result.is_some() || since > self.config.poll_give_up_after {
            self.ended(&job.id).await;
            return Ok(Step::Done);
        }
        let record = match self.retrieve(&task).await? {
            Polled::Record(record) => record,
            Polled::Later(at) => {
                // The upstream keeps generating a cancelled job's task, and counts it.
                self.hold_slot(&job.id).await?;
                return Ok(Step::LookAt(at));
            }
            Polled::Gone => {
                self.ended(&job.id).await;
                return Ok(Step::Done);
            }
        };
        let outcome = record.outcome();
        if matches!(outcome, TaskOutcome::Running) {
            self.hold_slot(&job.id).await?;
        } else {
            self.ended(&job.id).await;
        }
        match outcome {
            TaskOutcome::Running => Ok(Step::LookAt(Utc::now() + self.config.poll_interval)),
            TaskOutcome::Succeeded(video) => self.keep_late(&job, &video, look).await,
            TaskOutcome::Failed { .. } => Ok(Step::Done),
        }
    }

    /// One poll, through the once-a-second gate and the worker's poller.
    async fn retrieve(&self, task: &str) -> Result<Polled, StepError> {
        if let Some(wait) = self.store.poll_gate().enter(task).await? {
            return Ok(Polled::Later(Utc::now() + wait));
        }
        Ok(match self.poller.poll(task).await {
            Answer::Record(record) => Polled::Record(record),
            Answer::Gone => Polled::Gone,
            Answer::Failed(failure) => {
                let wait = match failure.rate_limited {
                    Some(retry_after) => retry_after.unwrap_or(MIN_POLL_WAIT).max(MIN_POLL_WAIT),
                    None => self.config.poll_interval,
                };
                warn!(error = %failure.message, "polling the task failed; polling again later");
                Polled::Later(Utc::now() + wait)
            }
        })
    }

    /// The task delivered `video`: finish the job, create the chain's next step and ring it,
    /// give the slot back and settle the look, all in one write.
    async fn succeed(&self, job: Job, video: &Video, look: &Look) -> Result<Step, StepError> {
        let next = self.next_step(&job, video).await?;
        let child = next
            .as_ref()
            .map(|_| JobId::for_step(&job.root_id, job.step + 1));
        let succeed = Transition::succeed(job.id.clone(), JobResult::from(video), next);
        let effects = Effects {
            settle: Some((look.lease().clone(), None)),
            ring_now: child.into_iter().collect(),
            slot: self.slot_effect(SlotFate::Ended),
            ..Effects::default()
        };
        let committed = self.commit(look, &job, succeed, effects).await?;
        match committed.outcome {
            Outcome::Applied(done) => {
                info!(video_id = video.video_id.0, "succeeded");
                telemetry::finished(&done);
                Ok(Step::Settled)
            }
            other => {
                let current = other.into_job();
                match current.state {
                    JobState::Cancelled | JobState::Failed => {
                        self.ended(&current.id).await;
                        self.keep_late(&current, video, look).await
                    }
                    JobState::Succeeded => {
                        self.ended(&current.id).await;
                        Ok(Step::Done)
                    }
                    _ => Ok(Step::again(current)),
                }
            }
        }
    }

    /// The next step of the chain after `job`, computed from the chain's first step. The last
    /// step of a chain whose length is recorded has none: no need to read the first step.
    async fn next_step(&self, job: &Job, video: &Video) -> Result<Option<NextStep>, StepError> {
        if job.chain_len > 1 && job.step + 1 >= job.chain_len {
            return Ok(None);
        }
        let root = if job.id == job.root_id {
            Some(job.clone())
        } else {
            self.store.jobs().get(&job.root_id).await?
        };
        let Some(root) = root else {
            error!(root = %job.root_id, "the chain's first step is gone; the chain ends here");
            return Ok(None);
        };
        match chain::next_step(&root, job, video.video_id) {
            Ok(next) => Ok(next),
            Err(e) => {
                error!(error = %e, "cannot build the chain's next step; the chain ends here");
                Ok(None)
            }
        }
    }

    /// Records a result that came after the job ended; never applied.
    async fn keep_late(&self, job: &Job, video: &Video, look: &Look) -> Result<Step, StepError> {
        if job.late_result.is_some() {
            return Ok(Step::Done);
        }
        info!(state = %job.state, video_id = video.video_id.0, "a result came after the job ended; keeping it as late_result");
        let late = Transition::record_late_result(job.id.clone(), JobResult::from(video));
        self.apply_then(look, job, late, |_| Step::Done).await
    }
}

fn is_permanent(code: &str) -> bool {
    PERMANENT_TASK_CODES.contains(&code)
}
