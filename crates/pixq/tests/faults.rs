//! The hard faults of issue 4 end to end: a shared per-token cap, bursts of 429, a used-up
//! token, a Redis SIGKILLed mid-run, a backlog of 10,000 jobs, a worker drained with SIGTERM,
//! and a payload of unknown shape in the queue. Real processes of the built binary, real Redis
//! (a test-owned one when it is killed), and the simulator as the upstream. Every wait has a
//! deadline; a failing test prints where its processes' logs are.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pixverse_sim::{Fault, Latency, SimConfig};
use serde_json::{Value, json};
use support::*;

fn latency(text: &str) -> Latency {
    text.parse().expect("a latency")
}

/// A simulator with `lat` and no per-token limit worth the name.
fn sim(lat: &str) -> SimConfig {
    SimConfig::default()
        .with_latency(latency(lat))
        .with_max_in_flight(100_000)
}

/// How many requests to `endpoint` (`videos`, `tasks`) the simulator answered with `status`.
fn requests(stats: &Value, endpoint: &str, status: &str) -> u64 {
    stats["requests"][endpoint][status].as_u64().unwrap_or(0)
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

// Done when 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_shared_cap_holds_across_three_workers() {
    let config = SimConfig::default()
        .with_latency(latency("200ms..400ms"))
        .with_max_in_flight(5);
    let setup = Setup::new(config).env("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "5");
    let mut run = Run::start(setup).await;
    for _ in 0..3 {
        run.start_worker();
    }
    for i in 0..100 {
        run.submit(chain_body(&format!("a capped take {i}"), 0))
            .await;
    }
    // Five at a time, each slot held from the submit until a poll sees the task end (about a
    // second with polls at 200 ms and then every second): about 20 s of work.
    let jobs = run.wait_all_finished(100, Duration::from_secs(180)).await;
    assert_all_succeeded(&run, &jobs);
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 100, "one upstream task per job");
    assert_one_task_per_step(&jobs, &ledger);
    let stats = run.sim_stats().await;
    let most = stats["max_in_flight_seen"][TOKEN]
        .as_u64()
        .expect("a count");
    assert!(most <= 5, "{most} in flight at once: {stats}");
    assert_eq!(
        requests(&stats, "videos", "429"),
        0,
        "no submit was refused for the per-token limit: {stats}"
    );
}

// Done when 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_429s_burns_no_attempts() {
    let config = sim("200ms..500ms").with_fault(Fault::RateLimit, 0.5);
    let mut run = Run::start(Setup::new(config)).await;
    run.start_worker();
    run.start_worker();
    let started = Instant::now();
    for i in 0..30 {
        run.submit(chain_body(&format!("a rate-limited take {i}"), 1))
            .await;
    }
    // Half of the submits and polls get 429 with `Retry-After: 1` for about 5 s.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    run.faults(json!({"rate_limit": 0.0})).await;
    let stats = run.sim_stats().await;
    assert!(
        requests(&stats, "videos", "429") > 0 && requests(&stats, "tasks", "429") > 0,
        "the burst hit both submits and polls: {stats}"
    );

    let jobs = run.wait_all_finished(60, Duration::from_secs(120)).await;
    assert_all_succeeded(&run, &jobs);
    for job in &jobs {
        assert_eq!(job["attempts"], 0, "a 429 burnt an attempt: {job}");
    }
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 60, "a 429 makes no task");
    assert_one_task_per_step(&jobs, &ledger);
}

