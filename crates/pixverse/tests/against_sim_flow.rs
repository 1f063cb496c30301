//! The client against the real simulator over HTTP: a generation's whole life in each mode,
//! callbacks, characters, ids as numbers or strings, and finding the task of a submit that got
//! no answer. Error answers are in `against_sim_errors.rs`.

mod support;

use pixverse::{
    BatchQuery, ErrorKind, ExtendRequest, GenerateRequest, Submission, SubmitBody, SubmitMode,
    TaskOutcome, TaskRecord, Url, Video, VideoResult,
};
use serde_json::{Value, json};
use support::sim::{Callbacks, config, epoch_now, patiently, start, wait_until_done};

fn succeeded(record: &TaskRecord) -> Video {
    match record.outcome() {
        TaskOutcome::Succeeded(video) => video,
        other => panic!("expected a video, got {other:?} from {record:?}"),
    }
}

async fn accepted(client: &pixverse::Client, body: &SubmitBody) -> String {
    match client.submit(body).await {
        Ok(Submission::Accepted { task_id }) => task_id,
        other => panic!("expected a task id for {body}, got {other:?}"),
    }
}

#[tokio::test]
async fn async_generation_runs_then_succeeds_and_can_be_extended_listed_and_deleted() {
    let s = start(config("200ms..300ms")).await;
    let body = SubmitBody::generate(&GenerateRequest::new("a paper boat"), &SubmitMode::Async);

    let first = accepted(&s.client, &body).await;
    let running = s.client.retrieve(&first).await.unwrap();
    assert_eq!(running.outcome(), TaskOutcome::Running);
    assert_eq!(running.response, None);
    assert_eq!(running.id.as_deref(), Some(first.as_str()));
    assert!(running.is_for(&body), "{running:?}");
    assert_eq!(running.request.as_ref(), Some(body.as_value()));

    let done = wait_until_done(&s.client, &first).await;
    let video = succeeded(&done);
    assert!(video.video_id.get() > 0, "{video:?}");
    // The simulator serves its own media.
    let media = format!("{}/_sim/media/", s.sim.base_url());
    assert!(video.video_url.starts_with(&media), "{video:?}");
    assert!(video.video_url.ends_with(".mp4"), "{video:?}");
    assert_eq!(video.task_id.as_deref(), Some(first.as_str()));
    assert!(!video.extended);
    // The upstream's defaults, filled in: v3.5, 540p at 16:9, 5 s.
    assert_eq!((video.width, video.height), (Some(960), Some(540)));
    assert_eq!(video.model.as_deref(), Some("v3.5"));
    assert_eq!(video.quality.as_deref(), Some("540p"));
    assert_eq!(video.duration, Some(5));
    assert!(done.finished_at.is_some() && done.is_for(&body));

    let extend = ExtendRequest::new(video.video_id, "the boat sails away");
    let extend_body = SubmitBody::extend(&extend, &SubmitMode::Async);
    let second = accepted(&s.client, &extend_body).await;
    let extended = wait_until_done(&s.client, &second).await;
    let continuation = succeeded(&extended);
    assert!(continuation.extended, "{continuation:?}");
    assert_ne!(continuation.video_id, video.video_id);
    assert!(extended.is_for(&extend_body) && !extended.is_for(&body));
    assert_eq!(
        extended.request.as_ref().unwrap()["video_id"],
        json!(video.video_id.get())
    );

    let both = BatchQuery::ids([first.clone(), second.clone()]);
    let batch = patiently(|| s.client.retrieve_batch(&both)).await.unwrap();
    let mut ids: Vec<_> = batch.items.iter().filter_map(|r| r.id.clone()).collect();
    ids.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!((ids, batch.count), (expected, Some(2)));

    let deleted = s.client.delete(&first).await.unwrap();
    assert_eq!(deleted.id.as_deref(), Some(first.as_str()));
    assert_eq!(deleted.deleted, Some(true));
    let gone = s.client.retrieve(&first).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    assert_eq!(s.client.delete(&first).await.unwrap().deleted, Some(false));
}

