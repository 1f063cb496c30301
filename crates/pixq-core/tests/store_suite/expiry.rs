//! Finished jobs disappear after their retention; damaged records are reported, not trusted.

use std::time::{Duration, Instant};

use pixq_core::job::JobId;
use pixq_core::state::{JobState, Transition, TransitionKind};
use pixq_core::store::{IdempotencyKey, Jobs, ListFilter, StoreError};

use crate::Backend;
use crate::jobs::{apply_ok, fresh_task, job_in, must_get, new_job, transition_of};

const RETENTION: Duration = Duration::from_secs(1);

/// Polls until `id` is gone, for at most `limit`.
async fn gone_within(store: &dyn Jobs, id: &JobId, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if store.get(id).await.expect("get").is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub async fn finished_job_expires_after_retention(backend: &impl Backend) {
    let shared = backend.with_retention(RETENTION);
    let store = shared.jobs();
    let key = IdempotencyKey {
        key: "k-expiring".into(),
        fingerprint: "body".into(),
    };
    let done = store
        .create(new_job(), Some(key.clone()))
        .await
        .expect("create")
        .job;
    let task = fresh_task();
    apply_ok(
        store,
        Transition::begin_submit(done.id.clone(), "{}".into(), None),
    )
    .await;
    apply_ok(
        store,
        Transition::submitted(done.id.clone(), task.clone(), None),
    )
    .await;
    let done = apply_ok(store, Transition::cancel(done.id.clone())).await;

    let unfinished = job_in(store, JobState::Generating).await;
    // Failed, then retried: unfinished again, so it must not expire.
    let retried = job_in(store, JobState::Failed).await;
    apply_ok(store, transition_of(TransitionKind::Retry, &retried.id)).await;

    assert!(
        !backend.leftovers(&done).await.is_empty(),
        "stored until it expires"
    );

    let started = Instant::now();
    assert!(
        gone_within(store, &done.id, RETENTION * 5).await,
        "a finished job expires after retention"
    );
    assert!(started.elapsed() >= RETENTION / 2, "not before its time");
    assert_eq!(backend.sweep_expired().await, 1, "one job to sweep");
    assert_eq!(backend.sweep_expired().await, 0, "swept once");
    assert_eq!(backend.leftovers(&done).await, Vec::<String>::new());

    let listed = store
        .list(&ListFilter::default(), None, 100)
        .await
        .expect("list");
    let listed: Vec<_> = listed.jobs.iter().map(|j| j.id.clone()).collect();
    assert!(!listed.contains(&done.id), "gone from listings");
    assert!(listed.contains(&unfinished.id) && listed.contains(&retried.id));
    let by_state = ListFilter {
        state: Some(JobState::Cancelled),
        ..ListFilter::default()
    };
    let cancelled = store.list(&by_state, None, 100).await.expect("list");
    assert!(cancelled.jobs.is_empty(), "{:?}", cancelled.jobs);

    // What lived with it went with it: the task id and the idempotency key.
    assert_eq!(store.job_for_task(&task).await.expect("lookup"), None);
    let fresh = store.create(new_job(), Some(key)).await.expect("create");
    assert!(!fresh.replayed, "the expired job's key no longer replays");

    assert_eq!(
        must_get(store, &unfinished.id).await.state,
        JobState::Generating
    );
    assert_eq!(must_get(store, &retried.id).await.state, JobState::Queued);
}

pub async fn corrupt_record_is_reported_not_panicked(backend: &impl Backend) {
    let store = backend.store().jobs();
    let job = store.create(new_job(), None).await.expect("create").job;
    backend.write_raw(&job.id, "{\"id\": \"half a record").await;

    match store.get(&job.id).await {
        Err(StoreError::Corrupt { what, detail }) => {
            assert!(what.contains(job.id.as_str()), "{what}");
            assert!(!detail.is_empty());
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    match store.apply(Transition::cancel(job.id.clone())).await {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("a transition of a corrupt record: expected Corrupt, got {other:?}"),
    }
    match store.list(&ListFilter::default(), None, 10).await {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("a listing over a corrupt record: expected Corrupt, got {other:?}"),
    }

    // Well-formed JSON that is not a job is just as corrupt.
    let other = store.create(new_job(), None).await.expect("create").job;
    backend.write_raw(&other.id, r#"{"hello": "world"}"#).await;
    assert!(matches!(
        store.get(&other.id).await,
        Err(StoreError::Corrupt { .. })
    ));
}
