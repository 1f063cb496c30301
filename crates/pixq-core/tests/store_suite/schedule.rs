//! The schedule: looks booked by due time, taken with a lease by one worker at a time,
//! settled with the next look.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pixq_core::job::JobId;
use pixq_core::queue::Lease;
use pixq_core::store::SharedStore;

const TTL: Duration = Duration::from_secs(30);

fn ids(n: usize, tag: &str) -> Vec<JobId> {
    (0..n)
        .map(|i| JobId::from(format!("job_{tag}_{i:04}")))
        .collect()
}

fn jobs_of(leases: &[Lease]) -> Vec<JobId> {
    leases.iter().map(|l| l.job.clone()).collect()
}

pub async fn due_jobs_come_out_longest_due_first_once_and_ringing_keeps_the_earlier_time(
    store: &SharedStore,
) {
    let schedule = store.schedule();
    let now = Utc::now();
    let ids = ids(5, "due");
    for (i, id) in ids.iter().enumerate() {
        let at = now - TimeDelta::seconds(10 - i64::try_from(i).unwrap());
        schedule.ring(id, at).await.unwrap();
    }
    let later = JobId::from("job_later");
    schedule
        .ring(&later, now + TimeDelta::seconds(60))
        .await
        .unwrap();
    // A later ring does not push an earlier one back.
    schedule
        .ring(&ids[0], now + TimeDelta::seconds(600))
        .await
        .unwrap();
    assert_eq!(schedule.due_count(now).await.unwrap(), 5);
    assert_eq!(schedule.len().await.unwrap(), 6);
    assert!(!schedule.is_empty().await.unwrap());

    let first = schedule.take_due(now, 3, "w-1", TTL).await.unwrap();
    assert_eq!(jobs_of(&first), ids[..3].to_vec());
    assert!(first.iter().all(|l| l.holder == "w-1"));
    let rest = schedule.take_due(now, 100, "w-1", TTL).await.unwrap();
    assert_eq!(jobs_of(&rest), ids[3..].to_vec());
    assert!(
        schedule
            .take_due(now, 100, "w-1", TTL)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(schedule.leased_count().await.unwrap(), 5);
    assert_eq!(
        schedule.len().await.unwrap(),
        1,
        "the later look is still booked"
    );

    // An earlier ring pulls a later one in.
    schedule.ring(&later, now).await.unwrap();
    let due = schedule.due_at(&later).await.unwrap().unwrap();
    assert_eq!(due.timestamp_millis(), now.timestamp_millis());
    let taken = schedule.take_due(now, 10, "w-2", TTL).await.unwrap();
    assert_eq!(jobs_of(&taken), vec![later]);
}

pub async fn racing_takers_never_lease_the_same_job(store: &SharedStore) {
    let ids = ids(1500, "race");
    store.schedule().ring_many(&ids, Utc::now()).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("w-{w}");
            let mut got = Vec::new();
            loop {
                let batch = store
                    .schedule()
                    .take_due(Utc::now(), 37, &holder, TTL)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(jobs_of(&batch));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(all, expected, "every job leased exactly once");
    assert_eq!(store.schedule().leased_count().await.unwrap(), 1500);
}

pub async fn a_lease_has_one_holder_until_settled_or_run_out(store: &SharedStore) {
    let schedule = store.schedule();
    let id = JobId::from("job_lease");
    let ttl = Duration::from_millis(300);
    schedule.ring(&id, Utc::now()).await.unwrap();
    let a = schedule
        .take_due(Utc::now(), 10, "worker-a", ttl)
        .await
        .unwrap();
    assert_eq!(jobs_of(&a), vec![id.clone()]);
    let a = a.into_iter().next().unwrap();
    // Rung again while leased: nobody else may take it.
    schedule.ring(&id, Utc::now()).await.unwrap();
    assert!(
        schedule
            .take_due(Utc::now(), 10, "worker-b", ttl)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(schedule.renew(&a, ttl).await.unwrap());
    let (holder, left) = schedule.holder(&id).await.unwrap().unwrap();
    assert_eq!(holder, "worker-a");
    assert!(left <= ttl);

    // The holder dies: its lease runs out and the job is taken again at once.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(schedule.holder(&id).await.unwrap().is_none(), "run out");
    let b = schedule
        .take_due(Utc::now(), 10, "worker-b", ttl)
        .await
        .unwrap();
    assert_eq!(jobs_of(&b), vec![id.clone()]);
    let b = b.into_iter().next().unwrap();
    // The old holder can neither renew nor settle what it lost.
    assert!(!schedule.renew(&a, ttl).await.unwrap());
    assert!(!schedule.settle(&a, None).await.unwrap());
    assert_eq!(schedule.holder(&id).await.unwrap().unwrap().0, "worker-b");
    assert!(schedule.settle(&b, None).await.unwrap());
    assert!(schedule.holder(&id).await.unwrap().is_none());
}

pub async fn a_job_rung_while_leased_is_looked_at_again_after_the_lease(store: &SharedStore) {
    let schedule = store.schedule();
    let id = JobId::from("job_rung_while_leased");
    schedule.ring(&id, Utc::now()).await.unwrap();
    let lease = schedule
        .take_due(Utc::now(), 1, "w-1", TTL)
        .await
        .unwrap()
        .remove(0);
    // A callback asks for a look while the job is being looked at.
    schedule.ring(&id, Utc::now()).await.unwrap();
    assert!(
        schedule
            .take_due(Utc::now(), 10, "w-2", TTL)
            .await
            .unwrap()
            .is_empty(),
        "not beside the current look"
    );
    // The holder books a poll a minute away; the ring wins, so the look is now.
    let later = Utc::now() + TimeDelta::seconds(60);
    assert!(schedule.settle(&lease, Some(later)).await.unwrap());
    let due = schedule
        .due_at(&id)
        .await
        .unwrap()
        .expect("a look is booked");
    assert!(due < later, "the earlier ring wins: {due}");
    let again = schedule.take_due(Utc::now(), 10, "w-2", TTL).await.unwrap();
    assert_eq!(jobs_of(&again), vec![id]);
}

pub async fn settling_books_the_next_look_or_none(store: &SharedStore) {
    let schedule = store.schedule();
    let (done, later) = (JobId::from("job_done"), JobId::from("job_polled"));
    schedule
        .ring_many(&[done.clone(), later.clone()], Utc::now())
        .await
        .unwrap();
    let leases = schedule.take_due(Utc::now(), 10, "w", TTL).await.unwrap();
    assert_eq!(leases.len(), 2);
    let at = Utc::now() + TimeDelta::seconds(30);
    for lease in &leases {
        let next = (lease.job == later).then_some(at);
        assert!(schedule.settle(lease, next).await.unwrap());
    }
    assert_eq!(
        schedule.due_at(&done).await.unwrap(),
        None,
        "finished: no look"
    );
    assert!(!schedule.is_tracked(&done).await.unwrap());
    let due = schedule.due_at(&later).await.unwrap().unwrap();
    assert_eq!(due.timestamp_millis(), at.timestamp_millis());
    assert_eq!(schedule.leased_count().await.unwrap(), 0);
    assert!(
        schedule
            .take_due(Utc::now(), 10, "w", TTL)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
}

pub async fn a_leased_job_is_tracked_and_an_unbooked_one_is_not(store: &SharedStore) {
    let schedule = store.schedule();
    let id = JobId::from("job_tracked");
    assert!(!schedule.is_tracked(&id).await.unwrap());
    schedule
        .ring(&id, Utc::now() + TimeDelta::seconds(60))
        .await
        .unwrap();
    assert!(schedule.is_tracked(&id).await.unwrap(), "booked");
    schedule.ring(&id, Utc::now()).await.unwrap();
    let lease = schedule
        .take_due(Utc::now(), 1, "w", TTL)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(schedule.due_at(&id).await.unwrap(), None);
    assert!(schedule.is_tracked(&id).await.unwrap(), "leased");
    assert!(schedule.settle(&lease, None).await.unwrap());
    assert!(!schedule.is_tracked(&id).await.unwrap(), "neither");
}

pub async fn a_paused_queue_leases_nothing_until_resumed(store: &SharedStore) {
    let schedule = store.schedule();
    let ids = ids(3, "paused");
    schedule.ring_many(&ids, Utc::now()).await.unwrap();
    assert!(!schedule.is_paused().await.unwrap());
    schedule.set_paused(true).await.unwrap();
    assert!(schedule.is_paused().await.unwrap());
    assert!(
        schedule
            .take_due(Utc::now(), 10, "w", TTL)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .take(Utc::now(), 10, "w", TTL)
            .await
            .unwrap()
            .is_empty()
    );
    // Rings are still booked while paused.
    let late = JobId::from("job_paused_late");
    schedule.ring(&late, Utc::now()).await.unwrap();
    assert_eq!(schedule.due_count(Utc::now()).await.unwrap(), 4);

    schedule.set_paused(false).await.unwrap();
    assert!(!schedule.is_paused().await.unwrap());
    let taken = schedule.take_due(Utc::now(), 10, "w", TTL).await.unwrap();
    assert_eq!(
        taken.len(),
        4,
        "every job booked while paused is handed out after"
    );
}
