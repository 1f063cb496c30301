//! The `otel` feature: `pixq run` built with it, `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a
//! collector stand-in on loopback, exports the spans of a job over OTLP/HTTP. The stand-in
//! keeps the protobuf bodies; the ids and span names are plain UTF-8 inside them.
//!
//! Runs only with `cargo test -p pixq --features otel --test otel_export` (CI does).
#![cfg(feature = "otel")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use pixverse_sim::{Latency, SimConfig};
use serde_json::json;
use support::*;

type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

async fn traces(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received.lock().unwrap().push((content_type, body));
    StatusCode::OK
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_job_s_spans_reach_the_otlp_collector() {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let sim = SimConfig::default().with_latency(Latency::fixed(Duration::from_millis(300)));
    let setup = Setup::new(sim)
        .embedded()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector)
        .env("OTEL_SERVICE_NAME", "pixq-otel-test");
    let mut run = Run::start(setup).await;
    let id = run.submit(json!({"prompt": "a lantern in the fog"})).await;
    let jobs = run.wait_all_finished(1, Duration::from_secs(60)).await;
    let task = jobs[0]["upstream"]["task_id"].as_str().unwrap().to_owned();
    // The spans still queued are flushed when the process stops.
    run.terminate_server();
    run.wait_server_exit(Duration::from_secs(20))
        .await
        .expect("pixq run stops on SIGTERM");
    server.abort();

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "no export reached the collector");
    for (content_type, _) in received.iter() {
        assert_eq!(content_type, "application/x-protobuf");
    }
    let all: Vec<u8> = received.iter().flat_map(|(_, b)| b.to_vec()).collect();
    for needle in [
        "pixq-otel-test",
        id.as_str(),
        task.as_str(),
        "job_id",
        "task_id",
        "request",
        "submit",
        "poll",
        "commit",
    ] {
        assert!(contains(&all, needle), "{needle} was not exported");
    }
}
