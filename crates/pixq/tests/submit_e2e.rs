//! `pixq submit` and `pixq demo` end to end: the built binary as a user runs it, over real HTTP,
//! against real pixq processes and the simulator, all on loopback.
//!
//! - A 500-line prompt file submitted with `--extend 1 --wait --output` ends with 500 extended
//!   videos and exactly 1000 paid generations, on each home (`…_on_redis`, `…_embedded`).
//! - A file with one bad line is refused whole: exit 2, the line and the field named, nothing
//!   queued and nothing paid.
//! - `pixq demo` runs from an empty directory with no configuration, prints a row per sample
//!   prompt, exits 0 and leaves nothing behind; what the user's environment holds cannot
//!   redirect it, and its token is never shown.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use pixverse_sim::SimConfig;
use serde_json::Value;
use support::*;

/// The sample prompts the demo submits, as the binary compiles them in.
const SAMPLE_PROMPTS: &str = include_str!("../../../examples/prompts.txt");

/// What the built binary printed, and how it ended.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `pixq ARGS` in `cwd` with exactly `env` (plus PATH), and kills it at `deadline`.
async fn pixq(args: &[&str], cwd: &Path, env: &[(&str, String)], deadline: Duration) -> Ran {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pixq"));
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    run_to_end(command, deadline).await
}

/// Runs `command` with its output captured; fails the test if it is still running at
/// `deadline` (it is killed then).
async fn run_to_end(mut command: tokio::process::Command, deadline: Duration) -> Ran {
    let start = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("pixq starts");
    let output: Output = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(output) => output.expect("pixq's output"),
        // Dropping the future drops the child, which kill_on_drop SIGKILLs.
        Err(_) => panic!("pixq {:?} still ran after {deadline:?}", command.as_std()),
    };
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: start.elapsed(),
    }
}

/// A prompt file of `n` distinct prompts, one a line.
fn prompt_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("a paper boat on a rainy street, take {i}"))
        .collect()
}

