//! Batches end to end, on real processes of the built binary with the simulator as the
//! upstream: a small batch takes turns with a large one under a small shared cap, cancelling
//! the large one mid-run stops it and keeps what it finished, and a character made with
//! `pixq character create` is used by name in a submitted file.

mod support;

use std::time::{Duration, Instant};

use pixverse_sim::{Latency, SimConfig};
use serde_json::{Value, json};
use support::*;

fn sim(latency: &str) -> SimConfig {
    SimConfig::default()
        .with_latency(latency.parse::<Latency>().expect("a latency"))
        .with_max_in_flight(10_000)
}

/// The batch object.
async fn batch(run: &Run, id: &str) -> Value {
    let (status, body) = run.get(&format!("/v1/batches/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Posts `n` prompts as text: the new batch's id.
async fn post_prompts(run: &Run, prefix: &str, n: usize) -> String {
    let body: String = (0..n).map(|i| format!("{prefix} number {i}\n")).collect();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/batches", run.api()))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status(), 202);
    let batch: Value = response.json().await.expect("a batch object");
    assert_eq!(batch["total"], n);
    batch["id"].as_str().expect("an id").to_owned()
}

/// Waits until the batch has finished: its object then.
async fn finished(run: &Run, id: &str, deadline: Duration) -> Value {
    let started = Instant::now();
    loop {
        let b = batch(run, id).await;
        if b["finished_at"].is_string() {
            return b;
        }
        assert!(
            started.elapsed() < deadline,
            "batch {id} did not finish within {deadline:?}: {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn turns_then_cancel(mode: Mode) {
    const LARGE: usize = 5000;
    const SMALL: usize = 10;
    let setup = Setup::new(sim("300ms..500ms"))
        .mode(mode)
        .env("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "4");
    let mut run = Run::start(setup).await;
    run.start_workers(1);
    let large = post_prompts(&run, "a large batch", LARGE).await;
    // The large batch is under way, its chains waiting in line for the four slots.
    let started = Instant::now();
    while batch(&run, &large).await["counts"]["running"].as_u64() == Some(0) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let small = post_prompts(&run, "a small batch", SMALL).await;
    let small_done = finished(&run, &small, Duration::from_secs(90)).await;
    assert_eq!(small_done["counts"]["succeeded"], SMALL, "{small_done}");
    let large_then = batch(&run, &large).await;
    let counts = &large_then["counts"];
    let waiting = counts["queued"].as_u64().unwrap_or(0);
    assert!(
        waiting >= (LARGE as u64) * 9 / 10,
        "the small batch finished while most of the large one still waits: {large_then}"
    );

    // Cancel the large batch mid-run: nothing queued or running is left, and what finished
    // keeps its video.
    let (status, after) = run
        .post(&format!("/v1/batches/{large}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{after}");
    let counts = &after["counts"];
    assert_eq!(counts["queued"], 0, "{after}");
    assert_eq!(counts["running"], 0, "{after}");
    let succeeded = counts["succeeded"].as_u64().unwrap_or(0);
    assert_eq!(
        succeeded + counts["cancelled"].as_u64().unwrap_or(0),
        LARGE as u64,
        "{after}"
    );
    assert!(after["finished_at"].is_string(), "{after}");

    // The upstream stops hearing from the batch: a submit already under way may land, no more.
    let at_cancel = run.ledger().await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = run.ledger().await.len();
    assert!(
        settled <= at_cancel + 4,
        "{} submissions after the cancel",
        settled - at_cancel
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(run.ledger().await.len(), settled, "submissions went on");

    let response = reqwest::get(format!("{}/v1/batches/{large}/results", run.api()))
        .await
        .expect("results");
    let text = response.text().await.expect("a body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), LARGE);
    let done: Vec<&Value> = lines.iter().filter(|l| l["state"] == "succeeded").collect();
    assert_eq!(done.len() as u64, succeeded);
    assert!(done.iter().all(|l| l["video_url"].is_string()));
    assert!(
        lines
            .iter()
            .filter(|l| l["state"] == "cancelled")
            .all(|l| l["video_url"].is_null())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_batch_takes_turns_with_a_large_one_and_cancel_stops_the_large_on_redis() {
    turns_then_cancel(Mode::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_batch_takes_turns_with_a_large_one_and_cancel_stops_the_large_embedded() {
    turns_then_cancel(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_character_made_on_the_command_line_is_used_by_name_in_a_submitted_file() {
    let run = Run::start(Setup::new(sim("100ms..200ms")).embedded()).await;
    let (code, out) = run.cli(&[
        "character",
        "create",
        "https://images.example/hero-front.png",
        "https://images.example/hero-side.png",
        "--name",
        "hero",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let character: Value = serde_json::from_str(out.trim()).expect("the character as JSON");
    let asset_id = character["asset_id"].as_u64().expect("an asset id");
    assert_eq!(character["name"], "hero");

    // The same command again is the same character: nothing is paid twice.
    let (code, again) = run.cli(&[
        "character",
        "create",
        "https://images.example/hero-front.png",
        "https://images.example/hero-side.png",
        "--name",
        "hero",
        "--json",
    ]);
    assert_eq!(code, 0, "{again}");
    let again: Value = serde_json::from_str(again.trim()).expect("JSON");
    assert_eq!(again["id"], character["id"]);
    let (code, listed) = run.cli(&["character", "list"]);
    assert_eq!(code, 0);
    assert_eq!(listed.matches("hero").count(), 1, "{listed}");

    let dir = TempDataDir::new("character-csv");
    let file = dir.path().join("prompts.csv");
    let mut csv = String::from("prompt,asset_id\n");
    for i in 0..5 {
        csv.push_str(&format!("the hero crosses bridge number {i},hero\n"));
    }
    std::fs::write(&file, csv).expect("write the CSV");
    let (code, table) = run.cli(&["submit", file.to_str().expect("a path"), "--wait"]);
    assert_eq!(code, 0, "{table}");

    let ledger = run.ledger().await;
    let generates: Vec<&Value> = ledger
        .iter()
        .filter(|e| e["request"]["action"] != "extend")
        .collect();
    assert_eq!(generates.len(), 5, "{ledger:?}");
    for entry in generates {
        assert_eq!(
            entry["request"]["asset_id"].as_u64(),
            Some(asset_id),
            "every generate carries the character's asset id: {entry}"
        );
    }
}
