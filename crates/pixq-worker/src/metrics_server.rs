//! [`serve_metrics`]: a worker's own `GET /metrics` and `GET /healthz`, when
//! `worker.metrics_listen` is set.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use pixq_core::metrics::prometheus_handle;

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `GET /metrics` (the Prometheus text of this process's recorder, installed on first
/// use) and `GET /healthz` on `listener` until `shutdown`.
///
/// [`crate::run()`] calls it when [`WorkerConfig::metrics_listen`](crate::WorkerConfig) is
/// set; it is public so that a test, or a binary that binds its own socket, can drive it.
///
/// # Errors
///
/// The I/O error that stopped the server.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let handle = prometheus_handle();
    if let Ok(addr) = listener.local_addr() {
        info!(service = "metrics", %addr, "serving /metrics and /healthz");
    }
    let app = Router::new()
        .route("/metrics", get(move || render(handle.clone())))
        .route("/healthz", get(healthz));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], handle.render())
}

async fn healthz() -> &'static str {
    "ok"
}
