//! `pixq demo`: a newcomer's first run, with nothing to install or configure. One process
//! starts the simulator, the embedded store, the API and a worker, submits the sample prompts
//! with one extend each through `pixq submit --wait` (progress bars, then the results table on
//! stdout), shuts everything down and exits 0 when every chain succeeded, 1 otherwise.
//!
//! It runs the real code paths: the store, API and worker exactly as `pixq run` starts them
//! ([`super::run::serve_both`]) and the client of `pixq submit` over real HTTP. Only the
//! settings differ: they are built here, never read from `pixq.toml`, `PIXQ__*`, `REDIS_URL` or
//! `PIXQ_API_*`, so nothing a user has set can send the demo to their Redis or spend their real
//! token. `--upstream URL` is the one way to reach a real upstream, with the token in
//! `ACEDATACLOUD_API_TOKEN`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use pixq_core::settings::{
    RawApi, RawPoll, RawSettings, RawUpstream, Secret, Settings, UPSTREAM_TOKEN_ENV,
};
use pixq_core::spec::MAX_EXTEND_STEPS;
use pixverse_sim::{Latency, SimConfig, SimHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::run;
use crate::client::submit::{self, SubmitArgs};
use crate::client::watch::PollArgs;
use crate::client::{ApiArgs, plain};
use crate::{config, shutdown, upstream};

/// The sample prompts, compiled in so that the binary runs the demo from any directory.
pub const SAMPLE_PROMPTS: &str = include_str!("../../../../examples/prompts.txt");

/// How long a simulated generation takes: short enough that a dozen chains of two steps,
/// five at a time, end in about half a minute; long enough that the bars have something to
/// show.
pub const DEMO_LATENCY: &str = "2s..6s";

/// The token the demo's worker presents to the simulator; it is no real credential.
const SIM_TOKEN: &str = pixverse_sim::DEFAULT_TOKEN;

/// Generations in flight at once: the simulator's own limit, which the worker's cap matches so
/// that it never hears a 429.
const MAX_IN_FLIGHT: u32 = pixverse_sim::DEFAULT_MAX_IN_FLIGHT;

/// Against the simulator the worker polls early and often: polls cost nothing there, and a
/// generation takes seconds, not the upstream's minutes.
const SIM_POLL_FIRST_AFTER: &str = "1s";
/// See [`SIM_POLL_FIRST_AFTER`]; the upstream's limit is one poll a second per task.
const SIM_POLL_INTERVAL: &str = "1s";

/// How often the progress bars ask the API.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// The exit code after a Ctrl-C or SIGTERM, as shells report SIGINT.
const INTERRUPTED: u8 = 130;

/// The flags of `pixq demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Submit this prompt file (.txt, .jsonl or .csv) instead of the built-in sample prompts.
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,

    /// Extend every video N times (0 to 10).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=MAX_EXTEND_STEPS as i64))]
    pub extend: u8,

    /// Also write one result line per chain to FILE, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Keep the demo's data dir (its SQLite database) instead of removing it, and say where.
    #[arg(long)]
    pub keep_data: bool,

    /// After the table, keep the API and the simulator up until Ctrl-C, so the video links
    /// open and `pixq status`, `pixq jobs` can look around.
    #[arg(long)]
    pub stay: bool,

    /// How long a simulated generation takes: MIN..MAX or one duration.
    #[arg(long, value_name = "RANGE", default_value = DEMO_LATENCY, conflicts_with = "upstream")]
    pub latency: Latency,

    /// Use this upstream (e.g. https://api.acedata.cloud) instead of the built-in simulator,
    /// with the token in ACEDATACLOUD_API_TOKEN. Every generation is billed to that token.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<Url>,
}

/// Where the worker sends the jobs.
enum Upstream {
    /// The simulator, started and stopped by the demo.
    Sim(SimHandle),
    /// A real upstream, with the user's token.
    Real { base_url: Url, token: Secret },
}

