//! `pixq run` end to end: the API and a worker in one process of the built binary, on SQLite
//! under a fresh `data_dir`, with the simulator as the upstream. A SIGKILL with work in flight
//! (tasks generating upstream, or submits whose answer never came), a second process on the
//! same `data_dir`, a drain on SIGTERM, and one `/metrics` for both halves. Every wait has a
//! deadline; everything is on loopback; a failing test prints where its logs are (with a copy
//! of the database).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pixverse_sim::{Latency, SimConfig};
use serde_json::Value;
use support::*;

/// A simulator whose tasks take `latency`, with no per-token limit worth the name.
fn sim(latency: Duration) -> SimConfig {
    SimConfig::default()
        .with_latency(Latency::fixed(latency))
        .with_max_in_flight(10_000)
}

fn assert_all_succeeded(run: &Run, jobs: &[Value]) {
    for job in jobs {
        assert_eq!(
            job["state"],
            "succeeded",
            "{job}; logs in {:?}",
            run.log_dir()
        );
    }
}

/// Exactly one paid submission per job step: `steps` entries in the ledger, no task id twice,
/// the ledger's task ids are the jobs' `upstream.task_id`s, and no request was sent twice.
async fn assert_paid_once(run: &Run, jobs: &[Value], steps: usize) {
    let ledger = run.ledger().await;
    assert_eq!(
        ledger.len(),
        steps,
        "one submission per step; logs in {:?}",
        run.log_dir()
    );
    assert_eq!(
        ledger_task_ids(&ledger),
        job_task_ids(jobs),
        "the ledger's tasks are the jobs' tasks"
    );
    assert_one_task_per_step(jobs, &ledger);
}

/// How many jobs of `jobs` are in each state.
fn states(jobs: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for job in jobs {
        let state = job["state"].as_str().unwrap_or("?").to_owned();
        *out.entry(state).or_default() += 1;
    }
    out
}

