//! The simulator side of the client's tests: a `pixverse-sim` on 127.0.0.1:0 with a real client
//! pointed at it, its admin endpoints, waits with deadlines that keep to the simulator's one
//! poll a second per task, and a callback receiver.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use pixverse::{Client, ClientConfig, Error, ErrorKind, TaskRecord, Token, Url};
use pixverse_sim::{Latency, SimConfig, SimHandle};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::TOKEN;

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A little more than the simulator's one-poll-a-second window per task.
const POLL_EVERY: Duration = Duration::from_millis(1_100);

/// A simulator that accepts [`TOKEN`], with `latency` per task (e.g. `200ms..300ms`).
pub fn config(latency: &str) -> SimConfig {
    SimConfig::default()
        .with_latency(latency.parse::<Latency>().expect("a valid latency"))
        .with_tokens([TOKEN])
}

/// A running simulator and a client of it that uses [`TOKEN`].
pub struct Sim {
    pub sim: SimHandle,
    pub base: Url,
    pub client: Client,
    admin: reqwest::Client,
}

/// Starts a simulator with `config`; it stops when the bundle is dropped.
pub async fn start(config: SimConfig) -> Sim {
    let sim = pixverse_sim::spawn(config)
        .await
        .expect("the simulator starts");
    let base = Url::parse(&sim.base_url()).expect("a base URL");
    Sim {
        client: super::client(&base),
        base,
        sim,
        admin: reqwest::Client::new(),
    }
}

impl Sim {
    /// Another client of this simulator, with another token.
    pub fn client_as(&self, token: &str) -> Client {
        Client::new(
            ClientConfig::new(Token::new(token))
                .with_base_url(self.base.clone())
                .with_request_timeout(Duration::from_secs(5)),
        )
        .expect("a client")
    }

    async fn admin_post(&self, path: &str, body: Value) -> Value {
        let response = self
            .admin
            .post(format!("{}{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .expect("the simulator answers");
        assert!(
            response.status().is_success(),
            "{path} {body}: {response:?}"
        );
        response.json().await.expect("JSON")
    }

    /// Changes fault rates at run time: `json!({"api_error": 1.0})`.
    pub async fn faults(&self, rates: Value) {
        self.admin_post("/_sim/faults", rates).await;
    }

    /// Sets a token's state: ok, used_up, invalid, disabled, expired or mismatched.
    pub async fn token_state(&self, token: &str, state: &str) {
        let body = json!({"token": token, "state": state});
        self.admin_post("/_sim/tokens", body).await;
    }

    /// Every task the simulator created (and would bill), oldest first.
    pub async fn ledger(&self) -> Vec<Value> {
        let url = format!("{}/_sim/ledger", self.sim.base_url());
        let response = self.admin.get(url).send().await.expect("the ledger");
        response.json().await.expect("a JSON ledger")
    }
}

/// Makes `call` again while it is rate limited, after the delay the answer asked for, until
/// [`DEADLINE`]; returns the first answer that is not a rate limit.
pub async fn patiently<T, F, Fut>(mut call: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        match call().await {
            Err(e) if matches!(e.kind(), ErrorKind::RateLimited { .. }) => {
                assert!(Instant::now() < deadline, "still rate limited: {e}");
                tokio::time::sleep(e.retry_after().unwrap_or(POLL_EVERY)).await;
            }
            other => return other,
        }
    }
}

/// Polls a task, at most once a second, until it has ended; panics after [`DEADLINE`].
pub async fn wait_until_done(client: &Client, task_id: &str) -> TaskRecord {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let record = patiently(|| client.retrieve(task_id))
            .await
            .unwrap_or_else(|e| panic!("polling {task_id}: {e}"));
        if record.outcome().is_terminal() {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "task {task_id} still running: {record:?}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Now in epoch seconds, floored to the millisecond the simulator stamps `created_at` with.
pub fn epoch_now() -> f64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_millis() as f64 / 1000.0
}

/// A callback endpoint on 127.0.0.1:0 that answers 200 and hands over what it received.
pub struct Callbacks {
    base: String,
    received: mpsc::UnboundedReceiver<(String, Bytes)>,
}

impl Callbacks {
    pub async fn start() -> Self {
        let (sender, received) = mpsc::unbounded_channel();
        let app = Router::new()
            .fallback(
                |State(s): State<mpsc::UnboundedSender<_>>, uri: Uri, body: Bytes| async move {
                    let _ = s.send((uri.path().to_owned(), body));
                },
            )
            .with_state(sender);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Callbacks { base, received }
    }

    /// The callback URL of one job, unique to it.
    pub fn url(&self, job: &str) -> Url {
        Url::parse(&format!("{}/callbacks/{job}", self.base)).unwrap()
    }

    /// The next callback: its path and body; panics after [`DEADLINE`].
    pub async fn next(&mut self) -> (String, Bytes) {
        tokio::time::timeout(DEADLINE, self.received.recv())
            .await
            .expect("a callback within the deadline")
            .expect("the receiver is running")
    }
}
