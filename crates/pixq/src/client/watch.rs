//! `pixq watch ID`: follows a batch, or a job's chain, until it ends, with live progress; then
//! prints the results table and exits as `pixq submit --wait` does (0 when every job
//! succeeded, 1 otherwise). [`Follow`] is the wait both commands share.
//!
//! A batch is polled with `GET /v1/batches/{id}` until `finished_at` is set, then its results
//! are read once. A job is polled step by step: from the chain's first step to the next as each
//! succeeds, until the last step succeeds or one fails or is cancelled.
//!
//! Once the API has answered, a lost connection or a 5xx is waited out for [`LOST_AFTER`]
//! before giving up with exit 3: a restarting API should not end a long wait. Ctrl-C stops
//! watching (exit 130) and leaves the batch running.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::batch::{Results, is_batch_id};
use super::chain::{self, Chain};
use super::job::JobView;
use super::progress::{Mode, Progress, Snapshot};
use super::results::{self, OutputFile};
use super::{ApiArgs, ApiClient, ApiError, Exit, Outcome, plain};

/// How long a wait tolerates an API that stopped answering.
pub const LOST_AFTER: Duration = Duration::from_secs(60);

/// The flags of `pixq watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The batch (`batch_…`) or job (`job_…`) to follow.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Also write one result line per job to FILE, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the results as JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,

    /// How often to ask the API.
    #[command(flatten)]
    pub poll: PollArgs,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How often a wait asks the API how things stand.
#[derive(Debug, Clone, clap::Args)]
pub struct PollArgs {
    /// How long to wait between two looks at the batch or job.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration, hide = true)]
    pub poll_interval: Duration,
}

/// Runs `pixq watch` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let mode = if args.json {
        Mode::Hidden
    } else {
        Mode::detect()
    };
    outcome(&args, mode).await.emit()
}

/// What `pixq watch` prints and how it exits, without printing it (progress aside).
pub async fn outcome(args: &WatchArgs, mode: Mode) -> Outcome {
    let context = format!("watch {}", args.id);
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(&context, &err),
    };
    let output = match prepare_output(&context, args.output.as_deref()) {
        Ok(output) => output,
        Err(outcome) => return outcome,
    };
    let follow = Follow {
        client: &client,
        context,
        interval: args.poll.poll_interval,
        mode,
        output,
        json: args.json,
    };
    let id = args.id.trim();
    if is_batch_id(id) {
        follow.batch(id).await
    } else {
        follow.job(id).await
    }
}

/// Creates the `--output` file's temporary twin, or says why it cannot (exit 2).
///
/// # Errors
///
/// The outcome to return when the file cannot be created.
pub fn prepare_output(context: &str, path: Option<&Path>) -> Result<Option<OutputFile>, Outcome> {
    let Some(path) = path else { return Ok(None) };
    OutputFile::create(path).map(Some).map_err(|err| Outcome {
        stdout: String::new(),
        stderr: format!(
            "pixq {}: cannot write --output {}: {err}\n",
            plain(context),
            path.display()
        ),
        exit: Exit::Usage,
    })
}

/// One wait: polls, draws progress, and builds the final outcome.
pub struct Follow<'a> {
    /// The API.
    pub client: &'a ApiClient,
    /// The command and its argument, for messages.
    pub context: String,
    /// Time between two polls.
    pub interval: Duration,
    /// How progress is drawn.
    pub mode: Mode,
    /// Where `--output` goes.
    pub output: Option<OutputFile>,
    /// Print result lines instead of the table.
    pub json: bool,
}

/// What one look found.
enum Look<T> {
    Running(Snapshot),
    Done(Snapshot, T),
}

/// Why a wait ended early.
enum Stop {
    Api(ApiError),
    Interrupted,
}

