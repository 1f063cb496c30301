//! [`run`]: one worker process: the apalis monitor with its worker, and the pump, rescuer and
//! janitor beside it, until shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use apalis::prelude::{BackendExt, Monitor, ParallelizeExt, WorkerBuilder, WorkerBuilderExt};
use apalis_redis::RedisStorage;
use pixq_core::outage;
use pixverse::Client;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::backoff::restart_delay;
use crate::config::WorkerConfig;
use crate::error::WorkerError;
use crate::handler::{Handler, on_doorbell};
use crate::janitor::Janitor;
use crate::metrics_server::serve_metrics;
use crate::names::WorkerNames;
use crate::pump::Pump;
use crate::queue;
use crate::rescuer::Rescuer;
use crate::restart::Delayed;
use crate::telemetry::{Gauges, prometheus_handle};

/// redis-rs's default 500 ms response timeout has been seen to kill apalis workers under load
/// (apalis-redis#76); a slow reply should be waited for, a dead server noticed.
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for a TCP connection to Redis.
pub const REDIS_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before the monitor itself is started again, should it ever stop on its own.
const MONITOR_RESTART_DELAY: Duration = Duration::from_secs(1);

/// A Redis connection fit for a worker: multiplexed, reconnecting, with a response timeout of
/// [`REDIS_RESPONSE_TIMEOUT`] instead of redis-rs's 500 ms.
///
/// # Errors
///
/// [`WorkerError::Redis`] when the URL is invalid or Redis cannot be reached.
pub async fn connect(url: &str) -> Result<ConnectionManager, WorkerError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(REDIS_CONNECTION_TIMEOUT));
    Ok(client.get_connection_manager_with_config(config).await?)
}

/// Runs a worker process until `shutdown` is cancelled: an apalis worker handling doorbells
/// from `{prefix}:doorbell` with `config.concurrency` handlers, and the pump, the rescuer, the
/// janitor, the gauges of the token's shared limits and, with `metrics_listen`, the metrics
/// server. On shutdown the pump stops at once, running handlers get `shutdown_timeout` to
/// finish, and apalis puts the doorbells it had fetched but not started back on its queue.
/// A handler cut off by the deadline leaves its job recoverable: its lease runs out, apalis
/// (or the rescuer) rings it again, and a submit it may have sent is looked up before any
/// other, its slot held meanwhile.
///
/// `conn` should come from [`connect`] (or be built with a response timeout of several
/// seconds). A worker that dies on a Redis error is restarted under a new name after a short
/// delay; `run` itself does not return on Redis or upstream errors.
///
/// # Errors
///
/// [`WorkerError::Config`] when `config` does not validate, [`WorkerError::Listen`] when
/// `metrics_listen` cannot be bound; nothing is started then.
pub async fn run(
    conn: ConnectionManager,
    client: Client,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    config.validate()?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| WorkerError::Listen { addr, source })?,
        ),
        None => None,
    };
    if metrics_listener.is_some() {
        // Installed before anything records, so that no early sample is lost.
        prometheus_handle();
    }
    let config = Arc::new(config);
    let handler = Arc::new(Handler::new(conn.clone(), client, config.clone()));
    let storage = queue::storage(conn.clone(), &config);
    let background = shutdown.child_token();
    let mut services = vec![
        tokio::spawn(
            Pump::new(
                conn.clone(),
                handler.schedule.clone(),
                storage.clone(),
                config.backlog_bound(),
                config.pump_every,
            )
            .run(background.clone()),
        ),
        tokio::spawn(
            Rescuer::new(
                handler.store.clone(),
                handler.schedule.clone(),
                handler.leases.clone(),
                config.rescue_after,
                config.rescue_every,
                config.rescue_batch,
            )
            .run(background.clone()),
        ),
        tokio::spawn(
            Janitor::new(conn, storage.get_config().clone(), config.janitor_every)
                .run(background.clone()),
        ),
        tokio::spawn(
            Gauges::new(
                handler.slots.clone(),
                handler.pauses.clone(),
                config.token_alias.clone(),
            )
            .run(background.clone()),
        ),
    ];
    if let Some(listener) = metrics_listener {
        let stop = background.clone();
        services.push(tokio::spawn(async move {
            if let Err(e) = serve_metrics(listener, stop).await {
                error!(service = "metrics", error = %e, "the metrics server stopped");
            }
        }));
    }
    info!(
        queue = %config.doorbell_queue(),
        concurrency = config.concurrency,
        callbacks = config.public_url.is_some(),
        token = %config.token_alias,
        max_in_flight = config.max_in_flight,
        "worker started"
    );
    let names = WorkerNames::new();
    let started = Arc::new(AtomicUsize::new(0));
    while !shutdown.is_cancelled() {
        let monitor = monitor(&config, &storage, &handler, &names, &started);
        let signal = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                Ok(())
            }
        };
        // With a shutdown timeout, apalis answers Ok(()) even when its workers died, so the
        // loop, not the result, decides whether to start it again.
        if let Err(e) = monitor.run_with_signal(signal).await {
            error!(error = %e, "the apalis monitor failed");
        }
        if !shutdown.is_cancelled() {
            error!("the apalis monitor stopped without a shutdown; starting it again");
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(MONITOR_RESTART_DELAY) => {}
            }
        }
    }
    background.cancel();
    for service in services {
        if let Err(e) = service.await {
            error!(error = %e, "a background service ended abnormally");
        }
    }
    info!("worker stopped");
    Ok(())
}

