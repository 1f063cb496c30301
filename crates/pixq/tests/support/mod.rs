//! The pieces of an end-to-end run: the simulator in-process, and pixq as real processes of
//! the built binary, all on loopback. A run has one of two homes ([`Mode`]):
//!
//! - **Redis**: `pixq api` and any number of `pixq worker`s under one Redis key prefix of the
//!   shared Redis, deleted when the run is dropped. A test that kills Redis brings its own
//!   [`OwnRedis`] instead.
//! - **Embedded**: one `pixq run` on a fresh `data_dir` (SQLite), which serves the API and is
//!   its own worker; the directory is deleted when the run is dropped.
//!
//! Helpers shared with the other test crates (free ports, key prefixes, temporary data dirs,
//! child processes, waits with a deadline, the simulator's admin endpoints) come from
//! `pixq-testkit`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pixverse_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

// Not every test file uses each of them.
#[allow(unused_imports)]
pub use pixq_testkit::data_dir::TempDataDir;
pub use pixq_testkit::net::free_port;
pub use pixq_testkit::process::Proc;
pub use pixq_testkit::redis::TestPrefix;
pub use pixq_testkit::sim::{SimAdmin, ledger_task_ids};
#[allow(unused_imports)]
pub use pixq_testkit::wait::{eventually, until};

/// The token the simulator accepts.
pub const TOKEN: &str = "sim-token";

/// The states of a job, in order.
pub const STATES: [&str; 6] = [
    "queued",
    "submitting",
    "generating",
    "succeeded",
    "failed",
    "cancelled",
];

/// Where a run keeps its state, and which processes it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `pixq api` and `pixq worker`s on Redis.
    Redis,
    /// One `pixq run` on SQLite under a temporary `data_dir`.
    Embedded,
}

/// Where this run's state lives; dropping it deletes the state.
enum Home {
    /// A key prefix of the Redis at `url`; its keys are deleted on drop.
    Redis { keys: TestPrefix, url: String },
    /// A temporary `data_dir`, deleted on drop.
    Embedded { data_dir: TempDataDir },
}

/// One end-to-end run: the simulator, a home for the state, the server process (`pixq api`,
/// or `pixq run` when embedded), and worker processes (Redis only).
pub struct Run {
    pub mode: Mode,
    /// The run's name: its Redis key prefix on Redis, and the name of its log dir.
    pub prefix: String,
    pub sim: SimHandle,
    pub admin: SimAdmin,
    pub api_port: u16,
    /// `pixq api`, or `pixq run` when embedded; `None` once stopped by a test.
    pub server: Option<Proc>,
    pub workers: Vec<Proc>,
    pub http: reqwest::Client,
    home: Home,
    env: BTreeMap<String, String>,
    public_url: bool,
    /// Processes started so far, by role: names their log files.
    started: BTreeMap<&'static str, usize>,
    /// The configuration file every process is started with (`--config`), if the setup gave
    /// one.
    config_file: Option<PathBuf>,
}

/// How a run is set up.
pub struct Setup {
    pub sim: SimConfig,
    pub mode: Mode,
    pub public_url: bool,
    pub env: Vec<(&'static str, String)>,
    /// `None`: the shared Redis.
    pub redis_url: Option<String>,
    /// A configuration file's text (TOML), for what environment variables cannot say, such
    /// as `[[pipelines]]`; every process gets it as `--config`.
    pub config: Option<String>,
}

impl Setup {
    /// A simulator with `sim`, no callbacks, polls every second after 200 ms, on Redis.
    pub fn new(sim: SimConfig) -> Setup {
        Setup {
            sim,
            mode: Mode::Redis,
            public_url: false,
            env: Vec::new(),
            redis_url: None,
            config: None,
        }
    }

    /// Runs in `mode`.
    pub fn mode(mut self, mode: Mode) -> Setup {
        self.mode = mode;
        self
    }

