//! Characters: a creation is reserved before the upstream is paid, so one idempotency key
//! pays at most once, even across a crash; names are unique; listings are newest first.

use std::time::Duration;

use pixq_core::character::{Begin, Character, NewCharacter, RESERVATION_STALE_AFTER, Reservation};
use pixq_core::store::{IdempotencyKey, SharedStore};
use pixverse::AssetId;

fn request(key: Option<(&str, &str)>, name: Option<&str>) -> NewCharacter {
    NewCharacter {
        idempotency: key.map(|(key, fingerprint)| IdempotencyKey {
            key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
        }),
        name: name.map(str::to_owned),
    }
}

fn images(n: u32) -> Vec<String> {
    vec![format!("https://img.test/{n}.png")]
}

async fn reserve(store: &SharedStore, request: &NewCharacter) -> Reservation {
    match store
        .characters()
        .begin(request, RESERVATION_STALE_AFTER)
        .await
        .expect("begin")
    {
        Begin::Reserved(r) => r,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

async fn make(store: &SharedStore, request: &NewCharacter, asset: i64) -> Character {
    let r = reserve(store, request).await;
    let images = images(u32::try_from(asset % 1000).unwrap_or(0));
    store
        .characters()
        .finish(&r, AssetId(asset), images)
        .await
        .expect("finish")
}

pub async fn characters_replay_the_first_for_a_key_with_the_same_body(store: &SharedStore) {
    let chars = store.characters();
    let req = request(Some(("k1", "fp-a")), Some("alice"));
    let r = reserve(store, &req).await;
    assert_eq!(r.key.as_deref(), Some("k1"));
    assert_eq!(r.name.as_deref(), Some("alice"));
    assert!(r.id.as_str().starts_with("chr_"), "{}", r.id);
    let made = chars
        .finish(&r, AssetId(317383895242880), images(1))
        .await
        .unwrap();
    assert_eq!(made.id, r.id);
    assert_eq!(made.asset_id, AssetId(317383895242880));
    assert_eq!(made.name.as_deref(), Some("alice"));
    // The name the replay carries is its own: the key is looked at before the name.
    match chars.begin(&req, RESERVATION_STALE_AFTER).await.unwrap() {
        Begin::Replay(again) => assert_eq!(again, made),
        other => panic!("expected a replay, got {other:?}"),
    }
    // Finishing again records nothing new.
    let twice = chars.finish(&r, AssetId(1), images(9)).await.unwrap();
    assert_eq!(twice, made);
    assert_eq!(chars.list(10).await.unwrap(), std::slice::from_ref(&made));
    assert_eq!(chars.get(&made.id).await.unwrap(), Some(made));
}

pub async fn characters_conflict_for_a_key_with_another_body_finished_or_not(store: &SharedStore) {
    let chars = store.characters();
    make(store, &request(Some(("k1", "fp-a")), None), 11).await;
    let other = request(Some(("k1", "fp-b")), None);
    assert_eq!(
        chars.begin(&other, RESERVATION_STALE_AFTER).await.unwrap(),
        Begin::Conflict { key: "k1".into() }
    );
    // Still under way: another body conflicts too.
    reserve(store, &request(Some(("k2", "fp-a")), None)).await;
    let other = request(Some(("k2", "fp-b")), None);
    assert_eq!(
        chars.begin(&other, RESERVATION_STALE_AFTER).await.unwrap(),
        Begin::Conflict { key: "k2".into() }
    );
    assert_eq!(chars.list(10).await.unwrap().len(), 1, "nothing else made");
}

pub async fn characters_stay_in_progress_for_ever_for_a_key_whose_creation_never_finished(
    store: &SharedStore,
) {
    let chars = store.characters();
    let req = request(Some(("crashed", "fp")), Some("bob"));
    let r = reserve(store, &req).await;
    // The process dies here, not knowing whether the upstream made (and billed) the
    // character: the key must never let anyone pay again, however old it gets.
    for stale_after in [RESERVATION_STALE_AFTER, Duration::from_millis(1)] {
        tokio::time::sleep(Duration::from_millis(5)).await;
        match chars.begin(&req, stale_after).await.unwrap() {
            Begin::InProgress { key, since } => {
                assert_eq!(key, "crashed");
                assert_eq!(since, r.started_at);
            }
            other => panic!("expected in progress, got {other:?}"),
        }
    }
}

pub async fn characters_refuse_a_taken_name_before_paying(store: &SharedStore) {
    let chars = store.characters();
    let first = make(store, &request(None, Some("carol")), 21).await;
    assert_eq!(
        chars
            .begin(
                &request(Some(("k", "fp")), Some("carol")),
                RESERVATION_STALE_AFTER
            )
            .await
            .unwrap(),
        Begin::NameTaken {
            name: "carol".into()
        }
    );
    // The refused request took nothing: its key is free for another name.
    let r = reserve(store, &request(Some(("k", "fp")), Some("dave"))).await;
    // A name held by a creation under way is taken too.
    assert_eq!(
        chars
            .begin(&request(None, Some("dave")), RESERVATION_STALE_AFTER)
            .await
            .unwrap(),
        Begin::NameTaken {
            name: "dave".into()
        }
    );
    // Names are exact: another spelling is another name.
    reserve(store, &request(None, Some("Carol"))).await;
    assert_eq!(chars.list(10).await.unwrap(), [first]);
    assert!(chars.abandon(&r).await.unwrap());
}

pub async fn characters_abandoned_free_their_key_and_name(store: &SharedStore) {
    let chars = store.characters();
    let req = request(Some(("k", "fp")), Some("erin"));
    let r = reserve(store, &req).await;
    assert!(chars.abandon(&r).await.unwrap());
    assert!(!chars.abandon(&r).await.unwrap(), "only once");
    let again = reserve(store, &req).await;
    assert_ne!(again.id, r.id, "a new creation");
    let made = chars.finish(&again, AssetId(5), images(5)).await.unwrap();
    assert_eq!(made.name.as_deref(), Some("erin"));
    // A paid character is recorded even when its reservation was abandoned, without a name.
    let lost = chars.finish(&r, AssetId(6), images(6)).await.unwrap();
    assert_eq!(lost.name, None);
    assert_eq!(chars.find_by_name("erin").await.unwrap(), Some(made));
}

pub async fn characters_reserved_long_ago_lose_their_name_and_keep_their_key(store: &SharedStore) {
    let chars = store.characters();
    let crashed = request(Some(("old", "fp")), Some("frank"));
    let old = reserve(store, &crashed).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stale_after = Duration::from_millis(10);
    let taker = match chars
        .begin(&request(None, Some("frank")), stale_after)
        .await
        .unwrap()
    {
        Begin::Reserved(r) => r,
        other => panic!("a stale reservation's name is taken over, got {other:?}"),
    };
    let made = chars.finish(&taker, AssetId(7), images(7)).await.unwrap();
    assert_eq!(made.name.as_deref(), Some("frank"));
    assert!(matches!(
        chars.begin(&crashed, stale_after).await.unwrap(),
        Begin::InProgress { .. }
    ));
    // Should the old creation finish after all, its character is kept, without the name.
    let late = chars.finish(&old, AssetId(8), images(8)).await.unwrap();
    assert_eq!(late.name, None);
    assert_eq!(chars.find_by_name("frank").await.unwrap(), Some(made));
}

pub async fn characters_are_listed_newest_first(store: &SharedStore) {
    let chars = store.characters();
    assert!(chars.list(10).await.unwrap().is_empty());
    let mut made = Vec::new();
    for i in 0..5 {
        let name = format!("c{i}");
        made.push(make(store, &request(None, Some(&name)), 100 + i).await);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // A creation under way is not listed.
    reserve(store, &request(None, Some("pending"))).await;
    made.reverse();
    assert_eq!(chars.list(10).await.unwrap(), made);
    assert_eq!(chars.list(2).await.unwrap(), made[..2]);
    assert!(chars.list(0).await.unwrap().is_empty());
}

pub async fn characters_are_found_by_their_exact_name_once_finished(store: &SharedStore) {
    let chars = store.characters();
    let gina = make(store, &request(None, Some("gina")), 31).await;
    make(store, &request(None, None), 32).await;
    reserve(store, &request(None, Some("hugo"))).await;
    assert_eq!(
        chars.find_by_name("gina").await.unwrap(),
        Some(gina.clone())
    );
    assert_eq!(chars.find_by_name("Gina").await.unwrap(), None);
    assert_eq!(chars.find_by_name("hugo").await.unwrap(), None, "under way");
    assert_eq!(chars.find_by_name("nobody").await.unwrap(), None);
    assert_eq!(chars.get(&gina.id).await.unwrap(), Some(gina));
}

pub async fn characters_begun_concurrently_under_one_key_or_name_reserve_once(store: &SharedStore) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        // Half share a key, all share a name.
        let key = if i % 2 == 0 {
            Some(("same", "fp"))
        } else {
            None
        };
        let req = request(key, Some("ivy"));
        tasks.push(tokio::spawn(async move {
            store
                .characters()
                .begin(&req, RESERVATION_STALE_AFTER)
                .await
                .unwrap()
        }));
    }
    let mut reserved = 0;
    for task in tasks {
        match task.await.unwrap() {
            Begin::Reserved(_) => reserved += 1,
            Begin::InProgress { .. } | Begin::NameTaken { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 1, "one creation may pay");
}
