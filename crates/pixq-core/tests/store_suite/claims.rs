//! A task id belongs to at most one job.

use pixq_core::state::{JobState, Transition, WaitingReason};
use pixq_core::store::{Jobs, Outcome, SharedStore};

use crate::jobs::{apply_ok, fresh_task, job_in, must_get};

pub async fn task_id_belongs_to_the_first_claimer(store: &dyn Jobs) {
    let a = job_in(store, JobState::Submitting).await;
    let b = job_in(store, JobState::Submitting).await;
    let task = fresh_task();

    let a = apply_ok(
        store,
        Transition::submitted(a.id.clone(), task.clone(), Some("tr-a".into())),
    )
    .await;
    assert_eq!(a.state, JobState::Generating);
    assert_eq!(a.upstream.task_id.as_deref(), Some(task.as_str()));
    assert!(a.upstream.submitted_at.is_some());

    match store
        .apply(Transition::submitted(b.id.clone(), task.clone(), None))
        .await
        .expect("apply")
    {
        Outcome::TaskTaken { by, current } => {
            assert_eq!(by, a.id);
            assert_eq!(current, b);
        }
        other => panic!("expected TaskTaken, got {other:?}"),
    }
    assert_eq!(must_get(store, &b.id).await, b, "the loser is unchanged");
    assert_eq!(store.job_for_task(&task).await.expect("lookup"), Some(a.id));

    // The loser can still claim another task.
    let other = fresh_task();
    let b = apply_ok(
        store,
        Transition::submitted(b.id.clone(), other.clone(), None),
    )
    .await;
    assert_eq!(
        store.job_for_task(&other).await.expect("lookup"),
        Some(b.id)
    );
}

pub async fn job_may_claim_its_own_task_again(store: &dyn Jobs) {
    let job = job_in(store, JobState::Generating).await;
    let id = job.id.clone();
    let task = job.upstream.task_id.clone().expect("a task id");
    let back = apply_ok(
        store,
        Transition::requeue(id.clone(), WaitingReason::Backoff, None, true),
    )
    .await;
    assert_eq!(back.upstream.task_id, None);
    assert_eq!(back.upstream.previous_task_ids, std::slice::from_ref(&task));
    apply_ok(
        store,
        Transition::begin_submit(id.clone(), "{}".into(), None),
    )
    .await;
    // A lookup found the same task again: it is still this job's to claim.
    let again = apply_ok(store, Transition::submitted(id.clone(), task.clone(), None)).await;
    assert_eq!(again.upstream.task_id.as_deref(), Some(task.as_str()));
    assert_eq!(store.job_for_task(&task).await.expect("lookup"), Some(id));
}

pub async fn concurrent_claims_of_one_task_apply_once(shared: &SharedStore) {
    let store = shared.jobs();
    let mut jobs = Vec::new();
    for _ in 0..20 {
        jobs.push(job_in(store, JobState::Submitting).await);
    }
    let task = fresh_task();
    let racers: Vec<_> = jobs
        .iter()
        .map(|job| {
            let (store, id, task) = (shared.clone(), job.id.clone(), task.clone());
            tokio::spawn(async move {
                store
                    .jobs()
                    .apply(Transition::submitted(id, task, None))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.expect("racer").expect("apply"));
    }
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|o| o.is_applied())
        .map(|o| o.job().id.clone())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one job claims the task");
    let winner = &winners[0];
    for (outcome, job) in outcomes.iter().zip(&jobs) {
        match outcome {
            Outcome::Applied(applied) => assert_eq!(&applied.id, winner),
            Outcome::TaskTaken { by, current } => {
                assert_eq!(by, winner);
                assert_eq!(current, job);
            }
            Outcome::Stale { .. } => panic!("no job moved, yet {} was Stale", job.id),
        }
        if &job.id != winner {
            assert_eq!(&must_get(store, &job.id).await, job);
        }
    }
    assert_eq!(
        store.job_for_task(&task).await.expect("lookup").as_ref(),
        Some(winner)
    );
}