/// Two tests running `$scenario(mode)`: `$on_redis` on Redis, `$embedded` embedded.
macro_rules! in_both_modes {
    ($scenario:ident: $on_redis:ident, $embedded:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $on_redis() {
            $scenario(Mode::Redis).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $embedded() {
            $scenario(Mode::Embedded).await;
        }
    };
}

in_both_modes!(five_hundred_prompts_extended_once:
    five_hundred_prompts_extended_once_end_as_500_final_videos_and_1000_generations_on_redis,
    five_hundred_prompts_extended_once_end_as_500_final_videos_and_1000_generations_embedded);

async fn five_hundred_prompts_extended_once(mode: Mode) {
    const N: usize = 500;
    let sim = SimConfig::default()
        .with_latency("100ms..300ms".parse().expect("a latency"))
        .with_max_in_flight(10_000);
    let mut run = Run::start(Setup::new(sim).mode(mode)).await;
    run.start_workers(2);
    let dir = TempDataDir::new("submit-e2e");
    let prompts = prompt_lines(N);
    std::fs::write(dir.path().join("prompts.txt"), prompts.join("\n") + "\n").expect("the file");

    let args = [
        "submit",
        "prompts.txt",
        "--extend",
        "1",
        "--wait",
        "--output",
        "out.jsonl",
    ];
    let env = [("PIXQ_API_URL", run.api())];
    let ran = pixq(&args, dir.path(), &env, Duration::from_secs(90)).await;
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    eprintln!("{mode:?}: {N} chains of two steps in {:?}", ran.took);

    // The results file: one line per prompt, each the chain's extended video.
    let out = std::fs::read_to_string(dir.path().join("out.jsonl")).expect("out.jsonl");
    let lines: Vec<Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), N, "one line per prompt");
    let jobs = run.wait_all_finished(2 * N, Duration::from_secs(10)).await;
    let jobs_by_id: BTreeMap<&str, &Value> = jobs
        .iter()
        .map(|job| (job["id"].as_str().expect("an id"), job))
        .collect();
    let mut seen_prompts = BTreeSet::new();
    for line in &lines {
        assert_eq!(line["state"], "succeeded", "{line}");
        let root = line["job_id"].as_str().expect("a job id");
        let last = line["final_job_id"].as_str().expect("a final job id");
        assert_eq!(last, format!("{root}.s1"), "the extend is the final step");
        let url = line["video_url"].as_str().expect("a video URL");
        assert!(url.starts_with(run.sim.public_url()), "{line}");
        let extend = jobs_by_id[last];
        assert_eq!(extend["state"], "succeeded", "{extend}");
        assert_eq!(extend["result"]["video_url"], url, "the extended video");
        assert_eq!(line["video_id"], extend["result"]["video_id"], "{line}");
        seen_prompts.insert(line["prompt"].as_str().expect("a prompt").to_owned());
    }
    let expected: BTreeSet<String> = prompts.into_iter().collect();
    assert_eq!(seen_prompts, expected, "every prompt, once");

    // The upstream was paid exactly once per step: 500 generations, 500 extends of them.
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 2 * N, "exactly one submission per step");
    let by_task = assert_one_task_per_step(&jobs, &ledger);
    let extends = ledger
        .iter()
        .filter(|entry| entry["request"]["action"] == "extend")
        .count();
    assert_eq!(extends, N, "one extend per prompt");
    for job in &jobs {
        let Some(parent) = job["parent_id"].as_str() else {
            continue;
        };
        let video = &jobs_by_id[parent]["result"]["video_id"];
        assert!(video.is_u64(), "parent {parent} has a video id");
        let task = job["upstream"]["task_id"].as_str().expect("a task id");
        assert_eq!(
            &by_task[task]["request"]["video_id"], video,
            "task {task} extends its parent's video"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_line_37_refuses_the_whole_file_naming_it_and_nothing_is_queued_or_paid() {
    let sim = SimConfig::default().with_latency("100ms".parse().expect("a latency"));
    let run = Run::start(Setup::new(sim).embedded()).await;
    let dir = TempDataDir::new("submit-e2e-bad");

    // A .txt line with a prompt over the API's 2048 characters.
    let mut lines = prompt_lines(40);
    lines[36] = "x".repeat(3000);
    std::fs::write(dir.path().join("long.txt"), lines.join("\n")).expect("the file");
    // A .jsonl line with a quality the upstream does not make.
    let mut jobs: Vec<String> = prompt_lines(40)
        .iter()
        .map(|prompt| serde_json::json!({ "prompt": prompt }).to_string())
        .collect();
    jobs[36] = r#"{"prompt": "a fox", "quality": "4k"}"#.to_owned();
    std::fs::write(dir.path().join("jobs.jsonl"), jobs.join("\n")).expect("the file");

    let env = [("PIXQ_API_URL", run.api())];
    for (file, field) in [("long.txt", "prompt"), ("jobs.jsonl", "quality")] {
        let args = ["submit", file, "--extend", "1", "--wait"];
        let ran = pixq(&args, dir.path(), &env, Duration::from_secs(30)).await;
        assert_eq!(ran.code, Some(2), "{ran:#?}");
        let named = ran
            .stderr
            .lines()
            .find(|line| line.contains(file) && line.contains("line 37"))
            .unwrap_or_else(|| panic!("no line names {file} line 37: {}", ran.stderr));
        assert!(named.contains(&format!("`{field}`")), "{named}");
        assert_eq!(
            ran.stderr.matches(" line ").count(),
            1,
            "only line 37 is bad: {}",
            ran.stderr
        );
        assert!(ran.stdout.is_empty(), "{ran:#?}");
    }
    assert!(run.all_jobs().await.is_empty(), "the API lists no job");
    assert_eq!(run.count_jobs().await, 0, "the store holds no job");
    assert!(run.ledger().await.is_empty(), "the upstream was not called");
}

/// Variables that would point pixq at a user's Redis, upstream or API, or hold their tokens.
fn is_users_configuration(name: &str) -> bool {
    name.starts_with("PIXQ__")
        || name.starts_with("PIXQ_API_")
        || matches!(name, "REDIS_URL" | "ACEDATACLOUD_API_TOKEN" | "RUST_LOG")
}

/// `pixq demo ARGS` in `cwd` with this process's environment less the user's configuration,
/// plus `env`; its temporary files go to `tmp`.
async fn demo(args: &[&str], cwd: &Path, tmp: &Path, env: &[(&str, &str)]) -> Ran {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pixq"));
    command.arg("demo").args(args).current_dir(cwd);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_none_or(is_users_configuration) {
            command.env_remove(name);
        }
    }
    command.env("TMPDIR", tmp).envs(env.iter().copied());
    run_to_end(command, Duration::from_secs(120)).await
}

/// The entries of `dir`, by name.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a readable directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Checks the demo's table: a `succeeded` row with a video URL for each of `prompts`.
fn assert_table_has_a_video_per_prompt(stdout: &str, prompts: &[&str]) {
    let mut rows = stdout.lines();
    let header = rows.next().expect("a header");
    assert!(header.starts_with("PROMPT"), "{stdout}");
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), prompts.len(), "a row per prompt:\n{stdout}");
    for prompt in prompts {
        let shown: Vec<&&str> = rows
            .iter()
            .filter(|row| {
                let cell = row.split("  ").next().unwrap_or_default();
                prompt.starts_with(cell.trim_end_matches('…').trim_end())
            })
            .collect();
        assert_eq!(shown.len(), 1, "one row for {prompt:?}:\n{stdout}");
        let cells: Vec<&str> = shown[0].split_whitespace().collect();
        let url = cells.last().expect("a URL");
        assert!(cells.contains(&"succeeded"), "{}", shown[0]);
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with(".mp4"),
            "{}",
            shown[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_every_sample_prompt_to_an_extended_video_and_leaves_nothing_behind() {
    let cwd = TempDataDir::new("demo");
    let tmp = cwd.path().join("tmp");
    std::fs::create_dir(&tmp).expect("a TMPDIR");

    let ran = demo(&[], cwd.path(), &tmp, &[]).await;
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    eprintln!("pixq demo took {:?}", ran.took);
    let prompts: Vec<&str> = SAMPLE_PROMPTS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    assert_eq!(prompts.len(), 12, "examples/prompts.txt changed");
    assert_table_has_a_video_per_prompt(&ran.stdout, &prompts);
    assert!(
        ran.stderr.contains("12 of 12 succeeded"),
        "the summary: {}",
        ran.stderr
    );
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("pixq demo: next"),
        "a closing hint: {last}"
    );
    assert!(
        !ran.stderr.contains(" INFO "),
        "the worker's log stays out of the way: {}",
        ran.stderr
    );
    assert_eq!(entries(cwd.path()), ["tmp"], "nothing in the working dir");
    assert!(
        entries(&tmp).is_empty(),
        "the data dir is gone: {:?}",
        entries(&tmp)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_ignores_the_users_configuration_and_never_shows_their_token() {
    let cwd = TempDataDir::new("demo-env");
    let tmp = cwd.path().join("tmp");
    std::fs::create_dir(&tmp).expect("a TMPDIR");
    // Everything here would break a run that read it: no Redis and no upstream listen there.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let redis = format!("redis://127.0.0.1:{}", free_port());
    std::fs::write(
        cwd.path().join("pixq.toml"),
        format!("[redis]\nurl = \"{redis}\"\n[upstream]\nbase_url = \"{nowhere}\"\n"),
    )
    .expect("a pixq.toml");
    let token = "sk-users-real-token-0123456789";
    let env = [
        ("PIXQ__REDIS__URL", redis.as_str()),
        ("PIXQ__UPSTREAM__BASE_URL", nowhere.as_str()),
        ("PIXQ__UPSTREAM__TOKEN", token),
        ("PIXQ__DATA_DIR", "./users-data"),
        ("REDIS_URL", redis.as_str()),
        ("ACEDATACLOUD_API_TOKEN", token),
        ("PIXQ_API_URL", nowhere.as_str()),
        ("PIXQ_API_TOKEN", token),
    ];
    let mut output = cwd.path().join("out.jsonl");
    let output_arg = output.display().to_string();
    let args = [
        "--latency",
        "100ms..300ms",
        "--extend",
        "0",
        "--output",
        output_arg.as_str(),
    ];
    let ran = demo(&args, cwd.path(), &tmp, &env).await;
    assert_eq!(ran.code, Some(0), "{ran:#?}");
    assert!(
        !format!("{ran:?}").contains(token),
        "the token leaked: {ran:#?}"
    );
    let results = std::fs::read_to_string(&output).expect("the --output file");
    assert_eq!(results.lines().count(), 12, "{results}");
    assert!(ran.stderr.contains("the results are in"), "{}", ran.stderr);
    output.pop();
    assert_eq!(
        entries(&output),
        ["out.jsonl", "pixq.toml", "tmp"],
        "no users-data dir"
    );
    assert!(entries(&tmp).is_empty(), "{:?}", entries(&tmp));

    // --upstream bills a real token, so it needs one in ACEDATACLOUD_API_TOKEN, and only there.
    let env = [("PIXQ__UPSTREAM__TOKEN", token)];
    let ran = demo(&["--upstream", &nowhere], cwd.path(), &tmp, &env).await;
    assert_eq!(ran.code, Some(2), "{ran:#?}");
    assert!(
        ran.stderr.contains("ACEDATACLOUD_API_TOKEN"),
        "{}",
        ran.stderr
    );
    assert!(
        !format!("{ran:?}").contains(token),
        "the token leaked: {ran:#?}"
    );
    assert!(entries(&tmp).is_empty(), "{:?}", entries(&tmp));
}
