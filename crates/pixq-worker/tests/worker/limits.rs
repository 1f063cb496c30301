//! The upstream's shared limits: a cap on generations in flight per token across workers,
//! 429s waited out without burning attempts, a paused token that fails nothing, and parked
//! jobs woken in the order they came.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use pixq_core::job::{Job, JobId};
use pixq_core::state::{JobState, WaitingReason};
use pixq_testkit::sim::ledger_task_ids;
use pixq_testkit::wait::until;
use pixq_worker::DEFAULT_TOKEN_ALIAS;
use pixverse_sim::Fault;
use serde_json::{Value, json};

use crate::support::{Backend, Bundle, DEADLINE, TOKEN, both, setup_many, setup_with, sim_config};

both!(
    three_workers_share_a_cap_of_five_and_the_upstream_never_says_429,
    a_burst_of_429s_on_submit_and_polls_is_waited_out_without_burning_attempts,
    a_used_up_token_pauses_submission_fails_nothing_and_resumes_after_a_top_up,
    jobs_parked_for_a_slot_are_submitted_in_the_order_they_came,
);

/// How many requests to `endpoint` the simulator answered with `status`.
fn answered(stats: &Value, endpoint: &str, status: &str) -> u64 {
    stats["requests"][endpoint][status].as_u64().unwrap_or(0)
}

/// Creates `n` one-step jobs, rung now.
async fn create_jobs(b: &Bundle, n: usize, what: &str) -> Vec<JobId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let job = b
            .create(json!({"prompt": format!("{what}, take {i}")}))
            .await;
        ids.push(job.id);
    }
    ids
}

/// Every job of `ids`, each the only step of its chain.
async fn finished_jobs(b: &Bundle, ids: &[JobId]) -> Vec<Job> {
    b.wait_for_chains(ids)
        .await
        .into_iter()
        .map(|chain| chain.into_iter().next().expect("a job"))
        .collect()
}