    /// Runs embedded: one `pixq run` on a fresh `data_dir`.
    pub fn embedded(self) -> Setup {
        self.mode(Mode::Embedded)
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

    /// Starts every process with a configuration file of this TOML text (`--config`); the
    /// environment still overrides it.
    pub fn config(mut self, toml: impl Into<String>) -> Setup {
        self.config = Some(toml.into());
        self
    }

    /// Sets a configuration variable for every process.
    pub fn env(mut self, key: &'static str, value: impl Into<String>) -> Setup {
        self.env.push((key, value.into()));
        self
    }
}

impl Run {
    /// Starts the simulator and the server (`pixq api`, or `pixq run` when embedded), and
    /// waits until the API answers.
    pub async fn start(setup: Setup) -> Run {
        let sim = pixverse_sim::spawn(setup.sim.with_tokens([TOKEN]))
            .await
            .expect("the simulator starts");
        let admin = SimAdmin::new(&sim.base_url());
        let (home, prefix) = match setup.mode {
            Mode::Redis => {
                let url = setup.redis_url.unwrap_or_else(pixq_testkit::redis::url);
                let keys = TestPrefix::on("e2e", &url);
                let prefix = keys.name().to_owned();
                (Home::Redis { keys, url }, prefix)
            }
            Mode::Embedded => {
                assert!(setup.redis_url.is_none(), "an embedded run has no Redis");
                let data_dir = TempDataDir::new("e2e");
                let prefix = format!("pixq-test-e2e-run-{}", uuid::Uuid::new_v4().simple());
                (Home::Embedded { data_dir }, prefix)
            }
        };
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        match &home {
            Home::Redis { url, .. } => {
                set("PIXQ__REDIS__URL", url.clone());
                set("PIXQ__REDIS__PREFIX", prefix.clone());
            }
            Home::Embedded { data_dir } => {
                set("PIXQ__DATA_DIR", data_dir.path().display().to_string());
            }
        }
        set("PIXQ__UPSTREAM__BASE_URL", sim.base_url());
        set("PIXQ__UPSTREAM__TOKEN", TOKEN.to_owned());
        set("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "1000".to_owned());
        set("PIXQ__POLL__FIRST_AFTER", "200ms".to_owned());
        set("PIXQ__POLL__INTERVAL", "1s".to_owned());
        set("PIXQ__POLL__GIVE_UP_AFTER", "5m".to_owned());
        for (k, v) in setup.env {
            set(k, v);
        }
        let mut run = Run {
            mode: setup.mode,
            prefix,
            sim,
            admin,
            api_port: 0,
            server: None,
            workers: Vec::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client"),
            home,
            env,
            public_url: setup.public_url,
            started: BTreeMap::new(),
            config_file: None,
        };
        if let Some(text) = setup.config {
            let path = run.log_dir().join("pixq.toml");
            std::fs::create_dir_all(run.log_dir()).expect("a log dir");
            std::fs::write(&path, text).expect("the config file is written");
            run.config_file = Some(path);
        }
        run.start_server().await;
        run
    }

    /// The server's role: `api` on Redis, `run` when embedded.
    fn server_role(&self) -> &'static str {
        match self.mode {
            Mode::Redis => "api",
            Mode::Embedded => "run",
        }
    }

    /// Moves the API to a fresh free port, for the server started next.
    fn new_api_port(&mut self) {
        self.api_port = free_port();
        let listen = format!("127.0.0.1:{}", self.api_port);
        self.env.insert("PIXQ__API__LISTEN".to_owned(), listen);
        if self.public_url {
            let public = format!("http://127.0.0.1:{}", self.api_port);
            self.env.insert("PIXQ__API__PUBLIC_URL".to_owned(), public);
        }
    }

    /// Starts the server on a fresh port and waits until it answers.
    async fn start_server(&mut self) {
        self.new_api_port();
        let server = self.spawn(self.server_role());
        self.server = Some(server);
        self.wait_healthy().await;
    }

    fn spawn(&mut self, role: &'static str) -> Proc {
        let n = self.started.get(role).copied().unwrap_or(0);
        self.started.insert(role, n + 1);
        let log = self.log_dir().join(format!("{role}-{n}.log"));
        let env = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let config = self.config_file.as_ref().map(|p| p.display().to_string());
        let mut args = vec![role];
        if let Some(config) = &config {
            args.extend(["--config", config.as_str()]);
        }
        Proc::spawn(Path::new(env!("CARGO_BIN_EXE_pixq")), &args, env, &log)
    }

    /// Starts `n` more `pixq worker` processes on Redis. Embedded, nothing: `pixq run` is its
    /// own worker.
    pub fn start_workers(&mut self, n: usize) {
        if self.mode == Mode::Redis {
            for _ in 0..n {
                self.start_worker();
            }
        }
    }

    /// Starts one more `pixq worker` process; answers its index. Redis only.
    pub fn start_worker(&mut self) -> usize {
        assert_eq!(
            self.mode,
            Mode::Redis,
            "an embedded run has no worker process"
        );
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
        self.workers[index].kill();
    }

    /// Sends SIGTERM to worker `index` (a graceful stop).
    pub fn terminate_worker(&mut self, index: usize) {
        self.workers[index].terminate();
    }

