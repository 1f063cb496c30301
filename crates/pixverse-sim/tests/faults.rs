//! Each injected fault answers as INTERFACE.md's fault table says, and creates a task exactly
//! when the table says so (checked through the ledger).

mod common;

use std::time::Duration;

use common::*;
use pixverse_sim::{Fault, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn with_fault(fault: Fault) -> SimConfig {
    fast().with_fault(fault, 1.0)
}

fn prompt() -> Value {
    json!({"prompt": "p", "async": true})
}

#[tokio::test]
async fn api_error_fails_at_once_without_a_task() {
    let t = setup(with_fault(Fault::ApiError)).await;
    let reply = t.submit(prompt()).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = reply.json();
    assert_eq!(
        keys(&body),
        sorted(&["success", "error", "trace_id"]),
        "{body}"
    );
    assert_eq!(body["success"], false);
    assert_eq!(
        body["error"],
        json!({"code": "api_error", "message": "fetch failed"})
    );
    assert!(t.ledger().await.is_empty());
    let lookup = t.retrieve("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(
        lookup.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "it hits /pixverse/tasks too"
    );
}

#[tokio::test]
async fn rate_limit_fault_gets_429_without_a_task() {
    let t = setup(with_fault(Fault::RateLimit)).await;
    let reply = t.submit(prompt()).await;
    assert_gateway_error(&reply, 429, "too_many_requests");
    assert_eq!(
        reply
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(t.ledger().await.is_empty());
    assert_gateway_error(&t.retrieve("x").await, 429, "too_many_requests");
}

#[tokio::test]
async fn moderation_refuses_with_a_forbidden_task_failure_and_no_task() {
    let t = setup(with_fault(Fault::Moderation)).await;
    let reply = t.submit(prompt()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let body = reply.json();
    assert_eq!(
        keys(&body),
        sorted(&["success", "error", "trace_id", "task_id"]),
        "{body}"
    );
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(is_uuid(&body["task_id"]));
    assert!(t.ledger().await.is_empty());
    assert_eq!(
        t.retrieve(body["task_id"].as_str().unwrap_or_default())
            .await
            .json(),
        json!({})
    );
}

#[tokio::test]
async fn bare_error_sends_the_error_as_a_plain_string() {
    let t = setup(with_fault(Fault::BareError)).await;
    let reply = t.submit(prompt()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = reply.json();
    assert_eq!(keys(&body), sorted(&["error", "trace_id"]));
    assert!(body["error"].is_string(), "{body}");
    assert!(t.ledger().await.is_empty());
}

#[tokio::test]
async fn timeout_answers_504_but_the_task_runs() {
    let t = setup(with_fault(Fault::Timeout)).await;
    assert_gateway_error(&t.submit(prompt()).await, 504, "timeout");
    let ledger = t.ledger().await;
    assert_eq!(ledger.len(), 1);
    let task_id = ledger[0]["task_id"].as_str().expect("a task id");
    assert_eq!(t.wait_finished(task_id).await["response"]["success"], true);
}

#[tokio::test]
async fn not_json_answers_200_with_an_unparsable_body_and_the_task_runs() {
    let t = setup(with_fault(Fault::NotJson)).await;
    let reply = t.submit(prompt()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        serde_json::from_str::<Value>(&reply.text).is_err(),
        "{}",
        reply.text
    );
    assert!(!reply.text.is_empty());
    let ledger = t.ledger().await;
    assert_eq!(ledger.len(), 1);
    t.wait_finished(ledger[0]["task_id"].as_str().expect("a task id"))
        .await;
}

#[tokio::test]
async fn generation_failed_accepts_then_fails_the_task() {
    let t = setup(with_fault(Fault::GenerationFailed)).await;
    let task_id = t.submit_async(json!({"prompt": "p"})).await;
    let record = t.wait_finished(&task_id).await;
    assert_eq!(record["response"]["success"], false);
    assert_eq!(record["response"]["error"]["code"], "api_error");
    assert_eq!(t.ledger().await.len(), 1);
    assert_eq!(t.stats().await["in_flight"][TOKEN], 0);
}

#[tokio::test]
async fn drop_after_submit_closes_without_an_answer_but_creates_the_task() {
    let t = setup(with_fault(Fault::DropAfterSubmit)).await;
    let error = t
        .http
        .post(format!("{}/pixverse/videos", t.base))
        .bearer_auth(TOKEN)
        .json(&prompt())
        .send()
        .await
        .expect_err("no answer at all");
    assert!(!error.is_status(), "{error}");
    let ledger = t.ledger().await;
    assert_eq!(ledger.len(), 1);
    t.wait_finished(ledger[0]["task_id"].as_str().expect("a task id"))
        .await;
    let stats = t.stats().await;
    assert_eq!(stats["requests"]["videos"]["dropped"], 1, "{stats}");
}

/// Sends one raw HTTP/1.1 submit and returns every byte the simulator sends back.
async fn raw_submit(t: &Bundle) -> Vec<u8> {
    let body = prompt().to_string();
    let request = format!(
        "POST /pixverse/videos HTTP/1.1\r\nhost: sim\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(t.sim.addr())
        .await
        .expect("a connection");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0_u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection was neither answered nor closed"
    );
    answer
}

#[tokio::test]
async fn drop_after_submit_sends_zero_bytes() {
    let t = setup(with_fault(Fault::DropAfterSubmit)).await;
    let answer = raw_submit(&t).await;
    assert!(
        answer.is_empty(),
        "got {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(t.ledger().await.len(), 1);

    t.admin("/_sim/faults", json!({"drop_after_submit": 0}))
        .await;
    let answer = raw_submit(&t).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn faults_change_at_run_time_and_keep_unnamed_rates() {
    let t = setup(fast().with_fault(Fault::Timeout, 0.25)).await;
    let reply = t.admin("/_sim/faults", json!({"api_error": 1})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let rates = reply.json();
    assert_eq!(rates["api_error"], 1.0);
    assert_eq!(rates["timeout"], 0.25, "a fault left out keeps its rate");
    assert_eq!(keys(&rates).len(), 8);
    assert_eq!(
        t.submit(prompt()).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let unknown = t
        .admin("/_sim/faults", json!({"api_error": 0, "flaky": 0.5}))
        .await;
    assert_gateway_error(&unknown, 400, "bad_request");
    assert!(
        unknown.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("flaky")
    );
    let too_high = t
        .admin("/_sim/faults", json!({"api_error": 0, "timeout": 1.5}))
        .await;
    assert_gateway_error(&too_high, 400, "bad_request");
    assert!(
        too_high.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout")
    );
    assert_eq!(
        t.get("/_sim/faults").await.json()["api_error"],
        1.0,
        "a refused change changes nothing"
    );

    t.admin("/_sim/faults", json!({"api_error": 0, "timeout": 0}))
        .await;
    t.submit_async(json!({"prompt": "p"})).await;
}

async fn outcomes(seed: u64) -> Vec<u16> {
    let config = fast()
        .with_latency(pixverse_sim::Latency::fixed(Duration::ZERO))
        .with_max_in_flight(1000)
        .with_seed(seed)
        .with_fault(Fault::ApiError, 0.3)
        .with_fault(Fault::Timeout, 0.3);
    let t = setup(config).await;
    let mut statuses = Vec::new();
    for _ in 0..32 {
        statuses.push(t.submit(prompt()).await.status.as_u16());
    }
    statuses
}

#[tokio::test]
async fn a_seed_reproduces_the_fault_sequence() {
    let first = outcomes(42).await;
    assert_eq!(first, outcomes(42).await);
    assert!(
        first.contains(&500) && first.contains(&504) && first.contains(&200),
        "{first:?}"
    );
    assert_ne!(first, outcomes(43).await);
}

#[tokio::test]
async fn answer_delay_holds_the_answer_after_the_task_exists() {
    let t = setup(fast().with_answer_delay(Duration::from_millis(800))).await;
    let base = t.base.clone();
    let http = t.http.clone();
    let started = std::time::Instant::now();
    let submit = tokio::spawn(async move {
        http.post(format!("{base}/pixverse/videos"))
            .bearer_auth(TOKEN)
            .json(&prompt())
            .send()
            .await
            .expect("an answer")
            .json::<Value>()
            .await
            .expect("json")
    });
    // The task is in the ledger while the answer is still held back.
    let ledger = eventually(|| async {
        let ledger = t.ledger().await;
        (!ledger.is_empty()).then_some(ledger)
    })
    .await
    .expect("the task is created before the answer");
    assert!(!submit.is_finished(), "answered too early");
    let answer = submit.await.expect("joined");
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(answer["task_id"], ledger[0]["task_id"]);
}
