//! APALIS-NOTES 4: an apalis worker stops on any error from its backend. pixq's backend never
//! answers one: a store that fails is retried with a backoff, and the worker takes jobs again
//! as soon as the store answers.

use std::time::Duration;

use ::redis::AsyncCommands;
use pixq_core::state::JobState;
use pixq_testkit::wait::eventually;
use serde_json::json;

use crate::support::{Backend, setup};

/// Redis-only: the failure is made by breaking one of the schedule's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_whose_store_fails_takes_jobs_again_once_it_answers() {
    let b = setup(Backend::Redis).await;
    let prefix = b.redis_prefix().expect("a Redis prefix");
    let leased = format!("{}:leased", prefix.name());
    let mut conn = prefix.connection().await;
    // Every take of due jobs now fails with WRONGTYPE; ringing still works.
    let _: () = conn.set(&leased, "not a sorted set").await.unwrap();
    let job = b.create(json!({"prompt": "through the storm"})).await;
    let taken = eventually(Duration::from_secs(1), || async {
        (b.get(&job.id).await.state != JobState::Queued).then_some(())
    })
    .await;
    assert_eq!(taken, None, "no job is taken while the store fails");

    let _: () = conn.del(&leased).await.unwrap();
    let chains = b.wait_for_chains(&[job.id]).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);
    b.finish().await;
}