// Done when 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_used_up_token_pauses_submission_until_topped_up() {
    let mut run = Run::start(Setup::new(sim("1s..2s"))).await;
    run.start_worker();
    run.start_worker();
    for i in 0..20 {
        run.submit(chain_body(&format!("before the pause, take {i}"), 0))
            .await;
    }
    eventually(Duration::from_secs(20), || async {
        (run.ledger().await.len() == 20).then_some(())
    })
    .await
    .expect("the first 20 are submitted");

    run.set_token_state("used_up").await;
    for i in 0..40 {
        run.submit(chain_body(&format!("during the pause, take {i}"), 0))
            .await;
    }

    // The pause shows in /readyz, which still answers 200, and on the waiting jobs.
    let ready = eventually(Duration::from_secs(30), || async {
        let (status, body) = run.readyz().await?;
        (status == 200 && body["upstream"]["paused"] == true).then_some(body)
    })
    .await;
    assert!(
        ready.is_some(),
        "/readyz never reported the pause: {:?}; logs in {:?}",
        run.readyz().await,
        run.log_dir()
    );
    let parked = eventually(Duration::from_secs(30), || async {
        let (_, page) = run.get("/v1/jobs?state=queued&limit=500").await;
        let jobs = page["jobs"].as_array()?.clone();
        let paused = jobs
            .iter()
            .filter(|j| j["waiting_reason"] == "paused")
            .count();
        (paused > 0).then_some(paused)
    })
    .await;
    assert!(parked.is_some(), "no job waits with waiting_reason paused");
    eprintln!("/readyz during the pause: {}", ready.unwrap_or_default());

    // Tasks already running are still looked up: the first 20 finish during the pause.
    run.wait_count("succeeded", 20, Duration::from_secs(60))
        .await;
    // Submission is paused: the submits that were in the air when the first refusal came
    // back were refused too, but from then on none is sent until the probe, 30 s
    // (`pause_backoff`) after the pause began.
    let refused_before = requests(&run.sim_stats().await, "videos", "403");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = run.sim_stats().await;
    let refused = requests(&stats, "videos", "403") - refused_before;
    assert!(
        refused <= 1,
        "{refused} submits refused in 5 s of pause, after {refused_before}: {stats}"
    );
    assert_eq!(run.ledger().await.len(), 20, "nothing new was paid for");
    assert_eq!(run.count_in_state("failed").await, 0, "no job failed");
    let (status, body) = run.readyz().await.expect("the API answers");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["upstream"]["paused"], true, "{body}");
    assert_eq!(body["upstream"]["reason"], "used_up", "{body}");

    // After a top-up every job finishes, and the pause is lifted.
    run.set_token_state("ok").await;
    let topped_up = Instant::now();
    let jobs = run.wait_all_finished(60, Duration::from_secs(180)).await;
    eprintln!(
        "all 60 jobs finished {:?} after the top-up",
        topped_up.elapsed()
    );
    assert_all_succeeded(&run, &jobs);
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 60);
    assert_one_task_per_step(&jobs, &ledger);
    let lifted = eventually(Duration::from_secs(30), || async {
        let (status, body) = run.readyz().await?;
        (status == 200 && body["upstream"]["paused"] == false).then_some(())
    })
    .await;
    assert!(lifted.is_some(), "/readyz still reports a pause");
}

// Done when 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_sigkilled_and_restarted_mid_run_loses_nothing() {
    let mut redis = OwnRedis::start();
    // Answers take 1 s: Redis dies with some submits in the air, whose task ids the workers
    // cannot record until it is back.
    let config = sim("1s..2s").with_answer_delay(Duration::from_secs(1));
    let mut run = Run::start(Setup::new(config).redis(redis.url())).await;
    run.start_worker();
    run.start_worker();
    let mut expected = 0;
    for i in 0..40 {
        let extends = usize::from(i % 2 == 0);
        run.submit(chain_body(&format!("a restart, take {i}"), extends))
            .await;
        expected += 1 + extends;
    }
    // Kill it once the first steps finish: chains are growing, extends are being submitted,
    // tasks are running upstream.
    eventually(Duration::from_secs(30), || async {
        (run.count_in_state("succeeded").await >= 5).then_some(())
    })
    .await
    .expect("the first steps finish");
    assert_eq!(run.readyz().await.map(|r| r.0), Some(200));
    let mut before = Vec::new();
    for state in ["queued", "submitting", "generating", "succeeded"] {
        before.push((state, run.count_in_state(state).await));
    }

    tokio::task::block_in_place(|| redis.sigkill());
    let killed = Instant::now();
    let down = eventually(Duration::from_secs(10), || async {
        (run.readyz().await?.0 == 503).then_some(())
    })
    .await;
    assert!(
        down.is_some(),
        "/readyz did not answer 503 with Redis down: {:?}",
        run.readyz().await
    );
    // Down for about 2 s, then back on the same port and directory.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(killed.elapsed())).await;
    tokio::task::block_in_place(|| redis.restart());
    let down_for = killed.elapsed();
    let up = eventually(Duration::from_secs(30), || async {
        (run.readyz().await?.0 == 200).then_some(())
    })
    .await;
    assert!(up.is_some(), "/readyz did not come back to 200");
    eprintln!(
        "Redis SIGKILLed with jobs {before:?}, down for {down_for:?}, /readyz 200 again \
         {:?} after the kill",
        killed.elapsed()
    );
    let restarted = Instant::now();

    // No pixq process was restarted; every job finishes, each step paid once.
    let jobs = run
        .wait_all_finished(expected, Duration::from_secs(240))
        .await;
    eprintln!(
        "all {expected} jobs finished {:?} after the restart",
        restarted.elapsed()
    );
    assert_all_succeeded(&run, &jobs);
    for i in 0..run.workers.len() {
        assert!(run.worker_alive(i), "worker {i} kept running");
    }
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), expected, "one upstream task per step");
    assert_one_task_per_step(&jobs, &ledger);

    // Each process logs the outage once, and once that Redis is back.
    for entry in std::fs::read_dir(run.log_dir()).expect("the run's logs") {
        let path = entry.expect("a log entry").path();
        let log = std::fs::read_to_string(&path).expect("a log file");
        let gone = log.matches("Redis is unreachable").count();
        let back = log.matches("Redis answers again").count();
        eprintln!(
            "{}: outage logged {gone}×, recovery {back}×",
            path.display()
        );
        assert!(
            gone <= 1 && back <= 1,
            "{}: logged {gone}× / {back}×",
            path.display()
        );
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("worker") {
            assert_eq!(
                (gone, back),
                (1, 1),
                "{name} noticed the outage and the recovery"
            );
        }
    }
}

