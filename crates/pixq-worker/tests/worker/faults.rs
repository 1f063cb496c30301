//! Upstream faults: an unanswered submit is found again, never paid twice; a refusal fails
//! the job at once.

use std::collections::HashSet;

use pixq_core::state::{JobState, Transition};
use pixq_testkit::sim::ledger_task_ids;
use pixverse_sim::Fault;
use serde_json::json;

use crate::support::{Backend, both, setup_many, setup_with, sim_config};

both!(
    lost_submit_answers_are_found_again_and_paid_once,
    moderation_fails_jobs_at_once_without_retrying,
    a_task_slower_than_give_up_after_fails_with_poll_timeout_and_a_retry_resumes_it,
    retryable_failures_back_off_and_stop_at_max_attempts,
);

async fn lost_submit_answers_are_found_again_and_paid_once(backend: Backend) {
    let sim = sim_config()
        .with_fault(Fault::DropAfterSubmit, 0.2)
        .with_fault(Fault::NotJson, 0.2)
        .with_fault(Fault::Timeout, 0.2);
    // Two worker processes on one queue: the leases and the claims work across processes.
    let b = setup_many(backend, sim, 2, |_| {}).await;
    let mut roots = Vec::new();
    for i in 0..12 {
        let body = json!({"prompt": format!("a paper boat, take {i}"), "extend": [{"prompt": "it sails"}]});
        roots.push(b.create(body).await.id);
    }
    let chains = b.wait_for_chains(&roots).await;
    let jobs: Vec<_> = chains.iter().flatten().collect();
    assert_eq!(jobs.len(), 24);

    let ledger = b.ledger().await;
    assert_eq!(
        ledger.len(),
        jobs.len(),
        "exactly one upstream task per step"
    );
    let ledger_ids = ledger_task_ids(&ledger);
    let mut claimed = HashSet::new();
    for job in &jobs {
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        let task = job.upstream.task_id.clone().expect("a task id");
        let holder = b.store.jobs().job_for_task(&task).await.unwrap();
        assert_eq!(
            holder.as_ref(),
            Some(&job.id),
            "{task} is claimed by its job"
        );
        assert!(claimed.insert(task), "one task, two jobs");
    }
    assert_eq!(
        claimed, ledger_ids,
        "every task in the ledger is claimed by exactly one job"
    );

    let stats = b.admin.stats().await;
    let videos = &stats["requests"]["videos"];
    assert!(
        videos
            .as_object()
            .is_some_and(|by_status| by_status.len() > 1),
        "the faults were hit: {stats}"
    );
    b.finish().await;
}

async fn moderation_fails_jobs_at_once_without_retrying(backend: Backend) {
    let b = setup_with(
        backend,
        sim_config().with_fault(Fault::Moderation, 1.0),
        |_| {},
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let body =
            json!({"prompt": format!("something forbidden {i}"), "extend": [{"prompt": "more"}]});
        ids.push(b.create(body).await.id);
    }
    let chains = b.wait_for_chains(&ids).await;
    for chain in &chains {
        assert_eq!(chain.len(), 1, "no step after a failed one");
        let job = &chain[0];
        assert_eq!(job.state, JobState::Failed);
        let error = job.error.as_ref().expect("an error");
        assert_eq!(error.code, "forbidden");
        assert!(!error.retryable);
        assert!(job.attempts <= 1, "{job:?}");
    }
    assert!(b.ledger().await.is_empty(), "moderation creates no task");
    // One refused submit per job, no retry.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let stats = b.admin.stats().await;
    let submits: u64 = stats["requests"]["videos"]
        .as_object()
        .map(|by_status| by_status.values().filter_map(|n| n.as_u64()).sum())
        .unwrap_or_default();
    assert_eq!(submits, 5, "{stats}");
    b.finish().await;
}

async fn a_task_slower_than_give_up_after_fails_with_poll_timeout_and_a_retry_resumes_it(
    backend: Backend,
) {
    let sim = sim_config().with_latency("5s".parse().expect("a latency"));
    let b = setup_with(backend, sim, |c| {
        c.max_in_flight = 5;
        c.poll_give_up_after = std::time::Duration::from_secs(3);
    })
    .await;
    let job = b
        .create(json!({"prompt": "a glacier, very slowly", "extend": [{"prompt": "melting"}]}))
        .await;
    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    let done = &chains[0][0];
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    let error = done.error.as_ref().expect("an error");
    assert_eq!(error.code, "poll_timeout");
    assert!(error.retryable, "a retry may find the task done");
    assert_eq!(chains[0].len(), 1, "no next step after a failed one");
    assert_eq!(b.ledger().await.len(), 1, "submitted once");

    // A retry resumes waiting on the task it has: when the upstream finishes it (5 s after
    // the submit), the job succeeds on that task, and nothing is submitted again.
    let task = done.upstream.task_id.clone().expect("a task id");
    let retried = b
        .store
        .jobs()
        .apply(Transition::retry(job.id.clone()))
        .await
        .unwrap();
    assert!(retried.is_applied(), "{retried:?}");
    b.store
        .schedule()
        .ring(&job.id, chrono::Utc::now())
        .await
        .unwrap();
    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    assert_eq!(
        chains[0][0].state,
        JobState::Succeeded,
        "{:?}",
        chains[0][0]
    );
    assert_eq!(
        chains[0][0].upstream.task_id.as_deref(),
        Some(task.as_str())
    );
    // The chain then ran its extend step: one generate and one extend in all.
    let ledger = b.ledger().await;
    let generates = ledger
        .iter()
        .filter(|e| e["request"]["action"] == "generate")
        .count();
    assert_eq!(generates, 1, "the retry paid nothing: {ledger:?}");
    assert_eq!(chains[0].len(), 2, "the chain went on after the retry");
    b.finish().await;
}

async fn retryable_failures_back_off_and_stop_at_max_attempts(backend: Backend) {
    // Every task the upstream accepts fails later (unbilled): each try counts an attempt
    // and the job is submitted again after a backoff, until `max_attempts`.
    let sim = sim_config().with_fault(Fault::GenerationFailed, 1.0);
    let b = setup_with(backend, sim, |c| c.max_attempts = 3).await;
    let job = b.create(json!({"prompt": "a lighthouse in a storm"})).await;
    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    let done = &chains[0][0];
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    let error = done.error.as_ref().expect("an error");
    assert_eq!(error.code, "max_attempts", "{error:?}");
    // `attempts` counts the tries that were retried; the last one ended the job.
    assert_eq!(done.attempts, 2, "{done:?}");
    let stats = b.admin.stats().await;
    let submits: u64 = stats["requests"]["videos"]
        .as_object()
        .map(|by_status| by_status.values().filter_map(|n| n.as_u64()).sum())
        .unwrap_or_default();
    assert_eq!(
        submits, 3,
        "one submit per attempt, no hidden retries: {stats}"
    );
    assert_eq!(b.ledger().await.len(), 3);
    b.finish().await;
}
