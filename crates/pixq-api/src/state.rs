//! [`AppState`]: what every handler shares. Cheap to clone: one `Arc`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use pixq_core::queue::Schedule;
use pixq_core::redis::RedisStore;
use redis::aio::ConnectionManager;

use crate::config::ApiConfig;

/// The store, the schedule, a Redis connection for readiness, the configuration and the
/// metrics handle, shared by every request.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: RedisStore,
    schedule: Schedule,
    redis: ConnectionManager,
    config: ApiConfig,
    metrics: PrometheusHandle,
}

impl AppState {
    /// Bundles what the API needs. `redis` answers `/readyz`'s PING; it may be the same
    /// connection manager the store and schedule use. `metrics` renders `/metrics`: pass
    /// [`prometheus_handle`](crate::prometheus_handle) unless the process installed its own
    /// recorder.
    pub fn new(
        store: RedisStore,
        schedule: Schedule,
        redis: ConnectionManager,
        config: ApiConfig,
        metrics: PrometheusHandle,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                schedule,
                redis,
                config,
                metrics,
            }),
        }
    }

    /// The job store.
    pub fn store(&self) -> &RedisStore {
        &self.inner.store
    }

    /// The workers' doorbell: when each job should next be looked at.
    pub fn schedule(&self) -> &Schedule {
        &self.inner.schedule
    }

    /// The connection `/readyz` pings.
    pub fn redis(&self) -> ConnectionManager {
        self.inner.redis.clone()
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

/// Shows the configuration (tokens masked) and nothing of the connections.
impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
