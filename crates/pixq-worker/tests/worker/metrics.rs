//! A worker's own `/metrics` and `/healthz` on `worker.metrics_listen`.

use std::net::{SocketAddr, TcpListener};

use pixq_core::state::JobState;
use serde_json::json;

use crate::support::{setup_with, sim_config, wait_until};

/// An address that was free a moment ago.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_serves_its_metrics_with_token_aliases_and_its_health() {
    let addr = free_addr();
    let b = setup_with(sim_config(), |c| c.metrics_listen = Some(addr)).await;
    let http = reqwest::Client::new();
    wait_until("the metrics server to answer", || async {
        let response = http
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .ok()?;
        (response.status() == 200).then_some(())
    })
    .await;

    let job = b.create(json!({"prompt": "a clock without hands"})).await;
    let chains = b.wait_for_chains(std::slice::from_ref(&job.id)).await;
    assert_eq!(chains[0][0].state, JobState::Succeeded);

    let text = wait_until("the job's metrics", || async {
        let response = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .ok()?;
        let text = response.text().await.ok()?;
        text.contains("pixq_jobs_finished_total").then_some(text)
    })
    .await;
    for wanted in [
        "pixq_upstream_requests_total{endpoint=\"submit\",status=\"200\"}",
        "pixq_upstream_requests_total{endpoint=\"retrieve\",status=\"200\"}",
        "pixq_jobs_finished_total{state=\"succeeded\"}",
        "pixq_job_duration_seconds",
        "pixq_queue_wait_seconds",
        "pixq_in_flight{token=\"default\"}",
        "pixq_upstream_paused{token=\"default\"}",
    ] {
        assert!(text.contains(wanted), "{wanted} is missing from:\n{text}");
    }
    assert!(
        !text.contains(crate::support::TOKEN),
        "a token in the metrics"
    );
    b.finish().await;
}
