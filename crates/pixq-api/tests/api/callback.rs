//! `POST /v1/upstream/callback/{job_id}/{secret}`: a trigger, only with the right secret.

use pixq_core::job::{Action, JobId, NewJob};
use reqwest::StatusCode;
use serde_json::json;

use crate::setup::{Api, Backend, code_and_field, on_each_backend};

on_each_backend!(
    wrong_secret_or_unknown_job_is_404_and_changes_nothing,
    right_secret_rings_the_job_now,
    the_callback_needs_no_token,
);

const SECRET: &str = "cb-secret-0123456789abcdef";

fn body(task: &str) -> serde_json::Value {
    json!({"success": true, "task_id": task, "data": [{"id": 1, "video_url": "https://x/v.mp4"}]})
}

async fn wrong_secret_or_unknown_job_is_404_and_changes_nothing(backend: Backend) {
    let api = Api::start(backend).await;
    let id = api.create_id("a").await;
    api.to_generating(&id, Some(SECRET)).await;
    let no_secret = api.create_id("b").await;
    api.to_generating(&no_secret, None).await;
    api.drain_schedule().await;
    let before = api.job(&id).await;

    let mut answers = Vec::new();
    for path in [
        format!("/v1/upstream/callback/{id}/wrong"),
        format!("/v1/upstream/callback/{id}/{}", &SECRET[..SECRET.len() - 1]),
        format!("/v1/upstream/callback/{id}/{SECRET}x"),
        format!("/v1/upstream/callback/job_unknown/{SECRET}"),
        format!("/v1/upstream/callback/{no_secret}/{SECRET}"),
        format!("/v1/upstream/callback/{no_secret}/x"),
    ] {
        let (status, body) = api.post(&path, &body("t")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(code_and_field(&body).0, "not_found");
        answers.push(body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one answer for every case: {answers:?}"
    );
    assert_eq!(
        api.store.schedule().len().await.expect("len"),
        0,
        "nothing rung"
    );
    assert_eq!(api.job(&id).await, before, "the job is unchanged");
}

async fn right_secret_rings_the_job_now(backend: Backend) {
    let api = Api::start(backend).await;
    let id = api.create_id("a").await;
    let before = api.to_generating(&id, Some(SECRET)).await;
    api.drain_schedule().await;
    assert_eq!(api.due_at(&id).await, None);

    let task = before.upstream.task_id.clone().expect("a task id");
    let (status, answer) = api
        .post(
            &format!("/v1/upstream/callback/{id}/{SECRET}"),
            &body(&task),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"ok": true}));
    let due = api.due_at(&id).await;
    assert!(due.is_some_and(|at| at <= chrono::Utc::now()), "{due:?}");
    assert_eq!(api.job(&id).await, before, "a callback is only a trigger");

    // Its body is not trusted, not even parsed as required: anything goes.
    let response = api
        .http
        .post(api.url(&format!("/v1/upstream/callback/{id}/{SECRET}")))
        .header("content-type", "text/plain")
        .body("not json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn the_callback_needs_no_token(backend: Backend) {
    let api = Api::start_with(
        backend,
        pixq_api::ApiConfig {
            tokens: vec!["api-token".into()],
            ..pixq_api::ApiConfig::default()
        },
    )
    .await;
    let (status, _) = api
        .post(
            &format!("/v1/upstream/callback/{}/{SECRET}", JobId::generate()),
            &body("t"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "404 for an unknown job, not 401"
    );

    let new = NewJob::new(Action::Generate, json!({"prompt": "a"}));
    let id = api
        .store
        .jobs()
        .create(new, None)
        .await
        .expect("create")
        .job
        .id;
    api.to_generating(&id, Some(SECRET)).await;
    let (status, answer) = api
        .post(&format!("/v1/upstream/callback/{id}/{SECRET}"), &body("t"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
