//! The doorbell queue: a duplicate costs nothing, a stranger is set aside, a backlog reaches
//! apalis a bounded number at a time, finished tasks are cleaned up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apalis::prelude::TaskSink;
use apalis_redis::{Config, RedisStorage};
use chrono::Utc;
use pixq_core::job::JobId;
use pixq_core::queue::Doorbell;
use pixq_core::state::JobState;
use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::support::{Bundle, setup, setup_with, sim_config, wait_until};

fn doorbells(b: &Bundle) -> RedisStorage<Value> {
    RedisStorage::new(b.conn.clone())
        .with_config(Config::default().queue(pixq_worker::doorbell_queue(&b.prefix)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_doorbell_rung_many_times_submits_once() {
    let b = setup().await;
    let job = b
        .create_unrung(json!({"prompt": "a bell rung thrice"}))
        .await;
    let mut queue = doorbells(&b);
    let bell = Doorbell::new(job.id.clone()).to_value();
    queue
        .push_bulk(vec![bell.clone(), bell.clone(), bell.clone()])
        .await
        .expect("pushed");
    b.schedule.ring(&job.id, Utc::now()).await.unwrap();
    queue.push(bell).await.expect("pushed");

    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);
    assert_eq!(b.ledger().await.len(), 1, "one submit for four doorbells");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payload_of_unknown_shape_is_set_aside_and_the_worker_goes_on() {
    let b = setup().await;
    let mut queue = doorbells(&b);
    queue.push(json!({"x": 1})).await.expect("pushed");
    queue.push(json!("job_but_a_string")).await.expect("pushed");

    let letters = wait_until("both payloads in the dead letters", || async {
        let letters = b.dead_letters.newest(10).await.unwrap();
        (letters.len() == 2).then_some(letters)
    })
    .await;
    let payloads: Vec<&Value> = letters.iter().map(|l| &l.payload).collect();
    assert!(payloads.contains(&&json!({"x": 1})), "{payloads:?}");
    assert!(
        letters.iter().all(|l| l.error.contains("not a doorbell")),
        "{letters:?}"
    );

    let job = b.create(json!({"prompt": "life goes on"})).await;
    let chains = b.wait_for_chains(&[job.id]).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);
    b.finish().await;
}

/// APALIS-NOTES 5: about 8000 due tasks in `{queue}:scheduled` wedge every fetch. The pump
/// must hand apalis a bounded number at a time, whatever the schedule holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_due_backlog_reaches_apalis_a_bounded_number_at_a_time() {
    let b = setup_with(sim_config(), |c| c.concurrency = 8).await;
    let bound = 100; // 2 × 8, raised to the floor of 100
    let ids: Vec<JobId> = (0..1500)
        .map(|i| JobId::from(format!("job_unknown_{i}")))
        .collect();
    b.schedule.ring_many(&ids, Utc::now()).await.unwrap();

    let most = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (most, mut conn) = (most.clone(), b.conn.clone());
        let (active, scheduled) = (b.queue_key("active"), b.queue_key("scheduled"));
        tokio::spawn(async move {
            loop {
                let (a, s): (u64, u64) = redis::pipe()
                    .llen(&active)
                    .zcard(&scheduled)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                most.fetch_max(a + s, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    wait_until("the schedule to drain through apalis", || async {
        let left = b.schedule.len().await.unwrap();
        let mut conn = b.conn.clone();
        let done: u64 = conn.scard(b.queue_key("done")).await.unwrap();
        let data: u64 = conn.hlen(b.queue_key("data")).await.unwrap();
        // Unknown jobs are done at once; the janitor deletes finished tasks.
        (left == 0 && done == 0 && data == 0).then_some(())
    })
    .await;
    watcher.abort();
    let most = most.load(Ordering::SeqCst);
    assert!(most > 0, "the watcher saw the backlog");
    assert!(
        most <= bound,
        "apalis held {most} doorbells at once, over the bound {bound}"
    );
    b.finish().await;
}
