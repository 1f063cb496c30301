//! The upstream's shared limits: slots in flight per token, pauses with their one probe, and
//! the wait line, as every backend must keep them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use pixq_core::job::JobId;
use pixq_core::limits::{Acquire, Gate};
use pixq_core::store::SharedStore;

const LONG: Duration = Duration::from_secs(60);

fn job(i: usize) -> JobId {
    JobId::from(format!("job_{i}"))
}

pub async fn fifty_concurrent_acquirers_get_exactly_five_slots(store: &SharedStore) {
    let slots = store.slots();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            (i, s.slots().acquire("tok", &job(i), 5, LONG).await.unwrap())
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (i, got) = t.await.unwrap();
        match got {
            Acquire::Acquired { held, renewed, .. } => {
                assert!(!renewed);
                assert!((1..=5).contains(&held), "held {held}");
                winners.push(job(i));
            }
            Acquire::Full {
                held,
                earliest_expiry,
            } => {
                assert_eq!(held, 5);
                let earliest = earliest_expiry.expect("someone holds a slot");
                assert!(earliest > Utc::now() + TimeDelta::seconds(50));
            }
        }
    }
    assert_eq!(winners.len(), 5, "exactly max acquire");
    assert_eq!(slots.held("tok").await.unwrap(), 5);
    let mut holders: Vec<JobId> = slots
        .holders("tok")
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    holders.sort();
    winners.sort();
    assert_eq!(holders, winners);
    // Another token has its own slots.
    assert!(
        slots
            .acquire("other", &job(99), 5, LONG)
            .await
            .unwrap()
            .is_acquired()
    );
    // Both tokens are known to a scrape that does not know the tokens.
    assert_eq!(slots.aliases().await.unwrap(), ["other", "tok"]);
}

pub async fn never_more_than_max_hold_at_once_under_churn(store: &SharedStore) {
    let slots = store.slots();
    let holding = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (s, holding, most) = (store.clone(), holding.clone(), most.clone());
        tasks.push(tokio::spawn(async move {
            let id = job(i);
            let mut rounds = 0;
            while rounds < 3 {
                if s.slots()
                    .acquire("tok", &id, 5, LONG)
                    .await
                    .unwrap()
                    .is_acquired()
                {
                    // Counted only between a confirmed acquire and the release, so the count
                    // can only be below what Redis says is held.
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    assert!(s.slots().held("tok").await.unwrap() <= 5);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    holding.fetch_sub(1, Ordering::SeqCst);
                    assert!(s.slots().release("tok", &id).await.unwrap());
                    rounds += 1;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let most = most.load(Ordering::SeqCst);
    assert!(most <= 5, "{most} held at once");
    assert!(most >= 2, "the test never ran holders concurrently");
    assert_eq!(slots.held("tok").await.unwrap(), 0);
}

pub async fn acquiring_again_only_renews_the_slot_a_job_holds(store: &SharedStore) {
    let slots = store.slots();
    let a = job(1);
    let Acquire::Acquired {
        until: first,
        renewed: false,
        held: 1,
    } = slots.acquire("tok", &a, 2, LONG).await.unwrap()
    else {
        panic!("a fresh slot");
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let Acquire::Acquired {
        until: second,
        renewed: true,
        held: 1,
    } = slots.acquire("tok", &a, 2, LONG).await.unwrap()
    else {
        panic!("the same slot, renewed");
    };
    assert!(second > first);
    // Even at the cap, the holder gets its own slot back.
    assert!(
        slots
            .acquire("tok", &job(2), 2, LONG)
            .await
            .unwrap()
            .is_acquired()
    );
    assert!(matches!(
        slots.acquire("tok", &a, 2, LONG).await.unwrap(),
        Acquire::Acquired {
            renewed: true,
            held: 2,
            ..
        }
    ));
    assert_eq!(slots.held("tok").await.unwrap(), 2);
}

pub async fn an_expired_holder_frees_its_slot_and_cannot_renew_or_release_it(store: &SharedStore) {
    let slots = store.slots();
    let (dead, next) = (job(1), job(2));
    let ttl = Duration::from_millis(200);
    let Acquire::Acquired { until, .. } = slots.acquire("tok", &dead, 1, ttl).await.unwrap() else {
        panic!("free");
    };
    let Acquire::Full {
        held: 1,
        earliest_expiry: Some(earliest),
    } = slots.acquire("tok", &next, 1, ttl).await.unwrap()
    else {
        panic!("full");
    };
    assert_eq!(
        earliest, until,
        "full says when the holder's lease runs out"
    );
    assert!(slots.renew("tok", &dead, ttl).await.unwrap(), "live");

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(slots.held("tok").await.unwrap(), 0, "expired");
    assert!(slots.holders("tok").await.unwrap().is_empty());
    assert!(!slots.renew("tok", &dead, ttl).await.unwrap(), "lost");
    assert!(
        slots
            .acquire("tok", &next, 1, LONG)
            .await
            .unwrap()
            .is_acquired()
    );
    assert!(!slots.renew("tok", &dead, LONG).await.unwrap());
    assert!(!slots.release("tok", &dead).await.unwrap());
    assert_eq!(slots.held("tok").await.unwrap(), 1);
    assert!(slots.renew("tok", &next, LONG).await.unwrap());
}

pub async fn release_frees_the_slot_once(store: &SharedStore) {
    let slots = store.slots();
    let (a, b) = (job(1), job(2));
    assert!(
        slots
            .acquire("tok", &a, 1, LONG)
            .await
            .unwrap()
            .is_acquired()
    );
    assert!(
        !slots
            .acquire("tok", &b, 1, LONG)
            .await
            .unwrap()
            .is_acquired()
    );
    assert!(slots.release("tok", &a).await.unwrap());
    assert!(!slots.release("tok", &a).await.unwrap(), "released twice");
    assert!(!slots.renew("tok", &a, LONG).await.unwrap());
    assert_eq!(slots.held("tok").await.unwrap(), 0);
    assert!(
        slots
            .acquire("tok", &b, 1, LONG)
            .await
            .unwrap()
            .is_acquired()
    );
    let holders = slots.holders("tok").await.unwrap();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].0, b);
}

pub async fn a_pause_round_trips_and_keeps_its_start(store: &SharedStore) {
    let pauses = store.pauses();
    assert!(pauses.status("tok").await.unwrap().is_none());
    assert!(pauses.paused_aliases().await.unwrap().is_empty());

    let until = Utc::now() + TimeDelta::seconds(60);
    let (first, was_paused) = pauses.pause("tok", "used_up", until).await.unwrap();
    assert!(!was_paused);
    assert_eq!(first.reason, "used_up");
    assert_eq!(first.until.timestamp_millis(), until.timestamp_millis());
    assert!((Utc::now() - first.since).num_seconds().abs() < 5);
    assert!(!first.probe_due(Utc::now()));
    assert_eq!(pauses.status("tok").await.unwrap(), Some(first.clone()));

    let later = until + TimeDelta::seconds(60);
    let (second, was_paused) = pauses.pause("tok", "disabled", later).await.unwrap();
    assert!(was_paused);
    assert_eq!(second.since, first.since, "a longer pause, not a new one");
    assert_eq!(second.reason, "disabled");
    assert_eq!(pauses.status("tok").await.unwrap(), Some(second.clone()));

    pauses
        .pause("another", "invalid_token", until)
        .await
        .unwrap();
    let listed = pauses.paused_aliases().await.unwrap();
    assert_eq!(
        listed.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["another", "tok"]
    );
    assert_eq!(listed[1].1, second);

    assert!(pauses.clear("tok").await.unwrap());
    assert!(!pauses.clear("tok").await.unwrap(), "cleared twice");
    assert!(pauses.status("tok").await.unwrap().is_none());
    let listed = pauses.paused_aliases().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "another");
}

pub async fn after_until_exactly_one_job_probes(store: &SharedStore) {
    let pauses = store.pauses();
    let window = Duration::from_secs(30);
    assert_eq!(pauses.gate("tok", window).await.unwrap(), Gate::Open);

    let until = Utc::now() + TimeDelta::milliseconds(200);
    let (pause, _) = pauses.pause("tok", "used_up", until).await.unwrap();
    assert_eq!(
        pauses.gate("tok", window).await.unwrap(),
        Gate::Paused(pause.clone())
    );

    tokio::time::sleep(Duration::from_millis(350)).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.pauses().gate("tok", window).await.unwrap()
        }));
    }
    let mut probes = 0;
    for t in tasks {
        match t.await.unwrap() {
            Gate::Probe(p) => {
                assert_eq!(p, pause);
                probes += 1;
            }
            Gate::Paused(p) => assert!(p.until > Utc::now() + TimeDelta::seconds(20)),
            Gate::Open => panic!("still paused"),
        }
    }
    assert_eq!(probes, 1, "one probe");
    let during = pauses.status("tok").await.unwrap().unwrap();
    assert_eq!(during.since, pause.since);
    assert_eq!(during.reason, "used_up");

    // The probe succeeded.
    assert!(pauses.clear("tok").await.unwrap());
    assert_eq!(pauses.gate("tok", window).await.unwrap(), Gate::Open);
}

