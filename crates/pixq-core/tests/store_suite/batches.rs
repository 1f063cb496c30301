//! Batches: invisible and not due until accepted, counted as their chains move, finished when
//! every chain has ended, idempotent, swept when their writer dies, and taking turns in the
//! wait line.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pixq_core::batch::{Batch, Begun, Counts, NewBatch};
use pixq_core::job::{BatchId, JobError, JobId, NewJob};
use pixq_core::state::Transition;
use pixq_core::store::{IdempotencyKey, ListFilter, SharedStore, StoreError};

use crate::jobs::{apply_ok, extend_step, fresh_task, new_job, video};

const LEASE: Duration = Duration::from_secs(60);

fn jobs(n: usize, chain_len: u32) -> Vec<NewJob> {
    (0..n)
        .map(|_| new_job().with_chain_len(chain_len))
        .collect()
}

fn key(fingerprint: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: format!("k-{}", BatchId::generate()),
        fingerprint: fingerprint.into(),
    }
}

/// Begins, adds `chunks` and accepts a batch; answers it and its chains' first steps.
pub async fn accepted(store: &SharedStore, chunks: Vec<Vec<NewJob>>) -> (Batch, Vec<JobId>) {
    let new = NewBatch::new();
    let begun = store.batches().begin(&new, None).await.expect("begin");
    assert_eq!(begun, Begun::Writing);
    let mut ids = Vec::new();
    for chunk in chunks {
        ids.extend(chunk.iter().map(|j| j.id.clone()));
        store.batches().add(&new.id, chunk).await.expect("add");
    }
    let batch = store.batches().accept(&new.id).await.expect("accept");
    (batch, ids)
}

fn counts(queued: u64, running: u64, succeeded: u64, failed: u64, cancelled: u64) -> Counts {
    Counts {
        queued,
        running,
        succeeded,
        failed,
        cancelled,
    }
}

async fn batch(store: &SharedStore, id: &BatchId) -> Batch {
    store
        .batches()
        .get(id)
        .await
        .expect("get")
        .expect("the batch is there")
}

async fn submit(store: &SharedStore, id: &JobId) {
    let jobs = store.jobs();
    apply_ok(
        jobs,
        Transition::begin_submit(id.clone(), "{}".into(), None),
    )
    .await;
    apply_ok(jobs, Transition::submitted(id.clone(), fresh_task(), None)).await;
}

pub async fn a_batch_is_invisible_and_nothing_of_it_due_until_accepted(store: &SharedStore) {
    let new = NewBatch::new();
    let batches = store.batches();
    assert_eq!(batches.begin(&new, None).await.unwrap(), Begun::Writing);
    let (first, second) = (jobs(3, 1), jobs(2, 1));
    let order: Vec<JobId> = first.iter().chain(&second).map(|j| j.id.clone()).collect();
    batches.add(&new.id, first).await.unwrap();
    batches.add(&new.id, second).await.unwrap();

    assert_eq!(
        batches.get(&new.id).await.unwrap(),
        None,
        "not accepted yet"
    );
    let filter = ListFilter {
        batch: Some(new.id.clone()),
        state: None,
    };
    let listed = store.jobs().list(&filter, None, 50).await.unwrap();
    assert!(listed.jobs.is_empty(), "listed before accepted: {listed:?}");
    let quiet = store
        .jobs()
        .unfinished_older_than(Utc::now() + TimeDelta::seconds(5), 0, 100)
        .await
        .unwrap();
    assert!(
        quiet.iter().all(|j| j.batch_id.as_ref() != Some(&new.id)),
        "the rescuer would ring a batch still being written"
    );
    let taken = store.take(Utc::now(), 100, "w1", LEASE).await.unwrap();
    assert!(taken.is_empty(), "a job of an unaccepted batch was due");

    let batch = batches.accept(&new.id).await.unwrap();
    assert_eq!((batch.total, batch.counts), (5, counts(5, 0, 0, 0, 0)));
    assert_eq!(batch.finished_at, None);
    assert_eq!(batches.roots(&new.id, 0, 100).await.unwrap(), order);
    assert_eq!(batches.roots(&new.id, 3, 1).await.unwrap(), order[3..4]);
    let listed = store.jobs().list(&filter, None, 50).await.unwrap();
    assert_eq!(listed.jobs.len(), 5);
    let mut taken: Vec<JobId> = store
        .take(Utc::now(), 100, "w1", LEASE)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.lease.job)
        .collect();
    taken.sort();
    let mut want = order.clone();
    want.sort();
    assert_eq!(taken, want, "every chain is due once accepted");
    assert!(matches!(
        batches.add(&new.id, jobs(1, 1)).await,
        Err(StoreError::UnknownBatch(_))
    ));
    assert!(matches!(
        batches.accept(&new.id).await,
        Err(StoreError::UnknownBatch(_))
    ));
}

