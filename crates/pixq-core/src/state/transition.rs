//! [`Transition`]: one edge of the machine applied to one job, and the [`Plan`] of writes it
//! makes. Planning is pure, so every backend applies exactly the same rules: it reads the
//! record, asks [`Transition::plan`], and writes the plan only if the record is still the one
//! it read.

use chrono::{DateTime, Utc};

use super::{JobState, TransitionKind, WaitingReason};
use crate::job::{Job, JobError, JobId, JobResult, NextStep};

/// A state change for one job, built by a named constructor that fixes the states it may
/// start from (see [`TransitionKind::from`]).
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a transition does nothing until a store applies it"]
pub struct Transition {
    id: JobId,
    change: Change,
}

#[derive(Debug, Clone, PartialEq)]
enum Change {
    BeginSubmit {
        request: String,
        callback_secret: Option<String>,
    },
    Submitted {
        task_id: String,
        trace_id: Option<String>,
    },
    ResumeGenerating,
    Requeue {
        reason: WaitingReason,
        run_at: Option<DateTime<Utc>>,
        burns_attempt: bool,
    },
    Succeed {
        result: JobResult,
        next: Option<NextStep>,
    },
    Fail {
        error: JobError,
    },
    Cancel,
    RecordLateResult {
        result: JobResult,
    },
    RecordLateTask {
        task_id: String,
        trace_id: Option<String>,
    },
    Retry,
}

/// What applying a transition writes, computed from the record as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The job's new record.
    pub job: Job,
    /// The chain's next step to create in the same write, unless it already exists.
    pub create: Option<Job>,
    /// A task id to claim for this job in the same write; if another job holds it, nothing
    /// is written.
    pub claim: Option<String>,
    /// Whether the job's unfinished descendants are cancelled in the same write.
    pub cancel_descendants: bool,
}

impl Transition {
    /// `queued → submitting`: a worker is about to send `request` (the exact body) to the
    /// upstream. Recording it first is what lets a lost answer be found again instead of paid
    /// twice. Clears `waiting_reason` and `run_at`.
    pub fn begin_submit(id: JobId, request: String, callback_secret: Option<String>) -> Self {
        Transition {
            id,
            change: Change::BeginSubmit {
                request,
                callback_secret,
            },
        }
    }

    /// `submitting → generating`: the upstream answered (or a lookup found) `task_id`.
    /// Atomically claims the task id: if another job holds it, nothing changes and the store
    /// answers [`Outcome::TaskTaken`](crate::store::Outcome::TaskTaken). A task id this job
    /// held before moves to `upstream.previous_task_ids`.
    pub fn submitted(id: JobId, task_id: String, trace_id: Option<String>) -> Self {
        Transition {
            id,
            change: Change::Submitted { task_id, trace_id },
        }
    }

    /// `queued → generating` for a job that already has a task id (a retried or rescued job
    /// whose task may still deliver): wait for it instead of submitting again. Answers
    /// `Stale` when the job has no task id.
    pub fn resume_generating(id: JobId) -> Self {
        Transition {
            id,
            change: Change::ResumeGenerating,
        }
    }

    /// `queued | submitting | generating → queued`, waiting for `reason` until `run_at`
    /// (`None`: due now). `burns_attempt` counts the try against `retry.max_attempts` (a
    /// failed try does; capacity, 429 and a pause do not). From `generating` it means the
    /// upstream task ended without a usable video: its id moves to
    /// `upstream.previous_task_ids` so the next try submits anew.
    pub fn requeue(
        id: JobId,
        reason: WaitingReason,
        run_at: Option<DateTime<Utc>>,
        burns_attempt: bool,
    ) -> Self {
        Transition {
            id,
            change: Change::Requeue {
                reason,
                run_at,
                burns_attempt,
            },
        }
    }

    /// `generating → succeeded` with `result`, creating `next` (the chain's next step, id
    /// `<root>.s<k+1>`) in the same write. If that step already exists it is not created
    /// again. A second `succeed` answers `Stale`.
    pub fn succeed(id: JobId, result: JobResult, next: Option<NextStep>) -> Self {
        Transition {
            id,
            change: Change::Succeed { result, next },
        }
    }

    /// `queued | submitting | generating → failed` with `error`. A retry may re-drive it.
    pub fn fail(id: JobId, error: JobError) -> Self {
        Transition {
            id,
            change: Change::Fail { error },
        }
    }

    /// `queued | submitting | generating → cancelled`, with the error code `cancelled`, and
    /// every unfinished descendant with it. The chain's remaining steps are data and are
    /// simply never created. A job that is `generating` keeps its upstream slot until the
    /// task ends; its result, if any, goes to [`Transition::record_late_result`].
    pub fn cancel(id: JobId) -> Self {
        Transition {
            id,
            change: Change::Cancel,
        }
    }

