//! [`run`]: one worker: the apalis monitor with its worker over pixq's doorbells, and the
//! rescuer, janitor, gauges, the webhooks' delivery service and (with pipelines) the
//! scheduler beside it, until shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use apalis::prelude::{Monitor, ParallelizeExt, WorkerBuilder, WorkerBuilderExt};
use pixq_core::metrics::prometheus_handle;
use pixq_core::store::SharedStore;
use pixverse::Client;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::config::WorkerConfig;
use crate::doorbell::{Doorbells, InFlight};
use crate::error::WorkerError;
use crate::handler::{Handler, on_doorbell};
use crate::janitor::Janitor;
use crate::metrics_server::serve_metrics;
use crate::names::WorkerNames;
use crate::rescuer::Rescuer;
use crate::scheduler::Scheduler;
use crate::telemetry::Gauges;
use crate::webhooks::Deliverer;

/// The wait before the monitor itself is started again, should it ever stop on its own.
const MONITOR_RESTART_DELAY: Duration = Duration::from_secs(1);

/// Runs a worker until `shutdown` is cancelled: an apalis worker with `config.concurrency`
/// handlers, fed leased due jobs from `store`'s schedule, and the rescuer, the janitor, the
/// gauges, with `pipelines` the scheduler, and with `metrics_listen` the metrics server. On
/// shutdown no new job is taken, running handlers get `shutdown_timeout` to finish, and jobs
/// taken but not started are handed back. A handler cut off by the deadline leaves its job recoverable: its lease runs
/// out and another worker takes it, looking up a submit it may have sent before any other.
///
/// `run` does not return on store or upstream errors: it logs them (once per outage), backs
/// off and carries on.
///
/// # Errors
///
/// [`WorkerError::Config`] when `config` does not validate, [`WorkerError::Listen`] when
/// `metrics_listen` cannot be bound; nothing is started then.
pub async fn run(
    store: SharedStore,
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
    let in_flight = InFlight::default();
    let handler = Arc::new(Handler::new(
        store.clone(),
        client,
        config.clone(),
        in_flight.clone(),
        shutdown.child_token(),
    ));
    let background = shutdown.child_token();
    let mut services = vec![
        tokio::spawn(
            Rescuer::new(
                store.clone(),
                config.rescue_after,
                config.rescue_every,
                config.rescue_batch,
            )
            .run(background.clone()),
        ),
        tokio::spawn(Janitor::new(store.clone(), config.janitor_every).run(background.clone())),
        tokio::spawn(
            Gauges::new(store.clone(), config.token_alias.clone()).run(background.clone()),
        ),
    ];
    if !config.pipelines.is_empty() {
        let scheduler = Scheduler::new(store.clone(), config.pipelines.clone());
        services.push(tokio::spawn(scheduler.run(background.clone())));
    }
    match Deliverer::new(store.clone(), &config.webhooks) {
        Ok(Some(deliverer)) => services.push(tokio::spawn(deliverer.run(background.clone()))),
        Ok(None) => info!(
            service = "webhooks",
            "no api.webhook_secret: webhook events are not delivered by this worker"
        ),
        Err(e) => error!(service = "webhooks", error = %e, "cannot start the delivery service"),
    }
    if let Some(listener) = metrics_listener {
        let stop = background.clone();
        services.push(tokio::spawn(async move {
            if let Err(e) = serve_metrics(listener, stop).await {
                error!(service = "metrics", error = %e, "the metrics server stopped");
            }
        }));
    }
    info!(
        store = %store.kind(),
        concurrency = config.concurrency,
        callbacks = config.public_url.is_some(),
        token = %config.token_alias,
        max_in_flight = config.max_in_flight,
        "worker started"
    );
    let names = WorkerNames::new();
    let started = Arc::new(AtomicUsize::new(0));
    while !shutdown.is_cancelled() {
        let monitor = monitor(&store, &config, &handler, &in_flight, &names, &started);
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
/// a fresh name each time, doorbells over the store's schedule, each handler on its own task,
/// a panic turned into an error that nothing retries (the job's lease runs out and it is
/// taken again). The doorbells never fail, so a restart only follows a handler's panic
/// escaping apalis, which catches them.
fn monitor(
    store: &SharedStore,
    config: &Arc<WorkerConfig>,
    handler: &Arc<Handler>,
    in_flight: &InFlight,
    names: &WorkerNames,
    started: &Arc<AtomicUsize>,
) -> Monitor {
    let (store, config, handler) = (store.clone(), config.clone(), handler.clone());
    let (in_flight, names, started) = (in_flight.clone(), names.clone(), started.clone());
    let shutdown_timeout = config.shutdown_timeout;
    let worker = move |restarts: usize| {
        let name = names.nth(started.fetch_add(1, Ordering::SeqCst));
        if restarts > 0 {
            info!(worker = %name, restarts, "starting the apalis worker again");
        }
        let doorbells = Doorbells::new(
            store.clone(),
            &name,
            config.concurrency,
            config.lease_ttl,
            config.fetch_every,
            in_flight.clone(),
        );
        WorkerBuilder::new(name.as_str())
            .backend(doorbells)
            .data(handler.clone())
            .concurrency(config.concurrency)
            .parallelize(tokio::spawn)
            .catch_panic()
            .build(on_doorbell)
    };
    Monitor::new()
        .register(worker)
        .should_restart(|worker, err| {
            error!(
                worker = worker.name(),
                error = %err,
                restarts = worker.restarts(),
                "an apalis worker stopped on an error; restarting it under a new name"
            );
            true
        })
        .shutdown_timeout(shutdown_timeout)
}