pub async fn counts_move_with_the_chains_and_the_batch_finishes_when_all_have_ended(
    store: &SharedStore,
) {
    let (b, ids) = accepted(store, vec![jobs(3, 2)]).await;
    let jobs = store.jobs();
    let (one, two, three) = (&ids[0], &ids[1], &ids[2]);

    submit(store, one).await;
    assert_eq!(batch(store, &b.id).await.counts, counts(2, 1, 0, 0, 0));
    // A step that succeeds with one to go keeps its chain running; its next step moves nothing.
    apply_ok(
        jobs,
        Transition::succeed(one.clone(), video(1), Some(extend_step(1))),
    )
    .await;
    assert_eq!(batch(store, &b.id).await.counts, counts(2, 1, 0, 0, 0));
    let next = JobId::for_step(one, 1);
    submit(store, &next).await;
    apply_ok(jobs, Transition::succeed(next.clone(), video(2), None)).await;
    assert_eq!(batch(store, &b.id).await.counts, counts(2, 0, 1, 0, 0));

    submit(store, two).await;
    apply_ok(
        jobs,
        Transition::fail(two.clone(), JobError::new("api_error", "boom", false)),
    )
    .await;
    apply_ok(jobs, Transition::cancel(three.clone())).await;
    let done = batch(store, &b.id).await;
    assert_eq!(done.counts, counts(0, 0, 1, 1, 1));
    assert_eq!(done.total, 3);
    let finished = done.finished_at.expect("every chain has ended");

    // A retry opens the batch again; the chain is queued again (its first step).
    apply_ok(jobs, Transition::retry(two.clone())).await;
    let reopened = batch(store, &b.id).await;
    assert_eq!(reopened.counts, counts(1, 0, 1, 0, 1));
    assert_eq!(reopened.finished_at, None);
    submit(store, two).await;
    apply_ok(
        jobs,
        Transition::succeed(two.clone(), video(3), Some(extend_step(3))),
    )
    .await;
    let last = JobId::for_step(two, 1);
    submit(store, &last).await;
    apply_ok(jobs, Transition::succeed(last, video(4), None)).await;
    let again = batch(store, &b.id).await;
    assert_eq!(again.counts, counts(0, 0, 2, 0, 1));
    assert!(again.finished_at.expect("finished again") >= finished);
}