    /// `cancelled | failed`, state unchanged: keeps a result that arrived after the job
    /// ended as `late_result`, without applying it (no next step is created).
    pub fn record_late_result(id: JobId, result: JobResult) -> Self {
        Transition {
            id,
            change: Change::RecordLateResult { result },
        }
    }

    /// `cancelled`, state unchanged: a submit that was in the air when the job was cancelled
    /// answered `task_id`. The task runs and is billed upstream, so it is claimed and recorded,
    /// like [`Transition::submitted`], for a worker to watch it to its end (its late result,
    /// and the slot it holds). Answers `Stale` when the job already has a task id.
    pub fn record_late_task(id: JobId, task_id: String, trace_id: Option<String>) -> Self {
        Transition {
            id,
            change: Change::RecordLateTask { task_id, trace_id },
        }
    }

    /// `failed → queued` under the same id: attempts reset, error and `finished_at` cleared.
    /// The task id is kept: a worker that finds a usable one resumes waiting
    /// ([`Transition::resume_generating`]) instead of submitting again.
    pub fn retry(id: JobId) -> Self {
        Transition {
            id,
            change: Change::Retry,
        }
    }

    /// The job this transition applies to.
    pub fn job_id(&self) -> &JobId {
        &self.id
    }

    /// Which edge this is.
    pub fn kind(&self) -> TransitionKind {
        match self.change {
            Change::BeginSubmit { .. } => TransitionKind::BeginSubmit,
            Change::Submitted { .. } => TransitionKind::Submitted,
            Change::ResumeGenerating => TransitionKind::ResumeGenerating,
            Change::Requeue { .. } => TransitionKind::Requeue,
            Change::Succeed { .. } => TransitionKind::Succeed,
            Change::Fail { .. } => TransitionKind::Fail,
            Change::Cancel => TransitionKind::Cancel,
            Change::RecordLateResult { .. } => TransitionKind::RecordLateResult,
            Change::RecordLateTask { .. } => TransitionKind::RecordLateTask,
            Change::Retry => TransitionKind::Retry,
        }
    }