impl Follow<'_> {
    /// Follows batch `id` to its end.
    pub async fn batch(self, id: &str) -> Outcome {
        let client = self.client;
        let look = async || {
            let batch = client.batch(id).await?.batch;
            let snapshot = Snapshot {
                total: batch.total,
                counts: batch.counts,
            };
            Ok(if batch.is_finished() {
                Look::Done(snapshot, batch)
            } else {
                Look::Running(snapshot)
            })
        };
        let batch = match self.until_done(id, look).await {
            Ok(batch) => batch,
            Err(stop) => return self.stopped(id, stop),
        };
        match client.batch_results(id).await {
            Ok(results) => self.finish(id, results, took(batch.created_at, batch.finished_at)),
            Err(err) => Outcome::error(&self.context, &err),
        }
    }

    /// Follows job `id`'s chain, from its first step, to its end.
    pub async fn job(self, id: &str) -> Outcome {
        let client = self.client;
        let root = match self.root_of(id).await {
            Ok(root) => root,
            Err(err) => return Outcome::error(&self.context, &err),
        };
        let mut chain = Chain::new(&root);
        let look = async || {
            Ok(match chain.look(client).await? {
                (snapshot, Some(last)) => Look::Done(snapshot, last),
                (snapshot, None) => Look::Running(snapshot),
            })
        };
        let last = match self.until_done(&root.id, look).await {
            Ok(last) => last,
            Err(stop) => return self.stopped(&root.id, stop),
        };
        let line = chain::result(&root, &last);
        let results = Results {
            raw: vec![serde_json::to_string(&line).unwrap_or_default()],
            lines: vec![line],
        };
        let took = took(root.created_at, last.finished_at);
        self.finish(&root.id, results, took)
    }

    /// The first step of the chain `id` belongs to.
    async fn root_of(&self, id: &str) -> Result<JobView, ApiError> {
        let job = self.client.job(id).await?.job;
        match job.root_id.as_deref() {
            Some(root) if root != job.id => Ok(self.client.job(root).await?.job),
            _ => Ok(job),
        }
    }

    /// Looks every `interval` until `look` says done, drawing each snapshot.
    async fn until_done<T>(
        &self,
        label: &str,
        mut look: impl AsyncFnMut() -> Result<Look<T>, ApiError>,
    ) -> Result<T, Stop> {
        let mut progress = Progress::new(&self.context, label, self.mode);
        let mut answered = false;
        let mut failing_since: Option<Instant> = None;
        loop {
            match look().await {
                Ok(Look::Done(snapshot, value)) => {
                    progress.finish(&snapshot, Instant::now());
                    return Ok(value);
                }
                Ok(Look::Running(snapshot)) => {
                    answered = true;
                    failing_since = None;
                    progress.update(&snapshot, Instant::now());
                }
                Err(err) if answered && err.exit() == Exit::Unreachable => {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= LOST_AFTER {
                        progress.abandon();
                        return Err(Stop::Api(err));
                    }
                }
                Err(err) => {
                    progress.abandon();
                    return Err(Stop::Api(err));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = tokio::signal::ctrl_c() => {
                    progress.abandon();
                    return Err(Stop::Interrupted);
                }
            }
        }
    }

    /// The outcome of a wait that ended before the batch or job did.
    fn stopped(&self, id: &str, stop: Stop) -> Outcome {
        let hint = format!(
            "pixq {}: {id} goes on; follow it again with `pixq watch {id}`\n",
            plain(&self.context),
            id = plain(id)
        );
        match stop {
            Stop::Api(err) => {
                let mut outcome = Outcome::error(&self.context, &err);
                if !matches!(err, ApiError::NotFound { .. }) {
                    outcome.stderr.push_str(&hint);
                }
                outcome
            }
            Stop::Interrupted => Outcome {
                stdout: String::new(),
                stderr: format!("\npixq {}: stopped watching\n{hint}", plain(&self.context)),
                exit: Exit::Interrupted,
            },
        }
    }

    /// The table (or JSON lines), the summary, the `--output` file and the exit code.
    fn finish(self, id: &str, results: Results, took: Option<Duration>) -> Outcome {
        let context = plain(&self.context);
        let mut exit = results::exit_for(&results.lines);
        let mut stderr = format!(
            "pixq {context}: {}\n",
            results::summary(id, &results.lines, took)
        );
        if let Some(output) = self.output {
            let path = output.path().display().to_string();
            match output.commit(&results.raw) {
                Ok(()) => stderr.push_str(&format!(
                    "pixq {context}: wrote {} result lines to {path}\n",
                    results.raw.len()
                )),
                Err(err) => {
                    stderr.push_str(&format!("pixq {context}: cannot write {path}: {err}\n"));
                    exit = Exit::Failed;
                }
            }
        }
        let stdout = if self.json {
            results.raw.iter().map(|line| format!("{line}\n")).collect()
        } else {
            results::render_table(&results.lines)
        };
        Outcome {
            stdout,
            stderr,
            exit,
        }
    }
}

