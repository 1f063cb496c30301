//! A job cancelled while its submit is in the air: the task the upstream made is recorded and
//! watched to its end, for its late result and its slot.

use std::time::Duration;

use pixq_core::state::{JobState, Transition};
use pixq_core::store::Outcome;
use pixq_testkit::wait::until;
use pixq_worker::DEFAULT_TOKEN_ALIAS;
use serde_json::json;

use crate::support::{Backend, DEADLINE, both, setup_with, sim_config};

both!(a_task_made_for_a_job_cancelled_mid_submit_is_recorded_and_watched_to_its_end);

async fn a_task_made_for_a_job_cancelled_mid_submit_is_recorded_and_watched_to_its_end(
    backend: Backend,
) {
    // The upstream makes the task at once and answers 2 s later.
    let sim = sim_config().with_answer_delay(Duration::from_secs(2));
    let b = setup_with(backend, sim, |c| c.max_in_flight = 5).await;
    let job = b
        .create(json!({"prompt": "a sandcastle at high tide"}))
        .await;
    until("the submit to be in the air", DEADLINE, || async {
        (b.get(&job.id).await.state == JobState::Submitting).then_some(())
    })
    .await;
    let cancelled = b
        .store
        .jobs()
        .apply(Transition::cancel(job.id.clone()))
        .await
        .unwrap();
    assert!(matches!(cancelled, Outcome::Applied(_)), "{cancelled:?}");
    // The upstream counts the task from the submit on, so the slot stays taken.
    let slots = b.store.slots();
    assert_eq!(slots.held(DEFAULT_TOKEN_ALIAS).await.unwrap(), 1);

    let done = until(
        "the late task and its result to be recorded",
        DEADLINE,
        || async {
            let job = b.get(&job.id).await;
            job.late_result.is_some().then_some(job)
        },
    )
    .await;
    assert_eq!(
        done.state,
        JobState::Cancelled,
        "a late result is never applied"
    );
    let ledger = b.ledger().await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(
        done.upstream.task_id.as_deref(),
        ledger[0]["task_id"].as_str(),
        "the task the submit made is the one recorded"
    );
    assert!(
        done.children.is_empty(),
        "a cancelled job makes no next step"
    );
    until(
        "the slot to be given back when the task ended",
        DEADLINE,
        || async { (slots.held(DEFAULT_TOKEN_ALIAS).await.unwrap() == 0).then_some(()) },
    )
    .await;
    b.finish().await;
}
