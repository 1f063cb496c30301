//! Webhooks to users end to end (issue 10): real processes of the built binary on both homes
//! (`pixq api` + `pixq worker` on Redis, `pixq run` embedded), the simulator as the upstream,
//! and receivers on loopback that check every signature themselves. Each test names the
//! "Done when" item it shows.

mod receiver;
#[path = "../support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pixverse_sim::SimConfig;
use receiver::{Behaviour, Receiver, SECRET};
use serde_json::{Value, json};
use support::*;

/// Instantiates each `async fn(Mode)` on both homes: `redis::<name>`, `embedded::<name>`.
macro_rules! on_both_homes {
    ($($test:ident),+ $(,)?) => {
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::Mode::Redis).await;
                }
            )+
        }

        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::Mode::Embedded).await;
                }
            )+
        }
    };
}

on_both_homes!(
    every_event_arrives_signed_once_although_the_receiver_fails_twice,
    a_private_address_is_refused_by_default_and_the_job_says_why,
    a_receiver_hanging_30s_delays_no_other_delivery_and_no_job,
    a_process_killed_while_delivering_loses_no_event,
    an_event_given_up_is_listed_dead_and_delivered_once_resent,
);

/// A run with webhooks signed by [`SECRET`], loopback allowed unless `allow_loopback` is
/// false, one worker on Redis.
async fn start(mode: Mode, allow_loopback: bool, extra: &[(&'static str, &str)]) -> Run {
    let sim = SimConfig::default().with_latency("1s..2s".parse().expect("a latency"));
    let mut setup = Setup::new(sim)
        .mode(mode)
        .env("PIXQ__API__WEBHOOK_SECRET", SECRET);
    if allow_loopback {
        setup = setup.env("PIXQ__WEBHOOKS__ALLOW_NETWORKS", "127.0.0.1/32");
    }
    for (k, v) in extra {
        setup = setup.env(k, *v);
    }
    let mut run = Run::start(setup).await;
    run.start_workers(1);
    run
}

/// Waits up to `deadline` for `ready` to hold, asking every 100 ms; fails with `what`.
async fn wait_for(deadline: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < deadline, "after {deadline:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until job `id`'s `webhook.state` is `state`; answers the job.
async fn wait_webhook_state(run: &Run, id: &str, state: &str, deadline: Duration) -> Value {
    eventually(deadline, || async {
        let job = run.job(id).await;
        (job["webhook"]["state"] == state).then_some(job)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "job {id}'s webhook never became {state}; logs in {:?}",
            run.log_dir()
        )
    })
}

// Done when 1: every signature verifies, each job's event arrives once after de-duplicating
// by webhook-id, although the receiver fails its first 2 attempts; cancels included. And 5:
// the official `standardwebhooks` package verifies a delivered event.
async fn every_event_arrives_signed_once_although_the_receiver_fails_twice(mode: Mode) {
    let receiver = Receiver::start(Behaviour {
        fail_first: 2,
        ..Behaviour::default()
    })
    .await;
    let run = start(mode, true, &[]).await;
    let hook = receiver.url("127.0.0.1", "jobs");
    for i in 0..3 {
        run.submit(json!({"prompt": format!("a hooked take {i}"), "webhook_url": hook}))
            .await;
    }
    let mut chain = chain_body("a hooked chain", 1);
    chain["webhook_url"] = json!(hook);
    run.submit(chain).await;
    let cancelled = run
        .submit(json!({"prompt": "cancelled at once", "webhook_url": hook}))
        .await;
    let (status, body) = run
        .post(&format!("/v1/jobs/{cancelled}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, batch) = run
        .post(
            "/v1/batches",
            json!({"prompts": ["batch one", "batch two"], "webhook_url": receiver.url("127.0.0.1", "batches")}),
        )
        .await;
    assert_eq!(status, 202, "{batch}");
    let batch_id = batch["id"].as_str().expect("a batch id").to_owned();

    let jobs = run.wait_all_finished(8, Duration::from_secs(120)).await;
    let hooked: Vec<&Value> = jobs.iter().filter(|j| j["webhook_url"] == hook).collect();
    assert_eq!(hooked.len(), 6, "3 takes, a chain of 2, a cancel");
    let subjects = hooked.len() + 1;
    wait_for(
        Duration::from_secs(60),
        &format!(
            "{subjects} events delivered: {:?}",
            receiver.events_by_subject().keys()
        ),
        || receiver.events_by_subject().len() == subjects,
    )
    .await;

    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
    let by_subject = receiver.events_by_subject();
    let delivered = receiver.delivered();
    let requests = receiver.requests();
    for job in &hooked {
        let id = job["id"].as_str().expect("an id");
        let events = by_subject
            .get(id)
            .unwrap_or_else(|| panic!("no event for {id}"));
        assert_eq!(events.len(), 1, "one event per job: {events:?}");
        let event_id = events.first().expect("an event");
        let event = delivered[event_id].json();
        assert_eq!(event["type"], "job.finished");
        assert_eq!(event["data"]["state"], job["state"], "{event}");
        assert_eq!(event["data"]["finished_at"], job["finished_at"]);
        assert_eq!(event["timestamp"], job["finished_at"]);
        // Every attempt of the event: the same id, the same bytes, 2 failures first.
        let attempts: Vec<&receiver::Request> =
            requests.iter().filter(|r| &r.id == event_id).collect();
        assert!(
            attempts.len() >= 3,
            "{} attempts at {event_id}",
            attempts.len()
        );
        assert!(attempts.iter().all(|r| r.body == attempts[0].body));
        assert_eq!(
            attempts
                .iter()
                .map(|r| r.answered)
                .take(3)
                .collect::<Vec<_>>(),
            [500, 500, 200]
        );
        let shown = run.job(id).await;
        assert_eq!(
            shown["webhook"],
            json!({"id": event_id, "state": "delivered", "attempts": 3,
                   "last_error": "the receiver answered HTTP 500 Internal Server Error"}),
            "{shown}"
        );
    }
    let cancelled_job = jobs
        .iter()
        .find(|j| j["id"] == cancelled.as_str())
        .expect("the cancel");
    assert_eq!(cancelled_job["state"], "cancelled");
    let batch_events = &by_subject[&batch_id];
    assert_eq!(batch_events.len(), 1);
    let batch_event = delivered[batch_events.first().expect("an event")].json();
    assert_eq!(batch_event["type"], "batch.finished");
    assert_eq!(
        batch_event["data"]["counts"]["succeeded"], 2,
        "{batch_event}"
    );
    let (_, shown) = run.get(&format!("/v1/batches/{batch_id}")).await;
    assert_eq!(shown["webhook"]["state"], "delivered", "{shown}");

    if mode == Mode::Embedded {
        let metrics = run.metrics().await;
        assert!(
            metrics.contains("pixq_webhook_deliveries_total{outcome=\"delivered\"} 7"),
            "{metrics}"
        );
    }
    let first = delivered.values().next().expect("a delivery");
    standardwebhooks_verifies(first, &run.log_dir());
}

/// Done when 5: the official `standardwebhooks` package (PyPI) verifies `delivery`, and
/// refuses it tampered. The interpreter is `PIXQ_PYTHON` (`.ci/run` sets it to a venv with the
/// package), else that venv's when it exists, else `python3`; `PIXQ_SKIP_PYTHON` skips this check, saying so.
fn standardwebhooks_verifies(delivery: &receiver::Request, dir: &std::path::Path) {
    if std::env::var_os("PIXQ_SKIP_PYTHON").is_some() {
        eprintln!("PIXQ_SKIP_PYTHON is set: the standardwebhooks check is SKIPPED");
        return;
    }
    // The venv `.ci/run` makes, when it is there: `cargo test` alone finds the package too.
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/sdk-venv/bin/python");
    let python = std::env::var("PIXQ_PYTHON").unwrap_or_else(|_| {
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".to_owned()
        }
    });
    let file = dir.join(format!("delivery-{}.json", delivery.id));
    std::fs::create_dir_all(dir).expect("the log dir");
    let saved = json!({
        "secret": SECRET,
        "headers": {
            "webhook-id": delivery.id,
            "webhook-timestamp": delivery.timestamp,
            "webhook-signature": delivery.signature,
        },
        "body": delivery.body,
    });
    std::fs::write(&file, saved.to_string()).expect("the delivery is saved");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/verify.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{python} does not run ({e}); set PIXQ_PYTHON"));
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "the standardwebhooks check failed with {python} (install the package as .ci/run does, set PIXQ_PYTHON to that interpreter, or PIXQ_SKIP_PYTHON=1 to skip):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
}

// Done when 2: a webhook aimed at a private address is refused by default, and the job's
// webhook state says why; nothing reaches the receiver.
async fn a_private_address_is_refused_by_default_and_the_job_says_why(mode: Mode) {
    let receiver = Receiver::start(Behaviour::default()).await;
    let run = start(mode, false, &[]).await;
    let targets = [
        (
            receiver.url("127.0.0.1", "hook"),
            "refused: 127.0.0.1 is a loopback address; webhooks.allow_networks does not cover it",
        ),
        (
            receiver.url("localhost", "hook"),
            "refused: localhost resolves to",
        ),
        (
            "http://10.0.0.1:8080/hook".to_owned(),
            "refused: 10.0.0.1 is a private address; webhooks.allow_networks does not cover it",
        ),
        (
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "refused: 169.254.169.254 is a cloud metadata address",
        ),
    ];
    let mut ids = Vec::new();
    for (url, _) in &targets {
        ids.push(
            run.submit(json!({"prompt": "a private hook", "webhook_url": url}))
                .await,
        );
    }
    run.wait_all_finished(targets.len(), Duration::from_secs(60))
        .await;
    for (id, (url, why)) in ids.iter().zip(&targets) {
        let job = wait_webhook_state(&run, id, "refused", Duration::from_secs(30)).await;
        let error = job["webhook"]["last_error"].as_str().unwrap_or_default();
        assert!(error.starts_with(why), "{url}: {error}");
        assert_eq!(job["webhook"]["attempts"], 1, "{job}");
    }
    let (_, dead) = run.get("/v1/webhooks/dead").await;
    let dead = dead["events"].as_array().expect("events").clone();
    assert_eq!(dead.len(), targets.len(), "{dead:?}");
    assert!(dead.iter().all(|e| e["state"] == "refused"));
    assert_eq!(receiver.arrived(), 0, "no request reached the receiver");
}

// Done when 3: a receiver that hangs for 30 s delays no other delivery, and no job.
async fn a_receiver_hanging_30s_delays_no_other_delivery_and_no_job(mode: Mode) {
    let hanging = Receiver::start(Behaviour {
        hang: Some(Duration::from_secs(30)),
        ..Behaviour::default()
    })
    .await;
    let prompt = Receiver::start(Behaviour::default()).await;
    let run = start(mode, true, &[("PIXQ__WEBHOOKS__TIMEOUT", "45s")]).await;
    let slow = hanging.url("127.0.0.1", "slow");
    for i in 0..5 {
        run.submit(json!({"prompt": format!("to the hanging receiver {i}"), "webhook_url": slow}))
            .await;
    }
    // Four requests per receiver at once: the fifth event waits, postponed.
    wait_for(
        Duration::from_secs(60),
        "the hanging receiver holds 4 requests",
        || hanging.arrived() == 4,
    )
    .await;
    let hang_began = Instant::now();
    let fast = prompt.url("127.0.0.1", "fast");
    let mut fast_ids = Vec::new();
    for i in 0..10 {
        fast_ids.push(
            run.submit(
                json!({"prompt": format!("to the prompt receiver {i}"), "webhook_url": fast}),
            )
            .await,
        );
    }
    wait_for(
        Duration::from_secs(25),
        "the other receiver got its 10 events while the first hangs",
        || prompt.delivered().len() == 10,
    )
    .await;
    let during = hang_began.elapsed();
    assert!(during < Duration::from_secs(25), "{during:?}");
    assert!(
        hanging.requests().is_empty(),
        "still hanging: none answered yet"
    );
    assert_eq!(
        hanging.arrived(),
        4,
        "never more than 4 at once to one receiver"
    );
    for id in &fast_ids {
        let job = run.job(id).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        let took = seconds_between(&job["created_at"], &job["finished_at"]);
        assert!(took < 15.0, "job {id} took {took}s: {job}");
        assert_eq!(job["webhook"]["state"], "delivered", "{job}");
    }
    eprintln!("10 other events delivered and their jobs done {during:?} into the hang");
    // The hang ends: the four held requests are answered and delivered.
    wait_for(
        Duration::from_secs(45),
        "the hanging receiver answers after 30 s",
        || hanging.delivered().len() >= 4,
    )
    .await;
    let held = hang_began.elapsed();
    assert!(held >= Duration::from_secs(25), "it really hung: {held:?}");
}

/// Seconds from one RFC 3339 time of the API to another.
fn seconds_between(from: &Value, to: &Value) -> f64 {
    let parse = |v: &Value| {
        let text = v.as_str().unwrap_or_else(|| panic!("a time: {v}"));
        chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    (parse(to) - parse(from)).as_seconds_f64()
}

// Done when 4: a process SIGKILLed while it delivers loses no event: another delivers it
// once the lease runs out (webhooks.timeout 3 s: a lease of 8 s).
async fn a_process_killed_while_delivering_loses_no_event(mode: Mode) {
    let receiver = Receiver::start(Behaviour {
        hold_first: Some(Duration::from_secs(20)),
        ..Behaviour::default()
    })
    .await;
    let mut run = start(mode, true, &[("PIXQ__WEBHOOKS__TIMEOUT", "3s")]).await;
    let id = run
        .submit(json!({"prompt": "delivered by another", "webhook_url": receiver.url("127.0.0.1", "hook")}))
        .await;
    wait_for(
        Duration::from_secs(60),
        "the first attempt reaches the receiver",
        || receiver.arrived() == 1,
    )
    .await;
    let killed_at = Instant::now();
    match mode {
        Mode::Redis => {
            run.kill_worker(0);
            run.start_worker();
        }
        Mode::Embedded => {
            run.kill_server();
            run.restart_server().await;
        }
    }
    wait_for(
        Duration::from_secs(40),
        "another process delivers the event",
        || receiver.delivered().len() == 1,
    )
    .await;
    eprintln!("delivered {:?} after the SIGKILL", killed_at.elapsed());
    let job = run.job(&id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["webhook"]["state"], "delivered", "{job}");
    assert_eq!(
        job["webhook"]["attempts"], 1,
        "the killed attempt recorded nothing: {job}"
    );
    let delivered = receiver.delivered();
    let event = delivered.values().next().expect("the event");
    assert_eq!(job["webhook"]["id"], event.id.as_str());
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
}

// The bounded retries: an event no attempt delivers within webhooks.give_up_after is dead,
// listed, and delivered under the same webhook-id once re-sent.
async fn an_event_given_up_is_listed_dead_and_delivered_once_resent(mode: Mode) {
    let receiver = Receiver::start(Behaviour::default()).await;
    receiver.set_failing(true);
    let run = start(mode, true, &[("PIXQ__WEBHOOKS__GIVE_UP_AFTER", "3s")]).await;
    let id = run
        .submit(json!({"prompt": "given up, then re-sent", "webhook_url": receiver.url("127.0.0.1", "hook")}))
        .await;
    let job = wait_webhook_state(&run, &id, "failed", Duration::from_secs(60)).await;
    let webhook = &job["webhook"];
    assert!(
        webhook["attempts"].as_u64().unwrap_or(0) >= 2,
        "retried first: {job}"
    );
    assert_eq!(
        webhook["last_error"],
        "the receiver answered HTTP 500 Internal Server Error"
    );
    let event_id = webhook["id"].as_str().expect("an event id").to_owned();
    let (_, dead) = run.get("/v1/webhooks/dead").await;
    assert_eq!(dead["events"][0]["id"], event_id.as_str(), "{dead}");
    assert_eq!(dead["events"][0]["state"], "failed");
    assert!(receiver.delivered().is_empty());

    receiver.set_failing(false);
    let (status, resent) = run
        .post(&format!("/v1/webhooks/{event_id}/resend"), json!({}))
        .await;
    assert_eq!(status, 202, "{resent}");
    let job = wait_webhook_state(&run, &id, "delivered", Duration::from_secs(30)).await;
    assert_eq!(job["webhook"]["attempts"], 1, "a fresh count: {job}");
    let delivered = receiver.delivered();
    assert_eq!(delivered.keys().collect::<Vec<_>>(), [&event_id]);
    let attempts: Vec<_> = receiver
        .requests()
        .into_iter()
        .filter(|r| r.id == event_id)
        .collect();
    assert!(
        attempts.iter().all(|r| r.body == attempts[0].body),
        "the same bytes"
    );
    let (_, dead) = run.get("/v1/webhooks/dead").await;
    assert_eq!(dead["events"], json!([]));
}