pub async fn an_idempotency_key_is_taken_at_begin_and_replays_the_accepted_batch(
    store: &SharedStore,
) {
    let batches = store.batches();
    let k = key("body-1");
    let first = NewBatch::new();
    assert_eq!(
        batches.begin(&first, Some(&k)).await.unwrap(),
        Begun::Writing
    );
    batches.add(&first.id, jobs(2, 1)).await.unwrap();

    let second = NewBatch::new();
    match batches.begin(&second, Some(&k)).await {
        Err(StoreError::BatchKeyTaken {
            batch, in_progress, ..
        }) => {
            assert_eq!(batch, first.id);
            assert!(in_progress, "the first is still being written");
        }
        other => panic!("expected the key to be taken, got {other:?}"),
    }
    let accepted = batches.accept(&first.id).await.unwrap();
    assert_eq!(
        batches.begin(&second, Some(&k)).await.unwrap(),
        Begun::Replayed(accepted.clone())
    );
    let other_body = IdempotencyKey {
        fingerprint: "body-2".into(),
        ..k.clone()
    };
    match batches.begin(&second, Some(&other_body)).await {
        Err(StoreError::BatchKeyTaken {
            batch, in_progress, ..
        }) => assert_eq!((batch, in_progress), (first.id.clone(), false)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        batches.get(&second.id).await.unwrap(),
        None,
        "nothing begun"
    );
    assert!(matches!(
        batches.begin(&first, None).await,
        Err(StoreError::DuplicateBatch(_))
    ));
}

pub async fn a_batch_whose_writer_died_is_swept_with_its_jobs_and_frees_its_key(
    store: &SharedStore,
) {
    let batches = store.batches();
    let k = key("body");
    let dead = NewBatch::new();
    batches.begin(&dead, Some(&k)).await.unwrap();
    let chunk = jobs(4, 1);
    let ids: Vec<JobId> = chunk.iter().map(|j| j.id.clone()).collect();
    batches.add(&dead.id, chunk).await.unwrap();
    let (live, live_ids) = accepted(store, vec![jobs(1, 1)]).await;

    assert_eq!(
        batches
            .sweep_abandoned(Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "too young"
    );
    assert_eq!(batches.sweep_abandoned(Duration::ZERO).await.unwrap(), 1);
    for id in &ids {
        assert_eq!(store.jobs().get(id).await.unwrap(), None, "{id} was left");
    }
    assert_eq!(batches.roots(&dead.id, 0, 10).await.unwrap(), Vec::new());
    assert!(
        batches.get(&live.id).await.unwrap().is_some(),
        "accepted ones stay"
    );
    assert!(store.jobs().get(&live_ids[0]).await.unwrap().is_some());
    assert!(!batches.discard(&dead.id).await.unwrap(), "gone already");
    let again = NewBatch::new();
    assert_eq!(
        batches.begin(&again, Some(&k)).await.unwrap(),
        Begun::Writing,
        "the key is free again"
    );
}

pub async fn a_late_small_batch_takes_turns_with_a_large_one_in_the_wait_line(store: &SharedStore) {
    let (_, large) = accepted(store, vec![jobs(30, 1)]).await;
    let (_, small) = accepted(store, vec![jobs(3, 1)]).await;
    let line = store.wait_line();
    for id in &large {
        assert!(line.park("tok", id).await.unwrap());
    }
    for id in &small {
        assert!(line.park("tok", id).await.unwrap());
    }
    assert!(
        !line.park("tok", &small[0]).await.unwrap(),
        "keeps its place"
    );
    let first = line.first("tok", 6).await.unwrap();
    for id in &small {
        assert!(
            first.contains(id),
            "{id} waits behind the large batch: {first:?}"
        );
    }
    // Within a batch, the order of arrival.
    let order: Vec<&JobId> = first.iter().filter(|id| large.contains(id)).collect();
    assert_eq!(order, large.iter().take(3).collect::<Vec<_>>());

    // Jobs leaving the front: a batch arriving now starts at the line's first turn, beside
    // the large batch's next job, not before its own earlier turns.
    for id in large.iter().take(10) {
        assert!(line.remove("tok", id).await.unwrap());
    }
    for id in &small {
        assert!(line.remove("tok", id).await.unwrap());
    }
    let (_, late) = accepted(store, vec![jobs(2, 1)]).await;
    for id in &late {
        line.park("tok", id).await.unwrap();
    }
    let first = line.first("tok", 4).await.unwrap();
    assert!(
        first.contains(&late[0]) && first.contains(&late[1]),
        "{first:?}"
    );
    assert!(first.contains(&large[10]), "{first:?}");
    assert_eq!(line.len("tok").await.unwrap(), 22);
}

/// `list`: accepted batches only, newest first, each once across pages of any size; a cursor
/// the store did not issue is refused.
pub async fn batches_are_listed_newest_first_each_once_across_pages(store: &SharedStore) {
    let empty = store.batches().list(None, 10).await.expect("list");
    assert!(empty.batches.is_empty() && empty.next_cursor.is_none());
    let mut made = Vec::new();
    for _ in 0..5 {
        let (batch, _) = accepted(store, vec![jobs(1, 1)]).await;
        made.push(batch.id);
        // Accepted at distinct instants, so that newest first is one order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let writing = NewBatch::new();
    store.batches().begin(&writing, None).await.expect("begin");
    store
        .batches()
        .add(&writing.id, jobs(1, 1))
        .await
        .expect("add");
    made.reverse();
    for limit in [1, 2, 5, 50] {
        let mut seen = Vec::new();
        let mut cursor = None;
        for _ in 0..20 {
            let page = store
                .batches()
                .list(cursor.as_ref(), limit)
                .await
                .expect("list");
            assert!(page.batches.len() <= limit, "at most {limit}");
            seen.extend(page.batches.into_iter().map(|b| b.id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen, made,
            "limit {limit}: newest first, each once, none unaccepted"
        );
    }
    let refused = store
        .batches()
        .list(Some(&pixq_core::store::Cursor::new("not-a-cursor")), 10)
        .await;
    assert!(
        matches!(refused, Err(StoreError::InvalidCursor(_))),
        "{refused:?}"
    );
}
