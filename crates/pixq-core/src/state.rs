//! The job state machine, as data.
//!
//! [`JobState`] is where a job stands; [`TransitionKind::ALL`] is every edge, each with the
//! states it may start from and the state it leads to; [`Transition`] is one edge applied to
//! one job, built by a named constructor. A store applies a transition as one conditional
//! write that answers `Applied` or `Stale`, never a silent no-op (see
//! [`Store::apply`](crate::store::Store::apply)). `docs/state-machine.md` draws the same
//! table; a test keeps the two in step.
//!
//! ```
//! use pixq_core::state::{JobState, TransitionKind};
//!
//! assert_eq!(TransitionKind::Succeed.from(), &[JobState::Generating]);
//! assert!(JobState::Succeeded.is_terminal());
//! ```

mod transition;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use transition::{Plan, Transition};

/// Where a job stands. The path is `queued` → `submitting` → `generating` → `succeeded` |
/// `failed` | `cancelled`; a terminal state never changes again except by an explicit retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker. In: the API creates jobs here, the store creates a chain's next
    /// step here, and a worker requeues (capacity, rate limit, pause, backoff) or the API
    /// retries a failed job. Out: a worker begins a submit or resumes a known task; the API
    /// cancels; a worker fails it (e.g. `max_attempts`).
    Queued,
    /// A worker recorded the request and is submitting it; the outcome may be unknown. In: a
    /// worker, just before sending. Out: the same (or a rescuing) worker records the task id,
    /// or requeues, or fails it; the API cancels.
    Submitting,
    /// The upstream accepted the task and is rendering; no worker slot is held. In: a worker
    /// that recorded the task id. Out: the callback receiver or a poll finishes it (succeed or
    /// fail), a worker requeues it when the task died, the API cancels.
    Generating,
    /// Terminal: the video is there. In: the callback receiver or a poll.
    Succeeded,
    /// Terminal: given up, with an `error`. In: a worker. Out: only an explicit retry from
    /// the API, back to `queued`.
    Failed,
    /// Terminal: cancelled by the user. In: the API. A result that arrives later is recorded
    /// as `late_result` and not applied.
    Cancelled,
}

impl JobState {
    /// Every state, in the order of the happy path then the other ends.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Submitting,
        JobState::Generating,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The wire name, e.g. `queued`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Submitting => "submitting",
            JobState::Generating => "generating",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Whether the job has ended: succeeded, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the job states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a job state: use one of queued, submitting, generating, succeeded, failed, cancelled"
)]
pub struct ParseStateError(String);

impl FromStr for JobState {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| ParseStateError(s.to_owned()))
    }
}

/// Why a queued job is waiting. Set only while `queued`; cleared when a submit begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitingReason {
    /// Every generation slot of the token is taken.
    UpstreamCapacity,
    /// The upstream answered 429; the job waits for `Retry-After` without burning an attempt.
    RateLimited,
    /// Submission is paused for the token (an account-level error such as `used_up`).
    Paused,
    /// A failed try that counts against `retry.max_attempts`; due again at `run_at`.
    Backoff,
}

impl WaitingReason {
    /// The wire name, e.g. `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitingReason::UpstreamCapacity => "upstream_capacity",
            WaitingReason::RateLimited => "rate_limited",
            WaitingReason::Paused => "paused",
            WaitingReason::Backoff => "backoff",
        }
    }
}

impl fmt::Display for WaitingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every edge of the machine. Each [`Transition`] constructor builds one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionKind {
    /// `queued → submitting`: [`Transition::begin_submit`].
    BeginSubmit,
    /// `submitting → generating`, claiming the task id: [`Transition::submitted`].
    Submitted,
    /// `queued → generating` for a job that already has a task id:
    /// [`Transition::resume_generating`].
    ResumeGenerating,
    /// `queued | submitting | generating → queued`: [`Transition::requeue`].
    Requeue,
    /// `generating → succeeded`, creating the next chain step: [`Transition::succeed`].
    Succeed,
    /// `queued | submitting | generating → failed`: [`Transition::fail`].
    Fail,
    /// `queued | submitting | generating → cancelled`, with unfinished descendants:
    /// [`Transition::cancel`].
    Cancel,
    /// `cancelled | failed`, unchanged, keeping a result that came too late:
    /// [`Transition::record_late_result`].
    RecordLateResult,
    /// `cancelled`, unchanged, recording the task a submit in the air created:
    /// [`Transition::record_late_task`].
    RecordLateTask,
    /// `failed → queued`: [`Transition::retry`].
    Retry,
}

