//! A worker's own `/metrics` and `/healthz` on `worker.metrics_listen`.
//!
//! The recorder is the process's one ([`pixq_core::metrics::prometheus_handle`]), shared by
//! every test of this binary, so the test checks that series appear, never their values.

use std::net::SocketAddr;

use pixq_core::state::JobState;
use pixq_testkit::net::free_port;
use pixq_testkit::wait::until;
use serde_json::json;

use crate::support::{Backend, DEADLINE, TOKEN, both, setup_with, sim_config};

both!(a_worker_serves_its_metrics_with_token_aliases_and_its_health);

async fn a_worker_serves_its_metrics_with_token_aliases_and_its_health(backend: Backend) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let b = setup_with(backend, sim_config(), |c| c.metrics_listen = Some(addr)).await;
    let http = reqwest::Client::new();
    until("the metrics server to answer", DEADLINE, || async {
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

    let text = until("the job's metrics", DEADLINE, || async {
        let response = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .ok()?;
        let text = response.text().await.ok()?;
        text.contains(pixq_core::metrics::JOBS_FINISHED)
            .then_some(text)
    })
    .await;
    // Spelled out, not built from `pixq_core::metrics`: these names are INTERFACE.md's, and a
    // renamed constant must fail here.
    for wanted in [
        "pixq_upstream_requests_total{endpoint=\"submit\",status=\"200\"}",
        "pixq_upstream_requests_total{endpoint=\"retrieve\",status=\"200\"}",
        "pixq_jobs_finished_total{state=\"succeeded\"}",
        "pixq_job_duration_seconds",
        "pixq_queue_wait_seconds",
        "pixq_queue_depth{queue=\"due\"}",
        "pixq_queue_depth{queue=\"leased\"}",
        "pixq_in_flight{token=\"default\"}",
        "pixq_upstream_paused{token=\"default\"}",
    ] {
        assert!(text.contains(wanted), "{wanted} is missing from:\n{text}");
    }
    assert!(!text.contains(TOKEN), "a token in the metrics");
    b.finish().await;
}
