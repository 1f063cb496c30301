//! Scheduled pipelines end to end, on real processes of the built binary with the simulator
//! as the upstream and `[[pipelines]]` in a configuration file: a one-second pipeline fires
//! each tick once with three workers racing on Redis (and a worker killed mid-run), and on
//! the embedded home; `catch_up` after a restart; a bad pipeline refuses to start; and
//! `GET /v1/pipelines` and `pixq pipelines` show the next and last runs.
//!
//! The tests of this file run one at a time: each counts ticks of a one-second schedule, and
//! the processes of another test starving them of CPU would make a late tick look missed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pixverse_sim::{Latency, SimConfig};
use serde_json::Value;
use support::*;

/// One test at a time (see the module docs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn sim() -> SimConfig {
    SimConfig::default()
        .with_latency("100ms..300ms".parse::<Latency>().expect("a latency"))
        .with_max_in_flight(10_000)
}

/// A configuration with one pipeline per `(name, schedule, catch_up)`, one prompt each.
fn config(pipelines: &[(&str, &str, &str)]) -> String {
    pipelines
        .iter()
        .map(|(name, schedule, catch_up)| {
            format!(
                "[[pipelines]]\nname = \"{name}\"\nschedule = \"{schedule}\"\n\
                 catch_up = \"{catch_up}\"\nprompts = [\"a lighthouse at tick time\"]\n\
                 quality = \"540p\"\n\n"
            )
        })
        .collect()
}

/// The batches of the run by pipeline, each as (tick, batch id), in tick order. Every batch is
/// found through its jobs, and named `{pipeline} {tick}`.
async fn batches(run: &Run) -> BTreeMap<String, Vec<(DateTime<Utc>, String)>> {
    let ids: BTreeSet<String> = run
        .all_jobs()
        .await
        .iter()
        .filter_map(|job| job["batch_id"].as_str().map(str::to_owned))
        .collect();
    let mut out: BTreeMap<String, Vec<(DateTime<Utc>, String)>> = BTreeMap::new();
    for id in ids {
        let (status, batch) = run.get(&format!("/v1/batches/{id}")).await;
        assert_eq!(status, 200, "{batch}");
        let name = batch["name"]
            .as_str()
            .expect("a pipeline's batch has a name");
        let (pipeline, tick) = name.split_once(' ').expect("`{pipeline} {tick}`");
        let tick = DateTime::parse_from_rfc3339(tick)
            .unwrap_or_else(|e| panic!("{name:?}: {e}"))
            .with_timezone(&Utc);
        out.entry(pipeline.to_owned()).or_default().push((tick, id));
    }
    for ticks in out.values_mut() {
        ticks.sort();
    }
    out
}

/// Checks that `ticks` has one batch a tick, and no tick missing between its first and last
/// (a one-second schedule).
fn assert_once_each_and_contiguous(ticks: &[(DateTime<Utc>, String)]) {
    for pair in ticks.windows(2) {
        let gap = (pair[1].0 - pair[0].0).num_seconds();
        assert_ne!(gap, 0, "two batches for tick {}: {pair:?}", pair[0].0);
        assert_eq!(
            gap, 1,
            "ticks missed between {} and {}",
            pair[0].0, pair[1].0
        );
    }
}

