//! `log.format = "json"`: every line `pixq run` writes is one JSON object, and the spans in
//! them follow a job from the API request that made it through every worker step (submit,
//! commit, poll) with its `job_id`, `batch_id` and upstream `task_id`.
//!
//! The real binary with the simulator as the upstream; the log is read back from the
//! process's stderr after a SIGTERM.

mod support;

use std::time::Duration;

use pixverse_sim::{Latency, SimConfig};
use serde_json::{Value, json};
use support::*;

/// The fields of the span called `name` on `line`, if it is open there.
fn span<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line["spans"].as_array()?.iter().find(|s| s["name"] == name)
}

/// Whether any open span of `line` has `field` equal to `value`.
fn has(line: &Value, field: &str, value: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|s| s[field] == value))
}

/// The names of the spans open on `line`.
fn span_names(line: &Value) -> Vec<&str> {
    line["spans"]
        .as_array()
        .map(|spans| spans.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default()
}

/// Asserts that the worker's lines about `job` carry its batch (when it has one) and its task,
/// and that they come from each of the steps a job goes through.
fn assert_followed(lines: &[Value], job: &Value, log: &str) {
    let id = job["id"].as_str().unwrap();
    let task = job["upstream"]["task_id"].as_str().expect("a task id");
    let worker: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("pixq_worker"))
        })
        .filter(|l| span(l, "job").is_some_and(|s| s["job_id"] == id))
        .collect();
    assert!(!worker.is_empty(), "no worker line for {id}:\n{log}");
    let mut steps: Vec<&str> = worker.iter().flat_map(|l| span_names(l)).collect();
    steps.sort_unstable();
    steps.dedup();
    for step in ["submit", "commit", "poll"] {
        assert!(
            steps.contains(&step),
            "{id}: no `{step}` span in {steps:?}:\n{log}"
        );
    }
    if let Some(batch) = job["batch_id"].as_str() {
        assert!(
            worker.iter().all(|l| has(l, "batch_id", batch)),
            "{id}: a worker line without batch_id {batch}:\n{log}"
        );
    }
    assert!(
        worker.iter().any(|l| has(l, "task_id", task)),
        "{id}: no worker line with task_id {task}:\n{log}"
    );
    // Once the task is known, every later look carries it on the job span.
    let succeeded = worker
        .iter()
        .find(|l| l["fields"]["message"] == "succeeded")
        .unwrap_or_else(|| panic!("{id}: no `succeeded` line:\n{log}"));
    assert_eq!(
        span(succeeded, "job").unwrap()["task_id"],
        task,
        "{succeeded}"
    );
    assert!(span(succeeded, "poll").is_some(), "{succeeded}");
}

#[tokio::test]
async fn json_logs_follow_one_job_from_the_api_through_every_worker_step() {
    let sim = SimConfig::default().with_latency(Latency::fixed(Duration::from_millis(300)));
    let setup = Setup::new(sim)
        .embedded()
        .env("PIXQ__LOG__FORMAT", "json")
        .env("RUST_LOG", "info,pixq_worker=debug,apalis_core=off");
    let mut run = Run::start(setup).await;

    let (status, single) = run.post_job(&json!({"prompt": "a heron at dawn"})).await;
    assert_eq!(status, 202, "{single}");
    let (status, batch) = run
        .post("/v1/batches", json!({"prompts": ["a kite over the dunes"]}))
        .await;
    assert_eq!(status, 202, "{batch}");
    let jobs = run.wait_all_finished(2, Duration::from_secs(60)).await;
    run.terminate_server();
    run.wait_server_exit(Duration::from_secs(20))
        .await
        .expect("pixq run stops on SIGTERM");

    let log = run.server.as_ref().expect("the server").output();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 5, "{log}");
    for line in &lines {
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(line.get(key).is_some(), "no {key}: {line}");
        }
    }

    // The API: the request that made the job carries its id; the batch's, the batch id.
    let single_id = single["id"].as_str().unwrap();
    let created = lines
        .iter()
        .find(|l| l["fields"]["message"] == "job created")
        .unwrap_or_else(|| panic!("no `job created` line:\n{log}"));
    let request = span(created, "request").expect("a request span");
    assert_eq!(request["job_id"], single_id, "{created}");
    assert_eq!(request["path"], "/v1/jobs", "{created}");
    let batch_id = batch["id"].as_str().unwrap();
    let accepted = lines
        .iter()
        .find(|l| l["fields"]["message"] == "batch accepted")
        .unwrap_or_else(|| panic!("no `batch accepted` line:\n{log}"));
    assert_eq!(span(accepted, "request").unwrap()["batch_id"], batch_id);

    // The worker: each job through submit, commit and poll with its ids.
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_followed(&lines, job, &log);
    }
    let from_batch = jobs
        .iter()
        .find(|j| j["batch_id"] == batch_id)
        .expect("the batch's job");
    assert_ne!(from_batch["id"], single_id);
}
