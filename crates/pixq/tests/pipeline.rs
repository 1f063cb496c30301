//! The core pipeline end to end: real processes of the built binary and the simulator as the
//! upstream. Each test owns its home, its simulator and its processes, and stops them when it
//! ends.
//!
//! Every scenario that needs one process runs twice, with the same body: `…_on_redis`
//! (`pixq api` and `pixq worker`s on the shared Redis, under the test's own key prefix) and
//! `…_embedded` (one `pixq run` on a fresh `data_dir`). The ones about several workers stay
//! on Redis.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pixverse_sim::{CallbackMode, Fault, Latency, SimConfig};
use serde_json::{Value, json};
use support::*;

fn latency(text: &str) -> Latency {
    text.parse().expect("a latency")
}

fn sim(lat: &str) -> SimConfig {
    SimConfig::default()
        .with_latency(latency(lat))
        .with_max_in_flight(10_000)
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

fn by_id(jobs: &[Value]) -> BTreeMap<String, Value> {
    jobs.iter()
        .map(|j| (j["id"].as_str().expect("an id").to_owned(), j.clone()))
        .collect()
}

/// Every extend's request carries the video id its parent returned, in the job and in the
/// request the upstream received.
fn assert_chains_run_off_their_parents(jobs: &[Value], ledger: &BTreeMap<String, Value>) {
    let jobs_by_id = by_id(jobs);
    for job in jobs {
        let Some(parent_id) = job["parent_id"].as_str() else {
            continue;
        };
        let parent = &jobs_by_id[parent_id];
        let video = &parent["result"]["video_id"];
        assert!(
            video.is_u64(),
            "parent {parent_id} has a video id: {parent}"
        );
        assert_eq!(&job["params"]["video_id"], video, "job {}", job["id"]);
        let task = job["upstream"]["task_id"].as_str().expect("a task id");
        assert_eq!(&ledger[task]["request"]["video_id"], video, "task {task}");
        assert_eq!(ledger[task]["request"]["action"], "extend");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_chains_over_three_workers_each_step_paid_once() {
    let mut run = Run::start(Setup::new(sim("100ms..300ms"))).await;
    for _ in 0..3 {
        run.start_worker();
    }
    for i in 0..200 {
        run.submit(chain_body(&format!("a lighthouse, take {i}"), 2))
            .await;
    }
    let jobs = run.wait_all_finished(600, Duration::from_secs(240)).await;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 600, "exactly one submission per step");
    let ledger = assert_one_task_per_step(&jobs, &ledger);
    assert_chains_run_off_their_parents(&jobs, &ledger);
    let children = jobs.iter().filter(|j| j["step"] == 2).count();
    assert_eq!(children, 200, "every chain reached its last step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_worker_is_taken_over_within_15s_without_paying_twice() {
    // Answers take 3 s, so the worker is killed with its submits in the air: the upstream made
    // the tasks, the worker never heard of them.
    let config = sim("1s..2s").with_answer_delay(Duration::from_secs(3));
    let mut run = Run::start(Setup::new(config)).await;
    let doomed = run.start_worker_with(&[("PIXQ__WORKER__CONCURRENCY", "64")]);
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(
            run.submit(chain_body(&format!("a harbour, take {i}"), 0))
                .await,
        );
    }
    let claimed = eventually(Duration::from_secs(20), || async {
        let (_, page) = run.get("/v1/jobs?state=submitting&limit=500").await;
        let n = page["jobs"].as_array().map_or(0, Vec::len);
        (n >= 45).then_some(n)
    })
    .await
    .expect("the worker claims the jobs");
    run.start_worker();
    run.kill_worker(doomed);
    let killed_at = Instant::now();

    // Every job the dead worker held is back in progress within 15 s.
    let taken_over = eventually(Duration::from_secs(30), || async {
        let (_, page) = run.get("/v1/jobs?state=submitting&limit=500").await;
        page["jobs"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then(|| killed_at.elapsed())
    })
    .await
    .expect("another worker takes over");
    eprintln!("{claimed} jobs in hand at the kill; all back in progress {taken_over:?} after it");
    assert!(
        taken_over <= Duration::from_secs(15),
        "took over {claimed} jobs after {taken_over:?}"
    );

    let jobs = run.wait_all_finished(50, Duration::from_secs(120)).await;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 50, "no step was submitted twice");
    assert_one_task_per_step(&jobs, &ledger);
}

in_both_modes!(lost_and_garbled_submits:
    lost_and_garbled_submits_still_make_one_task_per_step_on_redis,
    lost_and_garbled_submits_still_make_one_task_per_step_embedded);

async fn lost_and_garbled_submits(mode: Mode) {
    let config = sim("100ms..300ms")
        .with_fault(Fault::DropAfterSubmit, 0.2)
        .with_fault(Fault::NotJson, 0.2)
        .with_fault(Fault::Timeout, 0.2);
    let mut run = Run::start(Setup::new(config).mode(mode)).await;
    run.start_workers(2);
    for i in 0..40 {
        run.submit(chain_body(&format!("a storm, take {i}"), 1))
            .await;
    }
    let jobs = run.wait_all_finished(80, Duration::from_secs(180)).await;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 80, "one upstream task per step");
    let ledger = assert_one_task_per_step(&jobs, &ledger);
    assert_chains_run_off_their_parents(&jobs, &ledger);
}

async fn callbacks_in_mode(mode: CallbackMode, home: Mode) {
    let config = sim("200ms..400ms").with_callbacks(mode);
    // Polls are rare, so a callback that arrives is what finishes most jobs.
    let setup = Setup::new(config)
        .mode(home)
        .with_callbacks()
        .env("PIXQ__POLL__FIRST_AFTER", "4s")
        .env("PIXQ__POLL__INTERVAL", "4s");
    let mut run = Run::start(setup).await;
    run.start_workers(1);
    for i in 0..15 {
        run.submit(chain_body(&format!("{mode:?} callbacks, take {i}"), 1))
            .await;
    }
    let jobs = run.wait_all_finished(30, Duration::from_secs(120)).await;
    for job in &jobs {
        assert_eq!(job["state"], "succeeded", "{job}");
    }
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 30);
    let ledger = assert_one_task_per_step(&jobs, &ledger);
    assert_chains_run_off_their_parents(&jobs, &ledger);
    // Callbacks ring jobs early, yet no task is ever polled faster than once a second.
    let stats = run.sim_stats().await;
    assert!(
        stats["requests"]["tasks"]["429"].is_null(),
        "a poll came too soon: {stats}"
    );
    for entry in ledger.values() {
        let url = entry["request"]["callback_url"]
            .as_str()
            .expect("a callback URL");
        assert!(url.starts_with(&format!("{}/v1/upstream/callback/job_", run.api())));
    }

    // A wrong secret or an unknown job is 404 and changes nothing.
    let job = &jobs[0];
    let id = job["id"].as_str().expect("an id");
    let (status, _) = run
        .post(
            &format!("/v1/upstream/callback/{id}/not-the-secret"),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = run
        .post("/v1/upstream/callback/job_unknown/secret", json!({}))
        .await;
    assert_eq!(status, 404);
    let after = run.job(id).await;
    assert_eq!(after["state"], "succeeded");
    assert_eq!(after["updated_at"], job["updated_at"]);
}

async fn dropped_callbacks(home: Mode) {
    callbacks_in_mode(CallbackMode::Drop, home).await;
}

async fn duplicated_callbacks(home: Mode) {
    callbacks_in_mode(CallbackMode::Duplicate, home).await;
}

async fn late_callbacks(home: Mode) {
    callbacks_in_mode(CallbackMode::Late, home).await;
}

in_both_modes!(dropped_callbacks:
    dropped_callbacks_are_made_up_for_by_polling_on_redis,
    dropped_callbacks_are_made_up_for_by_polling_embedded);

in_both_modes!(duplicated_callbacks:
    duplicated_callbacks_finish_each_job_once_on_redis,
    duplicated_callbacks_finish_each_job_once_embedded);

in_both_modes!(late_callbacks:
    late_callbacks_finish_each_job_once_on_redis,
    late_callbacks_finish_each_job_once_embedded);

in_both_modes!(moderation_and_bad_requests:
    moderation_and_bad_requests_fail_at_once_with_the_upstreams_code_on_redis,
    moderation_and_bad_requests_fail_at_once_with_the_upstreams_code_embedded);

async fn moderation_and_bad_requests(mode: Mode) {
    let config = sim("100ms..200ms").with_fault(Fault::Moderation, 1.0);
    let mut run = Run::start(Setup::new(config).mode(mode)).await;
    run.start_workers(1);
    let refused = run.submit(chain_body("something forbidden", 1)).await;
    // An extend of a video the upstream never made passes pixq's checks, not the upstream's.
    let bad = run
        .submit(json!({"action": "extend", "video_id": 999_999_999_u64, "prompt": "more"}))
        .await;
    let started = Instant::now();
    let jobs = run.wait_all_finished(2, Duration::from_secs(30)).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "at once, not after retries"
    );
    let jobs = by_id(&jobs);
    let refused = &jobs[&refused];
    assert_eq!(refused["state"], "failed");
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
    assert_eq!(refused["error"]["retryable"], false);
    assert!(refused["children"].as_array().is_some_and(Vec::is_empty));
    let bad = &jobs[&bad];
    assert_eq!(bad["state"], "failed");
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");
    assert_eq!(run.ledger().await.len(), 0, "neither made a task");
}

