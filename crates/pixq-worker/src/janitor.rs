//! [`Janitor`]: sweeps finished jobs and ended webhook events whose retention has passed out
//! of the store, and batches whose writer died before accepting them.
//!
//! Listings and transitions already sweep a few expired jobs each, so the indexes stay
//! bounded while pixq is busy; the janitor catches up when it is quiet, a bounded number per
//! call, again at once while there were many.

use std::time::Duration;

use pixq_core::store::SharedStore;
use pixq_core::{batch, outage};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::backoff::jittered;

/// The most expired jobs swept per call.
const PER_CALL: usize = 1000;

/// The janitor of one worker process; several at once do no harm.
pub(crate) struct Janitor {
    store: SharedStore,
    every: Duration,
}

impl Janitor {
    /// A janitor sweeping every `every`.
    pub(crate) fn new(store: SharedStore, every: Duration) -> Self {
        Janitor { store, every }
    }

    /// Sweeps until `shutdown`.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        info!(service = "janitor", "started");
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(jittered(self.every)) => {}
            }
            self.round(&shutdown).await;
        }
        info!(service = "janitor", "stopped");
    }

    /// One round: discards abandoned batches, then sweeps until a call finds fewer than
    /// [`PER_CALL`].
    async fn round(&self, shutdown: &CancellationToken) {
        let abandoned = batch::ABANDONED_AFTER;
        match self.store.batches().sweep_abandoned(abandoned).await {
            Ok(0) => {}
            Ok(swept) => {
                info!(service = "janitor", swept, "discarded abandoned batches");
            }
            Err(e) => {
                outage::failed("janitor", &e);
            }
        }
        match self.store.outbox().prune(PER_CALL).await {
            Ok(0) => {}
            Ok(swept) => debug!(service = "janitor", swept, "swept expired webhook events"),
            Err(e) => {
                outage::failed("janitor", &e);
            }
        }
        loop {
            match self.store.jobs().prune_expired(PER_CALL).await {
                Ok(swept) if swept >= PER_CALL && !shutdown.is_cancelled() => continue,
                Ok(swept) => {
                    if swept > 0 {
                        debug!(service = "janitor", swept, "swept expired jobs");
                    }
                    break;
                }
                Err(e) => {
                    outage::failed("janitor", &e);
                    break;
                }
            }
        }
    }
}