impl Upstream {
    /// The base URL the worker calls.
    fn base_url(&self) -> String {
        match self {
            Upstream::Sim(sim) => sim.base_url(),
            Upstream::Real { base_url, .. } => base_url.to_string(),
        }
    }

    /// The token the worker presents.
    fn token(&self) -> Secret {
        match self {
            Upstream::Sim(_) => Secret::new(SIM_TOKEN),
            Upstream::Real { token, .. } => token.clone(),
        }
    }
}

/// Runs the demo to its end and says how the process should exit.
///
/// # Errors
///
/// When a part cannot start (no free port, a data dir that cannot be made, a store that does
/// not open) or the API or the worker stops with an error. A missing token with `--upstream`
/// is no error, nor is `--config` (the demo reads none): each prints why and answers exit 2.
pub async fn run(args: DemoArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    if config_file.is_some() {
        eprintln!(
            "pixq demo: the demo reads no configuration; leave out --config, or use `pixq run`"
        );
        return Ok(ExitCode::from(2));
    }
    let real_token = match &args.upstream {
        Some(_) => match upstream_token() {
            Some(token) => Some(token),
            None => {
                eprintln!(
                    "pixq demo: --upstream needs a token: set {UPSTREAM_TOKEN_ENV}, or leave out \
                     --upstream to use the built-in simulator"
                );
                return Ok(ExitCode::from(2));
            }
        },
        None => None,
    };
    let data = DataDir::create(args.keep_data)?;
    let prompts = match &args.prompts {
        Some(path) => path.clone(),
        None => data.write_prompts()?,
    };
    let upstream = match (args.upstream.clone(), real_token) {
        (Some(base_url), Some(token)) => Upstream::Real { base_url, token },
        _ => {
            let config = SimConfig::default()
                .with_latency(args.latency)
                .with_tokens([SIM_TOKEN])
                .with_max_in_flight(MAX_IN_FLIGHT);
            let sim = pixverse_sim::spawn(config)
                .await
                .context("cannot start the simulator")?;
            Upstream::Sim(sim)
        }
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("cannot listen on a free port of 127.0.0.1")?;
    let api = listener
        .local_addr()
        .context("cannot read the API's address")?;
    let settings = settings(data.path(), api, &upstream)?;
    let client = upstream::client(&settings)?;
    let store = run::open_store(&settings).await?;
    let to_submit = submit_args(&args, prompts, api)?;

    let stop = CancellationToken::new();
    let services = tokio::spawn({
        let stop = stop.clone();
        async move { run::serve_both(store, client, &settings, listener, stop).await }
    });
    eprintln!("pixq demo: {}", opening(&args, api, &upstream));
    let signal = shutdown::on_signal();
    let mut interrupted = false;
    let submitted = tokio::select! {
        biased;
        // Ahead of the wait's own Ctrl-C, which would say the batch goes on: here it stops with
        // the demo.
        _ = tokio::signal::ctrl_c() => {
            interrupted = true;
            Ok(ExitCode::from(INTERRUPTED))
        }
        () = signal.cancelled() => {
            interrupted = true;
            Ok(ExitCode::from(INTERRUPTED))
        }
        // The services stopped on their own: their error is reported below.
        () = stop.cancelled() => Ok(ExitCode::FAILURE),
        code = submit::run(to_submit) => code,
    };
    if args.stay && !interrupted && !stop.is_cancelled() {
        eprintln!(
            "pixq demo: the API is at http://{api} and the video links work until Ctrl-C \
             (e.g. `pixq jobs --api http://{api}`)"
        );
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = signal.cancelled() => {}
            () = stop.cancelled() => {}
        }
    }

    // Shut down in order: the API and the worker (drained), then the upstream they called.
    stop.cancel();
    let served = services.await.context("the API and worker task")?;
    if let Upstream::Sim(sim) = upstream {
        sim.shutdown().await;
    }
    served?;
    let code = submitted?;
    if interrupted {
        eprintln!("pixq demo: stopped, and its jobs with it");
    } else {
        eprintln!(
            "pixq demo: {}",
            closing(&args, &data, code == ExitCode::SUCCESS)
        );
    }
    // The store is closed: the data dir can go now, unless --keep-data.
    drop(data);
    Ok(code)
}

