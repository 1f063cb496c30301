//! Every error the simulator can produce, through the real client over HTTP: the kind, code
//! and status each one gets, whether a task was left behind, rate limits with Retry-After, and
//! the token never showing in what an error or the client prints.

mod support;

use std::time::Duration;

use pixverse::{
    BatchQuery, ErrorKind, ExtendRequest, GenerateRequest, Quality, Submission, SubmitBody,
    SubmitMode, VideoDuration, VideoId,
};
use serde_json::json;
use support::TOKEN;
use support::sim::{Sim, config, patiently, start, wait_until_done};

const ONE_SECOND: Option<Duration> = Some(Duration::from_secs(1));

fn quiver() -> SubmitBody {
    SubmitBody::generate(&GenerateRequest::new("quiver"), &SubmitMode::Async)
}

async fn submit_ok(s: &Sim) -> String {
    let submission = s.client.submit(&quiver()).await.unwrap();
    submission.task_id().expect("a task id").to_owned()
}

/// Asserts an error's kind, code and status at once, so a failure shows all three.
fn assert_error(e: &pixverse::Error, kind: ErrorKind, code: Option<&str>, status: Option<u16>) {
    assert_eq!(
        (e.kind(), e.code(), e.status()),
        (kind, code, status),
        "{e}"
    );
}

#[tokio::test]
async fn an_unknown_token_is_invalid_token_401_and_an_account_error() {
    let s = start(config("0s")).await;
    let stranger = s.client_as("tok-nobody-knows");
    let e = stranger.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::Account, Some("invalid_token"), Some(401));
    assert!(e.is_account_level() && e.trace_id().is_some(), "{e}");
    let e = stranger.retrieve("any").await.unwrap_err();
    assert_error(&e, ErrorKind::Account, Some("invalid_token"), Some(401));
    assert!(s.ledger().await.is_empty());
}

#[tokio::test]
async fn token_states_set_at_run_time_are_account_errors_with_their_codes() {
    let s = start(config("0s")).await;
    for (state, code, status) in [
        ("expired", "token_expired", 401),
        ("mismatched", "token_mismatched", 400),
        ("disabled", "disabled", 403),
        ("invalid", "invalid_token", 401),
    ] {
        s.token_state(TOKEN, state).await;
        let e = s.client.submit(&quiver()).await.unwrap_err();
        assert_error(&e, ErrorKind::Account, Some(code), Some(status));
        let e = s.client.retrieve("any").await.unwrap_err();
        assert_error(&e, ErrorKind::Account, Some(code), Some(status));
    }
    s.token_state(TOKEN, "ok").await;
    submit_ok(&s).await;
    assert_eq!(s.ledger().await.len(), 1);
}

#[tokio::test]
async fn a_used_up_token_cannot_submit_but_still_looks_up_its_tasks() {
    let s = start(config("200ms..300ms")).await;
    let task_id = submit_ok(&s).await;
    s.token_state(TOKEN, "used_up").await;

    let e = s.client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::Account, Some("used_up"), Some(403));
    assert!(e.message().contains("balance"), "{e}");
    let images = [pixverse::Url::parse("https://cdn.example/face.png").unwrap()];
    let e = s.client.create_character(&images).await.unwrap_err();
    assert_error(&e, ErrorKind::Account, Some("used_up"), Some(403));

    let record = wait_until_done(&s.client, &task_id).await;
    assert!(record.is_for(&quiver()) && record.outcome().is_terminal());
    let mine = BatchQuery::ids([task_id.clone()]);
    let batch = patiently(|| s.client.retrieve_batch(&mine)).await.unwrap();
    assert_eq!(batch.items.len(), 1);
    assert_eq!(s.ledger().await.len(), 1);
}

#[tokio::test]
async fn invalid_parameters_are_bad_request_and_permanent() {
    let s = start(config("0s")).await;
    let mut hd_long = GenerateRequest::new("quiver");
    hd_long.quality = Some(Quality::P1080);
    hd_long.duration = Some(VideoDuration::Eight);
    let e = s
        .client
        .generate(&hd_long, SubmitMode::Async)
        .await
        .unwrap_err();
    assert_error(&e, ErrorKind::Permanent, Some("bad_request"), Some(400));
    assert!(e.message().contains("1080p"), "{e}");

    let unknown = ExtendRequest::new(VideoId(317_982_208_110_208), "more");
    let e = s
        .client
        .extend(&unknown, SubmitMode::Async)
        .await
        .unwrap_err();
    assert_error(&e, ErrorKind::Permanent, Some("bad_request"), Some(400));
    assert!(e.message().contains("video_id"), "{e}");
    assert!(!e.is_retryable());
    assert!(s.ledger().await.is_empty());
}

#[tokio::test]
async fn a_wrong_base_path_is_no_api_and_permanent() {
    let s = start(config("0s")).await;
    let base = s.base.join("/v2/").unwrap();
    let client = support::client(&base);
    let e = client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::Permanent, Some("no_api"), Some(404));
}

#[tokio::test]
async fn moderation_is_forbidden_and_permanent_in_the_task_failure_envelope() {
    let s = start(config("0s")).await;
    s.faults(json!({"moderation": 1.0})).await;
    let e = s.client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::Permanent, Some("forbidden"), Some(403));
    assert!(e.message().contains("moderators"), "{e}");
    assert!(e.trace_id().is_some(), "{e}");
    assert!(s.ledger().await.is_empty());
}