/// The time between two instants, when both are known.
fn took(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<Duration> {
    (to? - from?).to_std().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fake_api::{self, FakeApi};
    use super::*;

    fn args(url: &str, id: &str) -> WatchArgs {
        WatchArgs {
            id: id.to_owned(),
            output: None,
            json: false,
            poll: PollArgs {
                poll_interval: Duration::from_millis(5),
            },
            api: ApiArgs {
                api: url.parse().unwrap(),
                token: None,
            },
        }
    }

    /// Submits `jobs` to the fake as one batch, as `pixq submit` would.
    async fn batch(api: &FakeApi, jobs: serde_json::Value) -> String {
        let client = ApiClient::new(&args(&api.url, "-").api).unwrap();
        let batch = client.submit_batch(&json!({ "jobs": jobs }), None).await;
        batch.unwrap().batch.id
    }

    #[tokio::test]
    async fn a_batch_is_followed_to_its_end_and_its_table_printed() {
        let api = FakeApi::start(None, vec![]).await;
        let id = batch(&api, json!([{"prompt": "a"}, {"prompt": "b"}])).await;
        let outcome = outcome(&args(&api.url, &id), Mode::Hidden).await;
        assert_eq!(outcome.exit, Exit::Ok, "{outcome:?}");
        assert_eq!(
            outcome.stdout,
            "PROMPT  STATE      RESULT\n\
             a       succeeded  https://cdn.example/job_0001_0.mp4\n\
             b       succeeded  https://cdn.example/job_0001_1.mp4\n"
        );
        let polls = api
            .seen()
            .iter()
            .filter(|r| *r == "GET /v1/batches/batch_0001")
            .count();
        assert_eq!(
            polls,
            2,
            "queued, then running, then done: {:?}",
            api.seen()
        );
    }

    #[tokio::test]
    async fn a_job_is_followed_step_by_step_through_its_chain() {
        let api = FakeApi::start(None, vec![]).await;
        let jobs = json!([{"prompt": "a boat", "extend": [{"prompt": "b"}, {"prompt": "c"}]}]);
        batch(&api, jobs).await;
        let mut args = args(&api.url, "job_0001_0");
        args.json = true;
        let first = outcome(&args, Mode::Hidden).await;
        assert_eq!(first.exit, Exit::Ok, "{first:?}");
        let line: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
        assert_eq!(line["job_id"], "job_0001_0");
        assert_eq!(line["final_job_id"], "job_0001_0.s2");
        assert_eq!(line["prompt"], "a boat");
        assert_eq!(line["video_url"], "https://cdn.example/job_0001_0.s2.mp4");
        let seen = api.seen();
        assert!(
            seen.contains(&"GET /v1/jobs/job_0001_0.s2".to_owned()),
            "{seen:?}"
        );

        args.id = "job_0001_0.s1".into();
        let again = outcome(&args, Mode::Hidden).await;
        assert_eq!(
            again.stdout, first.stdout,
            "a step id follows its whole chain"
        );
    }

    #[tokio::test]
    async fn a_failed_job_exits_1_with_its_error() {
        let api = FakeApi::start(None, vec![]).await;
        batch(
            &api,
            json!([{"prompt": "will [fail]", "extend": [{"prompt": "x"}]}]),
        )
        .await;
        let outcome = outcome(&args(&api.url, "job_0001_0"), Mode::Hidden).await;
        assert_eq!(outcome.exit, Exit::Failed, "{outcome:?}");
        assert!(
            outcome
                .stdout
                .contains("  failed  api_error: the upstream could not make it\n"),
            "{}",
            outcome.stdout
        );
    }

    #[tokio::test]
    async fn unknown_ids_exit_1_and_an_unreachable_api_exits_3() {
        let api = FakeApi::start(None, vec![]).await;
        for id in ["batch_nope", "job_nope"] {
            let outcome = outcome(&args(&api.url, id), Mode::Hidden).await;
            assert_eq!(outcome.exit, Exit::Failed, "{outcome:?}");
            assert!(outcome.stderr.contains("not found"), "{}", outcome.stderr);
        }
        let url = fake_api::unreachable_url().await;
        let outcome = outcome(&args(&url, "batch_1"), Mode::Hidden).await;
        assert_eq!(outcome.exit, Exit::Unreachable, "{outcome:?}");
    }
}
