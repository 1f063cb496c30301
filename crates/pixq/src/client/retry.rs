//! `pixq retry ID`: re-drives a failed job under the same id, from its failed step, or every
//! failed job of a batch (`batch_…`).
//!
//! Retrying a job that did not fail is a conflict (exit 1); the message names its state.

use std::process::ExitCode;

use super::batch::{BatchRetry, is_batch_id};
use super::job::JobView;
use super::{ApiArgs, ApiClient, ApiError, Exit, Outcome, plain};

/// The flags of `pixq retry`.
#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// The failed job to run again, or a batch whose failed jobs to run again.
    #[arg(value_name = "ID")]
    pub id: String,

    /// Where the API is and how to authenticate.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Runs `pixq retry` and prints its answer.
///
/// # Errors
///
/// Only when stdout or stderr cannot be written; API failures become exit codes.
pub async fn run(args: RetryArgs) -> anyhow::Result<ExitCode> {
    outcome(&args).await.emit()
}

/// What `pixq retry` prints and how it exits, without printing it.
pub async fn outcome(args: &RetryArgs) -> Outcome {
    let context = format!("retry {}", args.id);
    let client = match ApiClient::new(&args.api) {
        Ok(client) => client,
        Err(err) => return Outcome::error(&context, &err),
    };
    if is_batch_id(&args.id) {
        return match client.retry_batch(args.id.trim()).await {
            Ok(retry) => render_batch(&context, &retry),
            Err(err) => Outcome::error(&context, &err),
        };
    }
    match client.retry_job(&args.id).await {
        Ok(job) => Outcome::ok(render(&args.id, job.as_ref())),
        Err(ApiError::Conflict { message, .. }) => {
            let why = match client.job(&args.id).await {
                Ok(object) => format!(
                    "not retried (state {}): {message}",
                    plain(&object.job.state)
                ),
                Err(_) => format!("not retried: {message}"),
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

/// The confirmation line: `ID: retrying (state S, step N)` as the API reported it.
pub fn render(id: &str, job: Option<&JobView>) -> String {
    match job {
        Some(job) => {
            let step = job
                .step
                .map(|step| format!(", step {step}"))
                .unwrap_or_default();
            format!(
                "{}: retrying (state {}{step})\n",
                plain(&job.id),
                plain(&job.state)
            )
        }
        None => format!("{}: retrying\n", plain(id)),
    }
}

/// The confirmation for a batch; a batch with no failed job is a note, not an error, so
/// `pixq retry B && pixq watch B` works either way.
fn render_batch(context: &str, retry: &BatchRetry) -> Outcome {
    let id = plain(&retry.id);
    match retry.retried {
        0 => Outcome {
            stdout: format!("{id}: no failed jobs to retry\n"),
            stderr: format!("pixq {}: nothing to retry\n", plain(context)),
            exit: Exit::Ok,
        },
        1 => Outcome::ok(format!("{id}: retrying 1 failed job\n")),
        n => Outcome::ok(format!("{id}: retrying {n} failed jobs\n")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fake_api::{self, FakeApi};
    use super::*;

    fn args(url: &str, id: &str) -> RetryArgs {
        RetryArgs {
            id: id.to_owned(),
            api: ApiArgs {
                api: url.parse().unwrap(),
                token: None,
            },
        }
    }

    #[tokio::test]
    async fn requeues_a_failed_job() {
        let api = FakeApi::start(None, vec![fake_api::job("job_f", "failed")]).await;
        let outcome = outcome(&args(&api.url, "job_f")).await;
        assert_eq!(
            outcome,
            Outcome::ok("job_f: retrying (state queued, step 0)\n".into())
        );
        assert_eq!(api.seen(), ["POST /v1/jobs/job_f/retry"]);
        assert_eq!(api.job("job_f").unwrap()["state"], "queued");
    }

    #[tokio::test]
    async fn job_that_did_not_fail_exits_1_naming_its_state() {
        let api = FakeApi::start(None, vec![fake_api::job("job_s", "succeeded")]).await;
        let outcome = outcome(&args(&api.url, "job_s")).await;
        assert_eq!(outcome.exit, Exit::Failed);
        assert!(
            outcome
                .stderr
                .starts_with("pixq retry job_s: not retried (state succeeded): "),
            "{}",
            outcome.stderr
        );
    }

    #[tokio::test]
    async fn unknown_job_exits_1() {
        let api = FakeApi::start(None, vec![]).await;
        let outcome = outcome(&args(&api.url, "job_nope")).await;
        assert_eq!(outcome.exit, Exit::Failed);
    }

    #[tokio::test]
    async fn unreachable_api_exits_3() {
        let url = fake_api::unreachable_url().await;
        let outcome = outcome(&args(&url, "job_f")).await;
        assert_eq!(outcome.exit, Exit::Unreachable);
    }

    #[tokio::test]
    async fn retries_the_failed_jobs_of_a_batch() {
        let api = FakeApi::start(None, vec![]).await;
        let jobs = [
            json!({"prompt": "a [fail]"}),
            json!({"prompt": "b [fail]"}),
            json!({"prompt": "c"}),
        ];
        let id = api.add_batch(&jobs, 3);
        let first = outcome(&args(&api.url, &id)).await;
        assert_eq!(
            first,
            Outcome::ok(format!("{id}: retrying 2 failed jobs\n"))
        );
        assert_eq!(api.seen(), [format!("POST /v1/batches/{id}/retry")]);
        let again = outcome(&args(&api.url, &id)).await;
        assert_eq!(again.exit, Exit::Ok);
        assert_eq!(again.stdout, format!("{id}: no failed jobs to retry\n"));
    }
}
