//! The shared setup of the simulator's black-box tests: a running simulator on a free port, a
//! client, small helpers for its endpoints, and a callback receiver.
#![allow(dead_code)] // each test file uses a different part

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use pixverse_sim::{Latency, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The token every default simulator accepts.
pub const TOKEN: &str = "sim-token";
/// How long any wait in these tests may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A simulator and a client for it.
pub struct Bundle {
    pub sim: SimHandle,
    pub http: reqwest::Client,
    pub base: String,
}

/// A reply: status, headers and the raw body text.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }
}

/// Fast tasks (200–300 ms) and no poll limit: what most tests want.
pub fn fast() -> SimConfig {
    SimConfig::default()
        .with_latency(Latency::between(
            Duration::from_millis(200),
            Duration::from_millis(300),
        ))
        .with_min_poll_interval(Duration::ZERO)
}

/// Tasks that stay running for the whole test.
pub fn slow() -> SimConfig {
    fast().with_latency(Latency::fixed(Duration::from_secs(60)))
}

pub async fn setup(config: SimConfig) -> Bundle {
    let sim = pixverse_sim::spawn(config)
        .await
        .expect("the simulator starts");
    let base = sim.base_url();
    Bundle {
        sim,
        http: reqwest::Client::new(),
        base,
    }
}

impl Bundle {
    /// POSTs a raw body with an optional bearer token.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the simulator answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// POSTs JSON with a token.
    pub async fn post_as(&self, path: &str, token: &str, body: Value) -> Reply {
        self.post_raw(path, Some(token), body.to_string()).await
    }

    /// Submits to `/pixverse/videos` with the default token.
    pub async fn submit(&self, body: Value) -> Reply {
        self.post_as("/pixverse/videos", TOKEN, body).await
    }

    /// Submits in async mode and returns the task id; panics unless accepted.
    pub async fn submit_async(&self, body: Value) -> String {
        self.submit_async_as(TOKEN, body).await
    }

    pub async fn submit_async_as(&self, token: &str, mut body: Value) -> String {
        body["async"] = json!(true);
        let reply = self.post_as("/pixverse/videos", token, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["task_id"]
            .as_str()
            .expect("a task id")
            .to_owned()
    }

    /// `retrieve` with the default token.
    pub async fn retrieve(&self, id: &str) -> Reply {
        self.post_as(
            "/pixverse/tasks",
            TOKEN,
            json!({"action": "retrieve", "id": id}),
        )
        .await
    }

    /// `retrieve_batch` with a token and extra filters.
    pub async fn batch_as(&self, token: &str, mut filters: Value) -> Reply {
        filters["action"] = json!("retrieve_batch");
        self.post_as("/pixverse/tasks", token, filters).await
    }

    /// Polls until the record satisfies `done`, and returns it; fails the test at the deadline.
    pub async fn wait_record(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let record = eventually(|| async {
            let reply = self.retrieve(id).await;
            (reply.status == StatusCode::OK)
                .then(|| reply.json())
                .filter(|record| done(record))
        })
        .await;
        record.unwrap_or_else(|| panic!("task {id} did not get there in time"))
    }

    /// Polls until the task has finished (success or failure).
    pub async fn wait_finished(&self, id: &str) -> Value {
        self.wait_record(id, |record| record.get("finished_at").is_some())
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the simulator answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// POSTs to an admin endpoint (no token).
    pub async fn admin(&self, path: &str, body: Value) -> Reply {
        self.post_raw(path, None, body.to_string()).await
    }

    pub async fn ledger(&self) -> Vec<Value> {
        match self.get("/_sim/ledger").await.json() {
            Value::Array(entries) => entries,
            other => panic!("the ledger is not an array: {other}"),
        }
    }

    pub async fn stats(&self) -> Value {
        self.get("/_sim/stats").await.json()
    }

    /// Waits until the stats satisfy `ready` and returns them.
    pub async fn wait_stats(&self, ready: impl Fn(&Value) -> bool) -> Value {
        eventually(|| async {
            let stats = self.stats().await;
            ready(&stats).then_some(stats)
        })
        .await
        .unwrap_or_else(|| panic!("stats never got there"))
    }
}

/// Retries `attempt` every 20 ms until it gives `Some`, or `None` at the deadline.
pub async fn eventually<T, F, Fut>(mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if let Some(value) = attempt().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Now in epoch seconds.
pub fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64()
}

/// Whether a string is a hyphenated UUID.
pub fn is_uuid(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok() && s.len() == 36)
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Sorted owned strings, to compare with [`keys`].
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    names.sort();
    names
}

/// Asserts a gateway error: status, exactly `error` and `trace_id`, and the code.
pub fn assert_gateway_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    let body = reply.json();
    assert_eq!(keys(&body), sorted(&["error", "trace_id"]), "{body}");
    assert_eq!(keys(&body["error"]), sorted(&["code", "message"]), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(is_uuid(&body["trace_id"]), "{body}");
}

/// One callback as the receiver got it.
#[derive(Debug)]
pub struct Delivery {
    pub at: f64,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A tiny HTTP server that records every POST to `/cb` and answers with a settable status.
pub struct Receiver {
    pub url: String,
    pub status: Arc<AtomicU16>,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

#[derive(Clone)]
struct ReceiverState {
    sender: mpsc::UnboundedSender<Delivery>,
    status: Arc<AtomicU16>,
}

async fn record_callback(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: String,
) -> axum::http::StatusCode {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = state.sender.send(Delivery {
        at: epoch_now(),
        headers,
        body,
    });
    axum::http::StatusCode::from_u16(state.status.load(Ordering::SeqCst))
        .unwrap_or(axum::http::StatusCode::OK)
}

pub async fn callback_receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("an address");
    let (sender, deliveries) = mpsc::unbounded_channel();
    let status = Arc::new(AtomicU16::new(200));
    let app = Router::new()
        .route("/cb", post(record_callback))
        .with_state(ReceiverState {
            sender,
            status: status.clone(),
        });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/cb"),
        status,
        deliveries,
    }
}

impl Receiver {
    /// The next callback; fails the test at the deadline.
    pub async fn next(&mut self) -> Delivery {
        tokio::time::timeout(DEADLINE, self.deliveries.recv())
            .await
            .expect("a callback in time")
            .expect("the receiver runs")
    }

    /// A callback already received and not yet taken, if any.
    pub fn try_next(&mut self) -> Option<Delivery> {
        self.deliveries.try_recv().ok()
    }
}
