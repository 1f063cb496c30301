//! [`LeaseGuard`]: holds a job's lease while a handler works on it, renewing it in the
//! background.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pixq_core::queue::{Lease, Leases};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{Instrument, debug, warn};

/// A lease held for the length of one handler run. A spawned task renews it every third of
/// its time to live; if a renewal finds it taken, [`LeaseGuard::is_lost`] turns true and the
/// handler must not start anything that costs money. Dropping the guard stops the renewals
/// and leaves the lease to expire; [`LeaseGuard::release`] gives it up at once.
#[derive(Debug)]
pub(crate) struct LeaseGuard {
    leases: Leases,
    lease: Lease,
    lost: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
    stop: Option<DropGuard>,
}

impl LeaseGuard {
    /// Starts renewing `lease` every `ttl / 3`.
    pub(crate) fn hold(leases: Leases, lease: Lease, ttl: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let renewer = tokio::spawn(
            renew(
                leases.clone(),
                lease.clone(),
                ttl,
                lost.clone(),
                stop.clone(),
            )
            .in_current_span(),
        );
        LeaseGuard {
            leases,
            lease,
            lost,
            renewer: Some(renewer),
            stop: Some(stop.drop_guard()),
        }
    }

    /// Whether another worker may hold the job now.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and gives the lease up.
    pub(crate) async fn release(mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.await;
        }
        match self.leases.release(&self.lease).await {
            Ok(true) => {}
            Ok(false) => debug!("the lease had already expired"),
            Err(e) => warn!(error = %e, "could not release a lease; it expires on its own"),
        }
    }
}

async fn renew(
    leases: Leases,
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
        match leases.renew(&lease, ttl).await {
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