/// The monitor of this process's apalis worker. Its factory runs on every start and restart:
/// a fresh name each time (APALIS-NOTES 3), a delay before a restart, doorbells fetched every
/// `fetch_every` (APALIS-NOTES 1), each handler on its own task, a panic turned into an abort
/// that apalis does not retry. A worker that stops on an error is logged and restarted.
fn monitor(
    config: &Arc<WorkerConfig>,
    storage: &RedisStorage<Value>,
    handler: &Arc<Handler>,
    names: &WorkerNames,
    started: &Arc<AtomicUsize>,
) -> Monitor {
    let (config, storage, handler) = (config.clone(), storage.clone(), handler.clone());
    let (names, started) = (names.clone(), started.clone());
    let shutdown_timeout = config.shutdown_timeout;
    let worker = move |restarts| {
        let name = names.nth(started.fetch_add(1, Ordering::SeqCst));
        let delay = restart_delay(restarts);
        if restarts > 0 && !outage::is_down() {
            info!(worker = %name, restarts, delay_ms = delay.as_millis() as u64, "starting the apalis worker again");
        } else if restarts > 0 {
            debug!(worker = %name, restarts, delay_ms = delay.as_millis() as u64, "starting the apalis worker again");
        }
        let backend = Delayed::new(
            storage.clone().poll_with_interval(config.fetch_every),
            delay,
        );
        WorkerBuilder::new(name.as_str())
            .backend(backend)
            .data(handler.clone())
            .concurrency(config.concurrency)
            .parallelize(tokio::spawn)
            .catch_panic()
            .build(on_doorbell)
    };
    Monitor::new()
        .register(worker)
        .should_restart(|worker, err| {
            if is_connection_error(&err.to_string()) {
                outage::failed("apalis worker", err);
            } else if outage::is_down() {
                debug!(
                    worker = worker.name(),
                    error = %err,
                    "an apalis worker stopped while Redis is unreachable; restarting it"
                );
            } else {
                error!(
                    worker = worker.name(),
                    error = %err,
                    restarts = worker.restarts(),
                    "an apalis worker stopped on an error; restarting it under a new name"
                );
            }
            true
        })
        .shutdown_timeout(shutdown_timeout)
}

/// Whether an apalis worker's error says Redis could not be reached (the worker then counts as
/// part of an outage, logged once) rather than something else going wrong.
fn is_connection_error(text: &str) -> bool {
    const SIGNS: [&str; 7] = [
        "broken pipe",
        "connection",
        "refused",
        "reset by peer",
        "timed out",
        "unexpected end of file",
        "io error",
    ];
    let text = text.to_ascii_lowercase();
    SIGNS.iter().any(|sign| text.contains(sign))
}

#[cfg(test)]
mod connection_error_tests {
    use super::is_connection_error;

    #[test]
    fn redis_going_away_reads_as_a_connection_error() {
        assert!(is_connection_error(
            "Failed to poll backend: PollNextError: broken pipe"
        ));
        assert!(is_connection_error("Connection refused (os error 111)"));
        assert!(!is_connection_error(
            "ERR Error running script: attempt to index a nil value"
        ));
    }
}
