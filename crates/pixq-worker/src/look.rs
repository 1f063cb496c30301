//! [`Look`]: one handler run on one job: its lease, kept alive, the version of the record as
//! this run last read or wrote it, so that its writes need not read the record first, and the
//! next job its last write took.

use std::sync::Mutex;

use pixq_core::job::Job;
use pixq_core::queue::Lease;
use pixq_core::store::{Basis, Claim, Committed};

use crate::lease_guard::LeaseGuard;

/// One look at one job. Steps write through it ([`Handler::commit`](crate::handler::Handler)),
/// and the look's last write settles its lease in the same call.
#[derive(Debug)]
pub(crate) struct Look {
    lease: Lease,
    guard: LeaseGuard,
    /// The record as this run last saw it with its version; a write from that same record
    /// needs no read.
    known: Mutex<Option<Basis>>,
    /// The next job, taken by the look's last write for this worker to go on to.
    next: Mutex<Option<Claim>>,
}

impl Look {
    /// A look holding `lease` (kept alive by `guard`), starting from `record` if the take
    /// brought it.
    pub(crate) fn new(lease: Lease, guard: LeaseGuard, record: Option<Basis>) -> Self {
        Look {
            lease,
            guard,
            known: Mutex::new(record),
            next: Mutex::new(None),
        }
    }

    /// The lease, to settle with the look's last write.
    pub(crate) fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Whether another worker may hold the job now: nothing that costs money may start.
    pub(crate) fn is_lost(&self) -> bool {
        self.guard.is_lost()
    }

    /// The record the take brought, or this run last wrote, if any.
    pub(crate) fn record(&self) -> Option<Job> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.as_ref().map(|b| b.job.clone())
    }

    /// The basis of a write planned from `job`: its version when `job` is the record this
    /// run last saw, `None` (the store reads it) otherwise.
    pub(crate) fn basis_for(&self, job: &Job) -> Option<Basis> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.as_ref().filter(|b| b.job == *job).cloned()
    }

    /// Remembers what a write answered: the new record and version when it applied, and the
    /// next job when the write took one.
    pub(crate) fn saw(&self, committed: &mut Committed) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = committed.basis();
        if let Some(next) = committed.next.take() {
            *self.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
        }
    }

    /// Stops keeping the lease alive; the caller settles it. Answers the lease and the next
    /// job the look's last write took, if any.
    pub(crate) async fn end(self) -> (Lease, Option<Claim>) {
        self.guard.stop().await;
        let next = self.next.into_inner().unwrap_or_else(|e| e.into_inner());
        (self.lease, next)
    }
}