    /// The writes this transition makes to `current` at `now`, or `None` when it does not
    /// apply (the store then answers `Stale` with `current`).
    pub fn plan(&self, current: &Job, now: DateTime<Utc>) -> Option<Plan> {
        let kind = self.kind();
        if current.id != self.id || !kind.from().contains(&current.state) {
            return None;
        }
        let mut job = current.clone();
        if let Some(to) = kind.to() {
            job.state = to;
        }
        job.updated_at = now;
        if job.state != JobState::Queued {
            job.waiting_reason = None;
            job.run_at = None;
        }
        if job.state.is_terminal() && !current.state.is_terminal() {
            job.finished_at = Some(now);
        }
        let mut plan = Plan {
            job,
            create: None,
            claim: None,
            cancel_descendants: false,
        };
        let job = &mut plan.job;
        match &self.change {
            Change::BeginSubmit {
                request,
                callback_secret,
            } => {
                job.upstream.request = Some(request.clone());
                job.upstream.callback_secret = callback_secret.clone();
            }
            Change::Submitted { task_id, trace_id } => {
                if let Some(old) = job.upstream.task_id.take().filter(|old| old != task_id) {
                    job.upstream.previous_task_ids.push(old);
                }
                job.upstream.task_id = Some(task_id.clone());
                job.upstream.trace_id = trace_id.clone();
                job.upstream.submitted_at = Some(now);
                plan.claim = Some(task_id.clone());
            }
            Change::ResumeGenerating => {
                job.upstream.task_id.as_ref()?;
            }
            Change::Requeue {
                reason,
                run_at,
                burns_attempt,
            } => {
                job.waiting_reason = Some(*reason);
                job.run_at = *run_at;
                if *burns_attempt {
                    job.attempts = job.attempts.saturating_add(1);
                }
                if current.state == JobState::Generating {
                    if let Some(old) = job.upstream.task_id.take() {
                        job.upstream.previous_task_ids.push(old);
                    }
                    job.upstream.trace_id = None;
                    job.upstream.submitted_at = None;
                }
            }
            Change::Succeed { result, next } => {
                job.result = Some(result.clone());
                job.error = None;
                if let Some(next) = next {
                    let child = next.clone().into_job(job, now);
                    if !job.children.contains(&child.id) {
                        job.children.push(child.id.clone());
                    }
                    plan.create = Some(child);
                }
            }
            Change::Fail { error } => job.error = Some(error.clone()),
            Change::Cancel => {
                job.error = Some(JobError::new(
                    JobError::CANCELLED,
                    "cancelled on request",
                    false,
                ));
                plan.cancel_descendants = true;
            }
            Change::RecordLateResult { result } => job.late_result = Some(result.clone()),
            Change::RecordLateTask { task_id, trace_id } => {
                if job.upstream.task_id.is_some() {
                    return None;
                }
                job.upstream.task_id = Some(task_id.clone());
                job.upstream.trace_id = trace_id.clone();
                job.upstream.submitted_at = Some(now);
                plan.claim = Some(task_id.clone());
            }
            Change::Retry => {
                job.attempts = 0;
                job.error = None;
                job.finished_at = None;
            }
        }
        Some(plan)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::job::{Action, NewJob};

    fn queued() -> Job {
        NewJob::new(Action::Generate, json!({"prompt": "a"})).into_job(Utc::now())
    }

    fn result() -> JobResult {
        JobResult {
            video_id: pixverse::VideoId(1),
            video_url: "https://cdn/v.mp4".into(),
            width: None,
            height: None,
            first_frame: None,
            last_frame: None,
            seed: None,
            duration: None,
            model: None,
            quality: None,
        }
    }

    fn step(job: &Job, t: Transition) -> Job {
        t.plan(job, Utc::now()).expect("transition applies").job
    }

    #[test]
    fn each_constructor_refuses_the_states_it_does_not_start_from() {
        let job = queued();
        let id = job.id.clone();
        let all = [
            Transition::begin_submit(id.clone(), "{}".into(), None),
            Transition::submitted(id.clone(), "t".into(), None),
            Transition::resume_generating(id.clone()),
            Transition::requeue(id.clone(), WaitingReason::Backoff, None, true),
            Transition::succeed(id.clone(), result(), None),
            Transition::fail(id.clone(), JobError::new("x", "y", false)),
            Transition::cancel(id.clone()),
            Transition::record_late_result(id.clone(), result()),
            Transition::record_late_task(id.clone(), "t1".into(), None),
            Transition::retry(id.clone()),
        ];
        for t in all {
            for state in JobState::ALL {
                let mut at = job.clone();
                at.state = state;
                // A late task is recorded only on a job that has none.
                if t.kind() != TransitionKind::RecordLateTask {
                    at.upstream.task_id = Some("t0".into());
                }
                let applies = t.plan(&at, Utc::now()).is_some();
                assert_eq!(
                    applies,
                    t.kind().from().contains(&state),
                    "{t:?} from {state}"
                );
            }
        }
    }

    #[test]
    fn requeue_from_generating_gives_up_the_task_and_counts_the_attempt() {
        let mut job = queued();
        job = step(
            &job,
            Transition::begin_submit(job.id.clone(), "{}".into(), None),
        );
        job = step(
            &job,
            Transition::submitted(job.id.clone(), "t1".into(), None),
        );
        let back = step(
            &job,
            Transition::requeue(job.id.clone(), WaitingReason::Backoff, None, true),
        );
        assert_eq!(back.state, JobState::Queued);
        assert_eq!(back.attempts, 1);
        assert_eq!(back.upstream.task_id, None);
        assert_eq!(back.upstream.previous_task_ids, ["t1"]);
        assert_eq!(back.waiting_reason, Some(WaitingReason::Backoff));
    }

    #[test]
    fn retry_keeps_the_task_id_and_resets_attempts() {
        let mut job = queued();
        job.upstream.task_id = Some("t1".into());
        job.attempts = 3;
        job = step(
            &job,
            Transition::fail(job.id.clone(), JobError::new("poll_timeout", "m", true)),
        );
        assert!(job.finished_at.is_some());
        job = step(&job, Transition::retry(job.id.clone()));
        assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
        assert_eq!((job.error.as_ref(), job.finished_at), (None, None));
        assert_eq!(job.upstream.task_id.as_deref(), Some("t1"));
        assert!(
            Transition::resume_generating(job.id.clone())
                .plan(&job, Utc::now())
                .is_some()
        );
    }

    #[test]
    fn resume_needs_a_task_id() {
        let job = queued();
        assert!(
            Transition::resume_generating(job.id.clone())
                .plan(&job, Utc::now())
                .is_none()
        );
    }

    #[test]
    fn succeed_names_the_child_once() {
        let mut job = queued();
        job.state = JobState::Generating;
        let next = NextStep {
            action: Action::Extend,
            params: json!({}),
        };
        let plan = Transition::succeed(job.id.clone(), result(), Some(next))
            .plan(&job, Utc::now())
            .unwrap();
        let child = plan.create.unwrap();
        assert_eq!(plan.job.children, std::slice::from_ref(&child.id));
        assert_eq!(child.id, JobId::for_step(&job.id, 1));
    }

    #[test]
    fn a_transition_for_another_job_does_not_apply() {
        let job = queued();
        assert!(
            Transition::cancel(JobId::from("other"))
                .plan(&job, Utc::now())
                .is_none()
        );
    }
}
