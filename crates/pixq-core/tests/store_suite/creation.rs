//! Creating jobs: one, many, and under an idempotency key.

use std::collections::HashSet;

use pixq_core::job::{BatchId, JobId};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{IdempotencyKey, Jobs, ListFilter, SharedStore, StoreError};
use serde_json::json;

use crate::jobs::{apply_ok, must_get, new_job};

fn key(key: &str, fingerprint: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey {
        key: key.into(),
        fingerprint: fingerprint.into(),
    })
}

pub async fn create_then_get_round_trips(store: &dyn Jobs) {
    let batch = BatchId::generate();
    let new = new_job()
        .in_batch(batch.clone())
        .with_metadata(json!({"customer": 42}))
        .with_webhook("https://hooks.example/done");
    let id = new.id.clone();
    let created = store.create(new.clone(), None).await.expect("create");
    assert!(!created.replayed);
    let job = &created.job;
    assert_eq!(job.id, id);
    assert_eq!(job.state, JobState::Queued);
    assert_eq!((&job.root_id, job.step, &job.parent_id), (&id, 0, &None));
    assert_eq!(job.batch_id.as_ref(), Some(&batch));
    assert_eq!((&job.params, &job.metadata), (&new.params, &new.metadata));
    assert_eq!(job.webhook_url, new.webhook_url);
    assert!(job.children.is_empty() && job.finished_at.is_none());
    assert_eq!(must_get(store, &id).await, created.job);
}

pub async fn unknown_job_is_none_and_not_found(store: &dyn Jobs) {
    let id = JobId::from("job_nobody");
    assert_eq!(store.get(&id).await.expect("get"), None);
    match store.apply(Transition::cancel(id.clone())).await {
        Err(StoreError::NotFound(missing)) => assert_eq!(missing, id),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        store.job_for_task("no-such-task").await.expect("lookup"),
        None
    );
}

pub async fn idempotency_key_replays_the_first_job_for_the_same_body(store: &dyn Jobs) {
    let first = store
        .create(new_job(), key("k-1", "body-a"))
        .await
        .expect("first create");
    assert!(!first.replayed);
    let id = first.job.id.clone();
    // The first job moves on; a replay answers it as it is now, not as it was created.
    let moved = apply_ok(
        store,
        Transition::begin_submit(id.clone(), "{}".into(), None),
    )
    .await;

    let second_new = new_job();
    let second_id = second_new.id.clone();
    let again = store
        .create(second_new, key("k-1", "body-a"))
        .await
        .expect("replay");
    assert!(again.replayed);
    assert_eq!(again.job, moved);
    assert_eq!(
        store.get(&second_id).await.expect("get"),
        None,
        "a replay creates nothing"
    );

    let other = store
        .create(new_job(), key("k-2", "body-a"))
        .await
        .expect("another key");
    assert!(!other.replayed);
    assert_ne!(other.job.id, id);
}

pub async fn idempotency_key_conflicts_for_another_body(store: &dyn Jobs) {
    let first = store
        .create(new_job(), key("k-1", "body-a"))
        .await
        .expect("first create");
    let second = new_job();
    let second_id = second.id.clone();
    match store.create(second, key("k-1", "body-b")).await {
        Err(StoreError::Conflict { key, job }) => {
            assert_eq!((key.as_str(), &job), ("k-1", &first.job.id));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get(&second_id).await.expect("get"), None);
    assert_eq!(must_get(store, &first.job.id).await, first.job);
}

pub async fn concurrent_creates_under_one_key_make_one_job(shared: &SharedStore) {
    let store = shared.jobs();
    let racers: Vec<_> = (0..20)
        .map(|_| {
            let store = shared.clone();
            tokio::spawn(async move { store.jobs().create(new_job(), key("k-race", "body")).await })
        })
        .collect();
    let mut fresh = 0;
    let mut ids = HashSet::new();
    for racer in racers {
        let created = racer.await.expect("racer").expect("create");
        fresh += usize::from(!created.replayed);
        ids.insert(created.job.id);
    }
    assert_eq!(fresh, 1, "exactly one create is not a replay");
    assert_eq!(ids.len(), 1, "every racer answers the same job: {ids:?}");
    let page = store
        .list(&ListFilter::default(), None, 100)
        .await
        .expect("list");
    assert_eq!(page.jobs.len(), 1);
}

pub async fn duplicate_id_is_refused_and_leaves_the_first(store: &dyn Jobs) {
    let new = new_job().with_metadata(json!({"n": 1}));
    let first = store.create(new.clone(), None).await.expect("create");
    let again = new.with_metadata(json!({"n": 2}));
    match store.create(again, None).await {
        Err(StoreError::Duplicate(id)) => assert_eq!(id, first.job.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(must_get(store, &first.job.id).await, first.job);
}

pub async fn duplicate_id_does_not_take_the_idempotency_key(store: &dyn Jobs) {
    let existing = store.create(new_job(), None).await.expect("create").job;
    let mut clash = new_job();
    clash.id = existing.id.clone();
    assert!(matches!(
        store.create(clash, key("k-1", "body")).await,
        Err(StoreError::Duplicate(_))
    ));
    let later = store
        .create(new_job(), key("k-1", "body"))
        .await
        .expect("the key is still free");
    assert!(!later.replayed);
    assert_ne!(later.job.id, existing.id);
}

pub async fn batch_is_created_whole(store: &dyn Jobs) {
    let batch = BatchId::generate();
    let news: Vec<_> = (0..5)
        .map(|i| new_job().in_batch(batch.clone()).with_metadata(json!(i)))
        .collect();
    let jobs = store
        .create_batch(news.clone())
        .await
        .expect("create_batch");
    assert_eq!(jobs.len(), news.len());
    for (job, new) in jobs.iter().zip(&news) {
        assert_eq!((&job.id, &job.metadata), (&new.id, &new.metadata));
        assert_eq!(job.state, JobState::Queued);
        assert_eq!(&must_get(store, &job.id).await, job);
    }
    assert!(
        store
            .create_batch(Vec::new())
            .await
            .expect("empty")
            .is_empty()
    );
}

pub async fn batch_with_an_existing_id_creates_nothing(store: &dyn Jobs) {
    let existing = store.create(new_job(), None).await.expect("create").job;
    let mut clash = new_job();
    clash.id = existing.id.clone();
    let news = vec![new_job(), new_job(), clash, new_job()];
    match store.create_batch(news.clone()).await {
        Err(StoreError::Duplicate(id)) => assert_eq!(id, existing.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    for new in news.iter().filter(|n| n.id != existing.id) {
        assert_eq!(store.get(&new.id).await.expect("get"), None, "{}", new.id);
    }
    assert_eq!(must_get(store, &existing.id).await, existing);
}

/// Regression: two entries with one id in the same batch were both "created" (the second
/// overwrote the first) and the call answered success for a job that was written twice.
pub async fn batch_repeating_an_id_creates_nothing(store: &dyn Jobs) {
    let first = new_job().with_metadata(json!("first"));
    let repeat = first.clone().with_metadata(json!("second"));
    let other = new_job();
    let news = vec![other.clone(), first.clone(), repeat];
    match store.create_batch(news).await {
        Err(StoreError::Duplicate(id)) => assert_eq!(id, first.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    for id in [&first.id, &other.id] {
        assert_eq!(store.get(id).await.expect("get"), None, "{id}");
    }
}
