//! What the client sends over real HTTP on 127.0.0.1: paths, headers, and bodies with
//! `action` first and no unset fields, for every call.

mod support;

use pixverse::{
    BatchQuery, ExtendRequest, Model, Submission, SubmitBody, SubmitMode, TaskOutcome, Url,
    VideoDuration, VideoId,
};
use support::{ACCEPTED, TOKEN, client, fixture, quiver, serve_json};

#[tokio::test]
async fn async_submit_sends_the_recorded_body_with_bearer_and_json_headers() {
    let server = serve_json(200, ACCEPTED).await;
    let mut request = quiver();
    request.model = Some(Model::V4);
    request.duration = Some(VideoDuration::Eight);
    let body = SubmitBody::generate(&request, &SubmitMode::Async);

    let submission = server.client().submit(&body).await.unwrap();

    assert_eq!(
        submission,
        Submission::Accepted {
            task_id: "84acf7e2-66a7-407a-8295-f0cc7a58579b".into()
        }
    );
    let seen = server.one();
    assert_eq!(seen.path, "/pixverse/videos");
    assert_eq!(seen.body, body.as_str());
    assert_eq!(
        seen.body,
        r#"{"action":"generate","prompt":"quiver","model":"v4","duration":8,"async":true}"#
    );
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        seen.header("user-agent"),
        Some(concat!("pixq/", env!("CARGO_PKG_VERSION")))
    );
}

#[tokio::test]
async fn callback_submit_sends_callback_url_and_accepts_the_platform_form() {
    let server = serve_json(200, &fixture("async-accepted-platform.json")).await;
    let hook = Url::parse("https://hooks.example/pixq/cb/job-1").unwrap();

    let submission = server
        .client()
        .generate(&quiver(), SubmitMode::Callback(hook))
        .await
        .unwrap();

    assert_eq!(
        submission.task_id(),
        Some("84acf7e2-66a7-407a-8295-f0cc7a58579b")
    );
    let sent = server.one().json();
    assert_eq!(sent["callback_url"], "https://hooks.example/pixq/cb/job-1");
    assert!(sent.get("async").is_none(), "{sent}");
    assert!(server.one().body.starts_with(r#"{"action":"generate","#));
}

#[tokio::test]
async fn sync_submit_sends_neither_async_nor_callback_and_returns_the_result() {
    let server = serve_json(200, &fixture("video-result.json")).await;

    let submission = server
        .client()
        .generate(&quiver(), SubmitMode::Sync)
        .await
        .unwrap();

    let Submission::Finished(result) = submission else {
        panic!("expected a finished result")
    };
    assert!(
        matches!(result.outcome(), TaskOutcome::Succeeded(v) if v.video_id == VideoId(317982208110208))
    );
    assert_eq!(
        server.one().body,
        r#"{"action":"generate","prompt":"quiver"}"#
    );
}

#[tokio::test]
async fn extend_sends_action_extend_and_a_numeric_video_id() {
    let server = serve_json(200, ACCEPTED).await;
    let request = ExtendRequest::new(VideoId(317989274748288), "they dance");

    server
        .client()
        .extend(&request, SubmitMode::Async)
        .await
        .unwrap();

    assert_eq!(
        server.one().body,
        r#"{"action":"extend","prompt":"they dance","video_id":317989274748288,"async":true}"#
    );
}

#[tokio::test]
async fn base_url_path_prefix_is_kept() {
    let server = serve_json(200, ACCEPTED).await;
    let base = server.base.join("/prefix").unwrap();

    client(&base)
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap();

    assert_eq!(server.one().path, "/prefix/pixverse/videos");
}

#[tokio::test]
async fn retrieve_sends_action_and_id_and_reads_the_record() {
    let server = serve_json(200, &fixture("task-record-done.json")).await;

    let record = server
        .client()
        .retrieve("e3d52b98-b944-438e-b122-1a9141b5626c")
        .await
        .unwrap();

    let seen = server.one();
    assert_eq!(seen.path, "/pixverse/tasks");
    assert_eq!(
        seen.body,
        r#"{"action":"retrieve","id":"e3d52b98-b944-438e-b122-1a9141b5626c"}"#
    );
    assert!(matches!(record.outcome(), TaskOutcome::Succeeded(_)));
}

#[tokio::test]
async fn retrieve_batch_sends_only_the_filters_given() {
    let server = serve_json(200, &fixture("tasks-batch.json")).await;
    let query = BatchQuery {
        limit: Some(20),
        ..BatchQuery::created_since(1737095000.5)
    };

    let batch = server.client().retrieve_batch(&query).await.unwrap();

    assert_eq!(batch.items.len(), 2);
    assert_eq!(
        server.one().body,
        r#"{"action":"retrieve_batch","limit":20,"created_at_min":1737095000.5}"#
    );
}

#[tokio::test]
async fn delete_sends_action_delete() {
    let server = serve_json(200, r#"{"id":"t-1","deleted":true}"#).await;

    let deleted = server.client().delete("t-1").await.unwrap();

    assert_eq!(
        (deleted.id.as_deref(), deleted.deleted),
        (Some("t-1"), Some(true))
    );
    assert_eq!(server.one().body, r#"{"action":"delete","id":"t-1"}"#);
}

#[tokio::test]
async fn create_character_sends_images_and_reads_the_asset_id() {
    let server = serve_json(200, &fixture("character-created.json")).await;
    let image = Url::parse("https://cdn.acedata.cloud/8bai0n.png").unwrap();

    let character = server.client().create_character(&[image]).await.unwrap();

    assert_eq!(character.asset_id().map(|a| a.get()), Some(317383895242880));
    let seen = server.one();
    assert_eq!(seen.path, "/pixverse/character");
    assert_eq!(
        seen.body,
        r#"{"images":["https://cdn.acedata.cloud/8bai0n.png"]}"#
    );
}
