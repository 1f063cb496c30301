//! [`Api`]: one API server on `127.0.0.1:0` with its own key prefix, and the client calls the
//! tests make. Its keys are deleted when it drops, even when the test panicked.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use pixq_api::{ApiConfig, AppState, UpstreamLimits, prometheus_handle, serve};
use pixq_core::job::{Job, JobError, JobId, JobResult, NextStep};
use pixq_core::queue::Schedule;
use pixq_core::redis::RedisStore;
use pixq_core::state::Transition;
use pixq_core::store::{Outcome, Store};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Long enough that nothing expires during a test.
const RETENTION: Duration = Duration::from_secs(3600);

pub fn redis_url() -> String {
    std::env::var("PIXQ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A running API and what a test needs to look behind it.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub store: RedisStore,
    pub schedule: Schedule,
    /// The upstream limits as a worker would write them.
    pub limits: UpstreamLimits,
    prefix: String,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    proxy: Option<Proxy>,
}

impl Api {
    /// An API with the default configuration (no auth).
    pub async fn start() -> Api {
        Api::start_with(ApiConfig::default()).await
    }

    /// An API with `config`.
    pub async fn start_with(config: ApiConfig) -> Api {
        Api::launch(config, false).await
    }

    /// An API whose every Redis connection goes through a proxy that [`Api::cut_redis`]
    /// closes, to see what the API does when Redis goes away.
    pub async fn start_behind_proxy() -> Api {
        Api::launch(ApiConfig::default(), true).await
    }

    async fn launch(config: ApiConfig, proxied: bool) -> Api {
        let direct = redis_url();
        let proxy = if proxied {
            Some(Proxy::start(&direct).await)
        } else {
            None
        };
        let url = proxy
            .as_ref()
            .map_or(direct.clone(), |p| format!("redis://{}", p.addr));
        let client = redis::Client::open(url.as_str()).expect("a valid Redis URL");
        let conn = connect(&client, &url).await;
        let prefix = format!("pixq-test-api-{}", uuid::Uuid::new_v4().simple());
        let store = RedisStore::new(conn.clone(), &prefix, RETENTION);
        let schedule = Schedule::new(conn.clone(), &prefix);
        let limits = UpstreamLimits::new(conn.clone(), &prefix);
        let state = AppState::new(
            store.clone(),
            schedule.clone(),
            conn,
            config,
            prometheus_handle(),
            limits,
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(listener, state, shutdown.clone()));
        // The test's own view of the store goes straight to Redis, so it keeps working after
        // the proxy is cut.
        let direct_client = redis::Client::open(direct.as_str()).expect("a valid Redis URL");
        let direct_conn = connect(&direct_client, &direct).await;
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store: RedisStore::new(direct_conn.clone(), &prefix, RETENTION),
            schedule: Schedule::new(direct_conn.clone(), &prefix),
            limits: UpstreamLimits::new(direct_conn, &prefix),
            prefix,
            shutdown,
            server: Some(server),
            proxy,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Closes the proxy between the API and Redis, and every connection through it.
    pub fn cut_redis(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.task.abort();
        }
    }

    /// POSTs `body` as JSON.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// POSTs raw bytes with a content type (or none).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(self.http.get(self.url(path)).send().await.expect("request")).await
    }

    /// Creates a job through the API and answers its object.
    pub async fn create(&self, body: Value) -> Value {
        let (status, job) = self.post("/v1/jobs", &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        job
    }

    /// Creates a plain job and answers its id.
    pub async fn create_id(&self, prompt: &str) -> JobId {
        let job = self.create(json!({"prompt": prompt})).await;
        JobId::from(job["id"].as_str().expect("an id"))
    }

    pub async fn job(&self, id: &JobId) -> Job {
        self.store
            .get(id)
            .await
            .expect("get")
            .expect("the job exists")
    }

    /// Applies `transition` through the store, which must accept it.
    pub async fn apply(&self, transition: Transition) -> Job {
        match self.store.apply(transition).await.expect("apply") {
            Outcome::Applied(job) => job,
            other => panic!("transition did not apply: {other:?}"),
        }
    }

    /// Drives a queued job to `generating` with a fresh task id and `callback_secret`.
    pub async fn to_generating(&self, id: &JobId, callback_secret: Option<&str>) -> Job {
        let secret = callback_secret.map(str::to_owned);
        self.apply(Transition::begin_submit(id.clone(), "{}".into(), secret))
            .await;
        let task = uuid::Uuid::new_v4().to_string();
        self.apply(Transition::submitted(id.clone(), task, None))
            .await
    }

    /// Drives a queued job to `failed`.
    pub async fn to_failed(&self, id: &JobId) -> Job {
        let error = JobError::new("api_error", "upstream failure", true);
        self.apply(Transition::fail(id.clone(), error)).await
    }

    /// Drives a queued job to `succeeded`, creating its next step (queued).
    pub async fn succeed_with_child(&self, id: &JobId) -> (Job, JobId) {
        self.to_generating(id, None).await;
        let next = NextStep {
            action: pixq_core::job::Action::Extend,
            params: json!({"action": "extend", "video_id": 11, "prompt": "next"}),
        };
        let parent = self
            .apply(Transition::succeed(id.clone(), video(11), Some(next)))
            .await;
        let child = parent.children.first().expect("a child").clone();
        (parent, child)
    }

    /// Takes every due job off this API's schedule.
    pub async fn drain_schedule(&self) {
        let later = Utc::now() + chrono::Duration::days(1);
        self.schedule
            .take_due(later, 100_000)
            .await
            .expect("take due");
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the server stops within 10 s");
            result.expect("server task").expect("server result");
        }
    }
}

