//! pixq as it is deployed, for one run: `pixq api` and `pixq worker` processes on a dedicated
//! Redis, or one `pixq run` process on the embedded store in a scratch data dir. Every process
//! is the release binary, configured only through `PIXQ__…` variables, logging at `warn`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cli::Backend;
use crate::procs::{self, Proc, Scratch};
use crate::redis_server::RedisServer;
use crate::sim::TOKEN;

/// How pixq is configured for a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The simulator's base URL.
    pub upstream: String,
    /// `worker.concurrency`.
    pub concurrency: u64,
    /// `poll.first_after`.
    pub first_after: Duration,
    /// `poll.interval` (pixq refuses less than 1 s).
    pub interval: Duration,
    /// `poll.give_up_after`.
    pub give_up_after: Duration,
    /// Sets `api.public_url` to the API, so that the upstream calls back.
    pub callbacks: bool,
}

/// The processes (and Redis) of one run; all stopped, and their files removed, when dropped.
#[derive(Debug)]
pub struct Deployment {
    backend: Backend,
    bin: PathBuf,
    env: Vec<(String, String)>,
    api_url: String,
    // Dropped in this order: workers, the API (or `pixq run`), Redis, then the files.
    workers: Vec<Proc>,
    front: Proc,
    redis: Option<RedisServer>,
    dir: Scratch,
}

impl Deployment {
    /// Starts Redis (for [`Backend::Redis`]) and `pixq api`, or `pixq run` on a fresh data dir,
    /// and waits until `/healthz` answers. Redis runs start their workers with
    /// [`Deployment::start_workers`].
    pub async fn start(
        bin: &Path,
        backend: Backend,
        settings: &Settings,
        keep_logs: bool,
    ) -> anyhow::Result<Deployment> {
        let dir = Scratch::new(&format!("pixq-{}", backend.name()), keep_logs)?;
        let redis = match backend {
            Backend::Redis => Some(RedisServer::start(keep_logs).await?),
            Backend::Embedded => None,
        };
        let listen = format!("127.0.0.1:{}", procs::free_port()?);
        let api_url = format!("http://{listen}");
        let env = environment(settings, &listen, &api_url, redis.as_ref(), dir.path());
        let front_role = match backend {
            Backend::Redis => "api",
            Backend::Embedded => "run",
        };
        let front = spawn(bin, front_role, front_role, &env, dir.path())?;
        let mut deployment = Deployment {
            backend,
            bin: bin.to_owned(),
            env,
            api_url,
            workers: Vec::new(),
            front,
            redis,
            dir,
        };
        if let Err(e) = deployment.wait_healthy().await {
            deployment.dir.keep();
            return Err(e);
        }
        Ok(deployment)
    }

    /// Starts `n` `pixq worker` processes (Redis only; `pixq run` has its own worker).
    pub fn start_workers(&mut self, n: usize) -> anyhow::Result<()> {
        if self.backend == Backend::Embedded {
            return Ok(());
        }
        for _ in 0..n {
            let name = format!("worker-{}", self.workers.len() + 1);
            let worker = spawn(&self.bin, "worker", &name, &self.env, self.dir.path())?;
            self.workers.push(worker);
        }
        Ok(())
    }

    /// The API's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The dedicated Redis of a Redis run.
    pub fn redis(&self) -> Option<&RedisServer> {
        self.redis.as_ref()
    }

    /// The pids of the `pixq worker` processes (none on the embedded backend).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Proc::pid).collect()
    }

    /// The process that does a worker's job: the first `pixq worker`, or `pixq run`.
    pub fn working_pid(&self) -> u32 {
        self.workers.first().unwrap_or(&self.front).pid()
    }

    /// Every pixq process's pid.
    pub fn all_pids(&self) -> Vec<u32> {
        let mut pids = vec![self.front.pid()];
        pids.extend(self.worker_pids());
        pids
    }

    /// An error naming the process, with its log's last lines, when any has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        let checked = self.check_each();
        if checked.is_err() {
            self.dir.keep();
        }
        checked
    }

    fn check_each(&mut self) -> anyhow::Result<()> {
        self.front.check_alive()?;
        for worker in &mut self.workers {
            worker.check_alive()?;
        }
        if let Some(redis) = self.redis.as_mut() {
            redis.check_alive()?;
        }
        Ok(())
    }

    /// Keeps the logs and data, to look into a run that went wrong.
    pub fn keep_files(&mut self) {
        self.dir.keep();
    }

    /// Where the processes' logs are.
    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the workers, then the API (or `pixq run`); Redis stays up for a last look.
    pub fn stop_pixq(&mut self) {
        for worker in &mut self.workers {
            worker.stop();
        }
        self.front.stop();
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", self.api_url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "pixq {} never answered /healthz in 30 s; logs in {}",
                    self.front.name(),
                    self.dir.path().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The `PIXQ__…` variables of every process of a run (and PATH, HOME, RUST_LOG=warn).
fn environment(
    settings: &Settings,
    listen: &str,
    api_url: &str,
    redis: Option<&RedisServer>,
    dir: &Path,
) -> Vec<(String, String)> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let mut env: Vec<(&str, String)> = vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", std::env::var("HOME").unwrap_or_default()),
        ("RUST_LOG", "warn".to_owned()),
        ("PIXQ__API__LISTEN", listen.to_owned()),
        ("PIXQ__UPSTREAM__BASE_URL", settings.upstream.clone()),
        ("PIXQ__UPSTREAM__TOKEN", TOKEN.to_owned()),
        ("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "1000000".to_owned()),
        (
            "PIXQ__WORKER__CONCURRENCY",
            settings.concurrency.to_string(),
        ),
        ("PIXQ__POLL__FIRST_AFTER", ms(settings.first_after)),
        ("PIXQ__POLL__INTERVAL", ms(settings.interval)),
        ("PIXQ__POLL__GIVE_UP_AFTER", ms(settings.give_up_after)),
    ];
    match redis {
        Some(redis) => {
            env.push(("PIXQ__REDIS__URL", redis.url().to_owned()));
            env.push(("PIXQ__REDIS__PREFIX", "pixq-bench".to_owned()));
        }
        None => env.push(("PIXQ__DATA_DIR", dir.join("data").display().to_string())),
    }
    if settings.callbacks {
        env.push(("PIXQ__API__PUBLIC_URL", api_url.to_owned()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Starts `pixq <role>` in the run's directory (so that no stray `pixq.toml` is read), with
/// only the run's environment, its output in `<name>.log`.
fn spawn(
    bin: &Path,
    role: &str,
    name: &str,
    env: &[(String, String)],
    dir: &Path,
) -> anyhow::Result<Proc> {
    let mut command = Command::new(bin);
    command
        .arg(role)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    Proc::spawn(name, command, &dir.join(format!("{name}.log")))
        .with_context(|| format!("cannot start pixq {role}"))
}
