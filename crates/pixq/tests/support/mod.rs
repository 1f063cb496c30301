//! The pieces of an end-to-end run: the simulator in-process, and `pixq api` and
//! `pixq worker` as real processes of the built binary, all on loopback, all under one Redis
//! key prefix that is deleted when the run is dropped. A test that kills Redis brings its own
//! [`OwnRedis`] instead of the shared one.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pixverse_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

/// The shared Redis of the machine.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The token the simulator accepts.
pub const TOKEN: &str = "sim-token";

/// A free loopback port (bound, read and released: good enough on loopback).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One end-to-end run: simulator, Redis prefix, API process, worker processes.
pub struct Run {
    pub prefix: String,
    pub sim: SimHandle,
    pub api_port: u16,
    pub api: Option<Child>,
    pub workers: Vec<Child>,
    pub http: reqwest::Client,
    /// The Redis this run's processes use.
    pub redis_url: String,
    env: BTreeMap<String, String>,
}

/// How a run is set up.
pub struct Setup {
    pub sim: SimConfig,
    pub public_url: bool,
    pub env: Vec<(&'static str, String)>,
    /// `None`: the shared Redis ([`REDIS_URL`]).
    pub redis_url: Option<String>,
}

impl Setup {
    /// A simulator with `sim`, no callbacks, polls every second after 200 ms.
    pub fn new(sim: SimConfig) -> Setup {
        Setup {
            sim,
            public_url: false,
            env: Vec::new(),
            redis_url: None,
        }
    }

    /// Points every process at another Redis, e.g. an [`OwnRedis`].
    pub fn redis(mut self, url: impl Into<String>) -> Setup {
        self.redis_url = Some(url.into());
        self
    }

    /// Lets the upstream call back to the API.
    pub fn with_callbacks(mut self) -> Setup {
        self.public_url = true;
        self
    }

