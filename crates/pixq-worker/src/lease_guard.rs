//! [`LeaseGuard`]: keeps a job's lease alive while a handler works on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pixq_core::queue::Lease;
use pixq_core::store::SharedStore;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{Instrument, warn};

/// A lease held for the length of one handler run. A spawned task renews it every third of
/// its time to live; if a renewal finds it taken, [`LeaseGuard::is_lost`] turns true and the
/// handler must not start anything that costs money. Dropping the guard stops the renewals
/// and leaves the lease to run out; the handler settles it itself once it knows the job's
/// next look.
#[derive(Debug)]
pub(crate) struct LeaseGuard {
    lost: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
    stop: Option<DropGuard>,
}

impl LeaseGuard {
    /// Starts renewing `lease` every `ttl / 3`.
    pub(crate) fn hold(store: SharedStore, lease: Lease, ttl: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let renewer =
            tokio::spawn(renew(store, lease, ttl, lost.clone(), stop.clone()).in_current_span());
        LeaseGuard {
            lost,
            renewer: Some(renewer),
            stop: Some(stop.drop_guard()),
        }
    }

    /// Whether another worker may hold the job now.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing, and waits until a renewal under way has finished, so that a settle
    /// that follows cannot be overtaken by it.
    pub(crate) async fn stop(mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.await;
        }
    }
}

async fn renew(
    store: SharedStore,
    lease: Lease,
    ttl: Duration,
    lost: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let every = ttl / 3;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match store.schedule().renew(&lease, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                warn!("lost the job's lease while handling it; another worker may take over");
                return;
            }
            Err(e) => warn!(error = %e, "could not renew the job's lease; trying again"),
        }
    }
}
