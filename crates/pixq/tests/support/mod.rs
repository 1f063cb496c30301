//! The pieces of an end-to-end run: the simulator in-process, and `pixq api` and
//! `pixq worker` as real processes of the built binary, all on loopback, all under one Redis
//! key prefix that is deleted when the run is dropped.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
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
    env: BTreeMap<String, String>,
}

/// How a run is set up.
pub struct Setup {
    pub sim: SimConfig,
    pub public_url: bool,
    pub env: Vec<(&'static str, String)>,
}

impl Setup {
    /// A simulator with `sim`, no callbacks, polls every second after 200 ms.
    pub fn new(sim: SimConfig) -> Setup {
        Setup {
            sim,
            public_url: false,
            env: Vec::new(),
        }
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
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set("PIXQ__REDIS__URL", REDIS_URL.to_owned());
        set("PIXQ__REDIS__PREFIX", prefix.clone());
        set("PIXQ__API__LISTEN", format!("127.0.0.1:{api_port}"));
        set("PIXQ__UPSTREAM__BASE_URL", sim.base_url().to_string());
        set("PIXQ__UPSTREAM__TOKEN", TOKEN.to_owned());
        set("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "1000".to_owned());
        set("PIXQ__POLL__FIRST_AFTER", "200ms".to_owned());
        set("PIXQ__POLL__INTERVAL", "1s".to_owned());
        set("PIXQ__POLL__GIVE_UP_AFTER", "5m".to_owned());
        set("RUST_LOG", "info".to_owned());
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

    /// The simulator's ledger: one entry per task created.
    pub async fn ledger(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/_sim/ledger", self.sim.base_url()))
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
        if let Ok(client) = redis::Client::open(REDIS_URL)
            && let Ok(mut conn) = client.get_connection()
        {
            let pattern = format!("{}:*", self.prefix);
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query(&mut conn);
            }
        }
        if !std::thread::panicking() {
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
