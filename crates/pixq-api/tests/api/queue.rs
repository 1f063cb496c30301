//! `GET /v1/queue`, `POST /v1/queue/pause`, `POST /v1/queue/resume`: no job is handed to a
//! worker while the queue is paused, jobs are still accepted, and resuming hands them out.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;

use crate::setup::{Api, Backend, on_each_backend};

on_each_backend!(a_paused_queue_accepts_jobs_and_hands_them_out_once_resumed);

async fn a_paused_queue_accepts_jobs_and_hands_them_out_once_resumed(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = api.get("/v1/queue").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"paused": false})));

    let (status, body) = api.post("/v1/queue/pause", &json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"paused": true})));
    let (_, body) = api.get("/v1/queue").await;
    assert_eq!(body, json!({"paused": true}));

    // Accepted and rung while paused, but no worker gets it.
    let id = api.create_id("a fox, paused").await;
    assert!(api.due_at(&id).await.is_some(), "the job is rung");
    let take = || {
        api.store
            .take(Utc::now(), 10, "api-test", Duration::from_secs(30))
    };
    assert!(take().await.expect("take").is_empty());

    let (status, body) = api.post("/v1/queue/resume", &json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"paused": false})));
    let taken = take().await.expect("take");
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].lease.job, id);
}
