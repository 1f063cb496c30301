//! [`AppState`]: what every handler shares. Cheap to clone: one `Arc`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use pixq_core::store::SharedStore;

use crate::config::ApiConfig;

/// The store, the configuration and the metrics handle, shared by every request.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: SharedStore,
    config: ApiConfig,
    metrics: PrometheusHandle,
}

impl AppState {
    /// Bundles what the API needs. `store` is the one the workers use (same Redis and
    /// prefix, or the same process's SQLite store). `metrics` renders `/metrics`: pass
    /// [`pixq_core::metrics::prometheus_handle`] unless the process installed its own
    /// recorder.
    pub fn new(store: SharedStore, config: ApiConfig, metrics: PrometheusHandle) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                config,
                metrics,
            }),
        }
    }

    /// The store: jobs, the schedule (the workers' doorbell) and the upstream's limits as
    /// the workers record them.
    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// The API's configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The Prometheus handle `/metrics` renders.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }
}

/// Shows the configuration (tokens masked) and which store, nothing of the connections.
impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store.kind())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