in_both_modes!(cancel_and_retry:
    cancel_and_retry_through_the_api_and_the_cli_on_redis,
    cancel_and_retry_through_the_api_and_the_cli_embedded);

async fn cancel_and_retry(mode: Mode) {
    let config = sim("3s..4s").with_fault(Fault::Moderation, 1.0);
    let mut run = Run::start(Setup::new(config).mode(mode)).await;
    run.start_workers(1);

    // A job refused by moderation fails; once the fault is gone, a retry succeeds.
    let failing = run.submit(chain_body("a refused take", 0)).await;
    let failed = eventually(Duration::from_secs(20), || async {
        let job = run.job(&failing).await;
        (job["state"] == "failed").then_some(job)
    })
    .await
    .expect("the job fails");
    assert_eq!(failed["error"]["code"], "forbidden");
    run.faults(json!({"moderation": 0.0})).await;
    let (code, out) = run.cli(&["retry", &failing]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = run.cli(&["retry", &failing]);
    assert_eq!(code, 1, "a queued job cannot be retried");

    // A generating chain is cancelled with its chain; a second cancel is a conflict.
    let chain = run.submit(chain_body("a cancelled take", 2)).await;
    eventually(Duration::from_secs(20), || async {
        (run.job(&chain).await["state"] == "generating").then_some(())
    })
    .await
    .expect("the chain starts");
    let (code, out) = run.cli(&["cancel", &chain]);
    assert_eq!(code, 0, "{out}");
    let (status, body) = run
        .post(&format!("/v1/jobs/{chain}/cancel"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    let (code, _) = run.cli(&["cancel", &chain]);
    assert_eq!(code, 1);

    // The retried job finishes; the cancelled one stays cancelled and makes no next step.
    let retried = eventually(Duration::from_secs(30), || async {
        let job = run.job(&failing).await;
        (job["state"] == "succeeded").then_some(job)
    })
    .await
    .expect("the retried job succeeds");
    assert_eq!(retried["attempts"], 0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cancelled = eventually(Duration::from_secs(20), || async {
        let job = run.job(&chain).await;
        job["late_result"]["video_id"].is_u64().then_some(job)
    })
    .await
    .expect("the late result is recorded");
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["children"].as_array().is_some_and(Vec::is_empty));
    let (code, out) = run.cli(&["status", &chain, "--json"]);
    assert_eq!(code, 0, "{out}");
    let shown: Value = serde_json::from_str(&out).expect("--json prints the job");
    assert_eq!(shown["state"], "cancelled");

    // Listing pages with a cursor, newest first.
    let (status, page) = run.get("/v1/jobs?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(page["jobs"][0]["id"], chain.as_str());
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, next) = run.get(&format!("/v1/jobs?limit=1&cursor={cursor}")).await;
    assert_eq!(next["jobs"][0]["id"], failing.as_str());
}
