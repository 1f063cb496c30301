//! [`Scheduler`]: fires every scheduled pipeline's ticks, in every worker process.
//!
//! Every worker (and every `pixq run`) runs one, and every one of them fires every tick: the
//! store lets exactly one write each tick's batch (see `pixq_core::pipeline::fire`), so ticks
//! fire once while any scheduler runs, and a scheduler that dies takes nothing with it. Each
//! pipeline has a ticker task of its own, so a slow batch of one pipeline delays no other.
//!
//! What a ticker fires and when is decided by `pixq_core::pipeline::plan`: at start, the
//! catch-up policy; running, the latest tick that has come, retried on store errors until the
//! tick after it is due.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::metrics::JOBS_ENQUEUED;
use pixq_core::outage;
use pixq_core::pipeline::{self, FireError, Fired, Pipeline, plan};
use pixq_core::store::SharedStore;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::backoff::backoff;

/// The first wait before firing a tick again after a failure; it doubles.
const RETRY_BASE: Duration = Duration::from_millis(250);

/// The longest wait between two tries of one tick.
const RETRY_MAX: Duration = Duration::from_secs(10);

/// The scheduler of one process: a ticker per pipeline.
pub(crate) struct Scheduler {
    store: SharedStore,
    pipelines: Vec<Pipeline>,
}

impl Scheduler {
    /// A scheduler firing `pipelines` into `store`.
    pub(crate) fn new(store: SharedStore, pipelines: Vec<Pipeline>) -> Self {
        Scheduler { store, pipelines }
    }

    /// Fires ticks until `shutdown`. A tick being written when shutdown comes is finished
    /// first: a batch is accepted whole or not at all either way.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        info!(
            service = "scheduler",
            pipelines = self.pipelines.len(),
            "started"
        );
        let tickers: Vec<_> = self
            .pipelines
            .into_iter()
            .map(|pipeline| {
                let ticker = Ticker {
                    store: SharedStore::clone(&self.store),
                    pipeline: Arc::new(pipeline),
                };
                tokio::spawn(ticker.run(shutdown.clone()))
            })
            .collect();
        for ticker in tickers {
            if let Err(e) = ticker.await {
                error!(service = "scheduler", error = %e, "a pipeline's ticker ended abnormally");
            }
        }
        info!(service = "scheduler", "stopped");
    }
}

/// One pipeline's ticks.
struct Ticker {
    store: SharedStore,
    pipeline: Arc<Pipeline>,
}

impl Ticker {
    async fn run(self, shutdown: CancellationToken) {
        let start = Utc::now();
        let cron = &self.pipeline.cron;
        info!(
            service = "scheduler",
            pipeline = %self.pipeline.name,
            schedule = cron.text(),
            timezone = cron.zone_name(),
            catch_up = %self.pipeline.catch_up,
            next = ?cron.next_after(start),
            "pipeline scheduled"
        );
        self.catch_up(start, &shutdown).await;
        let mut handled = start;
        loop {
            let Some(next) = cron.next_after(handled) else {
                info!(service = "scheduler", pipeline = %self.pipeline.name, "the schedule has no more ticks");
                return;
            };
            if !sleep_until(next, &shutdown).await {
                return;
            }
            let Some(due) = plan::due(cron, handled, Utc::now()) else {
                continue;
            };
            if let Some(from) = due.skipped_from {
                warn!(
                    service = "scheduler",
                    pipeline = %self.pipeline.name,
                    from = %from,
                    to = %due.tick,
                    "this scheduler fell behind and skipped ticks (other schedulers may have fired them)"
                );
            }
            self.fire_until(due.tick, due.give_up_at, &shutdown).await;
            handled = due.tick;
        }
    }

    /// At start, fires the tick the catch-up policy asks for, if any.
    async fn catch_up(&self, start: DateTime<Utc>, shutdown: &CancellationToken) {
        if self.pipeline.catch_up == pipeline::CatchUp::Skip {
            return;
        }
        let mut failures = 0;
        let last = loop {
            match self.store.pipelines().last(&self.pipeline.name).await {
                Ok(last) => break last,
                Err(e) => {
                    outage::failed("scheduler", &e);
                    let wait = backoff(failures, RETRY_BASE, RETRY_MAX);
                    failures += 1;
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        };
        let cron = &self.pipeline.cron;
        if let Some(tick) = plan::missed(
            cron,
            self.pipeline.catch_up,
            last.map(|run| run.tick),
            start,
        ) {
            info!(
                service = "scheduler",
                pipeline = %self.pipeline.name,
                tick = %tick,
                "catching up: firing the most recent tick missed while no scheduler ran"
            );
            self.fire_until(tick, cron.next_after(start), shutdown)
                .await;
        }
    }

    /// Fires `tick`, trying again after failures until it fired, `give_up_at` came, or
    /// shutdown.
    async fn fire_until(
        &self,
        tick: DateTime<Utc>,
        give_up_at: Option<DateTime<Utc>>,
        shutdown: &CancellationToken,
    ) {
        let name = &self.pipeline.name;
        let mut failures = 0;
        loop {
            match pipeline::fire(self.store.as_ref(), &self.pipeline, tick).await {
                Ok(fired) => {
                    outage::recovered("scheduler");
                    self.report(tick, &fired);
                    return;
                }
                Err(FireError::Store(e)) => {
                    outage::failed("scheduler", &e);
                }
                Err(e) => {
                    if failures == 0 {
                        error!(service = "scheduler", pipeline = %name, tick = %tick, error = %e, "cannot fire the tick; trying again until the next one");
                    }
                }
            }
            let wait = backoff(failures, RETRY_BASE, RETRY_MAX);
            failures += 1;
            let retry_at = Utc::now() + wait;
            if give_up_at.is_some_and(|limit| retry_at >= limit) {
                warn!(service = "scheduler", pipeline = %name, tick = %tick, "the tick could not be fired before the next one; it is missed");
                return;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn report(&self, tick: DateTime<Utc>, fired: &Fired) {
        let name = &self.pipeline.name;
        match fired {
            Fired::Created(batch) => {
                metrics::counter!(JOBS_ENQUEUED).increment(batch.total);
                info!(service = "scheduler", pipeline = %name, tick = %tick, batch = %batch.id, total = batch.total, "tick fired");
            }
            Fired::Replayed(_) | Fired::InProgress(_) => {
                tracing::debug!(service = "scheduler", pipeline = %name, tick = %tick, batch = %fired.batch_id(), "tick fired by another scheduler");
            }
            Fired::Differs(batch) => {
                warn!(service = "scheduler", pipeline = %name, tick = %tick, batch = %batch, "another scheduler fired this tick with a different configuration of the pipeline; make every process read the same [[pipelines]]");
            }
        }
    }
}

/// Sleeps until the wall clock reads `at`; `false` when shutdown came first.
async fn sleep_until(at: DateTime<Utc>, shutdown: &CancellationToken) -> bool {
    loop {
        let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return true;
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(left) => {}
        }
    }
}
