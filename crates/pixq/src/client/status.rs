//! `pixq status ID`: one job or batch, human readable, or with `--json` the object as the API
//! sent it.
//!
//! It exits 1 when the job failed, or when any job of the batch did, in both forms, so a script
//! can branch on the exit code alone.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::batch::{BatchView, is_batch_id};
use super::job::{JobView, timestamp, video_id};
use super::{ApiArgs, ApiClient, Exit, Outcome, plain};

/// The flags of `pixq status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The job's (`job_…`) or batch's (`batch_…`) id, as `pixq submit` or `pixq jobs`
    /// printed it.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Print the job object exactly as the API sent it.
    #[arg(long)]
    pub json: bool,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq status` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    outcome(&args).await.emit()
}

/// What `pixq status` prints and how it exits, without printing it.
pub async fn outcome(args: &StatusArgs) -> Outcome {
    let context = format!("status {}", args.id);
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(&context, &err),
    };
    if is_batch_id(&args.id) {
        return match client.batch(args.id.trim()).await {
            Ok(object) => {
                let failed = object.batch.counts.failed > 0;
                let stdout = if args.json {
                    format!("{}\n", object.text.trim_end())
                } else {
                    render_batch(&object.batch)
                };
                Outcome {
                    stdout,
                    stderr: String::new(),
                    exit: if failed { Exit::Failed } else { Exit::Ok },
                }
            }
            Err(err) => Outcome::error(&context, &err),
        };
    }
    match client.job(&args.id).await {
        Ok(object) => {
            let stdout = if args.json {
                let mut text = object.text;
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text
            } else {
                render(&object.job)
            };
            let exit = if object.job.is_failed() {
                Exit::Failed
            } else {
                Exit::Ok
            };
            Outcome {
                stdout,
                stderr: String::new(),
                exit,
            }
        }
        Err(err) => Outcome::error(&context, &err),
    }
}

/// The human-readable form: one `key: value` line per field, keys named as in the job object
/// so a reader can find them in `--json`. Unset fields show `-`; the result and the error
/// appear only when the job has them.
pub fn render(job: &JobView) -> String {
    let mut lines: Vec<(&str, String)> = Vec::new();
    let or_dash = |value: Option<&str>| value.map(plain).unwrap_or_else(|| "-".to_owned());

    lines.push(("id", plain(&job.id)));
    let state = match &job.waiting_reason {
        Some(reason) => format!("{} (waiting: {})", plain(&job.state), plain(reason)),
        None => plain(&job.state),
    };
    lines.push(("state", state));
    if let Some(action) = &job.action {
        lines.push(("action", plain(action)));
    }
    if let Some(prompt) = job.prompt() {
        lines.push(("prompt", plain(prompt)));
    }
    if let Some(batch) = &job.batch_id {
        lines.push(("batch_id", plain(batch)));
    }
    lines.push((
        "step",
        job.step
            .map(|step| step.to_string())
            .unwrap_or_else(|| "-".into()),
    ));
    lines.push(("root_id", or_dash(job.root_id.as_deref())));
    lines.push(("parent_id", or_dash(job.parent_id.as_deref())));
    let children = match job.children.as_deref() {
        Some(children) if !children.is_empty() => plain(&children.join(", ")),
        _ => "-".to_owned(),
    };
    lines.push(("children", children));
    lines.push((
        "attempts",
        job.attempts
            .map(|attempts| attempts.to_string())
            .unwrap_or_else(|| "-".into()),
    ));
    let upstream = job.upstream.as_ref();
    lines.push((
        "task_id",
        or_dash(upstream.and_then(|up| up.task_id.as_deref())),
    ));
    if let Some(trace) = upstream.and_then(|up| up.trace_id.as_deref()) {
        lines.push(("trace_id", plain(trace)));
    }
    if let Some(result) = &job.result {
        let id = result.video_id.as_ref().map(video_id);
        lines.push(("video_id", or_dash(id.as_deref())));
        lines.push(("video_url", or_dash(result.video_url.as_deref())));
    }
    if let Some(error) = &job.error {
        let retry = match error.retryable {
            Some(true) => " (retryable)",
            _ => "",
        };
        let text = format!("{}: {}{retry}", plain(&error.code), plain(&error.message));
        lines.push(("error", text));
    }
    lines.push(("created_at", timestamp(job.created_at)));
    lines.push(("updated_at", timestamp(job.updated_at)));
    lines.push(("finished_at", timestamp(job.finished_at)));
    key_values(&lines)
}

/// A batch, human readable: its chains by state and its times, keys as in the batch object.
pub fn render_batch(batch: &BatchView) -> String {
    let counts = batch.counts;
    key_values(&[
        ("id", plain(&batch.id)),
        ("total", batch.total.to_string()),
        ("queued", counts.queued.to_string()),
        ("running", counts.running.to_string()),
        ("succeeded", counts.succeeded.to_string()),
        ("failed", counts.failed.to_string()),
        ("cancelled", counts.cancelled.to_string()),
        ("created_at", timestamp(batch.created_at)),
        ("finished_at", timestamp(batch.finished_at)),
    ])
}

/// One `key: value` line each, values aligned.
fn key_values(lines: &[(&str, String)]) -> String {
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (key, value) in lines {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{:<width$} {value}", format!("{key}:"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::fake_api::{self, FakeApi};
    use super::*;

    fn args(url: &str, token: Option<&str>, id: &str, json: bool) -> StatusArgs {
        StatusArgs {
            id: id.to_owned(),
            json,
            api: ApiArgs {
                api: url.parse().unwrap(),
                token: token.map(str::to_owned),
            },
        }
    }

    fn finished_extend_step() -> Value {
        let mut job = fake_api::job("job_a.s1", "succeeded");
        job["root_id"] = json!("job_a");
        job["parent_id"] = json!("job_a");
        job["step"] = json!(1);
        job["action"] = json!("extend");
        job["children"] = json!(["job_a.s2"]);
        job["attempts"] = json!(2);
        job["upstream"] = json!({"task_id": "task-77", "trace_id": "trace-9", "submitted_at": "2025-01-02T03:04:07Z"});
        job["result"] = json!({"video_id": 317982208110208_u64, "video_url": "https://cdn.example/v.mp4", "width": 960});
        job
    }

    #[tokio::test]
    async fn human_output_shows_chain_upstream_result_and_times() {
        let api = FakeApi::start(None, vec![finished_extend_step()]).await;
        let outcome = outcome(&args(&api.url, None, "job_a.s1", false)).await;
        assert_eq!(outcome.exit, Exit::Ok, "{outcome:?}");
        for line in [
            "id:          job_a.s1\n",
            "state:       succeeded\n",
            "action:      extend\n",
            "prompt:      prompt of job_a.s1\n",
            "step:        1\n",
            "root_id:     job_a\n",
            "parent_id:   job_a\n",
            "children:    job_a.s2\n",
            "attempts:    2\n",
            "task_id:     task-77\n",
            "trace_id:    trace-9\n",
            "video_id:    317982208110208\n",
            "video_url:   https://cdn.example/v.mp4\n",
            "created_at:  2025-01-02T03:04:05Z\n",
            "finished_at: 2025-01-02T03:05:00Z\n",
        ] {
            assert!(
                outcome.stdout.contains(line),
                "{line:?} in\n{}",
                outcome.stdout
            );
        }
        assert!(outcome.stderr.is_empty());
    }

    #[tokio::test]
    async fn queued_job_shows_its_waiting_reason_and_no_result() {
        let mut job = fake_api::job("job_w", "queued");
        job["waiting_reason"] = json!("rate_limited");
        let api = FakeApi::start(None, vec![job]).await;
        let outcome = outcome(&args(&api.url, None, "job_w", false)).await;
        assert_eq!(outcome.exit, Exit::Ok);
        assert!(
            outcome
                .stdout
                .contains("state:       queued (waiting: rate_limited)\n")
        );
        assert!(outcome.stdout.contains("task_id:     -\n"));
        assert!(outcome.stdout.contains("finished_at: -\n"));
        assert!(!outcome.stdout.contains("video_url"));
    }

    #[tokio::test]
    async fn failed_job_exits_1_and_shows_its_error() {
        let mut job = fake_api::job("job_f", "failed");
        job["error"] =
            json!({"code": "poll_timeout", "message": "no answer in 15m", "retryable": true});
        let api = FakeApi::start(None, vec![job]).await;
        let human = outcome(&args(&api.url, None, "job_f", false)).await;
        assert_eq!(human.exit, Exit::Failed);
        assert!(
            human
                .stdout
                .contains("error:       poll_timeout: no answer in 15m (retryable)\n")
        );
        let json = outcome(&args(&api.url, None, "job_f", true)).await;
        assert_eq!(json.exit, Exit::Failed);
    }

    #[tokio::test]
    async fn json_prints_the_object_as_sent() {
        let job = finished_extend_step();
        let api = FakeApi::start(None, vec![job.clone()]).await;
        let outcome = outcome(&args(&api.url, None, "job_a.s1", true)).await;
        assert_eq!(outcome.exit, Exit::Ok);
        assert!(outcome.stdout.ends_with('\n'));
        let printed: Value = serde_json::from_str(&outcome.stdout).unwrap();
        assert_eq!(printed, job);
    }

    #[tokio::test]
    async fn unknown_job_exits_1_naming_the_id() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, None, "job_nope", false)).await;
        assert_eq!(outcome.exit, Exit::Failed);
        assert!(outcome.stdout.is_empty());
        assert!(
            outcome
                .stderr
                .starts_with("pixq status job_nope: not found"),
            "{}",
            outcome.stderr
        );
    }

    #[tokio::test]
    async fn server_error_exits_3() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, None, fake_api::BROKEN_ID, false)).await;
        assert_eq!(outcome.exit, Exit::Unreachable, "{outcome:?}");
        assert!(outcome.stderr.contains("(500)"), "{}", outcome.stderr);
    }

    #[tokio::test]
    async fn unreachable_api_exits_3_with_a_hint() {
        let url = fake_api::unreachable_url().await;
        let outcome = outcome(&args(&url, None, "job_x", false)).await;
        assert_eq!(outcome.exit, Exit::Unreachable, "{outcome:?}");
        assert!(
            outcome
                .stderr
                .contains("cannot reach the pixq API at http://127.0.0.1:")
        );
        assert!(outcome.stderr.contains("PIXQ_API_URL"));
    }

    #[tokio::test]
    async fn token_is_sent_as_bearer() {
        let api = FakeApi::start(Some("tok-1"), vec![fake_api::job("job_t", "queued")]).await;
        let outcome = outcome(&args(&api.url, Some("tok-1"), "job_t", false)).await;
        assert_eq!(outcome.exit, Exit::Ok, "{outcome:?}");
    }

    #[tokio::test]
    async fn missing_token_exits_2_and_says_how_to_give_one() {
        let api = FakeApi::start(Some("tok-1"), vec![fake_api::job("job_t", "queued")]).await;
        let outcome = outcome(&args(&api.url, None, "job_t", false)).await;
        assert_eq!(outcome.exit, Exit::Usage);
        assert!(outcome.stderr.contains("(401)"), "{}", outcome.stderr);
        assert!(
            outcome.stderr.contains("PIXQ_API_TOKEN"),
            "{}",
            outcome.stderr
        );
    }

    #[tokio::test]
    async fn refused_token_is_never_shown_even_when_the_server_echoes_it() {
        let api = FakeApi::start(Some("tok-1"), vec![fake_api::job("job_t", "queued")]).await;
        let outcome = outcome(&args(&api.url, Some("wrong-secret-42"), "job_t", false)).await;
        assert_eq!(outcome.exit, Exit::Usage);
        assert!(
            outcome.stderr.contains("Bearer ***"),
            "the fake echoes the header: {}",
            outcome.stderr
        );
        assert!(!format!("{outcome:?}").contains("wrong-secret-42"));
    }

    #[tokio::test]
    async fn blank_id_is_a_usage_error_not_a_listing() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, None, "  ", false)).await;
        assert_eq!(outcome.exit, Exit::Usage);
        assert!(api.seen().is_empty());
    }

    #[tokio::test]
    async fn id_with_a_slash_stays_one_path_segment() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, None, "../jobs", false)).await;
        assert_eq!(outcome.exit, Exit::Failed);
        assert_eq!(api.seen(), ["GET /v1/jobs/..%2Fjobs"]);
    }

    #[test]
    fn control_characters_from_the_server_are_not_printed() {
        let mut job = fake_api::job("job_c", "failed");
        job["error"] = json!({"code": "x", "message": "bad\u{1b}[2Jthing", "retryable": false});
        let view: JobView = serde_json::from_value(job).unwrap();
        assert!(!render(&view).contains('\u{1b}'));
    }

    #[tokio::test]
    async fn a_batch_shows_its_counts_and_times_and_exits_1_when_a_job_failed() {
        let api = FakeApi::start(None, vec![]).await;
        let jobs = [
            json!({"prompt": "a"}),
            json!({"prompt": "b [fail]"}),
            json!({"prompt": "c", "extend": [{"prompt": "d"}]}),
        ];
        let id = api.add_batch(&jobs, 1);
        let human = outcome(&args(&api.url, None, &id, false)).await;
        assert_eq!(human.exit, Exit::Failed, "{human:?}");
        assert_eq!(
            human.stdout,
            "id:          batch_0001\n\
             total:       3\n\
             queued:      0\n\
             running:     1\n\
             succeeded:   1\n\
             failed:      1\n\
             cancelled:   0\n\
             created_at:  2025-01-02T03:04:05Z\n\
             finished_at: -\n"
        );
        let json = outcome(&args(&api.url, None, &id, true)).await;
        let object: Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(object["counts"]["succeeded"], 2, "the fake moved on a tick");
        assert_eq!(
            api.seen(),
            [
                format!("GET /v1/batches/{id}"),
                format!("GET /v1/batches/{id}")
            ]
        );
    }
}