#[tokio::test]
async fn callback_delivers_a_result_body_that_parses_to_the_same_task() {
    let s = start(config("200ms..300ms")).await;
    let mut callbacks = Callbacks::start().await;
    let url = callbacks.url("job-ok");

    let request = GenerateRequest::new("a lighthouse");
    let body = SubmitBody::generate(&request, &SubmitMode::Callback(url.clone()));
    assert_eq!(body.callback_url(), Some(url.as_str()));
    let task_id = accepted(&s.client, &body).await;

    let (path, received) = callbacks.next().await;
    assert_eq!(path, "/callbacks/job-ok");
    let result: VideoResult = serde_json::from_slice(&received).unwrap();
    assert_eq!(result.task_id.as_deref(), Some(task_id.as_str()));
    let TaskOutcome::Succeeded(video) = result.outcome() else {
        panic!("expected a video in {result:?}");
    };
    assert_eq!(video.task_id.as_deref(), Some(task_id.as_str()));
    let media = format!("{}/_sim/media/", s.sim.base_url());
    assert!(video.video_url.starts_with(&media) && video.video_id.get() > 0);
    // The callback and the task record tell the same story.
    let record = wait_until_done(&s.client, &task_id).await;
    assert_eq!(succeeded(&record).video_id, video.video_id);
}

#[tokio::test]
async fn callback_of_a_failed_generation_parses_to_failed_with_api_error() {
    let s = start(config("200ms..300ms")).await;
    let mut callbacks = Callbacks::start().await;
    s.faults(json!({"generation_failed": 1.0})).await;

    let body = SubmitBody::generate(
        &GenerateRequest::new("doomed"),
        &SubmitMode::Callback(callbacks.url("job-failed")),
    );
    let task_id = accepted(&s.client, &body).await;

    let (path, received) = callbacks.next().await;
    assert_eq!(path, "/callbacks/job-failed");
    let result: VideoResult = serde_json::from_slice(&received).unwrap();
    assert_eq!(result.task_id.as_deref(), Some(task_id.as_str()));
    assert_eq!(
        result.outcome(),
        TaskOutcome::Failed {
            code: "api_error".into(),
            message: "fetch failed".into()
        }
    );
    let record = wait_until_done(&s.client, &task_id).await;
    assert_eq!(record.outcome(), result.outcome());
}

#[tokio::test]
async fn sync_submit_waits_and_returns_the_finished_video() {
    let s = start(config("200ms..300ms")).await;
    let submission = s
        .client
        .generate(&GenerateRequest::new("a red kite"), SubmitMode::Sync)
        .await
        .unwrap();

    let Submission::Finished(result) = &submission else {
        panic!("expected a finished video, got {submission:?}");
    };
    let TaskOutcome::Succeeded(video) = result.outcome() else {
        panic!("expected a video in {result:?}");
    };
    let task_id = submission.task_id().expect("a task id").to_owned();
    assert_eq!(video.task_id.as_deref(), Some(task_id.as_str()));
    assert!(
        video
            .video_url
            .starts_with(&format!("{}/_sim/media/", s.sim.base_url()))
    );
    let record = s.client.retrieve(&task_id).await.unwrap();
    assert_eq!(succeeded(&record).video_id, video.video_id);
}

#[tokio::test]
async fn unanswered_submit_is_outcome_unknown_and_the_task_can_be_found() {
    let s = start(config("200ms..300ms")).await;
    let t0 = epoch_now();
    let other = SubmitBody::generate(&GenerateRequest::new("another job"), &SubmitMode::Async);
    let other_id = accepted(&s.client, &other).await;

    s.faults(json!({"drop_after_submit": 1.0})).await;
    let body = SubmitBody::generate(&GenerateRequest::new("a paper boat"), &SubmitMode::Async);
    let e = s.client.submit(&body).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    assert!(e.is_outcome_unknown() && !e.is_retryable(), "{e}");
    assert_eq!(e.status(), None, "no answer came back: {e}");
    // The submit went out exactly once: nothing resent it behind the caller's back.
    assert_eq!(s.ledger().await.len(), 2);

    s.faults(json!({"drop_after_submit": 0.0})).await;
    let recent = s
        .client
        .retrieve_batch(&BatchQuery::created_since(t0))
        .await
        .unwrap();
    assert_eq!(recent.items.len(), 2, "{recent:?}");
    let found: Vec<&TaskRecord> = recent.items.iter().filter(|r| r.is_for(&body)).collect();
    assert_eq!(found.len(), 1, "{recent:?}");
    let task_id = found[0].id.clone().unwrap();
    assert_ne!(task_id, other_id);
    let video = succeeded(&wait_until_done(&s.client, &task_id).await);
    assert_eq!(video.task_id, Some(task_id));
}