async fn three_workers_share_a_cap_of_five_and_the_upstream_never_says_429(backend: Backend) {
    let sim = sim_config().with_max_in_flight(5);
    let b = setup_many(backend, sim, 3, |c| c.max_in_flight = 5).await;
    let most = Arc::new(AtomicU32::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (store, most, done) = (b.store.clone(), most.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let held = store
                    .slots()
                    .held(DEFAULT_TOKEN_ALIAS)
                    .await
                    .expect("slots");
                most.fetch_max(held, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let ids = create_jobs(&b, 40, "a lighthouse at dusk").await;
    let jobs = finished_jobs(&b, &ids).await;
    done.store(true, Ordering::SeqCst);
    sampler.await.expect("the sampler");

    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        assert_eq!(job.attempts, 0, "{job:?}");
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        most > 1 && most <= 5,
        "pixq held {most} slots at once, cap 5"
    );
    let stats = b.admin.stats().await;
    let seen = stats["max_in_flight_seen"][TOKEN].as_u64().expect("seen");
    assert!(seen <= 5, "the simulator saw {seen} in flight: {stats}");
    assert_eq!(answered(&stats, "videos", "429"), 0, "{stats}");
    assert_eq!(ledger_task_ids(&b.ledger().await).len(), 40);
    until("every slot given back", DEADLINE, || async {
        (b.store
            .slots()
            .held(DEFAULT_TOKEN_ALIAS)
            .await
            .expect("slots")
            == 0)
            .then_some(())
    })
    .await;
    b.finish().await;
}

async fn a_burst_of_429s_on_submit_and_polls_is_waited_out_without_burning_attempts(
    backend: Backend,
) {
    let b = setup_with(
        backend,
        sim_config().with_fault(Fault::RateLimit, 0.5),
        |_| {},
    )
    .await;
    let ids = create_jobs(&b, 10, "rain on a tin roof").await;
    until(
        "a job waiting out a 429 as rate_limited",
        DEADLINE,
        || async {
            for id in &ids {
                let job = b.get(id).await;
                if job.state == JobState::Queued
                    && job.waiting_reason == Some(WaitingReason::RateLimited)
                {
                    return Some(());
                }
            }
            None
        },
    )
    .await;
    until("429s on submits and on polls", DEADLINE, || async {
        let stats = b.admin.stats().await;
        let hit = answered(&stats, "videos", "429") > 0 && answered(&stats, "tasks", "429") > 0;
        hit.then_some(())
    })
    .await;
    b.admin.post("faults", &json!({"rate_limit": 0.0})).await;

    let jobs = finished_jobs(&b, &ids).await;
    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        assert_eq!(job.attempts, 0, "a 429 burns no attempt: {job:?}");
    }
    assert_eq!(
        ledger_task_ids(&b.ledger().await).len(),
        10,
        "one task per job"
    );
    b.finish().await;
}

async fn a_used_up_token_pauses_submission_fails_nothing_and_resumes_after_a_top_up(
    backend: Backend,
) {
    let sim = sim_config().with_max_in_flight(3);
    let b = setup_many(backend, sim, 2, |c| c.max_in_flight = 3).await;
    let pauses = b.store.pauses();
    let ids = create_jobs(&b, 20, "a kite over the dunes").await;
    until("a few jobs to succeed", DEADLINE, || async {
        let mut succeeded = 0;
        for id in &ids {
            succeeded += usize::from(b.get(id).await.state == JobState::Succeeded);
        }
        (succeeded >= 3).then_some(())
    })
    .await;

    b.admin
        .post("tokens", &json!({"token": TOKEN, "state": "used_up"}))
        .await;
    let pause = until(
        "submission paused, with jobs parked as paused",
        DEADLINE,
        || async {
            let pause = pauses.status(DEFAULT_TOKEN_ALIAS).await.expect("pause")?;
            for id in &ids {
                let job = b.get(id).await;
                if job.state == JobState::Queued
                    && job.waiting_reason == Some(WaitingReason::Paused)
                {
                    return Some(pause);
                }
            }
            None
        },
    )
    .await;
    assert_eq!(pause.reason, "used_up");
    // The token stays dry for a while: the waiting jobs must neither fail nor hammer it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &ids {
        let job = b.get(id).await;
        assert_ne!(
            job.state,
            JobState::Failed,
            "a pause fails nothing: {job:?}"
        );
    }
    assert!(pauses.status(DEFAULT_TOKEN_ALIAS).await.unwrap().is_some());

    b.admin
        .post("tokens", &json!({"token": TOKEN, "state": "ok"}))
        .await;
    let jobs = finished_jobs(&b, &ids).await;
    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        assert_eq!(job.attempts, 0, "a pause burns no attempt: {job:?}");
    }
    assert_eq!(pauses.status(DEFAULT_TOKEN_ALIAS).await.unwrap(), None);
    // The submits that met the dry token: those already on their way (at most one per slot)
    // and one probe per backoff (0.3 s doubling to 1 s).
    let refused = answered(&b.admin.stats().await, "videos", "403");
    assert!(
        (1..=10).contains(&refused),
        "{refused} submits hit the used-up token"
    );
    assert_eq!(ledger_task_ids(&b.ledger().await).len(), 20);
    b.finish().await;
}

async fn jobs_parked_for_a_slot_are_submitted_in_the_order_they_came(backend: Backend) {
    let sim = sim_config().with_max_in_flight(1);
    let b = setup_with(backend, sim, |c| c.max_in_flight = 1).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let job = b
            .create(json!({"prompt": format!("a queue of ducks, duck {i}")}))
            .await;
        // The next job comes only once this one holds the slot or waits in line for it.
        until(
            "the job to take the slot or wait in line",
            DEADLINE,
            || async {
                let job = b.get(&job.id).await;
                let parked = job.waiting_reason == Some(WaitingReason::UpstreamCapacity);
                (job.state != JobState::Queued || parked).then_some(())
            },
        )
        .await;
        ids.push(job.id);
    }
    let jobs = finished_jobs(&b, &ids).await;
    let in_creation_order: Vec<String> = jobs
        .iter()
        .map(|job| job.upstream.task_id.clone().expect("a task id"))
        .collect();
    let in_ledger_order: Vec<String> = b
        .ledger()
        .await
        .iter()
        .map(|entry| entry["task_id"].as_str().expect("a task id").to_owned())
        .collect();
    let stats = b.admin.stats().await;
    assert_eq!(in_ledger_order, in_creation_order, "{stats}");
    assert_eq!(answered(&stats, "videos", "429"), 0, "{stats}");
    b.finish().await;
}
