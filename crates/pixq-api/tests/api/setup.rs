//! [`Api`]: one API server on `127.0.0.1:0` over its own store (a Redis key prefix or a
//! temporary `data_dir`), and the client calls the tests make. Its keys or its directory go
//! when it drops, even when the test panicked.
//!
//! [`on_each_backend!`](on_each_backend) runs a test written as `async fn(Backend)` once per
//! backend.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_api::{ApiConfig, AppState, serve};
use pixq_core::job::{Job, JobError, JobId, JobResult, NextStep};
use pixq_core::redis::RedisStore;
use pixq_core::state::Transition;
use pixq_core::store::{Home, Outcome, SharedStore};
use pixq_testkit::data_dir::TempDataDir;
use pixq_testkit::redis::TestPrefix;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Long enough that nothing expires during a test.
const RETENTION: Duration = Duration::from_secs(3600);

/// Instantiates each named `async fn(Backend)` as a test on each backend: `redis::<name>` and
/// `sqlite::<name>`.
macro_rules! on_each_backend {
    ($($test:ident),+ $(,)?) => {
        mod redis {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::setup::Backend::Redis).await;
                }
            )+
        }

        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::setup::Backend::Sqlite).await;
                }
            )+
        }
    };
}
pub(crate) use on_each_backend;

/// Where an [`Api`] keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The shared Redis, under a prefix of the test's own.
    Redis,
    /// SQLite in a temporary `data_dir`.
    Sqlite,
}

/// What a test owns of its backend, released when the [`Api`] drops. Held only to be
/// dropped, never read.
#[derive(Debug)]
#[expect(dead_code, reason = "each variant is held for its Drop")]
enum Scratch {
    /// Deletes the test's keys, and only them.
    Prefix(TestPrefix),
    /// Deletes the directory and the database in it.
    DataDir(TempDataDir),
}

/// A running API and what a test needs to look behind it.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    /// The test's view of the store: the jobs, the schedule, and the upstream's limits as a
    /// worker would write them. On Redis it has a connection of its own, straight to Redis,
    /// so it keeps working after [`Api::cut_redis`]; on SQLite it is the API's own store (one
    /// opener per data dir and process).
    pub store: SharedStore,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    proxy: Option<Proxy>,
    /// Dropped after [`Drop::drop`] has told the server to stop.
    _scratch: Scratch,
}

impl Api {
    /// An API on `backend` with the default configuration (no auth).
    pub async fn start(backend: Backend) -> Api {
        Api::start_with(backend, ApiConfig::default()).await
    }

    /// An API on `backend` with `config`.
    pub async fn start_with(backend: Backend, config: ApiConfig) -> Api {
        Api::start_upstream(backend, config, None).await
    }

    /// An API on `backend` with `config` that calls the upstream through `upstream` (to
    /// make characters), when given.
    pub async fn start_upstream(
        backend: Backend,
        config: ApiConfig,
        upstream: Option<pixverse::Client>,
    ) -> Api {
        match backend {
            Backend::Redis => Api::on_redis(config, false, upstream).await,
            Backend::Sqlite => Api::on_sqlite(config, upstream).await,
        }
    }

    /// An API on Redis whose every Redis connection goes through a proxy that
    /// [`Api::cut_redis`] closes, to see what the API does when Redis goes away.
    pub async fn start_behind_proxy() -> Api {
        Api::on_redis(ApiConfig::default(), true, None).await
    }

    async fn on_redis(config: ApiConfig, proxied: bool, upstream: Option<pixverse::Client>) -> Api {
        let direct = pixq_testkit::redis::url();
        let proxy = if proxied {
            Some(Proxy::start(&direct).await)
        } else {
            None
        };
        let url = proxy
            .as_ref()
            .map_or(direct.clone(), |p| format!("redis://{}", p.addr));
        let prefix = TestPrefix::new("api");
        let served: SharedStore = Arc::new(RedisStore::new(
            connect(&url).await,
            prefix.name(),
            RETENTION,
        ));
        let own: SharedStore = Arc::new(RedisStore::new(
            connect(&direct).await,
            prefix.name(),
            RETENTION,
        ));
        let mut api = Api::serve(served, own, config, upstream, Scratch::Prefix(prefix)).await;
        api.proxy = proxy;
        api
    }

