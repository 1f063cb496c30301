//! A `generating` job: poll its task, at most once a second, until it ends or
//! `poll.give_up_after` passes; finish the job and create the chain's next step. A cancelled
//! job's task is polled too, for a while, so a result that comes late is recorded.
//!
//! Every look at a running task renews the job's slot of the shared cap; the slot goes back
//! when the task is seen to end (or is given up), a cancelled job's included.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::chain;
use pixq_core::job::{Job, JobError, JobId, JobResult};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::Outcome;
use pixverse::{ErrorKind, TaskOutcome, TaskRecord, Video};
use tracing::{error, info, warn};

use crate::error::StepError;
use crate::handler::Handler;
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
    pub(crate) async fn poll(&self, job: Job) -> Result<Step, StepError> {
        let Some(task) = job.upstream.task_id.clone() else {
            return self.retry_later(&job, "generating without a task id").await;
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
                .fail(&job, JobError::new(POLL_TIMEOUT, message, true))
                .await;
        }
        self.hold_slot(&job.id).await?;
        let record = match self.retrieve(&task).await? {
            Polled::Record(record) => record,
            Polled::Later(at) => return Ok(Step::LookAt(at)),
            // Just after a submit the record may not be readable yet; long after, the task
            // is gone for good (records last about a day) and cannot deliver: try anew
            // rather than wait for `poll_timeout` on every retry.
            Polled::Gone if waited > self.config.lookup_grace => {
                warn!("the upstream no longer knows the task");
                self.free_slot(&job.id).await;
                return self
                    .retry_later(&job, "the upstream no longer knows the task")
                    .await;
            }
            Polled::Gone => return Ok(Step::LookAt(Utc::now() + self.config.poll_interval)),
        };
        let outcome = record.outcome();
        if !matches!(outcome, TaskOutcome::Running) {
            self.free_slot(&job.id).await;
        }
        match outcome {
            TaskOutcome::Running => Ok(Step::LookAt(Utc::now() + self.config.poll_interval)),
            TaskOutcome::Succeeded(video) => self.succeed(job, &video).await,
            TaskOutcome::Failed { code, message } if is_permanent(&code) => {
                self.fail_task(&job, JobError::new(code, message, false))
                    .await
            }
            TaskOutcome::Failed { code, message } => {
                info!(%code, %message, "the task failed; the job will be submitted again");
                self.retry_later(&job, &format!("the task failed: {code}: {message}"))
                    .await
            }
        }
    }

    /// A cancelled job whose task may still finish: poll it until it ends (or
    /// `poll.give_up_after` after the cancel) and keep a result as `late_result`.
    pub(crate) async fn poll_cancelled(&self, job: Job) -> Result<Step, StepError> {
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
        // The upstream keeps generating a cancelled job's task, and counts it.
        self.hold_slot(&job.id).await?;
        let record = match self.retrieve(&task).await? {
            Polled::Record(record) => record,
            Polled::Later(at) => return Ok(Step::LookAt(at)),
            Polled::Gone => {
                self.ended(&job.id).await;
                return Ok(Step::Done);
            }
        };
        let outcome = record.outcome();
        if !matches!(outcome, TaskOutcome::Running) {
            self.ended(&job.id).await;
        }
        match outcome {
            TaskOutcome::Running => Ok(Step::LookAt(Utc::now() + self.config.poll_interval)),
            TaskOutcome::Succeeded(video) => self.keep_late(&job, &video).await,
            TaskOutcome::Failed { .. } => Ok(Step::Done),
        }
    }

    /// One poll, through the once-a-second gate.
    async fn retrieve(&self, task: &str) -> Result<Polled, StepError> {
        if let Some(wait) = self.store.poll_gate().enter(task).await? {
            return Ok(Polled::Later(Utc::now() + wait));
        }
        let answer = self.client.retrieve(task).await;
        telemetry::upstream_call("retrieve", &answer);
        match answer {
            Ok(record) => Ok(Polled::Record(Box::new(record))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Polled::Gone),
            Err(e) => {
                let wait = match e.kind() {
                    ErrorKind::RateLimited { retry_after } => {
                        retry_after.unwrap_or(MIN_POLL_WAIT).max(MIN_POLL_WAIT)
                    }
                    _ => self.config.poll_interval,
                };
                warn!(error = %e, "polling the task failed; polling again later");
                Ok(Polled::Later(Utc::now() + wait))
            }
        }
    }

    /// The task delivered `video`: finish the job and create the chain's next step in the
    /// same write.
    async fn succeed(&self, job: Job, video: &Video) -> Result<Step, StepError> {
        let next = self.next_step(&job, video).await?;
        let child = next
            .as_ref()
            .map(|_| JobId::for_step(&job.root_id, job.step + 1));
        let succeed = Transition::succeed(job.id.clone(), JobResult::from(video), next);
        match self.store.jobs().apply(succeed).await? {
            Outcome::Applied(done) => {
                info!(video_id = video.video_id.0, "succeeded");
                telemetry::finished(&done);
                // Its slot went back when the poll saw the task end.
                self.leave_line(&done.id).await;
                Ok(child.map_or(Step::Done, Step::Chain))
            }
            other => {
                let current = other.into_job();
                match current.state {
                    JobState::Cancelled | JobState::Failed => self.keep_late(&current, video).await,
                    JobState::Succeeded => Ok(Step::Done),
                    _ => Ok(Step::again(current)),
                }
            }
        }
    }

    /// The next step of the chain after `job`, computed from the chain's first step.
    async fn next_step(
        &self,
        job: &Job,
        video: &Video,
    ) -> Result<Option<pixq_core::job::NextStep>, StepError> {
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
    async fn keep_late(&self, job: &Job, video: &Video) -> Result<Step, StepError> {
        if job.late_result.is_some() {
            return Ok(Step::Done);
        }
        info!(state = %job.state, video_id = video.video_id.0, "a result came after the job ended; keeping it as late_result");
        let late = Transition::record_late_result(job.id.clone(), JobResult::from(video));
        self.apply_then(late, |_| Step::Done).await
    }
}

fn is_permanent(code: &str) -> bool {
    PERMANENT_TASK_CODES.contains(&code)
}