impl Drop for Api {
    /// Deletes this test's keys, and only them, even when the test panicked.
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(proxy) = self.proxy.take() {
            proxy.task.abort();
        }
        let cleanup = || -> redis::RedisResult<()> {
            let client = redis::Client::open(redis_url().as_str())?;
            let mut conn = client.get_connection()?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.prefix))
                .query(&mut conn)?;
            for chunk in keys.chunks(500) {
                let _: () = redis::cmd("DEL").arg(chunk).query(&mut conn)?;
            }
            Ok(())
        };
        if let Err(e) = cleanup() {
            eprintln!("could not delete the keys under {}: {e}", self.prefix);
        }
    }
}

/// A connection manager that gives up on a gone Redis within about a second, as a deployment
/// should configure it, so that the tests that cut Redis do not wait for long retries.
async fn connect(client: &redis::Client, url: &str) -> ConnectionManager {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    client
        .get_connection_manager_with_config(config)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} must be up for the API tests: {e}"))
}

/// The status and the JSON body; asserts that every error is the JSON envelope.
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let (status, body) = read_json(response).await;
    if !status.is_success() {
        assert_error_shape(&body);
    }
    (status, body)
}

/// The status and the JSON body, of any shape.
pub async fn read_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content type {content_type:?}"
    );
    (status, body)
}

/// `{"error":{"code":"…","message":"…","field":"…"?}}` and nothing else.
pub fn assert_error_shape(body: &Value) {
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {body}"));
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    assert!(error["code"].is_string(), "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error.get("field").is_none_or(Value::is_string), "{body}");
    assert!(
        error
            .keys()
            .all(|k| ["code", "message", "field"].contains(&k.as_str())),
        "{body}"
    );
}

/// The error's code and field.
pub fn code_and_field(body: &Value) -> (String, Option<String>) {
    (
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["field"].as_str().map(str::to_owned),
    )
}

pub fn video(id: u64) -> JobResult {
    serde_json::from_value(
        json!({"video_id": id, "video_url": format!("https://cdn.example/{id}.mp4")}),
    )
    .expect("a result")
}

/// A TCP proxy to Redis that a test can close, with every connection through it.
struct Proxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(redis_url: &str) -> Proxy {
        let target = redis_url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                pipes.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { addr, task }
    }
}
