//! `api.max_body`: a declared length over it is refused before reading, and a chunked body
//! that grows past it is cut off; both are 413 in the JSON envelope.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::setup::{Api, Backend, code_and_field, on_each_backend};

on_each_backend!(
    a_declared_length_over_the_limit_is_413,
    a_chunked_body_growing_past_the_limit_is_413,
    a_callback_body_is_bounded_too,
);

const LIMIT: usize = 4096;

async fn small_api(backend: Backend) -> Api {
    Api::start_with(
        backend,
        pixq_api::ApiConfig {
            max_body: LIMIT,
            ..pixq_api::ApiConfig::default()
        },
    )
    .await
}

fn job_of_size(size: usize) -> String {
    let overhead = r#"{"prompt": "a", "metadata": ""}"#.len();
    format!(
        r#"{{"prompt": "a", "metadata": "{}"}}"#,
        "x".repeat(size - overhead)
    )
}

async fn a_declared_length_over_the_limit_is_413(backend: Backend) {
    let api = small_api(backend).await;
    let (status, body) = api
        .post_raw(
            "/v1/jobs",
            Some("application/json"),
            job_of_size(LIMIT + 1).into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(code_and_field(&body).0, "payload_too_large");
    let (status, body) = api
        .post_raw(
            "/v1/jobs",
            Some("application/json"),
            job_of_size(LIMIT).into_bytes(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "exactly the limit is fine: {body}"
    );
}

/// Sends `body` in chunks without a Content-Length and answers the raw response.
async fn post_chunked(api: &Api, path: &str, body: &[u8]) -> String {
    let addr = api.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    for chunk in body.chunks(1000) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server stopped reading: its answer is waiting
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response));
    let _ = read.await.expect("the server answers within 10 s");
    String::from_utf8_lossy(&response).into_owned()
}

async fn a_chunked_body_growing_past_the_limit_is_413(backend: Backend) {
    let api = small_api(backend).await;
    let response = post_chunked(&api, "/v1/jobs", job_of_size(LIMIT * 3).as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"payload_too_large\""), "{response}");

    let response = post_chunked(&api, "/v1/jobs", job_of_size(LIMIT).as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");
}

async fn a_callback_body_is_bounded_too(backend: Backend) {
    let api = small_api(backend).await;
    let id = api.create_id("a").await;
    api.to_generating(&id, Some("s")).await;
    let (status, body) = api
        .post_raw(
            &format!("/v1/upstream/callback/{id}/s"),
            Some("application/json"),
            job_of_size(LIMIT * 2).into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, _) = api
        .post(
            &format!("/v1/upstream/callback/{id}/s"),
            &json!({"task_id": "t"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}
