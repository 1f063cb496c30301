//! The bundle every worker test starts from: a simulator on 127.0.0.1:0, ONE store per test on
//! the backend under test (the shared Redis under a `pixq-test-worker-<uuid>` prefix, or a
//! SQLite file in a temporary `data_dir`), and workers [`run`](pixq_worker::run) in process on
//! clones of that one store. The SQLite store locks its `data_dir` to one opener, so workers
//! of one test never open a store of their own. The prefix's keys, or the directory, go when
//! the bundle is dropped.
//!
//! Every test that holds for both backends is an `async fn name(backend: Backend)`, and
//! [`both!`] makes a `#[tokio::test]` of it per backend: `redis::name` and `sqlite::name`.

#![allow(dead_code)]

use std::time::Duration;

use chrono::Utc;
use pixq_core::chain;
use pixq_core::job::{Job, JobId};
use pixq_core::spec::JobSpec;
use pixq_core::state::JobState;
use pixq_core::store::{Home, SharedStore};
use pixq_testkit::data_dir::TempDataDir;
use pixq_testkit::redis::TestPrefix;
use pixq_testkit::sim::SimAdmin;
use pixq_testkit::wait::until;
use pixq_worker::{WorkerConfig, WorkerError};
use pixverse::{Client, ClientConfig, Token, Url};
use pixverse_sim::{SimConfig, SimHandle};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The token the simulator accepts and the worker uses.
pub const TOKEN: &str = "sim-token-worker-tests";

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How long finished jobs are kept: longer than any test.
const RETENTION: Duration = Duration::from_secs(3600);

/// Makes one `#[tokio::test]` per backend of each `async fn name(backend: Backend)` named:
/// `redis::name`, and `sqlite::name`, ignored until the embedded backend lands.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Backend::Redis).await;
                }
            )+
        }

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )+
        }
    };
}
pub(crate) use both;

/// Where a test's store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The shared Redis, under a prefix of the test's own.
    Redis,
    /// A SQLite file in a temporary `data_dir`.
    Sqlite,
}

/// What keeps a test's store apart from every other test's, and cleans it up when dropped.
#[derive(Debug)]
enum Place {
    Redis(TestPrefix),
    Sqlite(TempDataDir),
}

impl Place {
    fn new(backend: Backend) -> Place {
        match backend {
            Backend::Redis => Place::Redis(TestPrefix::new("worker")),
            Backend::Sqlite => Place::Sqlite(TempDataDir::new("worker")),
        }
    }

    fn home(&self) -> Home {
        match self {
            Place::Redis(prefix) => Home::Redis {
                url: pixq_testkit::redis::url(),
                prefix: prefix.name().to_owned(),
            },
            Place::Sqlite(dir) => Home::Sqlite {
                data_dir: dir.path().to_owned(),
            },
        }
    }
}

/// A simulator with tasks of 100–300 ms and no in-flight cap to speak of.
pub fn sim_config() -> SimConfig {
    SimConfig::default()
        .with_latency("100ms..300ms".parse().expect("a valid latency"))
        .with_tokens([TOKEN])
        .with_max_in_flight(10_000)
}

