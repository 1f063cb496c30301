//! The outbox: an event in the same write as the transition that causes it (every way a job
//! ends, a batch finishing, again after a retry reopens it), never for one that did not apply;
//! leased to one deliverer at a time and taken again when a lease runs out; attempts recorded
//! by their holder; dead events listed and re-sent under the same id and body; retention.

use std::collections::HashSet;
use std::time::Duration;

use pixq_core::batch::{Begun, NewBatch};
use pixq_core::job::{Job, JobError, JobId, NewJob};
use pixq_core::outbox::{Attempt, DeliveryState, Event, EventKind, Resent};
use pixq_core::state::Transition;
use pixq_core::store::{Effects, SharedStore};
use pixq_core::view::{BatchView, JobView};
use serde_json::Value;

use crate::Backend;
use crate::jobs::{apply_ok, extend_step, fresh_task, new_job, video};

const HOOK: &str = "https://hooks.example/done";
const LEASE: Duration = Duration::from_secs(60);

fn hooked() -> NewJob {
    new_job().with_webhook(HOOK)
}

/// Creates a job with a webhook and fails it: one event.
async fn failed_job(store: &SharedStore) -> Job {
    let job = store
        .jobs()
        .create(hooked(), None)
        .await
        .expect("create")
        .job;
    apply_ok(
        store.jobs(),
        Transition::fail(
            job.id.clone(),
            JobError::new("max_attempts", "gave up", false),
        ),
    )
    .await
}

/// Takes everything due for `holder`.
async fn take_all(store: &SharedStore, holder: &str) -> Vec<Event> {
    store
        .outbox()
        .take(1000, holder, LEASE)
        .await
        .expect("take")
}

fn body(event: &Event) -> Value {
    serde_json::from_str(&event.body).expect("a JSON body")
}

async fn submit(store: &SharedStore, id: &JobId) {
    apply_ok(
        store.jobs(),
        Transition::begin_submit(id.clone(), "{}".into(), None),
    )
    .await;
    apply_ok(
        store.jobs(),
        Transition::submitted(id.clone(), fresh_task(), None),
    )
    .await;
}

pub async fn every_way_a_job_ends_writes_one_event_carrying_the_job_object(store: &SharedStore) {
    let jobs = store.jobs();
    let failed = failed_job(store).await;
    let cancelled = jobs.create(hooked(), None).await.unwrap().job;
    let cancelled = apply_ok(jobs, Transition::cancel(cancelled.id.clone())).await;
    let succeeded = jobs.create(hooked(), None).await.unwrap().job;
    submit(store, &succeeded.id).await;
    let succeeded = store
        .commit(
            Transition::succeed(succeeded.id.clone(), video(7), None),
            None,
            Effects::default(),
        )
        .await
        .unwrap()
        .outcome
        .into_job();
    let silent = jobs.create(new_job(), None).await.unwrap().job;
    apply_ok(jobs, Transition::cancel(silent.id.clone())).await;

    let events = take_all(store, "w1").await;
    assert_eq!(events.len(), 3, "one per job with a webhook: {events:?}");
    for job in [&failed, &cancelled, &succeeded] {
        let event = events
            .iter()
            .find(|e| e.subject == job.id.as_str())
            .unwrap_or_else(|| panic!("no event for {}", job.id));
        assert_eq!(
            (event.kind, event.url.as_str()),
            (EventKind::JobFinished, HOOK)
        );
        assert_eq!((event.state, event.attempts), (DeliveryState::Pending, 0));
        let body = body(event);
        assert_eq!(body["type"], "job.finished");
        assert_eq!(
            body["data"],
            serde_json::to_value(JobView::from(job.clone())).unwrap()
        );
        assert!(event.id.as_str().starts_with("evt_"), "{}", event.id);
    }
}