    /// Waits up to `deadline` for worker `index` to exit; answers its status and how long it
    /// took, or `None` if it still runs.
    pub async fn wait_worker_exit(
        &mut self,
        index: usize,
        deadline: Duration,
    ) -> Option<(ExitStatus, Duration)> {
        self.workers[index].wait_exit(deadline).await
    }

    /// Whether worker `index` is still running.
    pub fn worker_alive(&mut self, index: usize) -> bool {
        self.workers[index].is_alive()
    }

    fn server_mut(&mut self) -> &mut Proc {
        self.server.as_mut().expect("the server runs")
    }

    /// SIGKILLs the server (`pixq api`, or `pixq run` when embedded) and reaps it.
    pub fn kill_server(&mut self) {
        self.server_mut().kill();
    }

    /// Sends SIGTERM to the server (a graceful stop).
    pub fn terminate_server(&mut self) {
        self.server_mut().terminate();
    }

    /// Waits up to `deadline` for the server to exit; answers its status and how long it
    /// took, or `None` if it still runs.
    pub async fn wait_server_exit(&mut self, deadline: Duration) -> Option<(ExitStatus, Duration)> {
        self.server_mut().wait_exit(deadline).await
    }

    /// Starts the server again, on the same home and a fresh port, once the last one exited;
    /// waits until it answers.
    pub async fn restart_server(&mut self) {
        if let Some(mut old) = self.server.take() {
            assert!(!old.is_alive(), "the server still runs");
        }
        self.start_server().await;
    }

    /// A command for one more server process with this run's environment on a fresh port,
    /// for a test that wants its exit and its output itself.
    pub fn server_command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixq"));
        cmd.arg(self.server_role());
        if let Some(config) = &self.config_file {
            cmd.arg("--config").arg(config);
        }
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .env("PIXQ__API__LISTEN", format!("127.0.0.1:{}", free_port()));
        cmd
    }

    /// The API's base URL.
    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Where the logs of this run's processes are.
    pub fn log_dir(&self) -> PathBuf {
        std::env::temp_dir().join(&self.prefix)
    }

    /// The embedded run's `data_dir`.
    pub fn data_dir(&self) -> &Path {
        match &self.home {
            Home::Embedded { data_dir } => data_dir.path(),
            Home::Redis { .. } => panic!("a run on Redis has no data_dir"),
        }
    }

    /// Waits up to 30 s until the server answers `/healthz`; fails the test at once, with
    /// its output, if it exits.
    async fn wait_healthy(&mut self) {
        let url = format!("{}/healthz", self.api());
        let start = Instant::now();
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            let (role, logs) = (self.server_role(), self.log_dir());
            let server = self.server.as_mut().expect("a server");
            assert!(
                server.is_alive(),
                "pixq {role} exited at start:\n{}",
                server.output()
            );
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "pixq {role} never got healthy; logs in {logs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        let r = self
            .http
            .get(format!("{}/metrics", self.api()))
            .send()
            .await
            .expect("the API answers");
        assert!(r.status().is_success(), "/metrics: {r:?}");
        r.text().await.expect("a text body")
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

    /// A connection to this run's Redis. Redis only.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        match &self.home {
            Home::Redis { keys, .. } => keys.connection().await,
            Home::Embedded { .. } => panic!("an embedded run has no Redis"),
        }
    }

    /// A read-only connection to the embedded run's database, to look under the store like
    /// [`Run::redis`] does on Redis. It works while `pixq run` runs (WAL readers do not
    /// block its writer) and after it died.
    pub fn db(&self) -> rusqlite::Connection {
        let path = self.data_dir().join("pixq.db");
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap_or_else(|e| panic!("{} opens read-only: {e}", path.display()));
        conn.busy_timeout(Duration::from_secs(5))
            .expect("a busy timeout");
        conn
    }