/// The token of `--upstream`: only `ACEDATACLOUD_API_TOKEN`, never `upstream.token` from a
/// file or `PIXQ__*`, so the demo bills a real token only when asked in so many words.
fn upstream_token() -> Option<Secret> {
    std::env::var(UPSTREAM_TOKEN_ENV)
        .ok()
        .filter(|token| !token.trim().is_empty())
        .map(Secret::new)
}

/// The demo's settings, built from nothing but its own choices: the data dir, the API's
/// address and the upstream. No Redis, so the store is the embedded one.
///
/// # Errors
///
/// When a value is refused (e.g. an `--upstream` URL with credentials); exit 2.
fn settings(data_dir: &Path, api: SocketAddr, upstream: &Upstream) -> anyhow::Result<Settings> {
    let data_dir = data_dir
        .to_str()
        .context("the temporary directory's path is not UTF-8; set TMPDIR to another")?;
    let poll = match upstream {
        Upstream::Sim(_) => Some(RawPoll {
            first_after: Some(SIM_POLL_FIRST_AFTER.to_owned()),
            interval: Some(SIM_POLL_INTERVAL.to_owned()),
            ..RawPoll::default()
        }),
        // The upstream's generations take minutes: pixq's defaults are made for it.
        Upstream::Real { .. } => None,
    };
    let raw = RawSettings {
        data_dir: Some(data_dir.to_owned()),
        api: Some(RawApi {
            listen: Some(api.to_string()),
            ..RawApi::default()
        }),
        upstream: Some(RawUpstream {
            base_url: Some(upstream.base_url()),
            token: Some(upstream.token()),
            max_in_flight: Some(MAX_IN_FLIGHT.to_string()),
            ..RawUpstream::default()
        }),
        poll,
        ..RawSettings::default()
    };
    Settings::from_raw(raw)
        .map_err(anyhow::Error::new)
        .context(config::InvalidConfiguration)
}

/// `pixq submit PROMPTS --extend N --wait [--output FILE]` against the demo's API, with no
/// token: the API listens on loopback without auth, and `PIXQ_API_*` are not read.
fn submit_args(args: &DemoArgs, prompts: PathBuf, api: SocketAddr) -> anyhow::Result<SubmitArgs> {
    let api = Url::parse(&format!("http://{api}")).context("the API's URL")?;
    let mut submit = SubmitArgs {
        file: prompts,
        format: None,
        defaults: Default::default(),
        idempotency_key: None,
        wait: true,
        output: args.output.clone(),
        json: false,
        poll: PollArgs {
            poll_interval: PROGRESS_EVERY,
        },
        api: ApiArgs { api, token: None },
    };
    submit.defaults.extend = Some(args.extend);
    Ok(submit)
}

/// The line that says what is about to happen.
fn opening(args: &DemoArgs, api: SocketAddr, upstream: &Upstream) -> String {
    let what = match &args.prompts {
        Some(path) => format!("the prompts of {}", plain(&path.display().to_string())),
        None => format!("{} sample prompts", count_prompts(SAMPLE_PROMPTS)),
    };
    let extends = match args.extend {
        0 => "no extend".to_owned(),
        1 => "one extend each".to_owned(),
        n => format!("{n} extends each"),
    };
    let upstream = match upstream {
        Upstream::Sim(_) => format!(
            "the built-in simulator ({} a video, {MAX_IN_FLIGHT} at a time)",
            args.latency
        ),
        Upstream::Real { base_url, .. } => format!(
            "{} with the token in {UPSTREAM_TOKEN_ENV}: every generation is billed",
            plain(base_url.as_str())
        ),
    };
    format!("{what}, {extends}, through pixq's API on http://{api} and a worker, to {upstream}")
}

