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

#[derive(Clone)]
struct Inner {
    store: SharedStore,
    config: ApiConfig,
    metrics: PrometheusHandle,
    /// The upstream client for the one route that calls the upstream itself.
    upstream: Option<pixverse::Client>,
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
                upstream: None,
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

    /// The same state with an upstream client: `POST /v1/characters` makes characters with
    /// it (a synchronous upstream call). Without one, that route answers 503.
    pub fn with_upstream(self, client: pixverse::Client) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.upstream = Some(client);
        AppState {
            inner: Arc::new(inner),
        }
    }

    /// The upstream client, when one was given.
    pub fn upstream(&self) -> Option<&pixverse::Client> {
        self.inner.upstream.as_ref()
    }
}

/// Shows the configuration (tokens masked) and which store, nothing of the connections.
impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store.kind())
            .field("config", &self.inner.config)
            .field("upstream", &self.inner.upstream.is_some())
            .finish_non_exhaustive()
    }
}
