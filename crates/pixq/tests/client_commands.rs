//! The client commands (`status`, `jobs`, `cancel`, `retry`) run as a user runs them: the built
//! binary, an environment holding only what each test sets, and a fake pixq API on loopback.
//!
//! The commands' logic is tested inside `src/client/`; these tests check what only the binary
//! shows: flag and environment parsing, what reaches stdout and stderr, and the exit codes.

// The fake API is the one the unit tests use; it depends on nothing of the crate.
#[path = "../src/client/fake_api.rs"]
#[allow(dead_code)]
mod fake_api;

use fake_api::FakeApi;
use serde_json::{Value, json};

/// What a run printed and how it exited.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `pixq ARGS` with exactly the environment `env`.
async fn pixq(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pixq"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run pixq");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn failed_job() -> Value {
    let mut job = fake_api::job("job_f", "failed");
    job["attempts"] = json!(3);
    job["upstream"]["task_id"] = json!("task-5");
    job["error"] =
        json!({"code": "max_attempts", "message": "gave up after 3 tries", "retryable": false});
    job
}

#[tokio::test]
async fn status_of_a_failed_job_prints_its_fields_and_exits_1() {
    let api = FakeApi::start(None, vec![failed_job()]).await;
    let run = pixq(&["status", "job_f", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    for line in [
        "id:          job_f\n",
        "state:       failed\n",
        "attempts:    3\n",
        "task_id:     task-5\n",
        "error:       max_attempts: gave up after 3 tries\n",
        "created_at:  2025-01-02T03:04:05Z\n",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{}", run.stdout);
    }
}

#[tokio::test]
async fn status_json_prints_the_raw_object_and_reads_the_url_from_the_environment() {
    let job = fake_api::job("job_q", "queued");
    let api = FakeApi::start(None, vec![job.clone()]).await;
    let run = pixq(
        &["status", "job_q", "--json"],
        &[("PIXQ_API_URL", &api.url)],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let printed: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON object");
    assert_eq!(printed, job);
}

#[tokio::test]
async fn unknown_job_exits_1_and_unreachable_api_exits_3() {
    let api = FakeApi::start(None, vec![]).await;
    let run = pixq(&["status", "job_nope", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("not found"), "{run:?}");

    let nowhere = fake_api::unreachable_url().await;
    let run = pixq(&["status", "job_nope", "--api", &nowhere], &[]).await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("cannot reach the pixq API"), "{run:?}");
}

#[tokio::test]
async fn jobs_follows_pages_up_to_the_limit() {
    let jobs = (1..=5)
        .rev()
        .map(|n| fake_api::job(&format!("job_{n}"), "queued"))
        .collect();
    let api = FakeApi::start(None, jobs).await;
    let run = pixq(&["jobs", "--limit", "3", "--json", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let ids: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            let job: Value = serde_json::from_str(line).expect("one JSON object a line");
            job["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    assert_eq!(ids, ["job_5", "job_4", "job_3"]);
    assert!(run.stderr.contains("more match"), "{run:?}");

    let run = pixq(&["jobs", "--state", "done", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(2), "a bad state is a usage error: {run:?}");
}

#[tokio::test]
async fn cancel_and_retry_exit_1_on_conflict() {
    let running = fake_api::job("job_r", "generating");
    let api = FakeApi::start(None, vec![running, failed_job()]).await;

    let run = pixq(&["cancel", "job_r", "--api", &api.url], &[]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(0), "job_r: cancelled\n")
    );
    let run = pixq(&["cancel", "job_r", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("already finished (state cancelled)"),
        "{run:?}"
    );

    let run = pixq(&["retry", "job_f", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = pixq(&["retry", "job_f", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(1), "a queued job cannot be retried: {run:?}");
}

#[tokio::test]
async fn token_from_the_environment_is_used_and_never_shown() {
    let secret = "tok-very-secret-1";
    let api = FakeApi::start(Some(secret), vec![fake_api::job("job_t", "queued")]).await;
    let env = [
        ("PIXQ_API_URL", api.url.as_str()),
        ("PIXQ_API_TOKEN", secret),
    ];
    let run = pixq(&["status", "job_t"], &env).await;
    assert_eq!(run.code, Some(0), "{run:?}");

    let wrong = "wrong-secret-2";
    let env = [
        ("PIXQ_API_URL", api.url.as_str()),
        ("PIXQ_API_TOKEN", wrong),
    ];
    let run = pixq(&["jobs"], &env).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        !run.stdout.contains(wrong) && !run.stderr.contains(wrong),
        "{run:?}"
    );

    for command in ["status", "jobs", "cancel", "retry"] {
        let run = pixq(&[command, "--help"], &env).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.contains("PIXQ_API_TOKEN"), "{run:?}");
        assert!(
            !run.stdout.contains(wrong),
            "--help shows the token: {run:?}"
        );
    }
}