    async fn on_sqlite(config: ApiConfig, upstream: Option<pixverse::Client>) -> Api {
        let dir = TempDataDir::new("api");
        let home = Home::Sqlite {
            data_dir: dir.path().to_owned(),
        };
        let store = pixq_core::store::open(&home, RETENTION)
            .await
            .unwrap_or_else(|e| panic!("cannot open the store {home:?}: {e}"));
        let own = Arc::clone(&store);
        Api::serve(store, own, config, upstream, Scratch::DataDir(dir)).await
    }

    /// Serves `served` on a loopback port; the test looks through `own`.
    async fn serve(
        served: SharedStore,
        own: SharedStore,
        config: ApiConfig,
        upstream: Option<pixverse::Client>,
        scratch: Scratch,
    ) -> Api {
        let state = AppState::new(served, config, pixq_core::metrics::prometheus_handle());
        let state = match upstream {
            Some(client) => state.with_upstream(client),
            None => state,
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(listener, state, shutdown.clone()));
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store: own,
            shutdown,
            server: Some(server),
            proxy: None,
            _scratch: scratch,
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

    /// Creates a plain job with `token` as the bearer and answers its id.
    pub async fn create_id_with_token(&self, prompt: &str, token: &str) -> JobId {
        let response = self
            .http
            .post(self.url("/v1/jobs"))
            .bearer_auth(token)
            .json(&json!({"prompt": prompt}))
            .send()
            .await
            .expect("request");
        let (status, job) = read(response).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        JobId::from(job["id"].as_str().expect("an id"))
    }

    pub async fn job(&self, id: &JobId) -> Job {
        self.store
            .jobs()
            .get(id)
            .await
            .expect("get")
            .expect("the job exists")
    }

    /// When the schedule has `id` due, if a look is booked and no worker holds it.
    pub async fn due_at(&self, id: &JobId) -> Option<DateTime<Utc>> {
        self.store.schedule().due_at(id).await.expect("due_at")
    }

    /// Applies `transition` through the store, which must accept it.
    pub async fn apply(&self, transition: Transition) -> Job {
        match self.store.jobs().apply(transition).await.expect("apply") {
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

    /// Takes every due job off this API's schedule, as a worker would that looked at each and
    /// booked no next look: afterwards no job is due or leased, so a ring shows at once.
    pub async fn drain_schedule(&self) {
        let schedule = self.store.schedule();
        let later = Utc::now() + chrono::Duration::days(1);
        loop {
            let leases = schedule
                .take_due(later, 1000, "api-test-drain", Duration::from_secs(60))
                .await
                .expect("take due");
            if leases.is_empty() {
                return;
            }
            for lease in &leases {
                schedule.settle(lease, None).await.expect("settle");
            }
        }
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
    /// Stops serving before the scratch space (keys or directory) goes.
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.cut_redis();
    }
}

/// A connection manager that gives up on a gone Redis within about a second, as a deployment
/// should configure it, so that the tests that cut Redis do not wait for long retries.
async fn connect(url: &str) -> ConnectionManager {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    redis::Client::open(url)
        .expect("a valid Redis URL")
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
    let content_type = pixq_testkit::http::content_type(&response);
    let text = response.text().await.expect("a body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content type {content_type:?}"
    );
    (status, body)
}

/// `{"error":{"code":"…","message":"…","field":"…"?,"entries":[…]?}}` and nothing else
/// (`entries` lists a batch's bad entries).
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
    assert!(error.get("entries").is_none_or(Value::is_array), "{body}");
    assert!(
        error
            .keys()
            .all(|k| ["code", "message", "field", "entries"].contains(&k.as_str())),
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

/// The default configuration with `api.webhook_secret` set: jobs and batches may carry a
/// `webhook_url`.
pub fn with_webhooks() -> ApiConfig {
    ApiConfig {
        signs_webhooks: true,
        ..ApiConfig::default()
    }
}
