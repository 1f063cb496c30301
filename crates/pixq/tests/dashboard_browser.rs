//! The dashboard in a real browser: headless Debian `chromium`, driven through
//! `chromedriver` (WebDriver), against `pixq run` with the simulator as the upstream, all on
//! loopback. The browser logs in with a token, sees a batch's bar advance without a reload,
//! sees a finished video whose source answers with MP4 bytes, sees a prompt of
//! `<script>alert(1)</script>` as text, and cancels a queued job with its button. Screenshots
//! go to `target/dashboard/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them), or `PIXQ_CHROMIUM` and `PIXQ_CHROMEDRIVER`.
//! Without them the test fails, unless `PIXQ_SKIP_BROWSER=1` says to skip it.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use pixverse_sim::{Latency, SimConfig};
use serde_json::{Value, json};
use support::*;

/// The API token the browser logs in with.
const DASH_TOKEN: &str = "dashboard-test-token";

/// The prompt that must show as text.
const SCRIPT_PROMPT: &str = "<script>alert(1)</script>";

/// How long anything the browser waits for may take.
const WAIT: Duration = Duration::from_secs(60);

/// Where the screenshots go.
fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("dashboard")
}

/// The browser and its driver, or `None` when the test is to be skipped.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("PIXQ_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let driver = std::env::var_os("PIXQ_CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    if std::env::var("PIXQ_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("PIXQ_SKIP_BROWSER=1: the dashboard browser test is skipped");
        return None;
    }
    panic!(
        "the dashboard browser test needs {} and {}: install Debian's chromium and \
         chromium-driver (apt-get install chromium chromium-driver; .ci/run does), point \
         PIXQ_CHROMIUM and PIXQ_CHROMEDRIVER at them, or set PIXQ_SKIP_BROWSER=1 to skip it",
        chromium.display(),
        driver.display()
    );
}