/// What the dead process's database says, read from the file: jobs by state, and the task
/// ids it had recorded.
fn look_into_the_file(run: &Run) -> (BTreeMap<String, u64>, Vec<String>) {
    let db = run.db();
    let mut by_state = db
        .prepare("SELECT state, count(*) FROM jobs GROUP BY state")
        .expect("a query");
    let counts = by_state
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .expect("jobs by state")
        .map(|r| {
            let (state, n) = r.expect("a row");
            (state, u64::try_from(n).expect("a count"))
        })
        .collect();
    let mut tasks = db.prepare("SELECT task_id FROM tasks").expect("a query");
    let tasks = tasks
        .query_map([], |row| row.get::<_, String>(0))
        .expect("task ids")
        .map(|r| r.expect("a row"))
        .collect();
    (counts, tasks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pixq_run_sigkilled_with_50_jobs_in_flight_finishes_every_job_after_a_restart_paying_once()
{
    // Each job has one extend step: the kill catches every first step generating upstream,
    // and after the restart each chain must still grow its second step exactly once, from a
    // step that finished in the new process (the write that finishes a step creates the next:
    // neither lost nor doubled across the crash). 50 jobs, 100 steps, 100 paid tasks.
    const JOBS: usize = 50;
    let mut run = Run::start(Setup::new(sim(Duration::from_secs(3))).embedded()).await;
    for i in 0..JOBS {
        run.submit(chain_body(&format!("a crash, take {i}"), 1))
            .await;
    }
    let in_flight = until(
        "every first step generating or later",
        Duration::from_secs(30),
        || async {
            let jobs = run.all_jobs().await;
            let roots = jobs.iter().filter(|j| j["step"] == 0);
            let flying = roots
                .filter(|j| {
                    matches!(
                        j["state"].as_str(),
                        Some("generating" | "succeeded" | "failed" | "cancelled")
                    )
                })
                .count();
            (flying == JOBS).then_some(jobs)
        },
    )
    .await;
    run.kill_server();
    let killed = Instant::now();
    let (at_kill, _) = look_into_the_file(&run);
    let paid_at_kill = run.ledger().await.len();
    eprintln!(
        "SIGKILLed with {:?} (API), {at_kill:?} (file), {paid_at_kill} tasks upstream",
        states(&in_flight)
    );
    assert!(
        at_kill.get("generating").copied().unwrap_or(0) > 0,
        "the kill caught jobs generating: {at_kill:?}"
    );

    run.restart_server().await;
    let restarted = Instant::now();
    let jobs = run
        .wait_all_finished(2 * JOBS, Duration::from_secs(120))
        .await;
    eprintln!(
        "restarted {:?} after the kill; all {} steps finished {:?} after the restart",
        restarted - killed,
        2 * JOBS,
        restarted.elapsed()
    );
    assert_all_succeeded(&run, &jobs);
    assert_eq!(jobs.iter().filter(|j| j["step"] == 1).count(), JOBS);
    assert_paid_once(&run, &jobs, 2 * JOBS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pixq_run_sigkilled_with_submits_in_the_air_pays_once_after_a_restart() {
    // Plain generations: the window under test is the submit of a first step, and all 50 are
    // in it at once; extend steps would go through the same window one by one after the
    // restart, with nothing killed, adding time and no coverage.
    const JOBS: usize = 50;
    let config = sim(Duration::from_secs(3)).with_answer_delay(Duration::from_secs(2));
    let mut run = Run::start(Setup::new(config).embedded()).await;
    for i in 0..JOBS {
        run.submit(chain_body(&format!("a submit in the air, take {i}"), 0))
            .await;
    }
    // Every task exists upstream; its answer comes 2 s after it was made. Kill now.
    until(
        "every task created upstream",
        Duration::from_secs(30),
        || async { (run.ledger().await.len() >= JOBS).then_some(()) },
    )
    .await;
    run.kill_server();
    let killed = Instant::now();
    let (at_kill, recorded) = look_into_the_file(&run);
    let in_the_air = JOBS - recorded.len();
    eprintln!(
        "SIGKILLed with {at_kill:?}; {JOBS} tasks upstream, {} of them recorded, \
         {in_the_air} in the air",
        recorded.len()
    );
    assert!(
        in_the_air > 0,
        "the kill caught submits between the task's creation and the answer"
    );

    run.restart_server().await;
    let restarted = Instant::now();
    let jobs = run.wait_all_finished(JOBS, Duration::from_secs(120)).await;
    eprintln!(
        "restarted {:?} after the kill; all {JOBS} jobs finished {:?} after the restart",
        restarted - killed,
        restarted.elapsed()
    );
    assert_all_succeeded(&run, &jobs);
    assert_paid_once(&run, &jobs, JOBS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_pixq_run_on_the_same_data_dir_fails_fast_naming_it() {
    let config = sim(Duration::from_millis(200));
    let run = Run::start(Setup::new(config).embedded()).await;
    let first_pid = run.server.as_ref().expect("the first runs").id();

    let mut second = tokio::process::Command::from(run.server_command());
    second.kill_on_drop(true);
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), second.output())
        .await
        .expect("the second pixq run exits within 10 s")
        .expect("the second pixq run starts");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "the second exited {took:?} after it started, {}: {stderr}",
        out.status
    );
    assert!(!out.status.success(), "{}: {stderr}", out.status);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let data_dir = run.data_dir().display().to_string();
    assert!(stderr.contains(&data_dir), "names {data_dir}: {stderr}");
    assert!(stderr.contains("in use"), "says it is in use: {stderr}");
    assert!(
        stderr.contains(&format!("pid {first_pid}")),
        "names the first's pid {first_pid}: {stderr}"
    );

    // The first keeps serving, and working.
    let id = run.submit(chain_body("after the intruder", 0)).await;
    let jobs = run.wait_all_finished(1, Duration::from_secs(30)).await;
    assert_eq!(jobs[0]["id"], id.as_str());
    assert_all_succeeded(&run, &jobs);
    assert_paid_once(&run, &jobs, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pixq_run_drains_on_sigterm() {
    // Answers take 2 s, so the process is stopped with its submits in the air.
    const JOBS: usize = 40;
    let config = sim(Duration::from_secs(1)).with_answer_delay(Duration::from_secs(2));
    let mut run = Run::start(Setup::new(config).embedded()).await;
    for i in 0..JOBS {
        run.submit(chain_body(&format!("a drained take {i}"), 0))
            .await;
    }
    let claimed = until("submits in the air", Duration::from_secs(20), || async {
        let n = run.count_in_state("submitting").await;
        (n >= 10).then_some(n)
    })
    .await;
    run.terminate_server();
    // The worker's shutdown timeout is 30 s; a little over it for the process to exit.
    let (status, took) = run
        .wait_server_exit(Duration::from_secs(40))
        .await
        .unwrap_or_else(|| panic!("pixq run still runs 40 s after SIGTERM"));
    let (after, recorded) = look_into_the_file(&run);
    eprintln!(
        "{claimed} jobs mid-submit at SIGTERM; exited {took:?} after it with {status}; \
         left {after:?} with {} task ids recorded",
        recorded.len()
    );
    assert!(status.success(), "pixq run exited with {status}");
    assert!(took < Duration::from_secs(35), "took {took:?} to exit");

    run.restart_server().await;
    let restarted = Instant::now();
    let jobs = run.wait_all_finished(JOBS, Duration::from_secs(120)).await;
    eprintln!(
        "all {JOBS} jobs finished {:?} after the restart",
        restarted.elapsed()
    );
    assert_all_succeeded(&run, &jobs);
    assert_paid_once(&run, &jobs, JOBS).await;
}

/// The samples of metric `name` in Prometheus text: (labels, value).
fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(labelled) => {
                    let (labels, value) = labelled.split_once('}')?;
                    (labels.to_owned(), value)
                }
                None if rest.starts_with(' ') => (String::new(), rest),
                None => return None,
            };
            let value = value.split_whitespace().next()?.parse().ok()?;
            Some((labels, value))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pixq_run_serves_every_metric_from_one_metrics_endpoint() {
    let config = sim(Duration::from_millis(200));
    let run = Run::start(Setup::new(config).embedded()).await;
    run.submit(chain_body("a measured take", 0)).await;
    let jobs = run.wait_all_finished(1, Duration::from_secs(30)).await;
    assert_all_succeeded(&run, &jobs);

    // The worker counts the finish right after its write: give it a moment to show.
    let text = until(
        "the finished job in /metrics",
        Duration::from_secs(10),
        || async {
            let text = run.metrics().await;
            samples(&text, "pixq_jobs_finished_total")
                .iter()
                .any(|(labels, n)| labels.contains(r#"state="succeeded""#) && *n >= 1.0)
                .then_some(text)
        },
    )
    .await;
    let enqueued: f64 = samples(&text, "pixq_jobs_enqueued_total")
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(enqueued >= 1.0, "the API's count: {text}");
    let requests = samples(&text, "pixq_upstream_requests_total");
    assert!(
        requests.iter().any(|(_, n)| *n >= 1.0),
        "the worker's upstream requests: {text}"
    );
    eprintln!("/metrics of pixq run: {enqueued} enqueued, upstream requests {requests:?}");
}