const UNFINISHED: &[JobState] = &[JobState::Queued, JobState::Submitting, JobState::Generating];

impl TransitionKind {
    /// Every edge, in the order `docs/state-machine.md` draws them.
    pub const ALL: [TransitionKind; 10] = [
        TransitionKind::BeginSubmit,
        TransitionKind::Submitted,
        TransitionKind::ResumeGenerating,
        TransitionKind::Requeue,
        TransitionKind::Succeed,
        TransitionKind::Fail,
        TransitionKind::Cancel,
        TransitionKind::RecordLateResult,
        TransitionKind::RecordLateTask,
        TransitionKind::Retry,
    ];

    /// The constructor's name, e.g. `begin_submit`.
    pub fn name(self) -> &'static str {
        match self {
            TransitionKind::BeginSubmit => "begin_submit",
            TransitionKind::Submitted => "submitted",
            TransitionKind::ResumeGenerating => "resume_generating",
            TransitionKind::Requeue => "requeue",
            TransitionKind::Succeed => "succeed",
            TransitionKind::Fail => "fail",
            TransitionKind::Cancel => "cancel",
            TransitionKind::RecordLateResult => "record_late_result",
            TransitionKind::RecordLateTask => "record_late_task",
            TransitionKind::Retry => "retry",
        }
    }

    /// The states this edge may start from; from any other the store answers `Stale`.
    pub fn from(self) -> &'static [JobState] {
        match self {
            TransitionKind::BeginSubmit | TransitionKind::ResumeGenerating => &[JobState::Queued],
            TransitionKind::Submitted => &[JobState::Submitting],
            TransitionKind::Succeed => &[JobState::Generating],
            TransitionKind::Requeue | TransitionKind::Fail | TransitionKind::Cancel => UNFINISHED,
            TransitionKind::RecordLateResult => &[JobState::Cancelled, JobState::Failed],
            TransitionKind::RecordLateTask => &[JobState::Cancelled],
            TransitionKind::Retry => &[JobState::Failed],
        }
    }

    /// The state this edge leads to; `None` when the state stays as it was.
    pub fn to(self) -> Option<JobState> {
        match self {
            TransitionKind::BeginSubmit => Some(JobState::Submitting),
            TransitionKind::Submitted | TransitionKind::ResumeGenerating => {
                Some(JobState::Generating)
            }
            TransitionKind::Requeue | TransitionKind::Retry => Some(JobState::Queued),
            TransitionKind::Succeed => Some(JobState::Succeeded),
            TransitionKind::Fail => Some(JobState::Failed),
            TransitionKind::Cancel => Some(JobState::Cancelled),
            TransitionKind::RecordLateResult | TransitionKind::RecordLateTask => None,
        }
    }

    /// The machine as a mermaid `stateDiagram-v2`, one line per edge and starting state.
    pub fn mermaid() -> String {
        let mut out = String::from("stateDiagram-v2\n    [*] --> queued: create\n");
        for kind in TransitionKind::ALL {
            for from in kind.from() {
                let to = kind.to().unwrap_or(*from);
                out.push_str(&format!("    {from} --> {to}: {}\n", kind.name()));
            }
        }
        for end in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
            out.push_str(&format!("    {end} --> [*]: retention.finished\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_from_their_wire_names() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
        }
        let err = "running".parse::<JobState>().unwrap_err().to_string();
        assert!(err.contains("running") && err.contains("queued"), "{err}");
    }

    #[test]
    fn only_the_three_ends_are_terminal() {
        let terminal: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [JobState::Succeeded, JobState::Failed, JobState::Cancelled]
        );
    }

    #[test]
    fn no_edge_leaves_a_terminal_state_except_retry_and_late_results() {
        for kind in TransitionKind::ALL {
            let leaves_terminal = kind.from().iter().any(|s| s.is_terminal());
            let allowed = matches!(
                kind,
                TransitionKind::Retry
                    | TransitionKind::RecordLateResult
                    | TransitionKind::RecordLateTask
            );
            assert_eq!(leaves_terminal, allowed, "{kind:?}");
        }
        assert!(
            !TransitionKind::Succeed
                .from()
                .contains(&JobState::Succeeded)
        );
    }

    #[test]
    fn the_drawing_in_docs_matches_the_table() {
        let doc = include_str!("../../../docs/state-machine.md");
        let drawn = TransitionKind::mermaid();
        assert!(
            doc.contains(&drawn),
            "docs/state-machine.md is out of date; paste this diagram into it:\n{drawn}"
        );
    }
}
