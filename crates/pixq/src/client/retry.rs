//! `pixq retry ID`: re-drives a failed job under the same id, from its failed step.
//!
//! Retrying a job that did not fail is a conflict (exit 1); the message names its state.

use std::process::ExitCode;

use super::job::JobView;
use super::{ApiArgs, ApiClient, ApiError, Exit, Outcome, plain};

/// The flags of `pixq retry`.
#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// The failed job to run again.
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

#[cfg(test)]
mod tests {
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
}
