//! `/healthz`, `/readyz` and `/metrics` on each backend, and what the API answers when Redis
//! goes away.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::setup::{Api, Backend, code_and_field, on_each_backend, read_json};

on_each_backend!(
    healthz_and_readyz_answer_ok_naming_the_store,
    metrics_show_enqueued_jobs_and_the_queue_depth,
    a_paused_token_shows_in_readyz_and_metrics_while_readyz_stays_200,
);

async fn healthz_and_readyz_answer_ok_naming_the_store(backend: Backend) {
    let api = Api::start(backend).await;
    assert_eq!(
        api.get("/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let upstream = json!({"paused": false, "reason": null, "tokens": []});
    let ready = match backend {
        Backend::Redis => json!({"store": "redis", "redis": "ok", "upstream": upstream}),
        Backend::Sqlite => {
            json!({"store": "sqlite", "redis": null, "sqlite": "ok", "upstream": upstream})
        }
    };
    assert_eq!(api.get("/readyz").await, (StatusCode::OK, ready));
}

async fn metrics_show_enqueued_jobs_and_the_queue_depth(backend: Backend) {
    let api = Api::start(backend).await;
    api.create_id("a").await;
    let response = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = pixq_testkit::http::content_type(&response);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("text");
    let enqueued = text
        .lines()
        .find(|l| l.starts_with("pixq_jobs_enqueued_total"))
        .unwrap_or_else(|| panic!("no pixq_jobs_enqueued_total in\n{text}"));
    let value: f64 = enqueued
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{enqueued}"));
    assert!(value >= 1.0, "{enqueued}");
    assert!(text.contains("pixq_queue_depth{queue=\"due\"}"), "{text}");
}

async fn a_paused_token_shows_in_readyz_and_metrics_while_readyz_stays_200(backend: Backend) {
    let api = Api::start(backend).await;
    // The metrics are the process's, shared by every test running beside this one: a token
    // alias of this test's own keeps another test's token out of the figures checked here.
    let alias = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let until = chrono::Utc::now() + chrono::TimeDelta::minutes(5);
    let (_, started) = api
        .store
        .pauses()
        .pause(alias, "used_up", until)
        .await
        .expect("pause");
    assert!(!started, "it was not paused before");
    let slot = api
        .store
        .slots()
        .acquire(alias, &"job_x".into(), 5, Duration::from_secs(60))
        .await
        .expect("acquire");
    assert!(slot.is_acquired());

    let (status, body) = api.get("/readyz").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a pause does not make the API unready"
    );
    assert_eq!(body["upstream"]["paused"], true, "{body}");
    assert_eq!(body["upstream"]["reason"], "used_up");
    assert_eq!(body["upstream"]["tokens"][0]["token"], alias);

    let text = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(&format!("pixq_upstream_paused{{token=\"{alias}\"}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("pixq_in_flight{{token=\"{alias}\"}} 1")),
        "{text}"
    );

    assert!(api.store.pauses().clear(alias).await.expect("clear"));
    let (_, body) = api.get("/readyz").await;
    assert_eq!(body["upstream"]["paused"], false, "{body}");
}

#[tokio::test]
async fn without_redis_readyz_is_503_and_the_store_is_unavailable() {
    let mut api = Api::start_behind_proxy().await;
    let id = api.create_id("a").await;
    assert_eq!(api.get("/readyz").await.0, StatusCode::OK);
    api.cut_redis();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = api
            .http
            .get(api.url("/readyz"))
            .send()
            .await
            .expect("request");
        let (status, body) = read_json(response).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body["store"], "redis", "{body}");
            assert!(body["redis"].as_str().is_some_and(|r| r != "ok"), "{body}");
            assert!(
                body["upstream"]["paused"].is_null(),
                "unknown without Redis: {body}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "readyz stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let (status, body) = api.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code_and_field(&body).0, "store_unavailable");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("redis"),
        "{message}"
    );
    let (status, body) = api.post("/v1/jobs", &json!({"prompt": "a"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "answered within the API's request deadline, not after the client's own timeout"
    );
    api.stop().await;
}
