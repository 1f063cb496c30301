//! The per-token in-flight limit and the one-poll-a-second-per-task limit.

mod common;

use std::time::{Duration, Instant};

use common::*;
use pixverse_sim::Latency;
use reqwest::StatusCode;
use serde_json::json;

fn assert_rate_limited(reply: &Reply) {
    assert_gateway_error(reply, 429, "too_many_requests");
    assert_eq!(
        reply.json()["error"]["message"],
        "You have exceeded the rate limit."
    );
    assert_eq!(
        reply
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

#[tokio::test]
async fn a_submit_over_the_in_flight_limit_gets_429() {
    let config = fast()
        .with_latency(Latency::fixed(Duration::from_millis(800)))
        .with_max_in_flight(2)
        .with_tokens(["sim-token", "other"]);
    let t = setup(config).await;
    let first = t.submit_async(json!({"prompt": "1"})).await;
    let second = t.submit_async(json!({"prompt": "2"})).await;
    assert_rate_limited(&t.submit(json!({"prompt": "3", "async": true})).await);
    t.submit_async_as(
        "other",
        json!({"prompt": "another token has its own limit"}),
    )
    .await;

    let stats = t.stats().await;
    assert_eq!(stats["in_flight"][TOKEN], 2, "{stats}");
    assert_eq!(stats["max_in_flight_seen"][TOKEN], 2, "{stats}");
    assert_eq!(
        t.ledger().await.len(),
        3,
        "the refused submit created no task"
    );

    t.wait_finished(&first).await;
    t.wait_finished(&second).await;
    let stats = t.stats().await;
    assert_eq!(stats["in_flight"][TOKEN], 0, "{stats}");
    t.submit_async(json!({"prompt": "room again"})).await;
    assert_eq!(t.stats().await["max_in_flight_seen"][TOKEN], 2);
}

#[tokio::test]
async fn a_sync_submit_holds_its_slot_until_the_task_ends() {
    let t = setup(
        fast()
            .with_latency(Latency::fixed(Duration::from_millis(600)))
            .with_max_in_flight(1),
    )
    .await;
    let (held, refused) = tokio::join!(t.submit(json!({"prompt": "sync"})), async {
        let held_first =
            eventually(|| async { (t.stats().await["in_flight"][TOKEN] == 1).then_some(()) }).await;
        assert!(held_first.is_some());
        t.submit(json!({"prompt": "second", "async": true})).await
    });
    assert_eq!(held.status, StatusCode::OK);
    assert_rate_limited(&refused);
}

#[tokio::test]
async fn poll_faster_than_once_a_second_gets_429() {
    let t = setup(slow().with_min_poll_interval(Duration::from_secs(1))).await;
    let task_id = t.submit_async(json!({"prompt": "p"})).await;
    let first_poll = Instant::now();
    assert_eq!(t.retrieve(&task_id).await.status, StatusCode::OK);
    assert_rate_limited(&t.retrieve(&task_id).await);

    // A refused poll does not restart the clock: 1.1 s after the accepted one is fine even
    // though a refused one came in between.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_rate_limited(&t.retrieve(&task_id).await);
    tokio::time::sleep(
        (first_poll + Duration::from_millis(1100)).saturating_duration_since(Instant::now()),
    )
    .await;
    assert_eq!(t.retrieve(&task_id).await.status, StatusCode::OK);

    // Each task has its own clock.
    let other = t.submit_async(json!({"prompt": "q"})).await;
    assert_eq!(t.retrieve(&other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_id_of_a_batch_counts_as_a_poll() {
    let t = setup(slow().with_min_poll_interval(Duration::from_secs(5))).await;
    let a = t.submit_async(json!({"prompt": "a"})).await;
    let b = t.submit_async(json!({"prompt": "b"})).await;
    let c = t.submit_async(json!({"prompt": "c"})).await;

    assert_eq!(t.retrieve(&a).await.status, StatusCode::OK);
    // `a` is too soon, so the whole batch is refused and `b` is not counted as polled.
    assert_rate_limited(&t.batch_as(TOKEN, json!({"ids": [a, b]})).await);
    assert_eq!(t.retrieve(&b).await.status, StatusCode::OK);

    // A batch that polls `c` counts: `c` cannot be polled again right away.
    let batch = t.batch_as(TOKEN, json!({"ids": [c]})).await;
    assert_eq!(batch.json()["count"], 1);
    assert_rate_limited(&t.retrieve(&c).await);

    // A listing without ids is not a poll of anything, however often.
    for _ in 0..3 {
        let listing = t.batch_as(TOKEN, json!({})).await;
        assert_eq!(listing.status, StatusCode::OK);
        assert_eq!(listing.json()["count"], 3);
    }
}
