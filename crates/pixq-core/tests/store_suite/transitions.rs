//! Every transition is one conditional write: applied from its states, stale from any other,
//! once under a race.

use pixq_core::job::JobError;
use pixq_core::state::{JobState, Transition, TransitionKind};
use pixq_core::store::{Jobs, Outcome, SharedStore};

use crate::jobs::{apply_ok, extend_step, job_in, must_get, new_job, transition_of, video};

pub async fn each_transition_applies_only_from_its_states(store: &dyn Jobs) {
    for kind in TransitionKind::ALL {
        for state in JobState::ALL {
            let before = job_in(store, state).await;
            let outcome = store
                .apply(transition_of(kind, &before.id))
                .await
                .expect("apply");
            let after = must_get(store, &before.id).await;
            let context = format!("{} from {state}", kind.name());
            // A late task is recorded only on a job that has none yet.
            let has_task = before.upstream.task_id.is_some();
            let applies = kind.from().contains(&state)
                && !(kind == TransitionKind::RecordLateTask && has_task);
            if applies {
                let job = match outcome {
                    Outcome::Applied(job) => job,
                    other => panic!("{context}: expected Applied, got {other:?}"),
                };
                assert_eq!(job.state, kind.to().unwrap_or(state), "{context}");
                assert!(job.updated_at >= before.updated_at, "{context}");
                assert_eq!(after, job, "{context}: the store holds what it answered");
            } else {
                match outcome {
                    Outcome::Stale { current } => assert_eq!(current, before, "{context}"),
                    other => panic!("{context}: expected Stale, got {other:?}"),
                }
                assert_eq!(
                    after, before,
                    "{context}: a stale transition changes nothing"
                );
            }
        }
    }
}

pub async fn resume_needs_a_task_id(store: &dyn Jobs) {
    let job = store.create(new_job(), None).await.expect("create").job;
    match store
        .apply(Transition::resume_generating(job.id.clone()))
        .await
        .expect("apply")
    {
        Outcome::Stale { current } => assert_eq!(current, job),
        other => panic!("expected Stale without a task id, got {other:?}"),
    }
    assert_eq!(must_get(store, &job.id).await, job);
}

pub async fn second_succeed_is_stale(store: &dyn Jobs) {
    let job = job_in(store, JobState::Generating).await;
    let done = apply_ok(store, Transition::succeed(job.id.clone(), video(1), None)).await;
    assert_eq!(done.result, Some(video(1)));
    assert!(done.finished_at.is_some());
    match store
        .apply(Transition::succeed(job.id.clone(), video(2), None))
        .await
        .expect("apply")
    {
        Outcome::Stale { current } => assert_eq!(current, done),
        other => panic!("a second succeed must be Stale, got {other:?}"),
    }
    assert_eq!(must_get(store, &job.id).await.result, Some(video(1)));
}

pub async fn late_succeed_after_cancel_is_stale_and_kept_as_late_result(store: &dyn Jobs) {
    let job = job_in(store, JobState::Generating).await;
    let cancelled = apply_ok(store, Transition::cancel(job.id.clone())).await;
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(
        cancelled.error.as_ref().map(|e| e.code.as_str()),
        Some(JobError::CANCELLED)
    );
    let late = Transition::succeed(job.id.clone(), video(9), Some(extend_step(9)));
    match store.apply(late).await.expect("apply") {
        Outcome::Stale { current } => assert_eq!(current, cancelled),
        other => panic!("a succeed after cancel must be Stale, got {other:?}"),
    }
    let kept = apply_ok(
        store,
        Transition::record_late_result(job.id.clone(), video(9)),
    )
    .await;
    assert_eq!(kept.state, JobState::Cancelled);
    assert_eq!((kept.late_result, kept.result), (Some(video(9)), None));
    assert!(kept.children.is_empty(), "a late result creates no step");
}

pub async fn concurrent_begin_submits_apply_once(shared: &SharedStore) {
    let store = shared.jobs();
    let job = store.create(new_job(), None).await.expect("create").job;
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let (store, id) = (shared.clone(), job.id.clone());
            tokio::spawn(async move {
                let t = Transition::begin_submit(id, format!("request {i}"), None);
                store.jobs().apply(t).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut stale = Vec::new();
    for racer in racers {
        match racer.await.expect("racer").expect("apply") {
            Outcome::Applied(job) => winners.push(job),
            Outcome::Stale { current } => stale.push(current),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one begin_submit applies");
    let winner = &winners[0];
    assert_eq!(winner.state, JobState::Submitting);
    for current in &stale {
        assert_eq!(current.state, JobState::Submitting);
        assert_eq!(current.upstream.request, winner.upstream.request);
    }
    assert_eq!(&must_get(store, &job.id).await, winner);
}

pub async fn concurrent_succeed_and_cancel_apply_once(shared: &SharedStore) {
    let store = shared.jobs();
    let job = job_in(store, JobState::Generating).await;
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let (store, id) = (shared.clone(), job.id.clone());
            tokio::spawn(async move {
                let t = if i % 2 == 0 {
                    Transition::succeed(id, video(i), Some(extend_step(i)))
                } else {
                    Transition::cancel(id)
                };
                store.jobs().apply(t).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        if let Outcome::Applied(job) = racer.await.expect("racer").expect("apply") {
            winners.push(job);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of succeed and cancel applies"
    );
    let winner = &winners[0];
    let stored = must_get(store, &job.id).await;
    assert_eq!(&stored, winner);
    let child = store
        .get(&pixq_core::job::JobId::for_step(&job.id, 1))
        .await
        .expect("get");
    match stored.state {
        JobState::Succeeded => {
            let child = child.expect("a success creates the next step");
            assert_eq!(stored.children, std::slice::from_ref(&child.id));
            assert_eq!(
                child.params["video_id"].as_i64(),
                Some(stored.result.expect("result").video_id.0)
            );
        }
        JobState::Cancelled => assert_eq!(child, None, "a cancel creates no step"),
        other => panic!("unexpected final state {other}"),
    }
}

pub async fn a_task_created_for_a_job_cancelled_mid_submit_is_recorded_once(store: &dyn Jobs) {
    let job = job_in(store, JobState::Submitting).await;
    let cancelled = apply_ok(store, Transition::cancel(job.id.clone())).await;
    assert_eq!(cancelled.upstream.task_id, None);
    let late = apply_ok(
        store,
        Transition::record_late_task(job.id.clone(), "late-task-1".into(), None),
    )
    .await;
    assert_eq!(late.state, JobState::Cancelled, "the state does not move");
    assert_eq!(late.upstream.task_id.as_deref(), Some("late-task-1"));
    assert_eq!(
        store.job_for_task("late-task-1").await.expect("lookup"),
        Some(job.id.clone()),
        "the task is claimed"
    );
    match store
        .apply(Transition::record_late_task(
            job.id.clone(),
            "late-task-2".into(),
            None,
        ))
        .await
        .expect("apply")
    {
        Outcome::Stale { current } => assert_eq!(current, late),
        other => panic!("a second late task must be stale, got {other:?}"),
    }
    // A task another job holds is not taken.
    let other = job_in(store, JobState::Submitting).await;
    apply_ok(store, Transition::cancel(other.id.clone())).await;
    match store
        .apply(Transition::record_late_task(
            other.id.clone(),
            "late-task-1".into(),
            None,
        ))
        .await
        .expect("apply")
    {
        Outcome::TaskTaken { by, .. } => assert_eq!(by, job.id),
        other => panic!("expected TaskTaken, got {other:?}"),
    }
}
