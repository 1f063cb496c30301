//! A graceful stop: intake stops, running steps finish, the rest is handed back; nothing is
//! lost and nothing is paid twice.

use std::time::{Duration, Instant};

use pixq_core::state::JobState;
use pixq_testkit::sim::ledger_task_ids;
use pixq_testkit::wait::until;
use serde_json::json;

use crate::support::{Backend, DEADLINE, both, setup_many, sim_config};

both!(a_stopped_worker_hands_its_jobs_on_and_none_is_submitted_twice);

async fn a_stopped_worker_hands_its_jobs_on_and_none_is_submitted_twice(backend: Backend) {
    let sim = sim_config().with_latency("1s..2s".parse().expect("a latency"));
    let b = setup_many(backend, sim, 0, |_| {}).await;
    let (stop_first, first) = b.spawn_worker(|c| c.concurrency = 4);
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = json!({"prompt": format!("a train at night, car {i}"), "extend": [{"prompt": "it reaches the sea"}]});
        ids.push(b.create(body).await.id);
    }
    until("some jobs to be generating", DEADLINE, || async {
        let mut generating = 0;
        for id in &ids {
            generating += usize::from(b.get(id).await.state == JobState::Generating);
        }
        (generating >= 3).then_some(())
    })
    .await;

    let stopping = Instant::now();
    stop_first.cancel();
    tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the worker stops within its shutdown timeout")
        .expect("the worker task")
        .expect("the worker ends Ok");
    assert!(stopping.elapsed() < Duration::from_secs(8));

    let (_, _second) = b.spawn_worker(|c| {
        c.rescue_after = Duration::from_secs(2);
        c.rescue_every = Duration::from_millis(500);
    });
    let chains = b.wait_for_chains(&ids).await;
    let jobs: Vec<_> = chains.iter().flatten().collect();
    assert_eq!(jobs.len(), 40);
    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    }
    let ledger = b.ledger().await;
    assert_eq!(ledger.len(), 40, "one upstream task per step");
    assert_eq!(ledger_task_ids(&ledger).len(), 40);
    b.finish().await;
}
