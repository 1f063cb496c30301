//! `GET /metrics`: the Prometheus text, with the schedule's depth and the upstream's limits
//! read from the store at scrape time (other processes change them).

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use pixq_core::metrics::{IN_FLIGHT, QUEUE_DEPTH, UPSTREAM_PAUSED};

use crate::state::AppState;

/// How long a scrape waits for the store before rendering without its figures.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Renders every metric of the process.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String))
)]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if tokio::time::timeout(STORE_TIMEOUT, store_gauges(&state))
        .await
        .is_err()
    {
        tracing::warn!("metrics: the store's figures did not come in time");
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

/// Sets `pixq_queue_depth{queue}`, and `pixq_in_flight{token}` and
/// `pixq_upstream_paused{token}` for every token the workers have used, from the store.
async fn store_gauges(state: &AppState) {
    let store = state.store();
    let schedule = store.schedule();
    match (schedule.len().await, schedule.leased_count().await) {
        (Ok(due), Ok(leased)) => {
            // A gauge is an f64; a queue never gets near 2^53 entries.
            #[allow(clippy::cast_precision_loss)]
            {
                metrics::gauge!(QUEUE_DEPTH, "queue" => "due").set(due as f64);
                metrics::gauge!(QUEUE_DEPTH, "queue" => "leased").set(leased as f64);
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "metrics: cannot read the schedule's size");
        }
    }
    let aliases = match store.slots().aliases().await {
        Ok(aliases) => aliases,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the token aliases");
            return;
        }
    };
    let paused = match store.pauses().paused_aliases().await {
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
        match store.slots().held(alias).await {
            Ok(held) => {
                metrics::gauge!(IN_FLIGHT, "token" => alias.to_owned()).set(f64::from(held));
            }
            Err(e) => tracing::warn!(error = %e, token = alias, "metrics: cannot read the slots"),
        }
    }
}
