//! Pipeline runs: each pipeline's last tick and batch, moved forward only; and many
//! schedulers firing one tick at once make one batch.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use pixq_core::job::BatchId;
use pixq_core::pipeline::{self, Fired, NoPromptFiles, Pipeline, PipelineRun};
use pixq_core::store::SharedStore;
use serde_json::json;

fn tick(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, s).unwrap()
}

fn run(s: u32, batch: &str) -> PipelineRun {
    PipelineRun {
        tick: tick(s),
        batch: BatchId::from(batch),
    }
}

fn pipeline(name: &str) -> Pipeline {
    let table = json!({"name": name, "schedule": "* * * * * *", "prompts": ["a boat", "a fox"],
        "quality": "720p"});
    pipeline::load::pipelines(vec![table], false, &NoPromptFiles)
        .expect("a valid pipeline")
        .remove(0)
}

pub async fn pipeline_runs_are_recorded_per_pipeline_and_read_back(store: &SharedStore) {
    let runs = store.pipelines();
    assert_eq!(runs.last("daily").await.unwrap(), None, "never ran");
    assert!(runs.record("daily", &run(5, "batch_a")).await.unwrap());
    assert!(runs.record("hourly", &run(3, "batch_b")).await.unwrap());
    assert_eq!(runs.last("daily").await.unwrap(), Some(run(5, "batch_a")));
    assert_eq!(runs.last("hourly").await.unwrap(), Some(run(3, "batch_b")));
}

pub async fn pipeline_runs_only_move_forward(store: &SharedStore) {
    let runs = store.pipelines();
    assert!(runs.record("daily", &run(10, "batch_10")).await.unwrap());
    assert!(
        !runs.record("daily", &run(5, "batch_5")).await.unwrap(),
        "an older tick"
    );
    assert!(
        !runs.record("daily", &run(10, "batch_x")).await.unwrap(),
        "the same tick"
    );
    assert_eq!(
        runs.last("daily").await.unwrap(),
        Some(run(10, "batch_10")),
        "tick and batch stay together"
    );
    assert!(runs.record("daily", &run(11, "batch_11")).await.unwrap());
    assert_eq!(runs.last("daily").await.unwrap(), Some(run(11, "batch_11")));
}

pub async fn schedulers_racing_for_one_tick_make_one_batch(store: &SharedStore) {
    let daily = Arc::new(pipeline("race"));
    let mut racers = Vec::new();
    for _ in 0..8 {
        let (store, daily) = (SharedStore::clone(store), Arc::clone(&daily));
        racers.push(tokio::spawn(async move {
            pixq_core::pipeline::fire(store.as_ref(), &daily, tick(7))
                .await
                .expect("fire")
        }));
    }
    let mut created = Vec::new();
    let mut ids = Vec::new();
    for racer in racers {
        let fired = racer.await.expect("a racer");
        ids.push(fired.batch_id().clone());
        match fired {
            Fired::Created(batch) => created.push(batch),
            Fired::Replayed(_) | Fired::InProgress(_) => {}
            Fired::Differs(id) => panic!("the same pipeline differs from itself: {id}"),
        }
    }
    assert_eq!(
        created.len(),
        1,
        "exactly one racer writes the tick's batch"
    );
    let batch = &created[0];
    assert!(ids.iter().all(|id| *id == batch.id), "{ids:?}");
    assert_eq!(batch.name.as_deref(), Some("race 2030-01-01T09:00:07Z"));
    assert_eq!(batch.total, 2);
    let last = store
        .pipelines()
        .last("race")
        .await
        .unwrap()
        .expect("a run");
    assert_eq!((last.tick, &last.batch), (tick(7), &batch.id));

    // The next tick is a batch of its own; an older tick fired late does not move the run back.
    let next = pixq_core::pipeline::fire(store.as_ref(), &daily, tick(8))
        .await
        .unwrap();
    assert!(matches!(next, Fired::Created(_)), "{next:?}");
    assert_ne!(next.batch_id(), &batch.id);
    let again = pixq_core::pipeline::fire(store.as_ref(), &daily, tick(7))
        .await
        .unwrap();
    assert_eq!(again.batch_id(), &batch.id, "a tick's batch is made once");
    let last = store
        .pipelines()
        .last("race")
        .await
        .unwrap()
        .expect("a run");
    assert_eq!(last.tick, tick(8));
}