    /// How many live jobs the embedded database holds, in `state` or in any.
    async fn db_count(&self, state: Option<&str>) -> u64 {
        let conn = self.db();
        let state = state.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let now = now_ms();
            conn.query_row(
                "SELECT count(*) FROM jobs WHERE (?1 IS NULL OR state = ?1)
                     AND (expire_at_ms IS NULL OR expire_at_ms > ?2)",
                rusqlite::params![state, now],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).expect("a count"))
            .expect("a count of jobs")
        })
        .await
        .expect("the count runs")
    }

    /// How many jobs are in `state`: on Redis from the store's state index (`ZCARD
    /// {prefix}:state:{state}`), embedded from the database's; cheap enough to ask often,
    /// unlike paging the API.
    pub async fn count_in_state(&self, state: &str) -> u64 {
        match &self.home {
            Home::Redis { .. } => {
                let mut conn = self.redis().await;
                redis::cmd("ZCARD")
                    .arg(format!("{}:state:{state}", self.prefix))
                    .query_async(&mut conn)
                    .await
                    .expect("ZCARD")
            }
            Home::Embedded { .. } => self.db_count(Some(state)).await,
        }
    }

    /// How many jobs the store holds (`ZCARD {prefix}:jobs` on Redis).
    pub async fn count_jobs(&self) -> u64 {
        match &self.home {
            Home::Redis { .. } => {
                let mut conn = self.redis().await;
                redis::cmd("ZCARD")
                    .arg(format!("{}:jobs", self.prefix))
                    .query_async(&mut conn)
                    .await
                    .expect("ZCARD")
            }
            Home::Embedded { .. } => self.db_count(None).await,
        }
    }

    /// How many jobs are in each state.
    pub async fn counts(&self) -> BTreeMap<&'static str, u64> {
        let mut counts = BTreeMap::new();
        for s in STATES {
            counts.insert(s, self.count_in_state(s).await);
        }
        counts
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
                panic!(
                    "after {deadline:?}: not {expected} jobs {state}, counts {:?}; logs in {:?}",
                    self.counts().await,
                    self.log_dir()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The simulator's ledger: one entry per task created.
    pub async fn ledger(&self) -> Vec<Value> {
        self.admin.ledger().await
    }

    /// Sets fault rates on the simulator.
    pub async fn faults(&self, rates: Value) {
        self.admin.post("faults", &rates).await;
    }

    /// The simulator's `GET /_sim/stats`.
    pub async fn sim_stats(&self) -> Value {
        self.admin.stats().await
    }

    /// Sets the state of this run's upstream token on the simulator (`ok`, `used_up`, …).
    pub async fn set_token_state(&self, state: &str) {
        self.admin
            .post("tokens", &json!({"token": TOKEN, "state": state}))
            .await;
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
        // The processes go first, so that none writes to the state while it is deleted.
        for child in self.workers.iter_mut().chain(self.server.as_mut()) {
            child.kill();
        }
        if std::thread::panicking() {
            // The data_dir is deleted with the run: keep a copy of the database beside the logs.
            if let Home::Embedded { data_dir } = &self.home {
                for name in ["pixq.db", "pixq.db-wal", "pixq.db-shm"] {
                    let _ = std::fs::copy(data_dir.path().join(name), self.log_dir().join(name));
                }
            }
            eprintln!("logs of the failed run are in {:?}", self.log_dir());
        } else if std::env::var_os("PIXQ_TEST_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_dir_all(self.log_dir());
        }
        // The home (the Redis keys or the data_dir) is deleted when the fields drop.
    }
}

/// Now, in milliseconds since the epoch: the embedded store's clock.
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch");
    i64::try_from(since.as_millis()).expect("a time in range")
}

/// Checks the ledger against the jobs: one upstream task per succeeded step, each claimed by
/// exactly one job, and no request sent twice. Answers the ledger by task id.
pub fn assert_one_task_per_step(jobs: &[Value], ledger: &[Value]) -> BTreeMap<String, Value> {
    ledger_task_ids(ledger);
    let by_task: BTreeMap<String, Value> = ledger
        .iter()
        .map(|e| {
            (
                e["task_id"].as_str().expect("a task id").to_owned(),
                e.clone(),
            )
        })
        .collect();
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

/// The upstream task ids the jobs hold.
pub fn job_task_ids(jobs: &[Value]) -> HashSet<String> {
    jobs.iter()
        .filter_map(|j| j["upstream"]["task_id"].as_str())
        .map(str::to_owned)
        .collect()
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
/// in its own directory, no RDB snapshots. SIGKILLed when dropped; its directory is removed
/// unless the test failed.
pub struct OwnRedis {
    pub port: u16,
    pub dir: PathBuf,
    server: Option<Proc>,
    starts: usize,
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
            server: None,
            starts: 0,
        };
        redis.spawn();
        redis
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        assert!(self.server.is_none(), "already running");
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        let args = [
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            &dir,
            "--daemonize",
            "no",
        ];
        let log = self.dir.join(format!("redis-{}.log", self.starts));
        self.starts += 1;
        self.server = Some(Proc::spawn(Path::new("redis-server"), &args, [], &log));
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
            if let Some(server) = self.server.as_mut() {
                assert!(
                    server.is_alive(),
                    "redis-server exited; log in {:?}",
                    self.dir
                );
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
        let mut server = self.server.take().expect("running");
        server.kill();
    }

    /// Starts it again on the same port and directory (it reads its AOF back).
    pub fn restart(&mut self) {
        self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
        if std::thread::panicking() {
            eprintln!("the test-owned Redis kept its files in {:?}", self.dir);
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
