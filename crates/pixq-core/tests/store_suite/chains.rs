//! Chains: the next step is created in the write that finishes its parent, at most once;
//! a cancel takes the unfinished rest of the chain with it.

use pixq_core::job::{Action, BatchId, JobError, JobId};
use pixq_core::state::{JobState, Transition};
use pixq_core::store::{Jobs, ListFilter, Outcome, SharedStore};
use serde_json::json;

use crate::Backend;
use crate::jobs::{apply_ok, extend_step, fresh_task, must_get, new_job, video};

/// A job of a fresh batch, created and driven to `generating`.
async fn generating_in_batch(store: &dyn Jobs) -> (JobId, BatchId) {
    let batch = BatchId::generate();
    let new = new_job()
        .in_batch(batch.clone())
        .with_metadata(json!({"tag": "chain"}))
        .with_webhook("https://hooks.example/c");
    let id = store.create(new, None).await.expect("create").job.id;
    finish_submit(store, &id).await;
    (id, batch)
}

async fn finish_submit(store: &dyn Jobs, id: &JobId) {
    apply_ok(
        store,
        Transition::begin_submit(id.clone(), "{}".into(), None),
    )
    .await;
    apply_ok(store, Transition::submitted(id.clone(), fresh_task(), None)).await;
}

pub async fn succeed_creates_the_next_step_in_place(store: &dyn Jobs) {
    let (root, batch) = generating_in_batch(store).await;
    let parent = apply_ok(
        store,
        Transition::succeed(root.clone(), video(11), Some(extend_step(11))),
    )
    .await;
    let child_id = JobId::for_step(&root, 1);
    assert_eq!(child_id.as_str(), format!("{root}.s1"));
    assert_eq!(parent.children, std::slice::from_ref(&child_id));

    let child = must_get(store, &child_id).await;
    assert_eq!(child.state, JobState::Queued);
    assert_eq!(child.action, Action::Extend);
    assert_eq!(child.parent_id.as_ref(), Some(&root));
    assert_eq!((&child.root_id, child.step), (&root, 1));
    assert_eq!(child.batch_id.as_ref(), Some(&batch));
    assert_eq!(
        (&child.metadata, &child.webhook_url),
        (&parent.metadata, &parent.webhook_url)
    );
    assert_eq!(child.params, extend_step(11).params);
    assert_eq!(
        child.created_at, parent.updated_at,
        "created in the same write"
    );

    // Step 2 hangs off the same root, not off step 1's id.
    finish_submit(store, &child_id).await;
    apply_ok(
        store,
        Transition::succeed(child_id.clone(), video(12), Some(extend_step(12))),
    )
    .await;
    let grandchild = must_get(store, &JobId::for_step(&root, 2)).await;
    assert_eq!(grandchild.id.as_str(), format!("{root}.s2"));
    assert_eq!(grandchild.parent_id.as_ref(), Some(&child_id));
    assert_eq!((&grandchild.root_id, grandchild.step), (&root, 2));

    let filter = ListFilter {
        batch: Some(batch),
        ..ListFilter::default()
    };
    let page = store.list(&filter, None, 10).await.expect("list");
    let ids: Vec<_> = page.jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(
        ids,
        [grandchild.id, child_id, root],
        "the batch lists every step"
    );
}

pub async fn concurrent_succeeds_create_the_next_step_once(shared: &SharedStore) {
    let store = shared.jobs();
    let (root, batch) = generating_in_batch(store).await;
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let (store, id) = (shared.clone(), root.clone());
            tokio::spawn(async move {
                let t = Transition::succeed(id, video(100 + i), Some(extend_step(100 + i)));
                store.jobs().apply(t).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.expect("racer").expect("apply") {
            Outcome::Applied(job) => winners.push(job),
            Outcome::Stale { current } => assert_eq!(current.state, JobState::Succeeded),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one succeed applies");
    let parent = &winners[0];
    let child_id = JobId::for_step(&root, 1);
    assert_eq!(parent.children, std::slice::from_ref(&child_id));
    let child = must_get(store, &child_id).await;
    let video_id = parent.result.as_ref().expect("result").video_id.0;
    assert_eq!(
        child.params["video_id"].as_i64(),
        Some(video_id),
        "the winner's step"
    );

    let filter = ListFilter {
        batch: Some(batch),
        ..ListFilter::default()
    };
    let page = store.list(&filter, None, 100).await.expect("list");
    assert_eq!(page.jobs.len(), 2, "the root and one step: {:?}", page.jobs);
}

/// A succeed whose next step already exists (its parent's success was written before)
/// leaves that step as it is and lists it once.
pub async fn succeed_keeps_an_existing_next_step(backend: &impl Backend) {
    let store = backend.store().jobs();
    let (root, _) = generating_in_batch(store).await;
    let parent = apply_ok(
        store,
        Transition::succeed(root.clone(), video(1), Some(extend_step(1))),
    )
    .await;
    let child_id = JobId::for_step(&root, 1);
    let child = apply_ok(
        store,
        Transition::begin_submit(child_id.clone(), "{}".into(), None),
    )
    .await;

    let mut rewound = parent.clone();
    rewound.state = JobState::Generating;
    rewound.result = None;
    rewound.finished_at = None;
    backend.force(&rewound).await;
    let again = apply_ok(
        store,
        Transition::succeed(root.clone(), video(2), Some(extend_step(2))),
    )
    .await;
    assert_eq!(
        again.children,
        std::slice::from_ref(&child_id),
        "the step is listed once"
    );
    assert_eq!(
        must_get(store, &child_id).await,
        child,
        "the step is not re-created"
    );
}

/// Cancelling a job cancels its unfinished descendants in the same write and leaves finished
/// ones alone. (Through transitions alone an unfinished job never has children, since steps
/// are created by a success; the parent is forced back to `generating` to set this up.)
pub async fn cancel_cancels_unfinished_descendants(backend: &impl Backend) {
    let store = backend.store().jobs();
    let (root, _) = generating_in_batch(store).await;
    let s1 = JobId::for_step(&root, 1);
    let s2 = JobId::for_step(&root, 2);
    let parent = apply_ok(
        store,
        Transition::succeed(root.clone(), video(1), Some(extend_step(1))),
    )
    .await;
    finish_submit(store, &s1).await;
    let s1_done = apply_ok(
        store,
        Transition::succeed(s1.clone(), video(2), Some(extend_step(2))),
    )
    .await;
    apply_ok(
        store,
        Transition::begin_submit(s2.clone(), "{}".into(), None),
    )
    .await;

    let mut rewound = parent;
    rewound.state = JobState::Generating;
    rewound.finished_at = None;
    backend.force(&rewound).await;
    let cancelled = apply_ok(store, Transition::cancel(root.clone())).await;
    assert_eq!(cancelled.state, JobState::Cancelled);

    assert_eq!(must_get(store, &s1).await, s1_done, "a finished step stays");
    let s2 = must_get(store, &s2).await;
    assert_eq!(s2.state, JobState::Cancelled);
    assert_eq!(
        s2.error.as_ref().map(|e| e.code.as_str()),
        Some(JobError::CANCELLED)
    );
    assert_eq!(
        s2.updated_at, cancelled.updated_at,
        "cancelled in the same write"
    );
    assert_eq!(s2.finished_at, Some(cancelled.updated_at));
}
