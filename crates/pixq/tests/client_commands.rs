//! The client commands (`submit`, `watch`, `status`, `jobs`, `cancel`, `retry`) run as a user
//! runs them: the built binary, an environment holding only what each test sets, and a fake pixq
//! API on loopback.
//!
//! The commands' logic is tested inside `src/client/`; these tests check what only the binary
//! shows: flag and environment parsing, what reaches stdout and stderr, and the exit codes.

// The fake API is the one the unit tests use; it depends on nothing of the crate.
#[path = "../src/client/fake_api/mod.rs"]
#[allow(dead_code)]
mod fake_api;

use std::path::PathBuf;
use std::process::Stdio;

use fake_api::FakeApi;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// What a run printed and how it exited.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `pixq ARGS` with exactly the environment `env`.
async fn pixq(args: &[&str], env: &[(&str, &str)]) -> Run {
    pixq_with_stdin(args, env, "").await
}

/// Runs `pixq ARGS` with exactly the environment `env`, `stdin` on its standard input.
async fn pixq_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pixq"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pixq");
    let mut input = child.stdin.take().expect("its stdin");
    // pixq may exit before reading (e.g. on a usage error); a closed pipe is fine then.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let output = child.wait_with_output().await.expect("wait for pixq");
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

    for command in ["submit", "watch", "status", "jobs", "cancel", "retry"] {
        let run = pixq(&[command, "--help"], &env).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.contains("PIXQ_API_TOKEN"), "{run:?}");
        assert!(
            !run.stdout.contains(wrong),
            "--help shows the token: {run:?}"
        );
    }
}

/// A directory of its own for one test's files, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("pixq-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    /// Writes `bytes` to `name` in the directory; returns its path as text.
    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write a test file");
        path.to_str().expect("a UTF-8 path").to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn submit_sends_a_csv_file_as_one_batch_and_prints_its_id() {
    let api = FakeApi::start(None, vec![]).await;
    let dir = TempDir::new("submit-csv");
    let csv = dir.file(
        "prompts.csv",
        "\u{feff}prompt,quality,extend_prompt\r\n\
         \"a paper boat, drifting\",720p,\r\n\
         a fox in the snow,,it starts to run\r\n",
    );
    let args = [
        "submit",
        &csv,
        "--model",
        "v4.5",
        "--extend",
        "1",
        "--idempotency-key",
        "k-1",
    ];
    let run = pixq(&args, &[("PIXQ_API_URL", &api.url)]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "batch_0001\n");
    assert!(run.stderr.contains("pixq watch batch_0001"), "{run:?}");
    let requests = api.batch_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].idempotency_key.as_deref(), Some("k-1"));
    assert_eq!(
        requests[0].body,
        json!({"jobs": [
            {"prompt": "a paper boat, drifting", "quality": "720p", "model": "v4.5",
             "extend": [{"prompt": "a paper boat, drifting"}]},
            {"prompt": "a fox in the snow", "model": "v4.5",
             "extend": [{"prompt": "it starts to run"}]},
        ]})
    );
}

#[tokio::test]
async fn submit_wait_runs_the_batch_to_the_end_and_writes_every_result() {
    let api = FakeApi::start(None, vec![]).await;
    let dir = TempDir::new("submit-wait");
    let prompts: String = (1..=5).map(|n| format!("prompt number {n}\n")).collect();
    let file = dir.file("prompts.txt", format!("# five prompts\n{prompts}"));
    let out = dir.0.join("out.jsonl");
    let args = [
        "submit",
        &file,
        "--extend",
        "1",
        "--wait",
        "--output",
        out.to_str().unwrap(),
        "--poll-interval",
        "20ms",
        "--api",
        &api.url,
    ];
    let run = pixq(&args, &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let table: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(table.len(), 6, "{run:?}");
    assert_eq!(table[0], "PROMPT           STATE      RESULT");
    assert_eq!(
        table[1],
        "prompt number 1  succeeded  https://cdn.example/job_0001_0.s1.mp4"
    );
    // stderr is a pipe, not a terminal: plain progress lines instead of a bar.
    assert!(
        run.stderr
            .contains("pixq submit: batch_0001 0/5 done · queued 0 · running 5 · succeeded 0"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("pixq submit: batch_0001 5/5 done"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("batch_0001: 5 of 5 succeeded, 0 failed, 0 cancelled"),
        "{run:?}"
    );
    let written = std::fs::read_to_string(&out).expect("the output file");
    let lines: Vec<Value> = written
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 5);
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line["index"], index);
        assert_eq!(line["state"], "succeeded");
        assert_eq!(line["final_job_id"], format!("job_0001_{index}.s1"));
        assert!(line["video_url"].as_str().is_some(), "{line}");
    }
}

