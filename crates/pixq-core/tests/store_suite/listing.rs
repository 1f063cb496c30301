//! Listings newest first with cursors, their filters, and the rescuer's view.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::job::{BatchId, Job, JobId};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{Cursor, Jobs, ListFilter, StoreError};

use crate::jobs::{apply_ok, job_in, new_job};

/// Every page of a listing, following cursors; checks each page keeps to `limit`.
async fn every_page(store: &dyn Jobs, filter: &ListFilter, limit: usize) -> Vec<Job> {
    let mut out = Vec::new();
    let mut cursor: Option<Cursor> = None;
    for _ in 0..1000 {
        let page = store
            .list(filter, cursor.as_ref(), limit)
            .await
            .expect("list");
        assert!(page.jobs.len() <= limit, "a page of {}", page.jobs.len());
        out.extend(page.jobs);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
    panic!("the listing never ended");
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

/// Creates `n` jobs one after another; answers their ids, oldest first.
async fn create_in_order(store: &dyn Jobs, n: usize) -> Vec<JobId> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(store.create(new_job(), None).await.expect("create").job.id);
    }
    out
}

pub async fn list_pages_newest_first_and_covers_every_job_once(store: &dyn Jobs) {
    let created = create_in_order(store, 120).await;
    let newest_first: Vec<_> = created.iter().rev().cloned().collect();

    let filter = ListFilter::default();
    let first = store.list(&filter, None, 50).await.expect("list");
    assert_eq!(first.jobs.len(), 50, "a full first page");
    assert!(first.next_cursor.is_some());

    let all = every_page(store, &filter, 50).await;
    assert_eq!(ids(&all), newest_first, "every job once, newest first");
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    assert_eq!(ids(&every_page(store, &filter, 7).await), newest_first);

    let whole = store.list(&filter, None, 500).await.expect("list");
    assert_eq!((whole.jobs.len(), whole.next_cursor), (120, None));
}

pub async fn list_filters_by_state(store: &dyn Jobs) {
    let created = create_in_order(store, 30).await;
    let mut submitting = Vec::new();
    for id in created.iter().step_by(3) {
        apply_ok(
            store,
            Transition::begin_submit(id.clone(), "{}".into(), None),
        )
        .await;
        submitting.push(id.clone());
    }
    submitting.reverse();
    let filter = |state| ListFilter {
        state: Some(state),
        ..ListFilter::default()
    };
    let listed = every_page(store, &filter(JobState::Submitting), 4).await;
    assert_eq!(ids(&listed), submitting);
    assert!(listed.iter().all(|j| j.state == JobState::Submitting));

    let queued = every_page(store, &filter(JobState::Queued), 4).await;
    assert_eq!(queued.len(), 20);
    assert!(queued.iter().all(|j| j.state == JobState::Queued));
    assert!(
        every_page(store, &filter(JobState::Failed), 4)
            .await
            .is_empty()
    );
}

pub async fn list_filters_by_batch_and_state(store: &dyn Jobs) {
    let batch = BatchId::generate();
    let other = BatchId::generate();
    let mine = store
        .create_batch((0..12).map(|_| new_job().in_batch(batch.clone())).collect())
        .await
        .expect("create_batch");
    store
        .create_batch((0..5).map(|_| new_job().in_batch(other.clone())).collect())
        .await
        .expect("create_batch");
    create_in_order(store, 3).await;
    let mut cancelled = HashSet::new();
    for job in mine.iter().take(4) {
        apply_ok(store, Transition::cancel(job.id.clone())).await;
        cancelled.insert(job.id.clone());
    }

    let by_batch = ListFilter {
        batch: Some(batch.clone()),
        ..ListFilter::default()
    };
    let listed = every_page(store, &by_batch, 5).await;
    let expected: HashSet<_> = mine.iter().map(|j| j.id.clone()).collect();
    assert_eq!(listed.len(), 12, "each job of the batch once");
    assert_eq!(ids(&listed).into_iter().collect::<HashSet<_>>(), expected);

    let cancelled_in_batch = ListFilter {
        batch: Some(batch),
        state: Some(JobState::Cancelled),
    };
    let listed = every_page(store, &cancelled_in_batch, 3).await;
    assert_eq!(ids(&listed).into_iter().collect::<HashSet<_>>(), cancelled);
    assert_eq!(listed.len(), 4);

    let unknown = ListFilter {
        batch: Some(BatchId::from("batch_unknown")),
        ..ListFilter::default()
    };
    assert!(every_page(store, &unknown, 5).await.is_empty());
}

pub async fn list_rejects_a_garbage_cursor(store: &dyn Jobs) {
    create_in_order(store, 3).await;
    for text in [
        "",
        "garbage",
        "12:",
        "abc:job_x",
        "-:job_x",
        "99999999999999999999999:x",
    ] {
        match store
            .list(&ListFilter::default(), Some(&Cursor::new(text)), 10)
            .await
        {
            Err(StoreError::InvalidCursor(got)) => assert_eq!(got, text),
            other => panic!("cursor {text:?}: expected InvalidCursor, got {other:?}"),
        }
    }
}

/// Waits until the clock has moved past `t` by at least a millisecond, the stores' grain.
async fn after(t: DateTime<Utc>) {
    while Utc::now().timestamp_millis() <= t.timestamp_millis() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn unfinished_older_than_finds_quiet_unfinished_jobs_only(store: &dyn Jobs) {
    // Finished first, so that they would be the oldest entries if they were still counted.
    for state in [JobState::Succeeded, JobState::Failed, JobState::Cancelled] {
        job_in(store, state).await;
    }
    let queued = store.create(new_job(), None).await.expect("create").job;
    let submitting = job_in(store, JobState::Submitting).await;
    let generating = job_in(store, JobState::Generating).await;
    let touched = store.create(new_job(), None).await.expect("create").job;
    let cutoff = Utc::now();
    after(cutoff).await;
    // Changed after the cutoff: not quiet enough to rescue.
    apply_ok(
        store,
        Transition::begin_submit(touched.id.clone(), "{}".into(), None),
    )
    .await;
    store.create(new_job(), None).await.expect("create");

    let found = store
        .unfinished_older_than(cutoff, 0, 100)
        .await
        .expect("unfinished_older_than");
    assert_eq!(
        ids(&found),
        [queued.id, submitting.id.clone(), generating.id.clone()],
        "the quiet unfinished jobs, oldest change first"
    );
    assert!(found.iter().all(|j| j.updated_at <= cutoff));

    let two = store
        .unfinished_older_than(cutoff, 0, 2)
        .await
        .expect("unfinished_older_than");
    assert_eq!(
        ids(&two),
        ids(&found[..2]),
        "the oldest two, not finished jobs in their place"
    );
    let rest = store
        .unfinished_older_than(cutoff, 2, 2)
        .await
        .expect("unfinished_older_than");
    assert_eq!(
        ids(&rest),
        ids(&found[2..]),
        "the offset skips the first two"
    );

    // Finishing a job takes it out of the rescuer's view.
    apply_ok(store, Transition::cancel(submitting.id.clone())).await;
    let found = store
        .unfinished_older_than(Utc::now(), 0, 100)
        .await
        .expect("unfinished_older_than");
    assert!(found.iter().all(|j| !j.is_terminal()));
    assert!(!ids(&found).contains(&submitting.id));
    assert!(ids(&found).contains(&generating.id));
}