/// `GET /v1/pipelines`, by name.
async fn pipelines(run: &Run) -> BTreeMap<String, Value> {
    let (status, body) = run.get("/v1/pipelines").await;
    assert_eq!(status, 200, "{body}");
    body["pipelines"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| (p["name"].as_str().expect("a name").to_owned(), p.clone()))
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("a time: {value}")))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Waits until every pipeline in `names` has run, up to `deadline`; answers their entries.
async fn until_ran(run: &Run, names: &[&str], deadline: Duration) -> BTreeMap<String, Value> {
    let started = Instant::now();
    loop {
        let all = pipelines(run).await;
        if names.iter().all(|n| all[*n]["last_run"].is_string()) {
            return all;
        }
        assert!(
            started.elapsed() < deadline,
            "not every pipeline ran within {deadline:?}: {all:?}; logs in {:?}",
            run.log_dir()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(left) = (at - Utc::now()).to_std() {
        tokio::time::sleep(left).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_three_workers_fire_each_tick_of_a_one_second_pipeline_once_even_when_one_is_killed()
{
    let _serial = SERIAL.lock().await;
    let setup = Setup::new(sim()).config(config(&[("every", "* * * * * *", "skip")]));
    let mut run = Run::start(setup).await;
    run.start_workers(3);
    until_ran(&run, &["every"], Duration::from_secs(20)).await;

    let from = Utc::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    run.kill_worker(1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let to = Utc::now();
    // The tick at `to` is being written by now; give it time to be accepted.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let all = batches(&run).await;
    let ticks = &all["every"];
    assert_once_each_and_contiguous(ticks);
    let in_window = ticks
        .iter()
        .filter(|(tick, _)| *tick > from && *tick <= to)
        .count();
    assert!(
        (9..=11).contains(&in_window),
        "{in_window} batches in a window of 10 s: {ticks:?}"
    );

    // Under the store: one idempotency key a tick, naming that tick's one batch, and the last
    // run recorded is the newest batch.
    let mut redis = run.redis().await;
    let by_tick: BTreeMap<i64, String> = ticks
        .iter()
        .map(|(tick, id)| (tick.timestamp(), id.clone()))
        .collect();
    for (second, id) in &by_tick {
        let key = format!("{}:batch-idem:pipeline:every:{second}", run.prefix);
        let named: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("batch")
            .query_async(&mut redis)
            .await
            .expect("HGET");
        assert_eq!(named.as_deref(), Some(id.as_str()), "{key}");
    }
    let mut cursor = 0u64;
    let mut keys = 0;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}:batch-idem:pipeline:every:*", run.prefix))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut redis)
            .await
            .expect("SCAN");
        keys += found.len();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(keys, ticks.len(), "one idempotency key a batch");
    let shown = &pipelines(&run).await["every"];
    let newest = ticks.last().expect("a batch");
    assert!(time(&shown["last_run"]) >= newest.0, "{shown}");
    assert!(
        time(&shown["next_run"]) > time(&shown["last_run"]),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_pipeline_fires_its_ticks_and_pixq_pipelines_shows_the_runs() {
    let _serial = SERIAL.lock().await;
    let setup = Setup::new(sim())
        .embedded()
        .config(config(&[("every", "* * * * * *", "skip")]));
    let run = Run::start(setup).await;
    until_ran(&run, &["every"], Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    let all = batches(&run).await;
    let ticks = &all["every"];
    assert!(ticks.len() >= 4, "{ticks:?}");
    assert_once_each_and_contiguous(ticks);

    let shown = &pipelines(&run).await["every"];
    assert_eq!(shown["schedule"], "* * * * * *");
    assert_eq!(shown["timezone"], "UTC");
    assert_eq!(shown["catch_up"], "skip");
    assert_eq!(shown["prompts"], 1);
    let last = time(&shown["last_run"]);
    assert!(last >= ticks.last().expect("a batch").0, "{shown}");
    assert!(time(&shown["next_run"]) > last, "{shown}");
    let last_batch = shown["last_batch_id"].as_str().expect("a batch id");
    assert!(last_batch.starts_with("batch_"), "{shown}");

    let (code, table) = run.cli(&["pipelines"]);
    assert_eq!(code, 0, "{table}");
    let row = table
        .lines()
        .find(|line| line.starts_with("every "))
        .unwrap_or_else(|| panic!("no row for the pipeline: {table}"));
    assert!(row.contains("* * * * * *") && row.contains("skip"), "{row}");
    assert!(row.contains("batch_"), "the last batch is shown: {row}");
    let (code, json) = run.cli(&["pipelines", "--json"]);
    assert_eq!(code, 0, "{json}");
    let json: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["pipelines"][0]["name"], "every");
    assert!(json["pipelines"][0]["next_run"].is_string(), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_restart_catch_up_once_fires_the_latest_missed_tick_and_skip_fires_none() {
    let _serial = SERIAL.lock().await;
    // Ticks every 3 s; both pipelines run, then the only scheduler is killed right after a
    // tick L, so L+3 and L+6 pass while none runs; it restarts between L+6 and L+9.
    let setup = Setup::new(sim()).embedded().config(config(&[
        ("once", "*/3 * * * * *", "once"),
        ("skip", "*/3 * * * * *", "skip"),
    ]));
    let mut run = Run::start(setup).await;
    let first = until_ran(&run, &["once", "skip"], Duration::from_secs(20)).await;
    // Wait for the next tick after both ran, and kill the server right after it.
    let next = time(&first["once"]["next_run"]);
    let last = loop {
        let now = pipelines(&run).await;
        let (once, skip) = (&now["once"]["last_run"], &now["skip"]["last_run"]);
        if once.is_string() && once == skip && time(once) >= next {
            break time(once);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    run.kill_server();
    let step = chrono::TimeDelta::seconds(3);
    assert!(
        Utc::now() < last + step - chrono::TimeDelta::milliseconds(500),
        "the kill came too late after tick {last}"
    );
    sleep_until(last + step * 2 + chrono::TimeDelta::milliseconds(700)).await;
    run.restart_server().await;
    assert!(
        Utc::now() < last + step * 3 - chrono::TimeDelta::milliseconds(300),
        "the restart took too long to tell catch-up from the next tick"
    );
    // The skip pipeline's next run is L+9: wait for it.
    let started = Instant::now();
    loop {
        let now = pipelines(&run).await;
        if now["skip"]["last_run"].is_string() && time(&now["skip"]["last_run"]) > last + step * 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "skip never ran again: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let all = batches(&run).await;
    let after = |name: &str| -> Vec<DateTime<Utc>> {
        all[name]
            .iter()
            .map(|(tick, _)| *tick)
            .filter(|tick| *tick > last)
            .collect()
    };
    let once = after("once");
    assert_eq!(
        once.first(),
        Some(&(last + step * 2)),
        "once fires the latest missed tick, L+6: {once:?}"
    );
    assert!(
        !once.contains(&(last + step)),
        "once fires one missed tick, not each: {once:?}"
    );
    let skip = after("skip");
    assert_eq!(
        skip.first(),
        Some(&(last + step * 3)),
        "skip fires nothing missed, its next run is L+9: {skip:?}"
    );
}

#[test]
fn a_bad_pipeline_fails_the_start_with_exit_2_naming_the_pipeline_and_the_key() {
    let dir = TempDataDir::new("pipelines-bad");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a file");
        path
    };
    let bad_line = write("prompts.csv", "prompt,duration\na boat,5\na fox,soon\n");
    let cases = [
        (
            "[[pipelines]]\nname = \"nightly\"\nschedule = \"0 3 * * *\"\nprompts = [\"a\"]\n"
                .to_owned(),
            "pipelines[nightly].schedule",
        ),
        (
            "[[pipelines]]\nname = \"nightly\"\nschedule = \"0 0 3 * * *\"\n\
             timezone = \"Moon/Tranquility\"\nprompts = [\"a\"]\n"
                .to_owned(),
            "pipelines[nightly].timezone",
        ),
        (
            format!(
                "[[pipelines]]\nname = \"nightly\"\nschedule = \"0 0 3 * * *\"\n\
                 prompts_file = \"{}\"\n",
                bad_line.display()
            ),
            "pipelines[nightly].prompts_file",
        ),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let file = write(&format!("bad-{i}.toml"), text);
        for role in ["worker", "run", "api"] {
            let out = Command::new(env!("CARGO_BIN_EXE_pixq"))
                .args([role, "--config"])
                .arg(&file)
                .env_clear()
                .env("PIXQ__DATA_DIR", dir.path().join("data"))
                .env("PIXQ__REDIS__URL", "redis://127.0.0.1:1")
                .output()
                .expect("pixq runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "pixq {role}: {stderr}");
            assert!(
                stderr.contains(&format!("{key}: ")),
                "pixq {role}: {stderr}"
            );
        }
    }
    let stderr = {
        let file = write("bad-line.toml", &cases[2].0);
        let out = Command::new(env!("CARGO_BIN_EXE_pixq"))
            .args(["config", "--config"])
            .arg(&file)
            .env_clear()
            .output()
            .expect("pixq runs");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(
        stderr.contains("prompts.csv line 3, field `duration`"),
        "the bad line is named: {stderr}"
    );
}