#[tokio::test]
async fn submit_wait_exits_1_when_a_job_fails_and_reads_stdin() {
    let api = FakeApi::start(None, vec![]).await;
    let args = [
        "submit",
        "-",
        "--wait",
        "--poll-interval",
        "20ms",
        "--api",
        &api.url,
    ];
    let run = pixq_with_stdin(&args, &[], "works\nthis one will [fail]\n").await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains("this one will [fail]  failed     api_error: the upstream could not make it"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_bad_line_37_exits_2_naming_it_and_sends_nothing() {
    let api = FakeApi::start(None, vec![]).await;
    let dir = TempDir::new("submit-bad");
    let mut text = String::from("# forty prompts, one too long\n");
    for line in 2..=40 {
        let prompt = if line == 37 {
            "an endless prompt ".repeat(200)
        } else {
            format!("prompt on line {line}")
        };
        text.push_str(&prompt);
        text.push('\n');
    }
    let file = dir.file("prompts.txt", &text);
    let run = pixq(&["submit", &file, "--wait", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "{file} line 37, field `prompt`: the prompt is 3599 characters"
        )),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("1 bad line; nothing was sent"),
        "{run:?}"
    );
    assert!(api.seen().is_empty(), "{:?}", api.seen());
}

#[tokio::test]
async fn watch_follows_a_batch_and_a_job_to_their_end() {
    let api = FakeApi::start(None, vec![]).await;
    let run = pixq_with_stdin(
        &["submit", "-", "--extend", "2", "--api", &api.url],
        &[],
        "one\ntwo\n",
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let id = run.stdout.trim();

    let run = pixq(
        &[
            "watch",
            "job_0001_1",
            "--poll-interval",
            "20ms",
            "--api",
            &api.url,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "PROMPT  STATE      RESULT\ntwo     succeeded  https://cdn.example/job_0001_1.s2.mp4\n"
    );

    let run = pixq(
        &[
            "watch",
            id,
            "--json",
            "--poll-interval",
            "20ms",
            "--api",
            &api.url,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let states: Vec<String> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["state"].to_string())
        .collect();
    assert_eq!(states, ["\"succeeded\"", "\"succeeded\""]);

    let run = pixq(&["watch", "batch_nope", "--api", &api.url], &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
}

#[tokio::test]
async fn status_cancel_and_retry_take_batch_ids() {
    let api = FakeApi::start(None, vec![]).await;
    let running = api.add_batch(&[json!({"prompt": "a", "extend": [{"prompt": "b"}]})], 0);
    let failed = api.add_batch(&[json!({"prompt": "c [fail]"}), json!({"prompt": "d"})], 2);
    let env = [("PIXQ_API_URL", api.url.as_str())];

    let run = pixq(&["status", &running], &env).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("running:     1\n"), "{run:?}");
    assert!(run.stdout.contains("finished_at: -\n"), "{run:?}");
    let run = pixq(&["status", &failed, "--json"], &env).await;
    assert_eq!(run.code, Some(1), "a batch with a failed job: {run:?}");
    let object: Value = serde_json::from_str(&run.stdout).expect("the batch object");
    assert_eq!(object["counts"]["failed"], 1);

    let run = pixq(&["cancel", &running], &env).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "{running}: cancelled; of 1: 1 cancelled, 0 succeeded, 0 failed, 0 still running\n"
        )
    );

    let run = pixq(&["retry", &failed], &env).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (
            Some(0),
            format!("{failed}: retrying 1 failed job\n").as_str()
        )
    );
    let seen = api.seen();
    assert!(
        seen.contains(&format!("POST /v1/batches/{running}/cancel")),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("POST /v1/batches/{failed}/retry")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn submit_to_an_unreachable_api_exits_3() {
    let nowhere = fake_api::unreachable_url().await;
    let run = pixq_with_stdin(&["submit", "-", "--api", &nowhere], &[], "a prompt\n").await;
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("cannot reach the pixq API"), "{run:?}");
}
