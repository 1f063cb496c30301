//! Every documented upstream body in tests/fixtures parses into the right type and reduces to
//! the right outcome.

mod support;

use pixverse::{
    AssetId, Character, GenerateRequest, Submission, SubmitBody, SubmitMode, TaskBatch,
    TaskOutcome, TaskRecord, TemplateId, VideoId, VideoResult,
};
use serde::Deserialize;
use support::fixture;

/// Every fixture a test below reads. A new fixture must be added here and tested.
const COVERED: &[&str] = &[
    "async-accepted-platform.json",
    "async-accepted.json",
    "character-created.json",
    "error-api-error.json",
    "error-bare-string.json",
    "error-forbidden-task.json",
    "error-invalid-token.json",
    "error-too-many-requests.json",
    "error-used-up.json",
    "task-record-done.json",
    "task-record-failed.json",
    "task-record-running.json",
    "tasks-batch.json",
    "templates.json",
    "video-result-extend.json",
    "video-result-id-as-string.json",
    "video-result-template.json",
    "video-result.json",
];

fn video_result(name: &str) -> VideoResult {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn record(name: &str) -> TaskRecord {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn succeeded(outcome: TaskOutcome) -> pixverse::Video {
    match outcome {
        TaskOutcome::Succeeded(video) => video,
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn every_fixture_file_is_covered_by_a_test() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    found.sort();
    assert_eq!(found, COVERED);
}

#[test]
fn video_result_parses_and_succeeds_with_its_numeric_id() {
    let r = video_result("video-result.json");
    assert_eq!(r.success, Some(true));
    assert_eq!(
        r.task_id.as_deref(),
        Some("69e677ca-f1de-419f-99a4-cb39ea0cb5fc")
    );
    assert_eq!(r.data.len(), 1);
    let item = &r.data[0];
    assert_eq!(item.id, Some(VideoId(317982208110208)));
    assert_eq!(item.quality.as_deref(), Some("360p"));
    assert_eq!(
        (item.duration, item.extended, item.seed),
        (Some(5), Some(0), Some(0))
    );
    assert!(item.extra.is_empty(), "{:?}", item.extra);
    let video = succeeded(r.outcome());
    assert_eq!(video.video_id, VideoId(317982208110208));
    assert!(video.video_url.ends_with("_seed0.mp4"));
    assert_eq!(
        (video.width, video.height, video.first_frame),
        (None, None, None)
    );
    assert!(!video.extended);
}

#[test]
fn video_result_with_string_id_and_unknown_fields_parses() {
    let r = video_result("video-result-id-as-string.json");
    let item = &r.data[0];
    assert_eq!(item.id, Some(VideoId(317989274748288)));
    assert_eq!(item.state.as_deref(), Some("succeeded"));
    assert_eq!(
        item.extra["some_future_field"],
        serde_json::json!({"nested": true})
    );
    assert_eq!(succeeded(r.outcome()).video_id, VideoId(317989274748288));
}

#[test]
fn template_result_echoes_template_id_and_name() {
    let r = video_result("video-result-template.json");
    let item = &r.data[0];
    assert_eq!(item.template_id, Some(TemplateId(302325299651648)));
    assert_eq!(item.template_name.as_deref(), Some("Zombie Mode"));
    succeeded(r.outcome());
}

#[test]
fn extend_result_is_marked_extended() {
    let r = video_result("video-result-extend.json");
    assert_eq!(r.data[0].extended, Some(1));
    let video = succeeded(r.outcome());
    assert!(video.extended);
    assert_eq!(video.video_id, VideoId(318162960027008));
}

#[test]
fn both_async_acceptance_forms_read_as_accepted() {
    for name in ["async-accepted.json", "async-accepted-platform.json"] {
        let r = video_result(name);
        assert!(!r.is_failure(), "{name}");
        assert_eq!(
            Submission::from_result(r),
            Some(Submission::Accepted {
                task_id: "84acf7e2-66a7-407a-8295-f0cc7a58579b".into()
            }),
            "{name}"
        );
    }
}

#[test]
fn done_record_succeeds() {
    let r = record("task-record-done.json");
    assert_eq!(
        r.id.as_deref(),
        Some("e3d52b98-b944-438e-b122-1a9141b5626c")
    );
    assert_eq!(r.internal_id.as_deref(), Some("6789f8ce550a4144a5a102e3"));
    assert_eq!(r.created_at, Some(1737095374.496));
    assert_eq!(r.elapsed, Some(86.86));
    assert!(r.finished_at.is_some());
    let video = succeeded(r.outcome());
    assert_eq!(
        video.task_id.as_deref(),
        Some("e3d52b98-b944-438e-b122-1a9141b5626c")
    );
    assert_eq!(video.video_id, VideoId(317982208110208));
}

#[test]
fn running_record_is_running_and_matches_the_body_that_created_it() {
    let r = record("task-record-running.json");
    assert!(r.response.is_none());
    assert_eq!(r.outcome(), TaskOutcome::Running);
    let body = SubmitBody::generate(&GenerateRequest::new("quiver"), &SubmitMode::Async);
    assert!(r.is_for(&body));
    let sync = SubmitBody::generate(&GenerateRequest::new("quiver"), &SubmitMode::Sync);
    assert!(!r.is_for(&sync));
}

#[test]
fn failed_record_fails_with_forbidden() {
    let r = record("task-record-failed.json");
    match r.outcome() {
        TaskOutcome::Failed { code, message } => {
            assert_eq!(code, "forbidden");
            assert!(message.contains("moderators"), "{message}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

#[test]
fn batch_parses_both_records_and_their_outcomes() {
    let b: TaskBatch = serde_json::from_str(&fixture("tasks-batch.json")).unwrap();
    assert_eq!(b.count, Some(2));
    assert_eq!(b.items.len(), 2);
    succeeded(b.items[0].outcome());
    assert_eq!(b.items[1].outcome(), TaskOutcome::Running);
}

#[test]
fn character_answer_has_an_object_data_with_asset_id() {
    let c: Character = serde_json::from_str(&fixture("character-created.json")).unwrap();
    assert_eq!(c.success, Some(true));
    assert_eq!(
        c.task_id.as_deref(),
        Some("5b9c0493-0033-431b-a799-fb5e04b4ae19")
    );
    assert_eq!(c.asset_id(), Some(AssetId(317383895242880)));
}

#[test]
fn error_envelopes_parse_with_their_codes() {
    let cases = [
        ("error-api-error.json", Some("api_error"), "fetch failed"),
        (
            "error-invalid-token.json",
            Some("invalid_token"),
            "The specified token is invalid or wrong.",
        ),
        (
            "error-too-many-requests.json",
            Some("too_many_requests"),
            "You have exceeded the rate limit.",
        ),
        (
            "error-used-up.json",
            Some("used_up"),
            "Your balance is not sufficient",
        ),
        (
            "error-forbidden-task.json",
            Some("forbidden"),
            "Sorry! Our AI moderators",
        ),
        (
            "error-bare-string.json",
            None,
            "upstream facilitator rejected the request",
        ),
    ];
    for (name, code, message) in cases {
        let r = video_result(name);
        assert!(r.is_failure(), "{name}");
        assert!(r.trace_id.is_some(), "{name}");
        let error = r
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no error"));
        assert_eq!(error.code(), code, "{name}");
        assert!(
            error.message().unwrap().starts_with(message),
            "{name}: {error:?}"
        );
    }
}

#[test]
fn failure_bodies_reduce_to_failed_with_unknown_for_a_bare_string() {
    let bare = video_result("error-bare-string.json").outcome();
    assert_eq!(
        bare,
        TaskOutcome::Failed {
            code: "unknown".into(),
            message: "upstream facilitator rejected the request".into()
        }
    );
    let task = video_result("error-forbidden-task.json");
    assert_eq!(
        task.task_id.as_deref(),
        Some("9bb3a2a6-c438-436d-a9f3-fa466abc077c")
    );
    assert!(matches!(task.outcome(), TaskOutcome::Failed { code, .. } if code == "forbidden"));
}

#[derive(Deserialize)]
struct Template {
    template_id: TemplateId,
    display_name: String,
    qualities: Vec<pixverse::Quality>,
}

#[test]
fn template_catalog_has_29_templates_six_of_them_without_hd() {
    let templates: Vec<Template> = serde_json::from_str(&fixture("templates.json")).unwrap();
    assert_eq!(templates.len(), 29);
    assert!(
        templates
            .iter()
            .all(|t| t.template_id.get() > 0 && !t.display_name.is_empty())
    );
    let low_only = templates
        .iter()
        .filter(|t| t.qualities == [pixverse::Quality::P360, pixverse::Quality::P540])
        .count();
    assert_eq!(low_only, 6);
}
