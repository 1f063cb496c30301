//! The admin endpoints: ledger, stats, latency, health, and the bounded, counted memory.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_ledger_lists_every_task_created_oldest_first() {
    let t = setup(slow().with_tokens(["sim-token", "other"])).await;
    let sent = r#"{"prompt":"first",   "async":true}"#;
    let first = t
        .post_raw("/pixverse/videos", Some(TOKEN), sent)
        .await
        .json()["task_id"]
        .clone();
    let second = t
        .submit_async_as("other", json!({"prompt": "second"}))
        .await;
    t.submit(json!({"prompt": ""})).await; // refused: no entry

    let reply = t.get("/_sim/ledger").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply
            .headers
            .get("x-sim-ledger-dropped")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    assert!(
        reply.text.contains(&format!(r#""request":{sent}"#)),
        "the request is kept as sent: {}",
        reply.text
    );
    let ledger = t.ledger().await;
    assert_eq!(ledger.len(), 2);
    for entry in &ledger {
        assert_eq!(
            keys(entry),
            sorted(&["task_id", "created_at", "token", "request"])
        );
        assert!(entry["created_at"].is_f64());
    }
    assert_eq!(ledger[0]["task_id"], first);
    assert_eq!(
        (ledger[0]["token"].clone(), ledger[1]["token"].clone()),
        (json!(TOKEN), json!("other"))
    );
    assert_eq!(ledger[1]["task_id"], second.as_str());
    assert_eq!(
        ledger[1]["request"],
        json!({"prompt": "second", "async": true})
    );
}

#[tokio::test]
async fn stats_count_requests_by_endpoint_and_status() {
    let t = setup(slow()).await;
    let task_id = t.submit_async(json!({"prompt": "p"})).await;
    t.submit(json!({})).await;
    t.retrieve(&task_id).await;
    t.post_as(
        "/pixverse/character",
        TOKEN,
        json!({"images": ["https://cdn.example/a.png"]}),
    )
    .await;
    t.get("/_sim/stats").await; // admin requests are not counted

    let stats = t.stats().await;
    for key in ["requests", "in_flight", "max_in_flight_seen", "callbacks"] {
        assert!(stats[key].is_object(), "{key}: {stats}");
    }
    assert_eq!(
        stats["requests"],
        json!({"videos": {"200": 1, "400": 1}, "tasks": {"200": 1}, "character": {"200": 1}})
    );
    assert_eq!(stats["in_flight"], json!({TOKEN: 1}));
    assert_eq!(stats["max_in_flight_seen"], json!({TOKEN: 1}));
    assert_eq!(
        stats["callbacks"],
        json!({"sent": 0, "failed": 0, "dropped": 0, "duplicated": 0})
    );
    assert_eq!(stats["tasks_stored"], 1);
    assert_eq!(stats["ledger_dropped"], 0);
}

#[tokio::test]
async fn the_oldest_tasks_are_evicted_beyond_max_tasks_and_counted() {
    let t = setup(slow().with_max_tasks(3)).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(t.submit_async(json!({"prompt": format!("p{n}")})).await);
    }
    let reply = t.get("/_sim/ledger").await;
    assert_eq!(
        reply
            .headers
            .get("x-sim-ledger-dropped")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    let kept: Vec<String> = reply
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| entry["task_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kept, ids[2..].to_vec());
    let stats = t.stats().await;
    assert_eq!(
        (
            stats["tasks_evicted"].clone(),
            stats["ledger_dropped"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(stats["tasks_stored"], 3);
    assert_eq!(t.retrieve(&ids[0]).await.json(), json!({}));
    assert_eq!(t.retrieve(&ids[4]).await.json()["id"], ids[4].as_str());
}

#[tokio::test]
async fn tasks_older_than_the_retention_are_evicted_and_counted() {
    let t = setup(slow().with_retention(Duration::from_millis(50))).await;
    let old = t.submit_async(json!({"prompt": "old"})).await;
    let aged = Instant::now() + Duration::from_millis(60);
    tokio::time::sleep_until(aged.into()).await;
    let new = t.submit_async(json!({"prompt": "new"})).await;
    assert_eq!(t.retrieve(&old).await.json(), json!({}));
    assert_eq!(t.retrieve(&new).await.json()["id"], new.as_str());
    assert_eq!(t.stats().await["ledger_dropped"], 1);
}

#[tokio::test]
async fn latency_changes_at_run_time() {
    let t = setup(slow()).await;
    let reply = t
        .admin("/_sim/latency", json!({"latency": "0s..50ms"}))
        .await;
    assert_eq!(reply.json(), json!({"latency": "0s..50ms"}));
    let started = Instant::now();
    let sync = t.submit(json!({"prompt": "quick"})).await;
    assert_eq!(sync.status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_gateway_error(
        &t.admin("/_sim/latency", json!({"latency": "soon"})).await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let t = setup(slow()).await;
    let reply = t.get("/_sim/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
}

#[tokio::test]
async fn shutdown_ends_a_held_sync_request_and_stops_serving() {
    let t = setup(slow()).await;
    let base = t.base.clone();
    let http = t.http.clone();
    let held = tokio::spawn(async move {
        http.post(format!("{base}/pixverse/videos"))
            .bearer_auth(TOKEN)
            .json(&json!({"prompt": "forever"}))
            .send()
            .await
    });
    t.wait_stats(|stats| stats["in_flight"][TOKEN] == 1).await;
    let addr = t.sim.addr();
    tokio::time::timeout(DEADLINE, t.sim.shutdown())
        .await
        .expect("shutdown in time");
    let answer = held.await.expect("the request task").expect("an answer");
    assert_eq!(answer.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}