pub async fn the_wait_line_keeps_arrival_order_and_first_places(store: &SharedStore) {
    let line = store.wait_line();
    let ids: Vec<JobId> = (0..5).map(job).collect();
    for id in &ids {
        assert!(line.park("tok", id).await.unwrap());
    }
    // Parking again keeps the earlier place.
    assert!(!line.park("tok", &ids[0]).await.unwrap());
    assert!(!line.park("tok", &ids[2]).await.unwrap());
    assert_eq!(line.len("tok").await.unwrap(), 5);
    assert_eq!(line.first("tok", 10).await.unwrap(), ids);
    assert_eq!(line.first("tok", 2).await.unwrap(), ids[..2].to_vec());
    assert!(line.first("tok", 0).await.unwrap().is_empty());
    // Lines are per token.
    assert_eq!(line.len("other").await.unwrap(), 0);
    assert!(line.park("other", &ids[4]).await.unwrap());
    assert_eq!(line.first("other", 3).await.unwrap(), vec![ids[4].clone()]);

    // A job that got its slot leaves; parking after leaving goes to the end.
    assert!(line.remove("tok", &ids[0]).await.unwrap());
    assert!(!line.remove("tok", &ids[0]).await.unwrap());
    assert!(line.park("tok", &ids[0]).await.unwrap());
    assert_eq!(
        line.first("tok", 10).await.unwrap(),
        vec![
            ids[1].clone(),
            ids[2].clone(),
            ids[3].clone(),
            ids[4].clone(),
            ids[0].clone()
        ]
    );
    assert_eq!(line.len("tok").await.unwrap(), 5);
}

pub async fn concurrent_parkers_each_get_one_place(store: &SharedStore) {
    let line = store.wait_line();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        // Every job parks twice, racing itself.
        tasks.push(tokio::spawn(async move {
            let a = store.wait_line().park("tok", &job(i % 20)).await.unwrap();
            u32::from(a)
        }));
    }
    let mut added = 0;
    for t in tasks {
        added += t.await.unwrap();
    }
    assert_eq!(added, 20);
    assert_eq!(line.len("tok").await.unwrap(), 20);
}