/// Short timings, so that a test takes seconds.
pub fn worker_config() -> WorkerConfig {
    let mut c = WorkerConfig::new();
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

/// A client of the simulator at `base`, as a worker uses it.
fn client(base: &Url) -> Client {
    Client::new(
        ClientConfig::new(Token::new(TOKEN))
            .with_base_url(base.clone())
            .with_request_timeout(Duration::from_secs(5)),
    )
    .expect("a client")
}

pub struct Bundle {
    pub backend: Backend,
    /// The one store of the test, shared by every worker and by the test itself.
    pub store: SharedStore,
    pub sim: Option<SimHandle>,
    /// The simulator's ledger, stats and knobs.
    pub admin: SimAdmin,
    pub base: Url,
    pub client: Client,
    shutdown: CancellationToken,
    workers: Vec<JoinHandle<Result<(), WorkerError>>>,
    /// Declared last: dropped after the store, so a SQLite file outlives its connection.
    place: Place,
}

/// A bundle with [`sim_config`] and [`worker_config`].
pub async fn setup(backend: Backend) -> Bundle {
    setup_with(backend, sim_config(), |_| {}).await
}

/// A bundle with this simulator and one worker, its config as `tune` leaves it.
pub async fn setup_with(
    backend: Backend,
    sim: SimConfig,
    tune: impl Fn(&mut WorkerConfig),
) -> Bundle {
    setup_many(backend, sim, 1, tune).await
}

/// A bundle with this simulator and `workers` workers (in process) on the one store.
pub async fn setup_many(
    backend: Backend,
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
    let place = Place::new(backend);
    let home = place.home();
    let store = pixq_core::store::open(&home, RETENTION)
        .await
        .unwrap_or_else(|e| panic!("the store ({home:?}) must open for the worker tests: {e}"));
    let sim = pixverse_sim::spawn(sim)
        .await
        .expect("the simulator starts");
    let base = Url::parse(&sim.base_url()).expect("a base URL");
    let mut bundle = Bundle {
        backend,
        store,
        admin: SimAdmin::new(&sim.base_url()),
        sim: Some(sim),
        client: client(&base),
        base,
        shutdown: CancellationToken::new(),
        workers: Vec::new(),
        place,
    };
    for _ in 0..workers {
        let mut config = worker_config();
        tune(&mut config);
        let worker = tokio::spawn(pixq_worker::run(
            bundle.store.clone(),
            bundle.client.clone(),
            config,
            bundle.shutdown.clone(),
        ));
        bundle.workers.push(worker);
    }
    bundle
}

impl Bundle {
    /// The Redis prefix of this test, for the tests that look under the store; `None` on
    /// SQLite.
    pub fn redis_prefix(&self) -> Option<&TestPrefix> {
        match &self.place {
            Place::Redis(prefix) => Some(prefix),
            Place::Sqlite(_) => None,
        }
    }

    /// Creates a chain from a `POST /v1/jobs` body, as the API would, without ringing it.
    pub async fn create_unrung(&self, body: Value) -> Job {
        let spec = JobSpec::from_value(&body).expect("a valid job spec");
        self.store
            .jobs()
            .create(chain::new_job(&spec), None)
            .await
            .expect("created")
            .job
    }

    /// Creates a chain and rings it, as the API does.
    pub async fn create(&self, body: Value) -> Job {
        let job = self.create_unrung(body).await;
        self.store
            .schedule()
            .ring(&job.id, Utc::now())
            .await
            .expect("rung");
        job
    }

    pub async fn get(&self, id: &JobId) -> Job {
        self.store
            .jobs()
            .get(id)
            .await
            .expect("get")
            .expect("the job exists")
    }

    /// Waits until every chain rooted at `roots` has ended (its last job terminal, with no
    /// step after it); returns every job of every chain, roots first.
    pub async fn wait_for_chains(&self, roots: &[JobId]) -> Vec<Vec<Job>> {
        until("every chain to end", DEADLINE, || async {
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
        self.admin.ledger().await
    }

    /// Starts one more worker on this bundle's store, with [`worker_config`] as `tune`
    /// leaves it, stopped by its own token (and by the bundle's).
    pub fn spawn_worker(
        &self,
        tune: impl Fn(&mut WorkerConfig),
    ) -> (CancellationToken, JoinHandle<Result<(), WorkerError>>) {
        let mut config = worker_config();
        tune(&mut config);
        let stop = self.shutdown.child_token();
        let worker = tokio::spawn(pixq_worker::run(
            self.store.clone(),
            self.client.clone(),
            config,
            stop.clone(),
        ));
        (stop, worker)
    }

    /// Starts one more worker on this bundle's store, on a runtime and with an upstream
    /// client of its own, so that [`KillableWorker::kill`] can end it the way a SIGKILL ends
    /// a process.
    pub fn spawn_killable_worker(&self, tune: impl Fn(&mut WorkerConfig)) -> KillableWorker {
        let mut config = worker_config();
        tune(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("killable-worker")
            .enable_all()
            .build()
            .expect("a runtime for the worker");
        runtime.spawn(pixq_worker::run(
            self.store.clone(),
            client(&self.base),
            config,
            CancellationToken::new(),
        ));
        KillableWorker {
            runtime: Some(runtime),
        }
    }

    /// Stops the workers (each must stop within its shutdown timeout and a margin, and end
    /// `Ok`) and the simulator; the store's keys or files go when the bundle is dropped.
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
    /// Stops the workers of a test that panicked; the prefix or the data dir cleans up after
    /// itself.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A worker on a runtime of its own, sharing the bundle's store.
pub struct KillableWorker {
    runtime: Option<tokio::runtime::Runtime>,
}

impl KillableWorker {
    /// Ends every task of the worker at once, as a SIGKILL ends a process: no handler
    /// finishes, no lease is renewed, settled or handed back.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for KillableWorker {
    /// A runtime may not be dropped inside another one; this one is shut down instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
