//! [`AppState`]: what every handler shares. Cheap to clone: one `Arc`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use pixq_core::limits::{Pauses, Slots};
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
    limits: UpstreamLimits,
}

/// What the workers record about the upstream's limits, which the API only reads: the slots in
/// use per token (`pixq_in_flight`) and the paused tokens (`/readyz`, `pixq_upstream_paused`).
#[derive(Debug, Clone)]
pub struct UpstreamLimits {
    slots: Slots,
    pauses: Pauses,
}

impl UpstreamLimits {
    /// The limits under `{prefix}:`, the same prefix the workers use.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        UpstreamLimits {
            slots: Slots::new(conn.clone(), prefix),
            pauses: Pauses::new(conn, prefix),
        }
    }

    /// Generation slots per token.
    pub fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Paused tokens.
    pub fn pauses(&self) -> &Pauses {
        &self.pauses
    }
}

impl AppState {
    /// Bundles what the API needs. `redis` answers `/readyz`'s PING; it may be the same
    /// connection manager the store and schedule use. `metrics` renders `/metrics`: pass
    /// [`prometheus_handle`](crate::prometheus_handle) unless the process installed its own
    /// recorder. `limits` must use the workers' prefix.
    pub fn new(
        store: RedisStore,
        schedule: Schedule,
        redis: ConnectionManager,
        config: ApiConfig,
        metrics: PrometheusHandle,
        limits: UpstreamLimits,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                schedule,
                redis,
                config,
                metrics,
                limits,
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

    /// The upstream's limits as the workers record them.
    pub fn limits(&self) -> &UpstreamLimits {
        &self.inner.limits
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
