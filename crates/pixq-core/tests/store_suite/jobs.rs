//! Building jobs and driving them into a state through the store, the way workers would.

use pixq_core::job::{Action, Job, JobError, JobId, JobResult, NewJob, NextStep};
use pixq_core::state::{JobState, Transition, TransitionKind, WaitingReason};
use pixq_core::store::{Jobs, Outcome};
use serde_json::json;

/// A first step with a fresh id.
pub fn new_job() -> NewJob {
    NewJob::new(
        Action::Generate,
        json!({"prompt": "a fox at dawn", "model": "v4.5"}),
    )
}

/// A task id no other test uses.
pub fn fresh_task() -> String {
    format!("task-{}", uuid::Uuid::new_v4().simple())
}

/// A finished video.
pub fn video(id: i64) -> JobResult {
    JobResult {
        video_id: pixverse::VideoId(id),
        video_url: format!("https://cdn.example/{id}.mp4"),
        width: Some(1280),
        height: Some(720),
        first_frame: None,
        last_frame: None,
        seed: Some(7),
        duration: Some(5),
        model: Some("v4.5".into()),
        quality: Some("540p".into()),
    }
}

/// The step after a generation: an extend of `video_id`.
pub fn extend_step(video_id: i64) -> NextStep {
    NextStep {
        action: Action::Extend,
        params: json!({"video_id": video_id, "prompt": "and then"}),
    }
}

/// One transition of each kind for `id`, with harmless arguments.
pub fn transition_of(kind: TransitionKind, id: &JobId) -> Transition {
    let id = id.clone();
    match kind {
        TransitionKind::BeginSubmit => {
            Transition::begin_submit(id, r#"{"prompt":"x"}"#.into(), Some("s3cret".into()))
        }
        TransitionKind::Submitted => Transition::submitted(id, fresh_task(), Some("trace".into())),
        TransitionKind::ResumeGenerating => Transition::resume_generating(id),
        TransitionKind::Requeue => Transition::requeue(id, WaitingReason::RateLimited, None, false),
        TransitionKind::Succeed => Transition::succeed(id, video(1), None),
        TransitionKind::Fail => Transition::fail(id, JobError::new("poll_timeout", "slow", true)),
        TransitionKind::Cancel => Transition::cancel(id),
        TransitionKind::RecordLateResult => Transition::record_late_result(id, video(2)),
        TransitionKind::RecordLateTask => Transition::record_late_task(id, fresh_task(), None),
        TransitionKind::Retry => Transition::retry(id),
    }
}

/// Applies `t`, which must apply.
pub async fn apply_ok(store: &dyn Jobs, t: Transition) -> Job {
    let what = format!("{:?} of {}", t.kind(), t.job_id());
    match store.apply(t).await.expect("apply") {
        Outcome::Applied(job) => job,
        other => panic!("{what} should apply, got {other:?}"),
    }
}

/// The record, which must exist.
pub async fn must_get(store: &dyn Jobs, id: &JobId) -> Job {
    store
        .get(id)
        .await
        .expect("get")
        .unwrap_or_else(|| panic!("job {id} should exist"))
}

/// A new job driven into `state` through ordinary transitions. Every state but `submitting`
/// is reached with a task id on record, so that `resume_generating` from `queued` applies
/// (queued: failed with a task, then retried).
pub async fn job_in(store: &dyn Jobs, state: JobState) -> Job {
    let job = store.create(new_job(), None).await.expect("create").job;
    let id = job.id.clone();
    let kinds: &[TransitionKind] = match state {
        JobState::Queued => &[
            TransitionKind::BeginSubmit,
            TransitionKind::Submitted,
            TransitionKind::Fail,
            TransitionKind::Retry,
        ],
        JobState::Submitting => &[TransitionKind::BeginSubmit],
        JobState::Generating => &[TransitionKind::BeginSubmit, TransitionKind::Submitted],
        JobState::Succeeded => &[
            TransitionKind::BeginSubmit,
            TransitionKind::Submitted,
            TransitionKind::Succeed,
        ],
        JobState::Failed => &[
            TransitionKind::BeginSubmit,
            TransitionKind::Submitted,
            TransitionKind::Fail,
        ],
        JobState::Cancelled => &[
            TransitionKind::BeginSubmit,
            TransitionKind::Submitted,
            TransitionKind::Cancel,
        ],
    };
    let mut job = job;
    for kind in kinds {
        job = apply_ok(store, transition_of(*kind, &id)).await;
    }
    assert_eq!(job.state, state, "driving {id} to {state}");
    job
}