/// `chromedriver` on a free loopback port, and a headless session of `chromium` through it.
async fn browser(run: &Run, chromium: &Path, driver: &Path) -> (Proc, Client) {
    let port = free_port();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".to_owned());
    let driver_proc = Proc::spawn(
        driver,
        &[&format!("--port={port}"), "--allowed-ips=127.0.0.1"],
        [("HOME", home.as_str())],
        &run.log_dir().join("chromedriver.log"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    until("chromedriver to answer", Duration::from_secs(20), || {
        let status = status.clone();
        async move {
            reqwest::get(&status)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1440,1000", "--mute-audio", "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("a chromium session through chromedriver: {e}"));
    (driver_proc, client)
}

/// Runs `script` in the page and answers its value.
async fn eval(client: &Client, script: &str) -> Value {
    client
        .execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("the page runs {script:?}: {e}"))
}

/// Waits until `script` answers something other than `null`; answers it.
async fn wait_eval(client: &Client, what: &str, script: &str) -> Value {
    until(what, WAIT, || async {
        let value = eval(client, script).await;
        (!value.is_null()).then_some(value)
    })
    .await
}

/// Takes a screenshot into `target/dashboard/` once every video on the page has its first
/// frame.
async fn screenshot(client: &Client, name: &str) -> PathBuf {
    wait_eval(
        client,
        "the page's videos to load",
        "const all = Array.from(document.querySelectorAll('video')); \
         return all.every(v => v.readyState >= 2) ? all.length : null",
    )
    .await;
    let png = client.screenshot().await.expect("a screenshot");
    let dir = shots_dir();
    std::fs::create_dir_all(&dir).expect("target/dashboard");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("the screenshot is written");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser_logs_in_shows_progress_videos_and_cancels() {
    let Some((chromium, driver)) = browser_paths() else {
        return;
    };
    // One generation at a time, each taking seconds: chains stay queued long enough to be
    // cancelled, and the bar moves in visible steps.
    let setup = Setup::new(
        SimConfig::default().with_latency("3s..5s".parse::<Latency>().expect("a latency")),
    )
    .embedded()
    .env("PIXQ__UPSTREAM__MAX_IN_FLIGHT", "1")
    .env("PIXQ__API__TOKENS", DASH_TOKEN)
    // A pipeline that will not fire during the test, for the dashboard to list.
    .config(
        "[[pipelines]]\nname = \"nightly-foxes\"\nschedule = \"0 0 3 * * *\"\n\
         timezone = \"Europe/Paris\"\nprompts = [\"a fox at dawn\", \"a fox at dusk\"]\n",
    );
    let mut run = Run::start(setup).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {DASH_TOKEN}").parse().expect("a header"),
    );
    run.http = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client");
    let (_driver, client) = browser(&run, &chromium, &driver).await;
    let run = Arc::new(run);
    // The walkthrough runs as a task of its own, so that the browser is closed (and chromium
    // with it) whether it passes or panics.
    let walked = tokio::spawn(walkthrough(Arc::clone(&run), client.clone())).await;
    let closed = client.close().await;
    if let Err(e) = walked {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the walkthrough did not finish: {e}"),
        }
    }
    closed.expect("the browser closes");
}

/// Logs in, watches a batch advance, checks a video, the escaping and the error, cancels a
/// queued job, and takes the screenshots.
async fn walkthrough(run: Arc<Run>, client: Client) {
    let base = run.api();

    // Logs in: the dashboard sends a browser without a session to the form.
    client
        .goto(&format!("{base}/"))
        .await
        .expect("the dashboard loads");
    let at = client.current_url().await.expect("a URL");
    assert_eq!(at.path(), "/login", "no session: the login form");
    screenshot(&client, "login.png").await;
    let field = client
        .find(Locator::Css("#token"))
        .await
        .expect("a token field");
    field.send_keys(DASH_TOKEN).await.expect("typing");
    client
        .find(Locator::Css("main.login button[type=submit]"))
        .await
        .expect("a login button")
        .click()
        .await
        .expect("the login is posted");
    wait_eval(
        &client,
        "the dashboard after the login",
        "return document.querySelector('section#queue') ? location.pathname : null",
    )
    .await;
    let cookie_visible = eval(&client, "return document.cookie").await;
    assert!(
        !cookie_visible
            .as_str()
            .unwrap_or_default()
            .contains("pixq_session"),
        "the session cookie is HttpOnly: {cookie_visible}"
    );
    eval(&client, "window.__pixqSamePage = 42; return null").await;

    // A batch submitted now shows up and its bar advances, live: the page is never reloaded.
    let (status, batch) = run
        .post(
            "/v1/batches",
            json!({
                "name": "dashboard walkthrough",
                "jobs": [
                    {"prompt": "a red fox trotting through fresh snow", "extend": [{"prompt": "it leaps over a log"}]},
                    {"prompt": SCRIPT_PROMPT},
                    {"prompt": "a lighthouse at dusk, waves breaking"},
                    {"prompt": "a paper boat drifting on a pond"},
                    {"prompt": "a hot air balloon over green hills"},
                ],
            }),
        )
        .await;
    assert_eq!(status, 202, "{batch}");
    let id = batch["id"].as_str().expect("a batch id").to_owned();
    let bar = format!("document.querySelector('#batch-{id} .bar')");
    let first = wait_eval(
        &client,
        "the new batch's bar on the dashboard",
        &format!("const b = {bar}; return b ? Number(b.dataset.done) : null"),
    )
    .await;
    let first = first.as_u64().expect("a count");
    let advanced = wait_eval(
        &client,
        "the batch's bar to advance",
        &format!(
            "const b = {bar}; return b && Number(b.dataset.done) > {first} ? Number(b.dataset.done) : null"
        ),
    )
    .await;
    assert!(advanced.as_u64() > Some(first), "{advanced} after {first}");
    assert_eq!(
        eval(&client, "return window.__pixqSamePage").await,
        json!(42),
        "the bar advanced without a reload"
    );
    screenshot(&client, "overview.png").await;

    // The batch's page: a finished video plays inline, its source answers with MP4 bytes.
    client
        .goto(&format!("{base}/batches/{id}"))
        .await
        .expect("the batch page loads");
    let video = wait_eval(
        &client,
        "a finished video on the batch page",
        "const v = document.querySelector('tr[data-live] video[src]'); \
         return v ? {src: v.getAttribute('src'), poster: v.getAttribute('poster')} : null",
    )
    .await;
    let src = video["src"].as_str().expect("a video source");
    let response = reqwest::get(src).await.expect("the video's source answers");
    assert!(
        response.status().is_success(),
        "{src}: {}",
        response.status()
    );
    let content_type = pixq_testkit::http::content_type(&response);
    assert!(content_type.starts_with("video/"), "{src}: {content_type}");
    let bytes = response.bytes().await.expect("video bytes");
    assert_eq!(bytes.get(4..8), Some(&b"ftyp"[..]), "{src} is an MP4");
    assert!(
        video["poster"]
            .as_str()
            .is_some_and(|p| p.ends_with(".svg")),
        "the first frame is the poster: {video}"
    );
    // And the browser itself loads and decodes it: it can play inline.
    wait_eval(
        &client,
        "the browser to decode the video",
        "const v = document.querySelector('tr[data-live] video[src]'); \
         return v && v.readyState >= 2 && v.videoWidth > 0 ? v.videoWidth : null",
    )
    .await;

    // The script prompt is text on the page, not a script, and nothing alerted.
    let prompts = eval(
        &client,
        "return Array.from(document.querySelectorAll('.prompt-text'), e => e.textContent)",
    )
    .await;
    assert!(
        prompts
            .as_array()
            .is_some_and(|p| p.iter().any(|t| t == SCRIPT_PROMPT)),
        "the prompt shows as text: {prompts}"
    );
    assert_eq!(
        eval(
            &client,
            "return document.querySelectorAll('main script').length"
        )
        .await,
        json!(0)
    );
    assert!(client.get_alert_text().await.is_err(), "no alert is open");

    // Cancels a queued job with its button; its row turns cancelled, live.
    let row = wait_eval(
        &client,
        "a queued chain",
        "const rows = document.querySelectorAll('tr[data-state=queued]'); \
         return rows.length ? rows[rows.length - 1].id : null",
    )
    .await;
    let row = row.as_str().expect("a row id").to_owned();
    let job = eval(
        &client,
        &format!("return document.getElementById('{row}').dataset.job"),
    )
    .await;
    client
        .find(Locator::Css(&format!("#{row} button.danger")))
        .await
        .expect("a cancel button on the queued job")
        .click()
        .await
        .expect("the cancel is posted");
    wait_eval(
        &client,
        "the cancelled job's row",
        &format!(
            "const r = document.getElementById('{row}'); \
             return r && r.dataset.state === 'cancelled' ? true : null"
        ),
    )
    .await;
    let (_, cancelled) = run
        .get(&format!("/v1/jobs/{}", job.as_str().expect("a job id")))
        .await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");

    // Lets the rest finish, then one job the upstream refuses (its moderation), so the last
    // screenshots show an error in words with the upstream's code beside it.
    until("the batch to finish", Duration::from_secs(120), || async {
        let (_, b) = run.get(&format!("/v1/batches/{id}")).await;
        b["finished_at"].is_string().then_some(())
    })
    .await;
    let shot = screenshot(&client, "batch.png").await;
    run.faults(json!({"moderation": 1.0})).await;
    let refused = run
        .submit(json!({"prompt": "a crowded street market at noon"}))
        .await;
    until(
        "the refused job to fail",
        Duration::from_secs(30),
        || async { (run.job(&refused).await["state"] == "failed").then_some(()) },
    )
    .await;
    run.faults(json!({"moderation": 0.0})).await;
    client
        .goto(&format!("{base}/"))
        .await
        .expect("the overview");
    let error = wait_eval(
        &client,
        "the failed job's error on the overview",
        &format!(
            "const r = document.getElementById('job-{refused}'); \
             return r && r.querySelector('.error-code') ? \
             [r.querySelector('.error-message').textContent, r.querySelector('.error-code').textContent] : null"
        ),
    )
    .await;
    assert!(
        error[1].as_str().is_some_and(|code| !code.is_empty()),
        "the code beside the message: {error}"
    );
    assert!(
        eval(
            &client,
            &format!(
                "return !!document.querySelector('#job-{refused} form[action$=\"/retry\"] button')"
            )
        )
        .await
            == json!(true),
        "a failed job has a retry button"
    );
    let pipelines = eval(
        &client,
        "return document.getElementById('pipelines').textContent",
    )
    .await;
    assert!(
        pipelines
            .as_str()
            .is_some_and(|t| t.contains("nightly-foxes")),
        "the pipelines with their next runs: {pipelines}"
    );
    client
        .set_window_size(1440, 1500)
        .await
        .expect("a taller window");
    screenshot(&client, "dashboard-full.png").await;
    eprintln!(
        "screenshots in {}",
        shot.parent()
            .map_or_else(String::new, |p| p.display().to_string())
    );
}