pub async fn a_transition_that_does_not_apply_writes_no_event(store: &SharedStore) {
    let job = failed_job(store).await;
    let stale = store
        .jobs()
        .apply(Transition::cancel(job.id.clone()))
        .await
        .unwrap();
    assert!(!stale.is_applied());
    let late = store
        .jobs()
        .apply(Transition::record_late_result(job.id.clone(), video(3)))
        .await
        .unwrap();
    assert!(late.is_applied(), "a late result changes no state");
    let events = take_all(store, "w1").await;
    assert_eq!(events.len(), 1, "only the failure's event: {events:?}");
}

pub async fn cancelling_a_chain_writes_an_event_for_each_step_it_ends(store: &SharedStore) {
    let jobs = store.jobs();
    let root = jobs
        .create(hooked().with_chain_len(3), None)
        .await
        .unwrap()
        .job;
    submit(store, &root.id).await;
    let root = apply_ok(
        jobs,
        Transition::succeed(root.id.clone(), video(1), Some(extend_step(1))),
    )
    .await;
    let step1 = root.children[0].clone();
    let root_event = take_all(store, "w1").await;
    assert_eq!(
        root_event.len(),
        1,
        "the first step succeeded: {root_event:?}"
    );

    apply_ok(jobs, Transition::cancel(step1.clone())).await;
    let events = take_all(store, "w1").await;
    let subjects: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, [step1.as_str()]);
    assert_eq!(body(&events[0])["data"]["state"], "cancelled");
}

pub async fn a_retried_job_that_ends_again_gets_a_new_event(store: &SharedStore) {
    let job = failed_job(store).await;
    let first = take_all(store, "w1").await;
    apply_ok(store.jobs(), Transition::retry(job.id.clone())).await;
    apply_ok(
        store.jobs(),
        Transition::fail(
            job.id.clone(),
            JobError::new("max_attempts", "again", false),
        ),
    )
    .await;
    let second = take_all(store, "w1").await;
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first[0].id, second[0].id, "a new event, a new id");
    let status = store.outbox().status(&[job.id.to_string()]).await.unwrap();
    assert_eq!(
        status[0].as_ref().map(|s| &s.id),
        Some(&second[0].id),
        "the latest"
    );
}

