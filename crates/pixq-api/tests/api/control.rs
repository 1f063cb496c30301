//! `POST /v1/jobs/{id}/cancel` and `/retry`: one transition each, 409 when the job's state
//! does not allow it, and the doorbell rung when it does.

use pixq_core::job::JobId;
use pixq_core::state::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend};

on_each_backend!(
    cancelling_a_queued_job_rings_it_and_cancelling_again_is_409,
    cancelling_a_generating_job_rings_it_for_its_late_result,
    cancelling_a_step_with_a_queued_child_cancels_the_child,
    cancel_and_retry_of_an_unknown_job_are_404,
    retry_requeues_a_failed_job_under_its_id_and_is_409_otherwise,
);

async fn act(api: &Api, id: &JobId, action: &str) -> (StatusCode, Value) {
    api.post(&format!("/v1/jobs/{id}/{action}"), &json!({}))
        .await
}

async fn cancelling_a_queued_job_rings_it_and_cancelling_again_is_409(backend: Backend) {
    let api = Api::start(backend).await;
    let id = api.create_id("a").await;
    api.drain_schedule().await;
    let (status, job) = act(&api, &id, "cancel").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["error"]["code"], "cancelled");
    assert!(job["finished_at"].is_string());
    assert!(api.due_at(&id).await.is_some(), "rung");

    let (status, body) = act(&api, &id, "cancel").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code_and_field(&body).0, "conflict");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled"),
        "{body}"
    );
    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("pixq_jobs_finished_total{state=\"cancelled\"}"),
        "the API counts the jobs it cancels:\n{metrics}"
    );
}

async fn cancelling_a_generating_job_rings_it_for_its_late_result(backend: Backend) {
    let api = Api::start(backend).await;
    let id = api.create_id("a").await;
    api.to_generating(&id, None).await;
    api.drain_schedule().await;
    let (status, job) = act(&api, &id, "cancel").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["state"], "cancelled");
    assert!(
        job["upstream"]["task_id"].is_string(),
        "the task id is kept"
    );
    assert!(api.due_at(&id).await.is_some());
}

async fn cancelling_a_step_with_a_queued_child_cancels_the_child(backend: Backend) {
    let api = Api::start(backend).await;
    let root = api.create_id("a").await;
    let (_, child) = api.succeed_with_child(&root).await;
    assert_eq!(api.job(&child).await.state, JobState::Queued);
    api.drain_schedule().await;

    let (status, job) = act(&api, &root, "cancel").await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["state"], "succeeded", "a finished step stays as it is");
    assert_eq!(job["children"], json!([child.as_str()]));
    let child_job = api.job(&child).await;
    assert_eq!(child_job.state, JobState::Cancelled);
    assert!(api.due_at(&child).await.is_some());
    let (_, shown) = api.get(&format!("/v1/jobs/{child}")).await;
    assert_eq!(shown["state"], "cancelled");
    assert_eq!(shown["parent_id"], root.as_str());
    assert_eq!(shown["step"], 1);

    let (status, body) = act(&api, &root, "cancel").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "nothing left to cancel: {body}"
    );
}

async fn cancel_and_retry_of_an_unknown_job_are_404(backend: Backend) {
    let api = Api::start(backend).await;
    for action in ["cancel", "retry"] {
        let (status, body) = act(&api, &JobId::from("job_missing"), action).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
        assert_eq!(code_and_field(&body).0, "not_found");
    }
}

async fn retry_requeues_a_failed_job_under_its_id_and_is_409_otherwise(backend: Backend) {
    let api = Api::start(backend).await;
    let id = api.create_id("a").await;
    let (status, body) = act(&api, &id, "retry").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("queued"),
        "{body}"
    );

    api.to_failed(&id).await;
    api.drain_schedule().await;
    let (status, job) = act(&api, &id, "retry").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["state"], "queued");
    assert_eq!(job["error"], Value::Null);
    assert_eq!(job["finished_at"], Value::Null);
    assert_eq!(job["attempts"], 0);
    assert_eq!(job["id"], id.as_str(), "same id");
    assert!(api.due_at(&id).await.is_some(), "rung");

    let (status, _) = act(&api, &id, "retry").await;
    assert_eq!(status, StatusCode::CONFLICT, "queued again");
}
