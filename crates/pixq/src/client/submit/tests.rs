use std::time::Duration;

use serde_json::json;

use super::super::fake_api::{self, FakeApi};
use super::*;

fn args(url: &str, file: &str) -> SubmitArgs {
    SubmitArgs {
        file: PathBuf::from(file),
        format: None,
        defaults: JobDefaults::default(),
        idempotency_key: None,
        wait: false,
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

async fn submit(args: &SubmitArgs, stdin: &str) -> Outcome {
    outcome(args, Mode::Hidden, &mut stdin.as_bytes()).await
}

#[tokio::test]
async fn sends_one_batch_with_the_flags_filled_in_and_prints_its_id() {
    let api = FakeApi::start(None, vec![]).await;
    let mut args = args(&api.url, "-");
    args.defaults.quality = Some("720p".into());
    args.defaults.extend = Some(1);
    args.idempotency_key = Some("key-1".into());
    let outcome = submit(&args, "# two prompts\na paper boat\n\na fox\n").await;
    assert_eq!(outcome.exit, Exit::Ok, "{outcome:?}");
    assert_eq!(outcome.stdout, "batch_0001\n");
    assert_eq!(
        outcome.stderr,
        "pixq submit: 2 jobs from <stdin> queued as batch_0001; follow them with `pixq watch batch_0001`\n"
    );
    let requests = api.batch_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].idempotency_key.as_deref(), Some("key-1"));
    assert_eq!(
        requests[0].content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(
        requests[0].body,
        json!({"jobs": [
            {"prompt": "a paper boat", "quality": "720p", "extend": [{"prompt": "a paper boat"}]},
            {"prompt": "a fox", "quality": "720p", "extend": [{"prompt": "a fox"}]},
        ]})
    );
}

#[tokio::test]
async fn json_prints_the_batch_object() {
    let api = FakeApi::start(None, vec![]).await;
    let mut args = args(&api.url, "-");
    args.json = true;
    let outcome = submit(&args, "one\n").await;
    let object: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(object["id"], "batch_0001");
    assert_eq!(object["counts"]["queued"], 1);
}

#[tokio::test]
async fn bad_lines_exit_2_naming_file_line_and_field_and_send_nothing() {
    let api = FakeApi::start(None, vec![]).await;
    let mut args = args(&api.url, "-");
    args.format = Some(Format::Jsonl);
    let text = "{\"prompt\": \"ok\"}\n{\"prompt\": \"a\", \"duration\": \"5\"}\n{\"prompt\": \"b\", \"colour\": 1}\n";
    let outcome = submit(&args, text).await;
    assert_eq!(outcome.exit, Exit::Usage, "{outcome:?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert!(
        lines[0].starts_with("pixq submit: <stdin> line 2, field `duration`: "),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("pixq submit: <stdin> line 3, field `colour`: "),
        "{lines:?}"
    );
    assert_eq!(lines[2], "pixq submit: 2 bad lines; nothing was sent");
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn refused_entries_are_mapped_back_to_their_lines() {
    let api = FakeApi::start(None, vec![]).await;
    let args = args(&api.url, "-");
    let text = "# header\nfine\n\nsurely [reject] this\nfine again\n[reject] me too\n";
    let outcome = submit(&args, text).await;
    assert_eq!(outcome.exit, Exit::Usage, "{outcome:?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "pixq submit: <stdin> line 4, field `prompt`: the fake refuses this prompt (invalid_value)",
            "pixq submit: <stdin> line 6, field `prompt`: the fake refuses this prompt (invalid_value)",
            "pixq submit: <stdin>: the API refused the batch: 2 of 4 jobs are invalid",
            "pixq submit: 2 bad lines; the API queued nothing",
        ]
    );
}

#[tokio::test]
async fn bad_flags_and_unreadable_files_exit_2_before_sending() {
    let api = FakeApi::start(None, vec![]).await;
    let mut bad = args(&api.url, "-");
    bad.defaults.quality = Some("1080p".into());
    bad.defaults.duration = Some("8".into());
    let outcome = submit(&bad, "a\n").await;
    assert_eq!(outcome.exit, Exit::Usage, "{outcome:?}");
    assert!(outcome.stderr.contains(": --"), "{}", outcome.stderr);

    let missing = args(&api.url, "/nonexistent/prompts.txt");
    let outcome = submit(&missing, "").await;
    assert_eq!(outcome.exit, Exit::Usage);
    assert!(
        outcome
            .stderr
            .contains("cannot read /nonexistent/prompts.txt")
    );

    let outcome = submit(&args(&api.url, "prompts.json"), "").await;
    assert_eq!(outcome.exit, Exit::Usage);
    assert!(outcome.stderr.contains("--format"), "{}", outcome.stderr);
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn wait_follows_the_batch_and_exits_1_when_a_job_failed() {
    let api = FakeApi::start(None, vec![]).await;
    let dir = std::env::temp_dir().join(format!("pixq-submit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("out.jsonl");
    let mut args = args(&api.url, "-");
    args.wait = true;
    args.output = Some(output.clone());
    args.defaults.extend = Some(2);
    let outcome = submit(&args, "a paper boat\nthis one will [fail]\n").await;
    assert_eq!(outcome.exit, Exit::Failed, "{outcome:?}");
    let table: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(table[0], "PROMPT                STATE      RESULT");
    assert_eq!(
        table[1],
        "a paper boat          succeeded  https://cdn.example/job_0001_0.s2.mp4"
    );
    assert_eq!(
        table[2],
        "this one will [fail]  failed     api_error: the upstream could not make it"
    );
    assert!(
        outcome
            .stderr
            .contains("batch_0001: 1 of 2 succeeded, 1 failed, 0 cancelled in 1m 32s"),
        "{}",
        outcome.stderr
    );
    let written = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<serde_json::Value> = written
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["final_job_id"], "job_0001_0.s2");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unreachable_api_exits_3() {
    let url = fake_api::unreachable_url().await;
    let outcome = submit(&args(&url, "-"), "a\n").await;
    assert_eq!(outcome.exit, Exit::Unreachable, "{outcome:?}");
}
