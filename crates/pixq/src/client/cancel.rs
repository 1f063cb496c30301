//! `pixq cancel ID`: cancels a job and the rest of its chain, or every unfinished job of a
//! batch (`batch_…`); a batch's finished jobs keep their results.
//!
//! Cancelling a finished job is a conflict (exit 1). The message then names the state the job
//! finished in, read back from the API, because "conflict" alone does not tell a user whether
//! the job succeeded or failed.

use std::process::ExitCode;

use super::batch::{BatchView, is_batch_id};
use super::job::JobView;
use super::{ApiArgs, ApiClient, ApiError, Exit, Outcome, plain};

/// The flags of `pixq cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The job to cancel, with its later chain steps; or a batch, with all its unfinished jobs.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq cancel` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: CancelArgs) -> anyhow::Result<ExitCode> {
    outcome(&args).await.emit()
}

/// What `pixq cancel` prints and how it exits, without printing it.
pub async fn outcome(args: &CancelArgs) -> Outcome {
    let context = format!("cancel {}", args.id);
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(&context, &err),
    };
    if is_batch_id(&args.id) {
        return match client.cancel_batch(args.id.trim()).await {
            Ok(object) => Outcome::ok(render_batch(&object.batch)),
            Err(err) => Outcome::error(&context, &err),
        };
    }
    match client.cancel_job(&args.id).await {
        Ok(job) => Outcome::ok(render(&args.id, job.as_ref())),
        Err(ApiError::Conflict { message, .. }) => {
            let why = match client.job(&args.id).await {
                Ok(object) => format!("already finished (state {})", plain(&object.job.state)),
                Err(_) => format!("already finished: {message}"),
            };
            Outcome {
                stdout: String::new(),
                stderr: format!("pixq {}: {why}\n", plain(&context)),
                exit: Exit::Failed,
            }
        }
        Err(err) => Outcome::error(&context, &err),
    }
}

/// The confirmation line: `ID: cancelled`, or the state the API reported when the job is not
/// cancelled yet (e.g. an older API that cancels asynchronously).
pub fn render(id: &str, job: Option<&JobView>) -> String {
    let id = plain(job.map_or(id, |job| job.id.as_str()));
    match job {
        Some(job) if job.state == "cancelled" => format!("{id}: cancelled\n"),
        Some(job) => format!("{id}: cancel requested (state {})\n", plain(&job.state)),
        None => format!("{id}: cancel requested\n"),
    }
}

/// The confirmation for a batch: how its chains ended up.
pub fn render_batch(batch: &BatchView) -> String {
    let counts = batch.counts;
    format!(
        "{}: cancelled; of {}: {} cancelled, {} succeeded, {} failed, {} still running\n",
        plain(&batch.id),
        batch.total,
        counts.cancelled,
        counts.succeeded,
        counts.failed,
        counts.queued + counts.running
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fake_api::{self, FakeApi};
    use super::*;

    fn args(url: &str, id: &str) -> CancelArgs {
        CancelArgs {
            id: id.to_owned(),
            api: ApiArgs {
                api: url.parse().unwrap(),
                token: None,
            },
        }
    }

    #[tokio::test]
    async fn cancels_an_unfinished_job() {
        let api = FakeApi::start(None, vec![fake_api::job("job_g", "generating")]).await;
        let outcome = outcome(&args(&api.url, "job_g")).await;
        assert_eq!(outcome, Outcome::ok("job_g: cancelled\n".into()));
        assert_eq!(api.job("job_g").unwrap()["state"], "cancelled");
        assert_eq!(api.seen(), ["POST /v1/jobs/job_g/cancel"]);
    }

    #[tokio::test]
    async fn finished_job_exits_1_naming_its_state() {
        let api = FakeApi::start(None, vec![fake_api::job("job_s", "succeeded")]).await;
        let outcome = outcome(&args(&api.url, "job_s")).await;
        assert_eq!(outcome.exit, Exit::Failed);
        assert!(outcome.stdout.is_empty());
        assert_eq!(
            outcome.stderr,
            "pixq cancel job_s: already finished (state succeeded)\n"
        );
        assert_eq!(api.job("job_s").unwrap()["state"], "succeeded");
    }

    #[tokio::test]
    async fn unknown_job_exits_1() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, "job_nope")).await;
        assert_eq!(outcome.exit, Exit::Failed);
        assert!(outcome.stderr.contains("not found"), "{}", outcome.stderr);
    }

    #[tokio::test]
    async fn unreachable_api_exits_3() {
        let url = fake_api::unreachable_url().await;
        let outcome = outcome(&args(&url, "job_g")).await;
        assert_eq!(outcome.exit, Exit::Unreachable);
    }

    #[test]
    fn a_body_without_a_job_still_confirms() {
        assert_eq!(render("job_x", None), "job_x: cancel requested\n");
    }

    #[tokio::test]
    async fn cancels_a_batch_and_says_how_its_chains_ended() {
        let api = FakeApi::start(None, vec![]).await;
        let jobs = [
            json!({"prompt": "a"}),
            json!({"prompt": "b", "extend": [{"prompt": "c"}]}),
        ];
        let id = api.add_batch(&jobs, 2);
        let cancelled = outcome(&args(&api.url, &id)).await;
        assert_eq!(
            cancelled,
            Outcome::ok(format!(
                "{id}: cancelled; of 2: 1 cancelled, 1 succeeded, 0 failed, 0 still running\n"
            ))
        );
        assert_eq!(api.seen(), [format!("POST /v1/batches/{id}/cancel")]);
        let unknown = outcome(&args(&api.url, "batch_nope")).await;
        assert_eq!(unknown.exit, Exit::Failed);
    }
}
