//! The doorbells, pixq's own apalis backend over the store's schedule: a job rung many times
//! is handled once at a time and paid once, an entry that names no job is set aside, and a
//! backlog of any size is leased a concurrency's worth at a time and drains completely.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pixq_core::job::JobId;
use pixq_core::state::JobState;
use pixq_testkit::wait::until;
use serde_json::{Value, json};

use crate::support::{Backend, DEADLINE, both, setup, setup_many, setup_with, sim_config};

both!(
    a_job_rung_many_times_by_two_workers_is_submitted_once,
    a_schedule_entry_that_names_no_job_is_set_aside_and_the_worker_goes_on,
    a_large_due_backlog_is_never_leased_beyond_the_concurrency_and_drains_completely,
);

async fn a_job_rung_many_times_by_two_workers_is_submitted_once(backend: Backend) {
    // Two workers on one store: the lease keeps them from handling the job side by side.
    let b = setup_many(backend, sim_config(), 2, |_| {}).await;
    let job = b
        .create_unrung(json!({"prompt": "a bell rung thrice", "extend": [{"prompt": "it echoes"}]}))
        .await;
    let schedule = b.store.schedule();
    let now = Utc::now();
    for at in [
        now + TimeDelta::seconds(1),
        now,
        now - TimeDelta::seconds(1),
    ] {
        schedule.ring(&job.id, at).await.expect("rung");
    }
    // And more rings while the chain runs, as duplicated callbacks would.
    let done = Arc::new(AtomicBool::new(false));
    let ringer = {
        let (store, id, done) = (b.store.clone(), job.id.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                store.schedule().ring(&id, Utc::now()).await.expect("rung");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    done.store(true, Ordering::SeqCst);
    ringer.await.expect("the ringer");
    assert_eq!(chains[0].len(), 2, "{chains:?}");
    for step in &chains[0] {
        assert_eq!(step.state, JobState::Succeeded, "{step:?}");
    }
    let ledger = b.ledger().await;
    assert_eq!(
        ledger.len(),
        2,
        "one submit per step, however often rung: {ledger:?}"
    );
    b.finish().await;
}

async fn a_schedule_entry_that_names_no_job_is_set_aside_and_the_worker_goes_on(backend: Backend) {
    let b = setup(backend).await;
    let strangers = [JobId::from("not a job id"), JobId::from("x".repeat(500))];
    b.store
        .schedule()
        .ring_many(&strangers, Utc::now())
        .await
        .expect("rung");

    let letters = until("both entries in the dead letters", DEADLINE, || async {
        let letters = b.store.dead_letters().newest(10).await.unwrap();
        (letters.len() == 2).then_some(letters)
    })
    .await;
    let payloads: Vec<&Value> = letters.iter().map(|l| &l.payload).collect();
    assert!(
        payloads.contains(&&json!({"job_id": "not a job id"})),
        "{payloads:?}"
    );
    assert!(
        letters.iter().all(|l| l.error.contains("no usable job id")),
        "{letters:?}"
    );
    for stranger in &strangers {
        assert!(
            !b.store.schedule().is_tracked(stranger).await.unwrap(),
            "{stranger} left the schedule"
        );
    }

    let job = b.create(json!({"prompt": "life goes on"})).await;
    let chains = b.wait_for_chains(&[job.id]).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);
    assert_eq!(b.store.dead_letters().len().await.unwrap(), 2);
    b.finish().await;
}

/// APALIS-NOTES 5: about 8000 due tasks in apalis-redis's `scheduled` set wedged every fetch.
/// Now a backlog stays in pixq's schedule and a worker leases only as many jobs as it has
/// handlers, whatever the schedule holds.
async fn a_large_due_backlog_is_never_leased_beyond_the_concurrency_and_drains_completely(
    backend: Backend,
) {
    let concurrency = 8;
    let b = setup_with(backend, sim_config(), |c| c.concurrency = concurrency).await;
    let schedule = b.store.schedule();
    let most = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (store, most, done) = (b.store.clone(), most.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let leased = store.schedule().leased_count().await.expect("leased");
                most.fetch_max(leased, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let unknown: Vec<JobId> = (0..1500)
        .map(|i| JobId::from(format!("job_unknown_{i}")))
        .collect();
    schedule
        .ring_many(&unknown, Utc::now())
        .await
        .expect("rung");
    let mut real = Vec::new();
    for i in 0..5 {
        let body = json!({"prompt": format!("behind the backlog, take {i}")});
        real.push(b.create(body).await.id);
    }

    let chains = b.wait_for_chains(&real).await;
    until("the schedule to drain", DEADLINE, || async {
        let due = schedule.len().await.unwrap();
        let leased = schedule.leased_count().await.unwrap();
        (due == 0 && leased == 0).then_some(())
    })
    .await;
    done.store(true, Ordering::SeqCst);
    sampler.await.expect("the sampler");

    for chain in &chains {
        assert_eq!(chain[0].state, JobState::Succeeded, "{chain:?}");
    }
    let most = most.load(Ordering::SeqCst);
    assert!(most > 0, "the sampler saw the backlog leased");
    assert!(
        most <= concurrency as u64,
        "{most} jobs leased at once by a worker of {concurrency} handlers"
    );
    for id in unknown.iter().step_by(100) {
        assert!(!schedule.is_tracked(id).await.unwrap(), "{id} is left over");
    }
    assert!(b.store.dead_letters().is_empty().await.unwrap());
    if let Some(prefix) = b.redis_prefix() {
        // Nothing of the schedule is left behind under the keys either.
        let left: Vec<String> = prefix
            .keys()
            .into_iter()
            .filter(|k| {
                ["due", "leased", "holders", "rung"]
                    .iter()
                    .any(|s| k.ends_with(&format!(":{s}")))
            })
            .collect();
        assert!(left.is_empty(), "left over: {left:?}");
    }
    b.finish().await;
}
