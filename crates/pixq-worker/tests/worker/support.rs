//! The bundle every worker test starts from: a simulator on 127.0.0.1:0, a worker [`run`] in
//! process against the shared Redis under its own `pixq-test-worker-<uuid>` prefix, and the
//! store, schedule and admin calls a test needs. Its keys are deleted when it is dropped.

#![allow(dead_code)]

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use pixq_core::chain;
use pixq_core::job::{Job, JobId};
use pixq_core::queue::{DeadLetters, Schedule};
use pixq_core::redis::RedisStore;
use pixq_core::spec::JobSpec;
use pixq_core::state::JobState;
use pixq_core::store::Store;
use pixq_worker::{WorkerConfig, WorkerError};
use pixverse::{Client, ClientConfig, Token, Url};
use pixverse_sim::{SimConfig, SimHandle};
use redis::aio::ConnectionManager;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The token the simulator accepts and the worker uses.
pub const TOKEN: &str = "sim-token-worker-tests";

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A simulator with tasks of 100–300 ms and no in-flight cap to speak of.
pub fn sim_config() -> SimConfig {
    SimConfig::default()
        .with_latency("100ms..300ms".parse().expect("a valid latency"))
        .with_tokens([TOKEN])
        .with_max_in_flight(10_000)
}

/// Short timings, so that a test takes seconds.
pub fn worker_config(prefix: &str) -> WorkerConfig {
    let mut c = WorkerConfig::new(prefix);
    c.concurrency = 16;
    c.poll_first_after = Duration::from_millis(200);
    c.poll_interval = Duration::from_secs(1);
    c.backoff_base = Duration::from_millis(200);
    c.backoff_max = Duration::from_secs(2);
    c.lookup_grace = Duration::from_secs(3);
    c.janitor_every = Duration::from_secs(1);
    c.shutdown_timeout = Duration::from_secs(5);
    // The simulator's cap is out of the way too; the limit tests lower both.
    c.max_in_flight = 1000;
    c.pause_backoff = Duration::from_millis(300);
    c.pause_backoff_max = Duration::from_secs(1);
    c
}

pub struct Bundle {
    pub prefix: String,
    pub conn: ConnectionManager,
    pub store: RedisStore,
    pub schedule: Schedule,
    pub dead_letters: DeadLetters,
    pub sim: Option<SimHandle>,
    pub base: Url,
    pub client: Client,
    http: reqwest::Client,
    shutdown: CancellationToken,
    workers: Vec<JoinHandle<Result<(), WorkerError>>>,
}

/// A bundle with [`sim_config`] and [`worker_config`].
pub async fn setup() -> Bundle {
    setup_with(sim_config(), |_| {}).await
}

/// A bundle with this simulator and one worker, its config as `tune` leaves it.
pub async fn setup_with(sim: SimConfig, tune: impl Fn(&mut WorkerConfig)) -> Bundle {
    setup_many(sim, 1, tune).await
}

/// A bundle with this simulator and `workers` worker processes (in process) on one prefix.
pub async fn setup_many(
    sim: SimConfig,
    workers: usize,
    tune: impl Fn(&mut WorkerConfig),
) -> Bundle {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let prefix = format!("pixq-test-worker-{}", uuid::Uuid::new_v4().simple());
    let conn = pixq_worker::connect(REDIS_URL)
        .await
        .unwrap_or_else(|e| panic!("Redis at {REDIS_URL} must be up for the worker tests: {e}"));
    let sim = pixverse_sim::spawn(sim)
        .await
        .expect("the simulator starts");
    let base = Url::parse(&sim.base_url()).expect("a base URL");
    let client = Client::new(
        ClientConfig::new(Token::new(TOKEN))
            .with_base_url(base.clone())
            .with_request_timeout(Duration::from_secs(5)),
    )
    .expect("a client");
    let shutdown = CancellationToken::new();
    let workers = (0..workers)
        .map(|_| {
            let mut config = worker_config(&prefix);
            tune(&mut config);
            tokio::spawn(pixq_worker::run(
                conn.clone(),
                client.clone(),
                config,
                shutdown.clone(),
            ))
        })
        .collect();
    Bundle {
        store: RedisStore::new(conn.clone(), &prefix, Duration::from_secs(3600)),
        schedule: Schedule::new(conn.clone(), &prefix),
        dead_letters: DeadLetters::new(conn.clone(), &prefix),
        prefix,
        conn,
        sim: Some(sim),
        base,
        client,
        http: reqwest::Client::new(),
        shutdown,
        workers,
    }
}

impl Bundle {
    /// Creates a chain from a `POST /v1/jobs` body, as the API would, without ringing it.
    pub async fn create_unrung(&self, body: Value) -> Job {
        let spec = JobSpec::from_value(&body).expect("a valid job spec");
        self.store
            .create(chain::new_job(&spec), None)
            .await
            .expect("created")
            .job
    }