/// The closing hint: where the results are, and where to go next.
fn closing(args: &DemoArgs, data: &DataDir, all_succeeded: bool) -> String {
    let mut parts = Vec::new();
    if let Some(output) = &args.output {
        parts.push(format!(
            "the results are in {}",
            plain(&output.display().to_string())
        ));
    }
    if args.keep_data {
        parts.push(format!(
            "the store is kept in {}",
            plain(&data.path().display().to_string())
        ));
    }
    parts.push(if all_succeeded {
        "next, the same on Redis: `pixq api` and `pixq worker` with \
         PIXQ__REDIS__URL=redis://127.0.0.1:6379, then \
         `pixq submit examples/prompts.txt --extend 1 --wait` (README: \"Quick start with Redis\")"
            .to_owned()
    } else {
        "not every chain succeeded; `RUST_LOG=info pixq demo` shows the worker's log".to_owned()
    });
    parts.join("; ")
}

/// The prompts of a .txt file: lines that are neither blank nor `#` comments.
fn count_prompts(text: &str) -> usize {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .count()
}

/// The demo's own data dir under the system's temporary directory: fresh for every run so a
/// demo never meets an earlier one's jobs, and removed at the end unless `--keep-data`.
struct DataDir {
    path: PathBuf,
    keep: bool,
}

impl DataDir {
    /// Makes a new, empty directory.
    fn create(keep: bool) -> anyhow::Result<DataDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let name = format!("pixq-demo-{}-{nanos:x}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)
            .with_context(|| format!("cannot make the demo's data dir {}", path.display()))?;
        Ok(DataDir { path, keep })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the sample prompts beside the store, for `pixq submit` to read.
    fn write_prompts(&self) -> anyhow::Result<PathBuf> {
        let path = self.path.join("prompts.txt");
        std::fs::write(&path, SAMPLE_PROMPTS)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for DataDir {
    /// Removes the directory also when the demo fails half way, unless `--keep-data`.
    fn drop(&mut self) {
        if !self.keep
            && let Err(err) = std::fs::remove_dir_all(&self.path)
        {
            eprintln!("pixq demo: cannot remove {}: {err}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_prompts_are_a_dozen() {
        assert_eq!(count_prompts(SAMPLE_PROMPTS), 12);
    }

    #[tokio::test]
    async fn the_settings_need_no_redis_and_cap_the_worker_at_the_simulators_limit() {
        let sim = pixverse_sim::spawn(SimConfig::default()).await.unwrap();
        let upstream = Upstream::Sim(sim);
        let api: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let settings = settings(Path::new("/tmp/pixq-demo-x"), api, &upstream).unwrap();
        assert!(settings.redis.url.is_none(), "the embedded store");
        assert_eq!(settings.data_dir, Path::new("/tmp/pixq-demo-x"));
        assert_eq!(settings.api.listen, api);
        assert!(settings.api.tokens.is_empty());
        assert_eq!(settings.upstream.max_in_flight, MAX_IN_FLIGHT);
        assert_eq!(
            settings.upstream.base_url.as_str().trim_end_matches('/'),
            upstream.base_url()
        );
        assert_eq!(settings.poll.interval, Duration::from_secs(1));
    }

    #[test]
    fn the_closing_hint_names_the_output_file() {
        let args = DemoArgs {
            prompts: None,
            extend: 1,
            output: Some("out.jsonl".into()),
            keep_data: true,
            stay: false,
            latency: DEMO_LATENCY.parse().unwrap(),
            upstream: None,
        };
        let data = DataDir {
            path: "/nowhere".into(),
            keep: true,
        };
        let line = closing(&args, &data, true);
        assert!(line.starts_with("the results are in out.jsonl; "), "{line}");
        assert!(line.contains("/nowhere"), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }
}
