//! APALIS-NOTES 4: an apalis-redis worker dies on any backend error, and nothing restarts it
//! unless `Monitor::should_restart` says so. The worker must come back, under a new name.

use pixq_core::state::JobState;
use redis::AsyncCommands;
use serde_json::json;

use crate::support::{setup, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_dies_on_a_backend_error_restarts_under_a_new_name() {
    let b = setup().await;
    let workers = b.queue_key("workers");
    let mut conn = b.conn.clone();
    let first: Vec<String> = wait_until("the worker to register", || {
        let mut conn = conn.clone();
        let workers = workers.clone();
        async move {
            let names: Vec<String> = conn.zrange(&workers, 0, -1).await.unwrap();
            (!names.is_empty()).then_some(names)
        }
    })
    .await;

    // Unregistered, its next fetch fails ("worker not registered") and the worker stops.
    let _: () = conn.del(&workers).await.unwrap();
    let second: Vec<String> = wait_until("the worker to register again", || {
        let mut conn = conn.clone();
        let workers = workers.clone();
        async move {
            let names: Vec<String> = conn.zrange(&workers, 0, -1).await.unwrap();
            (!names.is_empty()).then_some(names)
        }
    })
    .await;
    assert!(
        second.iter().all(|name| !first.contains(name)),
        "restarted under a new name: {first:?} then {second:?}"
    );

    // The janitor deletes the metadata apalis keeps for the worker that is gone.
    let gone = b.queue_key(&format!("workers:metadata:{}", first[0]));
    let live = b.queue_key(&format!("workers:metadata:{}", second[0]));
    wait_until("the gone worker's metadata to be deleted", || {
        let mut conn = conn.clone();
        let (gone, live) = (gone.clone(), live.clone());
        async move {
            let (gone, live): (bool, bool) = redis::pipe()
                .exists(gone)
                .exists(live)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(live, "the live worker's metadata stays");
            (!gone).then_some(())
        }
    })
    .await;

    let job = b.create(json!({"prompt": "still working"})).await;
    let chains = b.wait_for_chains(&[job.id]).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);
    b.finish().await;
}
