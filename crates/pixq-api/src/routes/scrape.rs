//! `GET /metrics`: the Prometheus text, with the schedule's depth measured at scrape time.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::recorder::{IN_FLIGHT, QUEUE_DEPTH, UPSTREAM_PAUSED};
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
    if tokio::time::timeout(DEPTH_TIMEOUT, upstream_gauges(&state))
        .await
        .is_err()
    {
        tracing::warn!("metrics: the upstream's slots and pauses did not come in time");
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

/// Sets `pixq_in_flight{token}` and `pixq_upstream_paused{token}` for every token the workers
/// have used, from what they recorded in Redis.
async fn upstream_gauges(state: &AppState) {
    let limits = state.limits();
    let aliases = match limits.slots().aliases().await {
        Ok(aliases) => aliases,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the token aliases");
            return;
        }
    };
    let paused = match limits.pauses().paused_aliases().await {
        Ok(paused) => paused,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the pauses");
            return;
        }
    };
    let mut every: Vec<&str> = aliases.iter().map(String::as_str).collect();
    every.extend(paused.iter().map(|(alias, _)| alias.as_str()));
    every.sort_unstable();
    every.dedup();
    for alias in every {
        let is_paused = paused.iter().any(|(a, _)| a == alias);
        metrics::gauge!(UPSTREAM_PAUSED, "token" => alias.to_owned()).set(if is_paused {
            1.0
        } else {
            0.0
        });
        match limits.slots().held(alias).await {
            Ok(held) => {
                metrics::gauge!(IN_FLIGHT, "token" => alias.to_owned()).set(f64::from(held));
            }
            Err(e) => tracing::warn!(error = %e, token = alias, "metrics: cannot read the slots"),
        }
    }
}
