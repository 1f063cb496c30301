//! A worker that dies without a word (a SIGKILL, a lost machine) keeps its jobs only until
//! their leases run out; then another worker takes them, and finds the submit the dead one
//! sent instead of paying again.

use std::time::{Duration, Instant};

use pixq_core::state::JobState;
use pixq_testkit::wait::{eventually, until};
use serde_json::json;

use crate::support::{Backend, DEADLINE, both, setup_many, sim_config};

/// The shortest lease a worker accepts, so the takeover comes soon.
const LEASE_TTL: Duration = Duration::from_secs(3);

both!(a_worker_killed_mid_submit_is_taken_over_when_its_lease_runs_out_and_paid_once);

async fn a_worker_killed_mid_submit_is_taken_over_when_its_lease_runs_out_and_paid_once(
    backend: Backend,
) {
    // The upstream makes the task at once and answers the submit only 8 s later (the
    // client gives up after 5 s): the first worker's handler hangs in the submit.
    let sim = sim_config().with_answer_delay(Duration::from_secs(8));
    let b = setup_many(backend, sim, 0, |_| {}).await;
    let doomed = b.spawn_killable_worker(|c| c.lease_ttl = LEASE_TTL);
    let job = b.create(json!({"prompt": "a candle in the wind"})).await;
    until("the submit to be in the air", DEADLINE, || async {
        (b.get(&job.id).await.state == JobState::Submitting).then_some(())
    })
    .await;
    let (first, _) = b
        .store
        .schedule()
        .holder(&job.id)
        .await
        .unwrap()
        .expect("the first worker holds the job's lease");

    // While it lives, the hung worker renews its lease past its time to live, and a second
    // worker leaves the job alone.
    let (_, _second) = b.spawn_worker(|c| c.lease_ttl = LEASE_TTL);
    let meddled = eventually(LEASE_TTL + LEASE_TTL / 6, || async {
        let holder = b.store.schedule().holder(&job.id).await.unwrap();
        let state = b.get(&job.id).await.state;
        let same =
            holder.as_ref().is_some_and(|(h, _)| *h == first) && state == JobState::Submitting;
        (!same).then_some((holder, state))
    })
    .await;
    assert_eq!(
        meddled, None,
        "the job changed hands while its worker lived"
    );

    let killed = Instant::now();
    doomed.kill();
    until("another worker to take the job over", DEADLINE, || async {
        (b.get(&job.id).await.state != JobState::Submitting).then_some(())
    })
    .await;
    let taken_over_in = killed.elapsed();
    // The lease was renewed at most a third of its life before the kill, and the second
    // worker looks for due jobs every 100 ms.
    assert!(
        taken_over_in + Duration::from_millis(200) >= LEASE_TTL - LEASE_TTL / 3,
        "taken over {taken_over_in:?} after the kill, before the lease could have run out"
    );
    assert!(
        taken_over_in < LEASE_TTL + Duration::from_secs(5),
        "taken over only {taken_over_in:?} after the kill"
    );

    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    let done = &chains[0][0];
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let ledger = b.ledger().await;
    assert_eq!(
        ledger.len(),
        1,
        "one submission, none paid twice: {ledger:?}"
    );
    assert_eq!(
        done.upstream.task_id.as_deref(),
        ledger[0]["task_id"].as_str(),
        "the task the killed worker's submit made is the one the job kept"
    );
    b.finish().await;
}