    /// Sets a configuration variable for every process.
    pub fn env(mut self, key: &'static str, value: impl Into<String>) -> Setup {
        self.env.push((key, value.into()));
        self
    }
}

impl Run {
    /// Starts the simulator and `pixq api`, and waits until the API answers.
    pub async fn start(setup: Setup) -> Run {
        let sim = pixverse_sim::spawn(setup.sim.with_tokens([TOKEN]))
            .await
            .expect("the simulator starts");
        let prefix = format!("pixq-test-e2e-{}", uuid::Uuid::new_v4().simple());
        let api_port = free_port();
        let redis_url = setup.redis_url.unwrap_or_else(|| REDIS_URL.to_owned());
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set("PIXQ__REDIS__URL", redis_url.clone());
        set("PIXQ__REDIS__PREFIX", prefix.clone());
        set("PIXQ__API__LISTEN", format!("127.0.0.1:{api_port}"));
        set("PIXQ__UPSTREAM__BASE_URL", sim.base_url().to_string());
        set("PIXQ__UPSTREAM__TOKEN", TOKEN.to_owned());
        set("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "1000".to_owned());
        set("PIXQ__POLL__FIRST_AFTER", "200ms".to_owned());
        set("PIXQ__POLL__INTERVAL", "1s".to_owned());
        set("PIXQ__POLL__GIVE_UP_AFTER", "5m".to_owned());
        if setup.public_url {
            set(
                "PIXQ__API__PUBLIC_URL",
                format!("http://127.0.0.1:{api_port}"),
            );
        }
        for (k, v) in setup.env {
            set(k, v);
        }
        let mut run = Run {
            prefix,
            sim,
            api_port,
            api: None,
            workers: Vec::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client"),
            redis_url,
            env,
        };
        run.api = Some(run.spawn("api"));
        run.wait_healthy().await;
        run
    }

    fn spawn(&self, role: &str) -> Child {
        let log_dir = std::env::temp_dir().join(&self.prefix);
        std::fs::create_dir_all(&log_dir).expect("a log dir");
        let log_name = format!("{role}-{}.log", self.workers.len());
        let log = std::fs::File::create(log_dir.join(log_name)).expect("a log file");
        Command::new(env!("CARGO_BIN_EXE_pixq"))
            .arg(role)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log handle"))
            .stderr(log)
            .spawn()
            .expect("pixq starts")
    }

    /// Starts one more `pixq worker` process; answers its index.
    pub fn start_worker(&mut self) -> usize {
        let child = self.spawn("worker");
        self.workers.push(child);
        self.workers.len() - 1
    }

    /// Starts one more `pixq worker` with extra variables.
    pub fn start_worker_with(&mut self, extra: &[(&str, &str)]) -> usize {
        let saved = self.env.clone();
        for (k, v) in extra {
            self.env.insert((*k).to_owned(), (*v).to_owned());
        }
        let index = self.start_worker();
        self.env = saved;
        index
    }

    /// SIGKILLs worker `index`.
    pub fn kill_worker(&mut self, index: usize) {
        let child = &mut self.workers[index];
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Sends SIGTERM to worker `index` (a graceful stop), through `kill(1)`.
    pub fn terminate_worker(&mut self, index: usize) {
        let pid = self.workers[index].id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits up to `deadline` for worker `index` to exit; answers its status and how long it
    /// took, or `None` if it still runs.
    pub async fn wait_worker_exit(
        &mut self,
        index: usize,
        deadline: Duration,
    ) -> Option<(ExitStatus, Duration)> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.workers[index].try_wait().expect("try_wait") {
                return Some((status, start.elapsed()));
            }
            if start.elapsed() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether worker `index` is still running.
    pub fn worker_alive(&mut self, index: usize) -> bool {
        self.workers[index].try_wait().expect("try_wait").is_none()
    }

    /// The API's base URL.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Where the logs of this run's processes are.
    pub fn log_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(&self.prefix)
    }

    async fn wait_healthy(&self) {
        let url = format!("{}/healthz", self.api());
        let ok = eventually(Duration::from_secs(30), || async {
            let r = self.http.get(&url).send().await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        assert!(
            ok.is_some(),
            "pixq api never got healthy; logs in {:?}",
            self.log_dir()
        );
    }

    /// `POST /v1/jobs`; answers (status, body).
    pub async fn post_job(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/jobs", self.api()))
            .json(body)
            .send()
            .await
            .expect("the API answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `GET /readyz`; answers (status, body), or `None` if the API did not answer.
    pub async fn readyz(&self) -> Option<(u16, Value)> {
        let r = self
            .http
            .get(format!("{}/readyz", self.api()))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// Posts `bodies` to `POST /v1/jobs` from `clients` concurrent HTTP clients; answers the
    /// statuses that were not 202, with their bodies (empty when all were accepted).
    pub async fn post_many(&self, bodies: Vec<Value>, clients: usize) -> Vec<(u16, Value)> {
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let url = format!("{}/v1/jobs", self.api());
        let mut tasks = Vec::new();
        for _ in 0..clients.max(1) {
            let (bodies, next, url) = (bodies.clone(), next.clone(), url.clone());
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client");
            tasks.push(tokio::spawn(async move {
                let mut refused = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = bodies.get(i) else {
                        return refused;
                    };
                    match http.post(&url).json(body).send().await {
                        Ok(r) if r.status().as_u16() == 202 => {}
                        Ok(r) => {
                            let status = r.status().as_u16();
                            refused.push((status, r.json().await.unwrap_or(Value::Null)));
                        }
                        Err(e) => refused.push((0, Value::String(e.to_string()))),
                    }
                }
            }));
        }
        let mut refused = Vec::new();
        for task in tasks {
            refused.extend(task.await.expect("a sender task"));
        }
        refused
    }

    /// Submits `body` and answers the job's id.
    pub async fn submit(&self, body: Value) -> String {
        let (status, job) = self.post_job(&body).await;
        assert_eq!(status, 202, "{job}");
        job["id"].as_str().expect("an id").to_owned()
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/v1/jobs/{id}")).await.1
    }

    /// A GET on the API; answers (status, body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.api()))
            .send()
            .await
            .expect("the API answers");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// A POST on the API; answers (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.api()))
            .json(&body)
            .send()
            .await
            .expect("the API answers");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Every job of the run, through the API's cursor.
    pub async fn all_jobs(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/jobs?limit=500&cursor={c}"),
                None => "/v1/jobs?limit=500".to_owned(),
            };
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200, "{page}");
            out.extend(page["jobs"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return out,
            }
        }
    }

    /// Waits until every job of the run is in a terminal state and there are `expected` of
    /// them; answers them. Fails the test at `deadline`.
    pub async fn wait_all_finished(&self, expected: usize, deadline: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let jobs = self.all_jobs().await;
            let done = jobs
                .iter()
                .filter(|j| {
                    matches!(
                        j["state"].as_str(),
                        Some("succeeded" | "failed" | "cancelled")
                    )
                })
                .count();
            if jobs.len() == expected && done == expected {
                return jobs;
            }
            if start.elapsed() > deadline {
                let mut states: BTreeMap<String, usize> = BTreeMap::new();
                for j in &jobs {
                    *states.entry(j["state"].to_string()).or_default() += 1;
                }
                panic!(
                    "after {deadline:?}: {} jobs of {expected}, states {states:?}; logs in {:?}",
                    jobs.len(),
                    self.log_dir()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A connection to this run's Redis.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers")
    }

    /// How many jobs are in `state`, from the store's state index (`ZCARD
    /// {prefix}:state:{state}`): cheap enough to ask often, unlike paging the API.
    pub async fn count_in_state(&self, state: &str) -> u64 {
        let mut conn = self.redis().await;
        redis::cmd("ZCARD")
            .arg(format!("{}:state:{state}", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("ZCARD")
    }

    /// How many jobs the store holds (`ZCARD {prefix}:jobs`).
    pub async fn count_jobs(&self) -> u64 {
        let mut conn = self.redis().await;
        redis::cmd("ZCARD")
            .arg(format!("{}:jobs", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("ZCARD")
    }

    /// Waits until `expected` jobs are in `state`, asking the state index every 500 ms; fails
    /// the test at `deadline` with the counts of every state. Answers how long it took.
    pub async fn wait_count(&self, state: &str, expected: u64, deadline: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.count_in_state(state).await >= expected {
                return start.elapsed();
            }
            if start.elapsed() > deadline {
                let mut counts = BTreeMap::new();
                for s in [
                    "queued",
                    "submitting",
                    "generating",
                    "succeeded",
                    "failed",
                    "cancelled",
                ] {
                    counts.insert(s, self.count_in_state(s).await);
                }
                panic!(
                    "after {deadline:?}: not {expected} jobs {state}, counts {counts:?}; logs in {:?}",
                    self.log_dir()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The simulator's ledger: one entry per task created.
    pub async fn ledger(&self) -> Vec<Value> {
        self.sim_get("/_sim/ledger").await
    }

    /// A GET on the simulator's admin endpoints, as JSON.
    async fn sim_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(format!("{}{path}", self.sim.base_url()))
            .send()
            .await
            .expect("the simulator answers")
            .json()
            .await
            .expect("JSON")
    }

    /// Sets fault rates on the simulator.
    pub async fn faults(&self, rates: Value) {
        let r = self
            .http
            .post(format!("{}/_sim/faults", self.sim.base_url()))
            .json(&rates)
            .send()
            .await
            .expect("the simulator answers");
        assert!(r.status().is_success());
    }

    /// The simulator's `GET /_sim/stats`.
    pub async fn sim_stats(&self) -> Value {
        self.sim_get("/_sim/stats").await
    }

    /// Sets the state of this run's upstream token on the simulator (`ok`, `used_up`, …).
    pub async fn set_token_state(&self, state: &str) {
        let r = self
            .http
            .post(format!("{}/_sim/tokens", self.sim.base_url()))
            .json(&json!({"token": TOKEN, "state": state}))
            .send()
            .await
            .expect("the simulator answers");
        assert!(r.status().is_success(), "token state {state}");
    }

    /// Runs the binary as a client command against this run's API; answers (code, stdout).
    pub fn cli(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_pixq"))
            .args(args)
            .env("PIXQ_API_URL", self.api())
            .output()
            .expect("pixq runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        for child in self.workers.iter_mut().chain(self.api.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("logs of the failed run are in {:?}", self.log_dir());
        }
        // A test-owned Redis may be down or gone by now: do not wait for it.
        if let Ok(client) = redis::Client::open(self.redis_url.as_str())
            && let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2))
        {
            let pattern = format!("{}:*", self.prefix);
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query(&mut conn);
            }
            // apalis-redis registers every queue in a global zset; take this run's entry out.
            let _: Result<(), _> = redis::cmd("ZREM")
                .arg("core:apalis:queues:list")
                .arg(format!("{}:doorbell:workers", self.prefix))
                .query(&mut conn);
        }
        if !std::thread::panicking() && std::env::var_os("PIXQ_TEST_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(self.log_dir());
        }
    }
}

/// Retries `attempt` every 100 ms until it gives `Some`, or `None` after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Some(value) = attempt().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Checks the ledger against the jobs: one upstream task per succeeded step, each claimed by
/// exactly one job, and no request sent twice. Answers the ledger by task id.
pub fn assert_one_task_per_step(jobs: &[Value], ledger: &[Value]) -> BTreeMap<String, Value> {
    let by_task: BTreeMap<String, Value> = ledger
        .iter()
        .map(|e| {
            (
                e["task_id"].as_str().expect("a task id").to_owned(),
                e.clone(),
            )
        })
        .collect();
    assert_eq!(by_task.len(), ledger.len(), "task ids are unique");
    let mut requests: Vec<String> = ledger.iter().map(|e| e["request"].to_string()).collect();
    requests.sort();
    let before = requests.len();
    requests.dedup();
    assert_eq!(requests.len(), before, "a request was submitted twice");
    let mut claimed = BTreeMap::new();
    for job in jobs {
        if let Some(task) = job["upstream"]["task_id"].as_str() {
            assert!(
                by_task.contains_key(task),
                "job {} claims unknown task {task}",
                job["id"]
            );
            assert!(
                claimed.insert(task.to_owned(), job["id"].clone()).is_none(),
                "task {task} claimed twice"
            );
        }
    }
    assert_eq!(
        claimed.len(),
        ledger.len(),
        "every upstream task belongs to one job"
    );
    by_task
}

/// A generation body with `extends` extend steps.
pub fn chain_body(prompt: &str, extends: usize) -> Value {
    let steps: Vec<Value> = (0..extends)
        .map(|k| json!({"prompt": format!("{prompt}, part {}", k + 2)}))
        .collect();
    if steps.is_empty() {
        json!({"prompt": prompt})
    } else {
        json!({"prompt": prompt, "extend": steps})
    }
}

/// A `redis-server` this test owns, for tests that kill or restart Redis: on a free loopback
/// port, persisting to an AOF fsynced on every write (`--appendonly yes --appendfsync always`)
/// in its own directory, no RDB snapshots. Stopped by its pid (SIGKILL) when dropped; its
/// directory is removed unless the test failed.
pub struct OwnRedis {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one and waits until it answers PING.
    pub fn start() -> OwnRedis {
        let dir =
            std::env::temp_dir().join(format!("pixq-test-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a Redis dir");
        let mut redis = OwnRedis {
            port: free_port(),
            dir,
            child: None,
        };
        redis.spawn();
        redis
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("redis.log"))
            .expect("a Redis log");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log handle"))
            .stderr(log)
            .spawn()
            .expect("redis-server starts (is it installed?)");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits up to 20 s until PING answers PONG (not `LOADING` while the AOF is read back).
    fn wait_ready(&mut self) {
        let start = Instant::now();
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        loop {
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if matches!(pong.as_deref(), Ok("PONG")) {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("redis-server exited with {status}; log in {:?}", self.dir);
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server on port {} not ready: {pong:?}; log in {:?}",
                self.port,
                self.dir
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs it: no shutdown, no final write; what it answered OK to is in the AOF.
    pub fn sigkill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Starts it again on the same port and directory (it reads its AOF back).
    pub fn restart(&mut self) {
        self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("the test-owned Redis kept its files in {:?}", self.dir);
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
