//! Calls that get no usable HTTP answer: a dropped connection, a cut-off body, a refused
//! connection, a timeout. Only a failure before sending proves a submit created no task.

mod support;

use std::time::Duration;

use pixverse::{ClientConfig, ErrorKind, SubmitMode, Token, Url};
use support::{ACCEPTED, Raw, TOKEN, client, closed_port, quiver, serve_raw};

#[tokio::test]
async fn connection_closed_without_a_byte_after_submit_is_outcome_unknown() {
    let server = serve_raw(Raw::Drop).await;

    let e = client(&server.base)
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();

    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains(r#""prompt":"quiver""#)),
        "the request went out"
    );
}

#[tokio::test]
async fn connection_closed_without_a_byte_on_read_is_transient() {
    let server = serve_raw(Raw::Drop).await;
    let e = client(&server.base).retrieve("t").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
}

#[tokio::test]
async fn body_cut_short_after_submit_is_outcome_unknown() {
    let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"task_id\":";
    let server = serve_raw(Raw::Send(head.to_vec())).await;
    let e = client(&server.base)
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
}

#[tokio::test]
async fn refused_connection_on_submit_is_transient_because_nothing_was_sent() {
    let base = closed_port().await;
    let e = client(&base)
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert!(e.is_retryable());
}

fn timing_client(base: &Url) -> pixverse::Client {
    pixverse::Client::new(
        ClientConfig::new(Token::new(TOKEN))
            .with_base_url(base.clone())
            .with_request_timeout(Duration::from_millis(300))
            .with_sync_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

#[tokio::test]
async fn submit_timeout_is_outcome_unknown() {
    let server = serve_raw(Raw::Hang(Duration::from_secs(5))).await;
    let e = timing_client(&server.base)
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
}

#[tokio::test]
async fn sync_submit_waits_for_the_sync_timeout_not_the_request_timeout() {
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        ACCEPTED.len(),
        ACCEPTED
    );
    let server = serve_raw(Raw::After(Duration::from_millis(800), answer.into_bytes())).await;
    let client = timing_client(&server.base);

    let sync = client.generate(&quiver(), SubmitMode::Sync).await;
    assert!(sync.is_ok(), "{sync:?}");
    let not_sync = client
        .generate(&quiver(), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(not_sync.kind(), ErrorKind::OutcomeUnknown);
}
