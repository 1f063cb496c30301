//! How answers that are errors are classified, over real HTTP on 127.0.0.1: documented error
//! bodies, bare strings, bodies that are not JSON, rate limits, and 2xx bodies of the wrong
//! shape, on submits and on reads.

mod support;

use std::time::Duration;

use pixverse::{BatchQuery, ErrorKind, SubmitMode, Url};
use support::{fixture, quiver, serve, serve_json};

#[tokio::test]
async fn documented_error_bodies_are_classified_on_submits_and_reads() {
    // (fixture, status it is documented with, kind on a submit, kind on a read)
    let limited = ErrorKind::RateLimited { retry_after: None };
    let cases = [
        (
            "error-invalid-token.json",
            401,
            ErrorKind::Account,
            ErrorKind::Account,
        ),
        (
            "error-used-up.json",
            403,
            ErrorKind::Account,
            ErrorKind::Account,
        ),
        ("error-too-many-requests.json", 429, limited, limited),
        (
            "error-api-error.json",
            500,
            ErrorKind::OutcomeUnknown,
            ErrorKind::Transient,
        ),
        (
            "error-forbidden-task.json",
            403,
            ErrorKind::Permanent,
            ErrorKind::Permanent,
        ),
        (
            "error-bare-string.json",
            400,
            ErrorKind::Permanent,
            ErrorKind::Permanent,
        ),
    ];
    for (name, status, on_submit, on_read) in cases {
        let server = serve_json(status, &fixture(name)).await;
        let submit = server
            .client()
            .generate(&quiver(), SubmitMode::Async)
            .await
            .unwrap_err();
        assert_eq!(submit.kind(), on_submit, "{name} submit: {submit}");
        assert_eq!(submit.status(), Some(status));
        assert!(submit.trace_id().is_some(), "{name}");
        let read = server.client().retrieve("t").await.unwrap_err();
        assert_eq!(read.kind(), on_read, "{name} read: {read}");
    }
}

#[tokio::test]
async fn bare_string_error_keeps_the_string_as_message_and_has_no_code() {
    let server = serve_json(400, &fixture("error-bare-string.json")).await;

    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();

    assert_eq!(e.code(), None);
    assert_eq!(e.message(), "upstream facilitator rejected the request");
    assert_eq!(e.trace_id(), Some("7a1b2c3d-0000-4000-8000-00000000000e"));
    assert!(
        e.to_string()
            .contains("upstream facilitator rejected the request"),
        "{e}"
    );
}

#[tokio::test]
async fn non_json_200_on_submit_is_outcome_unknown_with_a_snippet() {
    let server = serve(
        200,
        &[("content-type", "text/html")],
        "<html>gateway hiccup</html>",
    )
    .await;

    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();

    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert!(e.is_outcome_unknown() && !e.is_retryable());
    assert!(
        e.message().contains("not JSON") && e.message().contains("gateway hiccup"),
        "{e}"
    );
}

#[tokio::test]
async fn non_json_200_on_read_is_transient() {
    let server = serve(200, &[], "<html>gateway hiccup</html>").await;

    let e = server.client().retrieve("t").await.unwrap_err();

    assert_eq!(e.kind(), ErrorKind::Transient);
    assert!(e.is_retryable());
}

#[tokio::test]
async fn non_json_502_is_outcome_unknown_on_submit_and_transient_on_read() {
    let server = serve(502, &[], "Bad Gateway").await;
    let submit = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(submit.kind(), ErrorKind::OutcomeUnknown);
    let read = server
        .client()
        .retrieve_batch(&BatchQuery::default())
        .await
        .unwrap_err();
    assert_eq!(read.kind(), ErrorKind::Transient);
    assert_eq!(read.status(), Some(502));
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds_is_retryable_with_the_delay() {
    let server = serve(
        429,
        &[("retry-after", "7")],
        fixture("error-too-many-requests.json"),
    )
    .await;

    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();

    assert_eq!(
        e.kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.is_retryable() && !e.is_outcome_unknown());
}

#[tokio::test]
async fn rate_limit_with_retry_after_http_date_gives_a_delay() {
    let at = httpdate_in(Duration::from_secs(120));
    let server = serve(429, &[("retry-after", &at)], "").await;

    let e = server.client().retrieve("t").await.unwrap_err();

    let delay = e.retry_after().expect("a delay");
    assert!(
        delay > Duration::from_secs(100) && delay <= Duration::from_secs(120),
        "{delay:?}"
    );
}

fn httpdate_in(d: Duration) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + d)
}

#[tokio::test]
async fn forbidden_403_without_code_is_account_level() {
    for body in ["", "Forbidden", r#"{"trace_id":"t"}"#] {
        let server = serve(403, &[], body).await;
        let e = server
            .client()
            .generate(&quiver(), SubmitMode::Async)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Account, "{body:?}: {e}");
        assert!(e.is_account_level());
    }
}

#[tokio::test]
async fn forbidden_403_with_code_forbidden_is_moderation_not_account() {
    let server = serve_json(403, &fixture("error-forbidden-task.json")).await;
    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert!(!e.is_account_level());
}

#[tokio::test]
async fn sync_failure_body_with_status_200_is_an_error_by_its_code() {
    let server = serve_json(200, &fixture("error-forbidden-task.json")).await;
    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Sync)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert_eq!(e.code(), Some("forbidden"));
}

#[tokio::test]
async fn submit_answer_without_task_id_or_video_is_outcome_unknown() {
    let server = serve_json(200, r#"{"success":true}"#).await;
    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
}

#[tokio::test]
async fn read_answer_of_the_wrong_shape_is_a_decode_error() {
    let server = serve_json(200, r#"{"id":["not","a","string"]}"#).await;
    let e = server.client().retrieve("t").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn record_without_id_is_not_found() {
    let server = serve_json(200, "{}").await;
    let e = server.client().retrieve("gone-1").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!e.is_retryable());
    assert!(e.message().contains("gone-1"), "{e}");
}

#[tokio::test]
async fn character_answer_without_asset_id_is_a_decode_error() {
    let server = serve_json(200, r#"{"success":true,"task_id":"x","data":{}}"#).await;
    let image = Url::parse("https://cdn.example/a.png").unwrap();
    let e = server
        .client()
        .create_character(&[image])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let server = serve(
        301,
        &[("location", "https://elsewhere.invalid/pixverse/videos")],
        "",
    )
    .await;
    let e = server
        .client()
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert_eq!(server.seen().len(), 1);
}