pub async fn a_batch_that_finishes_writes_its_event_and_again_once_a_retry_reopens_it(
    store: &SharedStore,
) {
    let mut new = NewBatch::new();
    new.webhook_url = Some(HOOK.into());
    assert_eq!(
        store.batches().begin(&new, None).await.unwrap(),
        Begun::Writing
    );
    let chains: Vec<NewJob> = (0..2).map(|_| new_job()).collect();
    let ids: Vec<JobId> = chains.iter().map(|j| j.id.clone()).collect();
    store.batches().add(&new.id, chains).await.unwrap();
    store.batches().accept(&new.id).await.unwrap();
    let jobs = store.jobs();

    submit(store, &ids[0]).await;
    apply_ok(jobs, Transition::succeed(ids[0].clone(), video(1), None)).await;
    assert!(
        take_all(store, "w1").await.is_empty(),
        "one chain still runs"
    );
    apply_ok(
        jobs,
        Transition::fail(ids[1].clone(), JobError::new("x", "y", false)),
    )
    .await;
    let first = take_all(store, "w1").await;
    assert_eq!(first.len(), 1, "{first:?}");
    let batch = store.batches().get(&new.id).await.unwrap().unwrap();
    assert!(batch.finished_at.is_some());
    assert_eq!(
        (first[0].kind, first[0].subject.as_str()),
        (EventKind::BatchFinished, new.id.as_str())
    );
    let data = body(&first[0])["data"].clone();
    assert_eq!(data, serde_json::to_value(BatchView::from(batch)).unwrap());
    assert_eq!(
        (
            data["counts"]["succeeded"].as_u64(),
            data["counts"]["failed"].as_u64()
        ),
        (Some(1), Some(1))
    );

    apply_ok(jobs, Transition::retry(ids[1].clone())).await;
    apply_ok(
        jobs,
        Transition::fail(ids[1].clone(), JobError::new("x", "again", false)),
    )
    .await;
    let second = take_all(store, "w1").await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second[0].id, first[0].id);
    // Every take answers the same body: it was frozen.
    store
        .outbox()
        .record(
            &second[0].id,
            "w1",
            Attempt::Postponed {
                retry_in: Duration::ZERO,
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = take_all(store, "w2").await;
    assert_eq!(again[0].body, second[0].body);
    assert_eq!(
        store
            .outbox()
            .get(&second[0].id)
            .await
            .unwrap()
            .unwrap()
            .body,
        second[0].body
    );
}

pub async fn a_due_event_is_leased_to_one_taker_and_taken_again_when_its_lease_runs_out(
    store: &SharedStore,
) {
    let job = failed_job(store).await;
    let outbox = store.outbox();
    let lease = Duration::from_millis(600);
    let first = outbox.take(10, "w1", lease).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        outbox.take(10, "w2", lease).await.unwrap().is_empty(),
        "leased to w1"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let again = outbox.take(10, "w2", LEASE).await.unwrap();
    assert_eq!(again.len(), 1, "w1 never reported: its lease ran out");
    assert_eq!(
        (&again[0].id, &again[0].body),
        (&first[0].id, &first[0].body)
    );
    let late = Attempt::Failed {
        error: "HTTP 500".into(),
        retry_in: Duration::ZERO,
    };
    assert!(
        !outbox.record(&first[0].id, "w1", late).await.unwrap(),
        "w1 holds it no more"
    );
    assert!(
        outbox
            .record(&first[0].id, "w2", Attempt::Delivered)
            .await
            .unwrap()
    );
    assert!(
        !outbox
            .record(&first[0].id, "w1", Attempt::Delivered)
            .await
            .unwrap(),
        "once"
    );
    assert!(outbox.take(10, "w3", LEASE).await.unwrap().is_empty());
    let status = outbox.status(&[job.id.to_string()]).await.unwrap();
    let status = status[0].clone().expect("a status");
    assert_eq!(
        (status.state, status.attempts),
        (DeliveryState::Delivered, 1)
    );
}

pub async fn racing_takers_never_take_the_same_event(store: &SharedStore) {
    for _ in 0..20 {
        failed_job(store).await;
    }
    let takers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.outbox().take(5, &format!("w{i}"), LEASE).await })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for taker in takers {
        for event in taker.await.unwrap().unwrap() {
            total += 1;
            assert!(seen.insert(event.id.clone()), "{} taken twice", event.id);
        }
    }
    assert_eq!(total, 20);
}

pub async fn a_failed_attempt_is_due_again_after_its_delay_and_a_postponed_one_counts_none(
    store: &SharedStore,
) {
    let job = failed_job(store).await;
    let outbox = store.outbox();
    let taken = outbox.take(10, "w1", LEASE).await.unwrap().remove(0);
    let failed = Attempt::Failed {
        error: "HTTP 503".into(),
        retry_in: Duration::from_millis(400),
    };
    assert!(outbox.record(&taken.id, "w1", failed).await.unwrap());
    assert!(
        outbox.take(10, "w1", LEASE).await.unwrap().is_empty(),
        "not due yet"
    );
    let status = outbox.status(&[job.id.to_string()]).await.unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!((status.state, status.attempts), (DeliveryState::Pending, 1));
    assert_eq!(status.last_error.as_deref(), Some("HTTP 503"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = outbox.take(10, "w2", LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].attempts, &again[0].body), (1, &taken.body));
    let postponed = Attempt::Postponed {
        retry_in: Duration::ZERO,
    };
    assert!(outbox.record(&taken.id, "w2", postponed).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        outbox.take(10, "w3", LEASE).await.unwrap()[0].attempts,
        1,
        "no attempt counted"
    );
}