    /// Creates a chain and rings it, as the API does.
    pub async fn create(&self, body: Value) -> Job {
        let job = self.create_unrung(body).await;
        self.schedule.ring(&job.id, Utc::now()).await.expect("rung");
        job
    }

    pub async fn get(&self, id: &JobId) -> Job {
        self.store
            .get(id)
            .await
            .expect("get")
            .expect("the job exists")
    }

    /// Waits until every chain rooted at `roots` has ended (its last job terminal, with no
    /// step after it); returns every job of every chain, roots first.
    pub async fn wait_for_chains(&self, roots: &[JobId]) -> Vec<Vec<Job>> {
        wait_until("every chain to end", || async {
            let mut chains = Vec::new();
            for root in roots {
                match self.chain(root).await {
                    Some(chain) => chains.push(chain),
                    None => return None,
                }
            }
            Some(chains)
        })
        .await
    }

    /// The chain rooted at `root` if it has ended.
    async fn chain(&self, root: &JobId) -> Option<Vec<Job>> {
        let mut jobs = vec![self.get(root).await];
        loop {
            let last = jobs.last().expect("not empty");
            if !last.is_terminal() {
                return None;
            }
            match (last.state, last.children.first()) {
                (JobState::Succeeded, Some(child)) => {
                    let child = child.clone();
                    jobs.push(self.get(&child).await);
                }
                _ => return Some(jobs),
            }
        }
    }

    /// Every task the simulator created (and would bill), oldest first.
    pub async fn ledger(&self) -> Vec<Value> {
        self.http
            .get(format!(
                "{}/_sim/ledger",
                self.base.as_str().trim_end_matches('/')
            ))
            .send()
            .await
            .expect("the ledger")
            .json()
            .await
            .expect("a JSON ledger")
    }

    /// The simulator's request counters.
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!(
                "{}/_sim/stats",
                self.base.as_str().trim_end_matches('/')
            ))
            .send()
            .await
            .expect("the stats")
            .json()
            .await
            .expect("JSON stats")
    }

    /// `POST /_sim/<what>` with `body`, which must be accepted.
    pub async fn sim_admin(&self, what: &str, body: Value) {
        let response = self
            .http
            .post(format!(
                "{}/_sim/{what}",
                self.base.as_str().trim_end_matches('/')
            ))
            .json(&body)
            .send()
            .await
            .expect("the simulator's admin endpoint");
        assert!(response.status().is_success(), "{what}: {response:?}");
    }

    /// Starts one more worker on this bundle's prefix, with [`worker_config`] as `tune`
    /// leaves it, stopped by its own token (and by the bundle's).
    pub fn spawn_worker(
        &self,
        tune: impl Fn(&mut WorkerConfig),
    ) -> (CancellationToken, JoinHandle<Result<(), WorkerError>>) {
        let mut config = worker_config(&self.prefix);
        tune(&mut config);
        let stop = self.shutdown.child_token();
        let worker = tokio::spawn(pixq_worker::run(
            self.conn.clone(),
            self.client.clone(),
            config,
            stop.clone(),
        ));
        (stop, worker)
    }

    /// The key of the doorbell queue's `suffix` (`data`, `done`, `active`, …).
    pub fn queue_key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", pixq_worker::doorbell_queue(&self.prefix))
    }

    /// Stops the worker (it must stop within its shutdown timeout and a margin) and the
    /// simulator; the keys go when the bundle is dropped.
    pub async fn finish(mut self) {
        self.shutdown.cancel();
        for worker in std::mem::take(&mut self.workers) {
            let stopped = tokio::time::timeout(Duration::from_secs(15), worker)
                .await
                .expect("the worker stops within its shutdown timeout");
            stopped
                .expect("the worker task")
                .expect("the worker ends Ok");
        }
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
    }
}

impl Drop for Bundle {
    /// Deletes this bundle's keys (and its queue's entry in apalis's global list), with a
    /// blocking connection so that it also happens when a test panics.
    fn drop(&mut self) {
        self.shutdown.cancel();
        let Ok(client) = redis::Client::open(REDIS_URL) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
        let _: redis::RedisResult<()> = redis::cmd("ZREM")
            .arg("core:apalis:queues:list")
            .arg(self.queue_key("workers"))
            .query(&mut conn);
    }
}

/// Calls `check` until it answers `Some`, for at most [`DEADLINE`].
pub async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ledger's task ids, checking that none appears twice.
pub fn ledger_task_ids(ledger: &[Value]) -> HashSet<String> {
    let ids: Vec<String> = ledger
        .iter()
        .map(|entry| entry["task_id"].as_str().expect("a task id").to_owned())
        .collect();
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        set.len(),
        ids.len(),
        "a task id appears twice in the ledger"
    );
    set
}
