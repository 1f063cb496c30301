//! `GET /metrics`: the Prometheus text, with the schedule's depth measured at scrape time.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::recorder::QUEUE_DEPTH;
use crate::state::AppState;

/// How long a scrape waits for the schedule's size before rendering without it.
const DEPTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Renders every metric of the process.
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(DEPTH_TIMEOUT, state.schedule().len()).await {
        Ok(Ok(depth)) => {
            // A gauge is an f64; a queue never gets near 2^53 entries.
            #[allow(clippy::cast_precision_loss)]
            let depth = depth as f64;
            metrics::gauge!(QUEUE_DEPTH, "queue" => "due").set(depth);
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read the schedule's size"),
        Err(_) => tracing::warn!("metrics: the schedule's size did not come in time"),
    }
    let handle = state.metrics();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