pub async fn dead_events_are_listed_and_resent_under_the_same_id_and_body(store: &SharedStore) {
    let (a, b) = (failed_job(store).await, failed_job(store).await);
    let outbox = store.outbox();
    let taken = outbox.take(10, "w1", LEASE).await.unwrap();
    let of = |job: &Job| {
        taken
            .iter()
            .find(|e| e.subject == job.id.as_str())
            .unwrap()
            .clone()
    };
    let (ea, eb) = (of(&a), of(&b));
    let gave_up = Attempt::GaveUp {
        error: "HTTP 500 for 24h".into(),
    };
    assert!(outbox.record(&ea.id, "w1", gave_up).await.unwrap());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let refused = Attempt::Refused {
        reason: "127.0.0.1 is a loopback address".into(),
    };
    assert!(outbox.record(&eb.id, "w1", refused).await.unwrap());

    let dead = outbox.dead(10).await.unwrap();
    let listed: Vec<(&str, DeliveryState)> =
        dead.iter().map(|e| (e.id.as_str(), e.state)).collect();
    assert_eq!(
        listed,
        [
            (eb.id.as_str(), DeliveryState::Refused),
            (ea.id.as_str(), DeliveryState::Failed)
        ],
        "the latest to die first"
    );
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("127.0.0.1 is a loopback address")
    );
    assert!(dead.iter().all(|e| e.ended_at.is_some()));
    assert!(
        outbox.take(10, "w1", LEASE).await.unwrap().is_empty(),
        "dead events are not due"
    );

    assert_eq!(outbox.resend(&ea.id).await.unwrap(), Resent::Resent);
    assert_eq!(
        outbox.resend(&ea.id).await.unwrap(),
        Resent::NotDead(DeliveryState::Pending)
    );
    assert_eq!(
        outbox.resend(&"evt_unknown".into()).await.unwrap(),
        Resent::Unknown
    );
    let status = outbox.status(&[a.id.to_string()]).await.unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(
        (status.state, status.attempts, status.last_error),
        (DeliveryState::Pending, 0, None)
    );
    let again = outbox.take(10, "w2", LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((&again[0].id, &again[0].body), (&ea.id, &ea.body));
    assert!(again[0].since >= ea.since, "the give-up clock starts over");
    assert_eq!(
        outbox.dead(10).await.unwrap().len(),
        1,
        "only the refused one is dead"
    );
}

pub async fn a_subject_without_events_has_no_status(store: &SharedStore) {
    let job = failed_job(store).await;
    let status = store
        .outbox()
        .status(&["job_none".to_owned(), job.id.to_string()])
        .await
        .unwrap();
    assert_eq!(status[0], None);
    assert_eq!(
        status[1].as_ref().map(|s| s.state),
        Some(DeliveryState::Pending)
    );
    // Only subjects without events: a job with a webhook that has not ended yet.
    let none = store
        .outbox()
        .status(&["job_none".to_owned(), "job_other".to_owned()])
        .await
        .unwrap();
    assert_eq!(none, vec![None, None]);
}

pub async fn ended_events_expire_after_retention<B: Backend>(backend: &B) {
    let short = backend.with_retention(Duration::from_millis(300));
    let job = failed_job(&short).await;
    let outbox = short.outbox();
    let taken = outbox.take(10, "w1", LEASE).await.unwrap().remove(0);
    assert!(
        outbox
            .record(
                &taken.id,
                "w1",
                Attempt::Refused {
                    reason: "no".into()
                }
            )
            .await
            .unwrap()
    );
    assert!(outbox.get(&taken.id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(600)).await;
    outbox.prune(100).await.unwrap();
    assert_eq!(outbox.get(&taken.id).await.unwrap(), None, "expired");
    assert!(outbox.dead(10).await.unwrap().is_empty());
    assert_eq!(outbox.resend(&taken.id).await.unwrap(), Resent::Unknown);
    let _ = job;
}