#[tokio::test]
async fn identical_prompts_are_told_apart_by_their_callback_url() {
    // Long tasks: no callback is due while the test runs.
    let s = start(config("30s")).await;
    let t0 = epoch_now();
    let job = |name: &str| {
        let url = Url::parse(&format!("http://127.0.0.1:9/callbacks/{name}")).unwrap();
        SubmitBody::generate(
            &GenerateRequest::new("same prompt"),
            &SubmitMode::Callback(url),
        )
    };
    let (a, b) = (job("job-a"), job("job-b"));
    let a_id = accepted(&s.client, &a).await;
    s.faults(json!({"drop_after_submit": 1.0})).await;
    let lost = s.client.submit(&b).await.unwrap_err();
    assert!(lost.is_outcome_unknown(), "{lost}");

    let recent = s
        .client
        .retrieve_batch(&BatchQuery::created_since(t0))
        .await
        .unwrap();
    assert_eq!(recent.items.len(), 2, "{recent:?}");
    let owners = |body: &SubmitBody| -> Vec<String> {
        let mine = recent.items.iter().filter(|r| r.is_for(body));
        mine.filter_map(|r| r.id.clone()).collect()
    };
    assert_eq!(owners(&a), vec![a_id.clone()]);
    let b_ids = owners(&b);
    assert_eq!(b_ids.len(), 1, "{recent:?}");
    assert_ne!(b_ids[0], a_id);
}

#[tokio::test]
async fn extend_takes_a_video_id_as_a_string_or_a_number_and_records_keep_the_type() {
    let s = start(config("200ms..300ms")).await;
    let body = SubmitBody::generate(&GenerateRequest::new("a kite"), &SubmitMode::Async);
    let first = accepted(&s.client, &body).await;
    let id = succeeded(&wait_until_done(&s.client, &first).await).video_id;

    let text = |video_id: String| {
        format!(r#"{{"action":"extend","prompt":"higher","video_id":{video_id},"async":true}}"#)
    };
    let as_string = SubmitBody::from_json(text(format!("\"{id}\""))).unwrap();
    let as_number = SubmitBody::from_json(text(id.to_string())).unwrap();
    let string_task = accepted(&s.client, &as_string).await;
    let number_task = accepted(&s.client, &as_number).await;

    for (task_id, body, sent) in [
        (&string_task, &as_string, Value::String(id.to_string())),
        (&number_task, &as_number, json!(id.get())),
    ] {
        let record = wait_until_done(&s.client, task_id).await;
        assert_eq!(record.request.as_ref().unwrap()["video_id"], sent);
        assert!(record.is_for(body), "{record:?}");
        let video = succeeded(&record);
        assert!(video.extended && video.video_id != id, "{video:?}");
    }
    // A string and a number are different requests: each record belongs to its own body.
    let string_record = patiently(|| s.client.retrieve(&string_task)).await.unwrap();
    assert!(!string_record.is_for(&as_number));
}

#[tokio::test]
async fn a_character_asset_id_is_used_by_a_generation_that_echoes_its_name() {
    let s = start(config("200ms..300ms")).await;
    let images = [Url::parse("https://cdn.example/face.png").unwrap()];
    let character = s.client.create_character(&images).await.unwrap();
    let asset_id = character.asset_id().expect("an asset id");
    assert!(asset_id.get() > 0);

    let mut request = GenerateRequest::new("my character waves");
    request.asset_id = Some(asset_id);
    let body = SubmitBody::generate(&request, &SubmitMode::Async);
    let task_id = accepted(&s.client, &body).await;
    let record = wait_until_done(&s.client, &task_id).await;
    succeeded(&record);
    let item = record
        .response
        .as_ref()
        .and_then(VideoResult::first)
        .unwrap();
    assert_eq!(item.asset_id, Some(asset_id));
    let name = item.asset_name.as_deref().unwrap_or_default();
    assert!(name.starts_with("my-"), "asset_name {name:?}");
}
