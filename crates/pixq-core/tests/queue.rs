//! The schedule, the leases and the dead letters against a real Redis, each test under its
//! own prefix.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::Prefix;
use pixq_core::job::JobId;
use pixq_core::queue::{DeadLetters, Doorbell, Leases, Schedule};

#[tokio::test]
async fn due_ids_come_out_oldest_first_once_and_ringing_keeps_the_earlier_time() {
    let p = Prefix::new("queue").await;
    let schedule = Schedule::new(p.conn.clone(), &p.name);
    let now = Utc::now();
    let ids: Vec<JobId> = (0..5).map(|i| JobId::from(format!("job_{i}"))).collect();
    for (i, id) in ids.iter().enumerate() {
        let at = now - TimeDelta::seconds(10 - i as i64);
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

    let first = schedule.take_due(now, 3).await.unwrap();
    assert_eq!(first, ids[..3].to_vec());
    let rest = schedule.take_due(now, 100).await.unwrap();
    assert_eq!(rest, ids[3..].to_vec());
    assert!(schedule.take_due(now, 100).await.unwrap().is_empty());

    // An earlier ring pulls a later one in.
    schedule.ring(&later, now).await.unwrap();
    let due = schedule.due_at(&later).await.unwrap().unwrap();
    assert_eq!(due.timestamp_millis(), now.timestamp_millis());
    assert_eq!(schedule.take_due(now, 10).await.unwrap(), vec![later]);
    p.clean().await;
}

#[tokio::test]
async fn racing_pumps_never_take_the_same_id() {
    let p = Prefix::new("queue").await;
    let schedule = Schedule::new(p.conn.clone(), &p.name);
    let ids: Vec<JobId> = (0..3000).map(|i| JobId::from(format!("job_{i}"))).collect();
    schedule.ring_many(&ids, Utc::now()).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = schedule.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = s.take_due(Utc::now(), 37).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch);
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
    assert_eq!(all, expected, "every id exactly once");
    p.clean().await;
}

#[tokio::test]
async fn a_lease_has_one_holder_until_released_or_expired() {
    let p = Prefix::new("queue").await;
    let leases = Leases::new(p.conn.clone(), &p.name);
    let id = JobId::from("job_l");
    let ttl = Duration::from_millis(300);
    let a = leases
        .acquire(&id, "worker-a", ttl)
        .await
        .unwrap()
        .expect("free");
    assert!(
        leases
            .acquire(&id, "worker-b", ttl)
            .await
            .unwrap()
            .is_none()
    );
    assert!(leases.renew(&a, ttl).await.unwrap());
    let (holder, left) = leases.holder(&id).await.unwrap().unwrap();
    assert_eq!(holder, "worker-a");
    assert!(left <= ttl);

    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(!leases.is_held(&id).await.unwrap(), "expired");
    let b = leases
        .acquire(&id, "worker-b", ttl)
        .await
        .unwrap()
        .expect("free again");
    // The old holder can neither renew nor release what it lost.
    assert!(!leases.renew(&a, ttl).await.unwrap());
    assert!(!leases.release(&a).await.unwrap());
    assert!(leases.is_held(&id).await.unwrap());
    assert!(leases.release(&b).await.unwrap());
    assert!(!leases.is_held(&id).await.unwrap());
    p.clean().await;
}

#[tokio::test]
async fn dead_letters_keep_the_payload_and_the_reason() {
    let p = Prefix::new("queue").await;
    let letters = DeadLetters::new(p.conn.clone(), &p.name);
    let bad = serde_json::json!({"what": [1, 2]});
    let err = Doorbell::from_value(&bad).unwrap_err();
    letters.put(bad.clone(), &err.to_string()).await.unwrap();
    assert_eq!(letters.len().await.unwrap(), 1);
    let got = letters.newest(10).await.unwrap();
    assert_eq!(got[0].payload, bad);
    assert!(got[0].error.contains("job_id"), "{}", got[0].error);
    p.clean().await;
}