/// How long 10,000 queued jobs may take to finish once three workers start: 90 s.
///
/// Measured on the 2-core development machine, debug builds, the simulator in the test
/// process and the API and three workers (64 handlers each) beside it on the same two cores.
/// Each job is a slot taken, a submit, a poll 200 ms later, a finish and the slot given back:
/// about 30,000 handler runs and their Redis scripts. The 10,000 jobs drained in 24–34 s
/// (about 300–400 jobs a second; six runs, some beside another test of this file or a
/// compile; 17–23 s before the shared cap existed). 90 s is about 3× the usual 28 s and 2.6×
/// the slowest, so a loaded machine passes while a queue that wedges (APALIS-NOTES 5: it
/// never drains) or crawls fails. With the 4–5 s it takes to accept the 10,000 jobs and a
/// few seconds of checks, the test stays under 2 min at worst.
const TEN_THOUSAND_DEADLINE: Duration = Duration::from_secs(90);

// Done when 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_jobs_accepted_while_no_worker_runs_all_finish() {
    const JOBS: usize = 10_000;
    let config = SimConfig::default()
        .with_latency(latency("0s"))
        .with_max_in_flight(1_000_000);
    let setup = Setup::new(config)
        .env("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "100000")
        .env("PIXQ__WORKER__CONCURRENCY", "64");
    let mut run = Run::start(setup).await;

    let bodies: Vec<Value> = (0..JOBS)
        .map(|i| json!({"prompt": format!("a backlog, take {i}")}))
        .collect();
    let posting = Instant::now();
    let refused = run.post_many(bodies, 16).await;
    let posted_in = posting.elapsed();
    assert!(
        refused.is_empty(),
        "{} of {JOBS} not accepted, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    assert_eq!(run.count_in_state("queued").await, JOBS as u64);
    eprintln!("{JOBS} jobs accepted in {posted_in:?} with no worker running");

    // Meanwhile, how many jobs the workers hold leased at once: each takes only as many as
    // it has free handlers, so the backlog stays in the schedule whatever its size.
    let most = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (most, mut conn) = (most.clone(), run.redis().await);
        let leased = format!("{}:leased", run.prefix);
        tokio::spawn(async move {
            loop {
                let held: Result<u64, _> = redis::cmd("ZCARD")
                    .arg(&leased)
                    .query_async(&mut conn)
                    .await;
                if let Ok(held) = held {
                    most.fetch_max(held, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let draining = Instant::now();
    for _ in 0..3 {
        run.start_worker();
    }
    let took = run
        .wait_count("succeeded", JOBS as u64, TEN_THOUSAND_DEADLINE)
        .await;
    eprintln!("{JOBS} jobs finished {took:?} after three workers started");
    watcher.abort();
    let most = most.load(Ordering::SeqCst);
    eprintln!("the workers held at most {most} jobs leased at once");
    assert!(most > 0, "the watcher saw the backlog");
    assert!(
        most <= 3 * 64,
        "the workers held {most} jobs leased at once, over 3 × 64 handlers"
    );
    assert_eq!(run.count_in_state("failed").await, 0);
    assert_eq!(run.count_jobs().await, JOBS as u64);
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), JOBS, "one upstream task per job");
    let jobs = run.all_jobs().await;
    assert_eq!(jobs.len(), JOBS);
    assert_all_succeeded(&run, &jobs);
    assert_one_task_per_step(&jobs, &ledger);
    eprintln!("checked in {:?}", draining.elapsed());
}

// Done when 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_drained_with_sigterm_hands_its_jobs_back_and_none_is_paid_twice() {
    // Answers take 2 s, so the worker is stopped with its submits in the air; with 10 handlers
    // for 40 jobs it also holds doorbells it has not started.
    let config = sim("1s..2s").with_answer_delay(Duration::from_secs(2));
    let mut run = Run::start(Setup::new(config)).await;
    let a = run.start_worker_with(&[("PIXQ__WORKER__CONCURRENCY", "10")]);
    for i in 0..40 {
        run.submit(chain_body(&format!("a drained take {i}"), 0))
            .await;
    }
    let claimed = eventually(Duration::from_secs(20), || async {
        let n = run.count_in_state("submitting").await;
        (n >= 10).then_some(n)
    })
    .await
    .expect("worker A takes jobs");
    run.start_worker();
    run.terminate_worker(a);
    // The default shutdown timeout is 30 s; a little over it for the process to exit.
    let (status, took) = run
        .wait_worker_exit(a, Duration::from_secs(40))
        .await
        .unwrap_or_else(|| panic!("worker A still runs 40 s after SIGTERM"));
    let left = run.count_in_state("queued").await;
    eprintln!(
        "worker A held {claimed} jobs mid-submit, exited {took:?} after SIGTERM with {status}; \
         {left} jobs were still queued"
    );
    assert!(status.success(), "worker A exited with {status}");
    assert!(
        took < Duration::from_secs(35),
        "worker A took {took:?} to exit"
    );

    let jobs = run.wait_all_finished(40, Duration::from_secs(120)).await;
    assert_all_succeeded(&run, &jobs);
    let ledger = run.ledger().await;
    assert_eq!(ledger.len(), 40, "no job was submitted twice");
    assert_one_task_per_step(&jobs, &ledger);
}

// Done when 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_payload_in_the_queue_is_set_aside_and_the_worker_goes_on() {
    let mut run = Run::start(Setup::new(sim("100ms..200ms"))).await;
    let worker = run.start_worker();
    // The schedule is the queue: an entry that is no job id, as a hand edit would make it.
    let mut conn = run.redis().await;
    let _: i64 = redis::cmd("ZADD")
        .arg(format!("{}:due", run.prefix))
        .arg(0)
        .arg("not a job id")
        .query_async(&mut conn)
        .await
        .expect("ZADD");

    let key = format!("{}:dead_letters", run.prefix);
    let letters = eventually(Duration::from_secs(20), || async {
        let mut conn = run.redis().await;
        let letters: Vec<String> = redis::cmd("LRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .ok()?;
        (!letters.is_empty()).then_some(letters)
    })
    .await
    .unwrap_or_else(|| panic!("nothing in {key}; logs in {:?}", run.log_dir()));
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter: Value = serde_json::from_str(&letters[0]).expect("a JSON dead letter");
    assert_eq!(
        letter["payload"],
        json!({"job_id": "not a job id"}),
        "{letter}"
    );
    let error = letter["error"].as_str().expect("an error");
    assert!(error.contains("job id"), "{letter}");

    let id = run.submit(chain_body("life goes on", 0)).await;
    let jobs = run.wait_all_finished(1, Duration::from_secs(30)).await;
    assert_eq!(jobs[0]["id"], id.as_str());
    assert_all_succeeded(&run, &jobs);
    assert!(run.worker_alive(worker), "the worker went on");
}