#[tokio::test]
async fn rate_limit_and_the_in_flight_limit_are_rate_limited_with_retry_after_one_second() {
    let s = start(config("500ms").with_max_in_flight(1)).await;
    s.faults(json!({"rate_limit": 1.0})).await;
    let e = s.client.submit(&quiver()).await.unwrap_err();
    let limited = ErrorKind::RateLimited {
        retry_after: ONE_SECOND,
    };
    assert_error(&e, limited, Some("too_many_requests"), Some(429));
    assert!(
        e.is_retryable() && e.to_string().contains("retry after 1 s"),
        "{e}"
    );
    s.faults(json!({"rate_limit": 0.0})).await;

    let running = submit_ok(&s).await;
    let e = s.client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, limited, Some("too_many_requests"), Some(429));
    assert_eq!(e.retry_after(), ONE_SECOND);
    assert_eq!(s.ledger().await.len(), 1);
    // The slot frees when the running task ends.
    wait_until_done(&s.client, &running).await;
    submit_ok(&s).await;
    assert_eq!(s.ledger().await.len(), 2);
}

#[tokio::test]
async fn api_error_is_outcome_unknown_on_submit_and_transient_on_retrieve() {
    let s = start(config("0s")).await;
    let task_id = submit_ok(&s).await;
    s.faults(json!({"api_error": 1.0})).await;

    let e = s.client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::OutcomeUnknown, Some("api_error"), Some(500));
    assert!(e.is_outcome_unknown() && !e.is_retryable(), "{e}");
    let e = s.client.retrieve(&task_id).await.unwrap_err();
    assert_error(&e, ErrorKind::Transient, Some("api_error"), Some(500));
    assert!(e.is_retryable(), "{e}");
    assert_eq!(s.ledger().await.len(), 1, "the failed submit made no task");
}

#[tokio::test]
async fn gateway_timeout_on_submit_is_outcome_unknown_and_the_task_was_created() {
    let s = start(config("0s")).await;
    s.faults(json!({"timeout": 1.0})).await;
    let body = quiver();
    let e = s.client.submit(&body).await.unwrap_err();
    assert_error(&e, ErrorKind::OutcomeUnknown, Some("timeout"), Some(504));

    let ledger = s.ledger().await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert!(body.matches(&ledger[0]["request"]), "{ledger:?}");
    let task_id = ledger[0]["task_id"].as_str().unwrap();
    assert!(wait_until_done(&s.client, task_id).await.is_for(&body));
}

#[tokio::test]
async fn a_bare_string_error_is_permanent_with_the_string_as_its_message() {
    let s = start(config("0s")).await;
    s.faults(json!({"bare_error": 1.0})).await;
    let e = s.client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::Permanent, None, Some(400));
    assert_eq!(e.message(), "upstream facilitator rejected the request");
    assert!(s.ledger().await.is_empty());
}

#[tokio::test]
async fn a_submit_answered_with_a_body_that_is_not_json_is_outcome_unknown_and_the_task_exists() {
    let s = start(config("0s")).await;
    s.faults(json!({"not_json": 1.0})).await;
    let body = quiver();
    let e = s.client.submit(&body).await.unwrap_err();
    assert_error(&e, ErrorKind::OutcomeUnknown, None, Some(200));
    assert!(e.message().contains("not JSON"), "{e}");

    let ledger = s.ledger().await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert!(body.matches(&ledger[0]["request"]));
    let listed = s
        .client
        .retrieve_batch(&BatchQuery::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.items[0].is_for(&body));
}

#[tokio::test]
async fn a_second_poll_within_a_second_is_rate_limited_with_retry_after_one_second() {
    let s = start(config("200ms..300ms")).await;
    let task_id = submit_ok(&s).await;
    s.client.retrieve(&task_id).await.unwrap();

    let e = s.client.retrieve(&task_id).await.unwrap_err();
    let limited = ErrorKind::RateLimited {
        retry_after: ONE_SECOND,
    };
    assert_error(&e, limited, Some("too_many_requests"), Some(429));
    let e = s
        .client
        .retrieve_batch(&BatchQuery::ids([task_id.clone()]))
        .await
        .unwrap_err();
    assert_eq!(e.retry_after(), ONE_SECOND, "{e}");

    // Waiting as long as the answer asked is enough.
    tokio::time::sleep(e.retry_after().unwrap()).await;
    let record = s.client.retrieve(&task_id).await.unwrap();
    assert_eq!(record.id.as_deref(), Some(task_id.as_str()));
}

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "{what} shows the token: {text}");
    assert!(!text.contains("SECRET"), "{what} shows part of it: {text}");
}

fn assert_error_hidden(e: &pixverse::Error) {
    for (what, text) in [
        ("Display", format!("{e}")),
        ("alternate Display", format!("{e:#}")),
        ("Debug", format!("{e:?}")),
        ("pretty Debug", format!("{e:#?}")),
    ] {
        assert_hidden(what, &text);
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        assert_hidden("source", &format!("{cause} {cause:?}"));
        source = cause.source();
    }
}

#[tokio::test]
async fn the_token_never_shows_in_the_client_or_its_errors() {
    let s = start(config("0s")).await;
    assert_hidden("client Debug", &format!("{:?} {:#?}", s.client, s.client));
    let accepted = s.client.submit(&quiver()).await.unwrap();
    assert!(matches!(accepted, Submission::Accepted { .. }));

    s.token_state(TOKEN, "invalid").await;
    let e = s.client.submit(&quiver()).await.unwrap_err();
    assert_error(&e, ErrorKind::Account, Some("invalid_token"), Some(401));
    assert_error_hidden(&e);

    let client = s.client.clone();
    s.sim.shutdown().await;
    let e = client.retrieve("any").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert_eq!(e.status(), None, "{e}");
    assert_error_hidden(&e);
    let e = client.submit(&quiver()).await.unwrap_err();
    assert!(
        e.status().is_none() && e.kind() != ErrorKind::Permanent,
        "{e}"
    );
    assert_error_hidden(&e);
}
