//! The rescuer: a job nothing will look at is rung again, and a submit whose answer was lost
//! claims its task instead of paying twice.

use std::time::Duration;

use pixq_core::chain;
use pixq_core::state::{JobState, Transition};
use pixq_core::store::Outcome;
use pixverse::SubmitMode;
use serde_json::json;

use crate::support::{Backend, both, setup_with, sim_config};

both!(
    a_submit_stuck_without_a_doorbell_is_rescued_and_claims_its_task,
    a_lost_job_behind_hundreds_of_waiting_ones_is_still_rescued,
);

async fn a_submit_stuck_without_a_doorbell_is_rescued_and_claims_its_task(backend: Backend) {
    let b = setup_with(backend, sim_config(), |c| {
        c.rescue_after = Duration::from_secs(1);
        c.rescue_every = Duration::from_millis(300);
    })
    .await;
    // A worker recorded its submit, sent it, and died before recording the answer, and
    // before anything rang the job again.
    let job = b
        .create_unrung(json!({"prompt": "a ship in a bottle"}))
        .await;
    let body = chain::submit_body(&job, &SubmitMode::Async).unwrap();
    let begin = Transition::begin_submit(job.id.clone(), body.as_str().to_owned(), None);
    assert!(matches!(
        b.store.jobs().apply(begin).await.unwrap(),
        Outcome::Applied(_)
    ));
    let sent = b
        .client
        .submit(&body)
        .await
        .expect("the submit went through");
    let task = sent.task_id().expect("a task id").to_owned();
    assert_eq!(b.store.schedule().due_at(&job.id).await.unwrap(), None);

    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    let done = &chains[0][0];
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert_eq!(
        done.upstream.task_id.as_deref(),
        Some(task.as_str()),
        "claimed the existing task"
    );
    let ledger = b.ledger().await;
    assert_eq!(ledger.len(), 1, "no second submit: {ledger:?}");
    b.finish().await;
}

async fn a_lost_job_behind_hundreds_of_waiting_ones_is_still_rescued(backend: Backend) {
    let b = setup_with(backend, sim_config(), |c| {
        c.rescue_after = Duration::from_millis(500);
        c.rescue_every = Duration::from_millis(200);
        c.rescue_batch = 50;
    })
    .await;
    // 400 jobs that are merely waiting (scheduled an hour out), created first, so they are
    // the oldest quiet jobs; then one job that nothing will ring.
    let later = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    for i in 0..400 {
        let job = b
            .create_unrung(json!({"prompt": format!("waiting {i}")}))
            .await;
        b.store.schedule().ring(&job.id, later).await.unwrap();
    }
    let lost = b.create_unrung(json!({"prompt": "lost"})).await;
    let chains = b.wait_for_chains(std::slice::from_ref(&lost.id)).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);
    assert_eq!(b.ledger().await.len(), 1, "only the lost job ran");
    b.finish().await;
}
