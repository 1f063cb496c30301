//! [`Doorbells`]: pixq's own apalis backend, over the store's schedule.
//!
//! apalis runs the handlers (concurrency, one task each, panics caught, a graceful stop);
//! this backend decides what they get. When apalis has a free handler it asks for the next
//! task; the backend takes as many due jobs as there are free handlers, each with its lease,
//! in one store call ([`Schedule::take_due`]), and hands them out one by one. When nothing is
//! due it waits until `fetch_every` has passed or a ring for now in this process
//! ([`Store::rung`]) says otherwise.
//!
//! Nothing is queued anywhere but in the store: a job is due in the schedule or leased to a
//! worker, never in between, so a worker that dies gives its jobs back when their leases run
//! out, and a backlog of any size stays in the schedule. The backend never fails: a store
//! error is logged once per outage and the fetch is tried again after a backoff, so the apalis
//! worker never stops on one.
//!
//! [`Schedule::take_due`]: pixq_core::queue::Schedule::take_due
//! [`Store::rung`]: pixq_core::store::Store::rung

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use chrono::Utc;
use pixq_core::outage;
use pixq_core::store::{Claim, SharedStore, StoreError};
use tower_layer::Identity;
use tracing::{debug, warn};

use crate::names;

/// The wait after a first failed fetch; it doubles with each failure in a row.
const AFTER_ERROR: Duration = Duration::from_millis(200);

/// The longest wait between failed fetches.
const AFTER_ERROR_MAX: Duration = Duration::from_secs(5);

type Fetch = Pin<Box<dyn Future<Output = Result<Vec<Claim>, StoreError>> + Send>>;
type Nap = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the backend is doing between two tasks.
enum Phase {
    /// Ready to fetch.
    Idle,
    /// A `take_due` is under way.
    Fetching(Fetch),
    /// Nothing was due (or the store failed): waiting for the next look.
    Napping(Nap),
}

/// How many doorbells of one worker are being handled: handed out by the backend and not yet
/// finished. The backend takes only as many due jobs as leave this under the concurrency.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// One more handler started; the guard counts it finished when dropped, panics included.
    pub(crate) fn start(&self) -> InFlightGuard {
        InFlightGuard(self.0.clone())
    }

    /// How many are being handled now.
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts one handed-out doorbell as finished when dropped.
#[derive(Debug)]
pub(crate) struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The apalis backend of one worker: due jobs from the store's schedule, leased.
pub(crate) struct Doorbells {
    store: SharedStore,
    worker: String,
    concurrency: usize,
    lease_ttl: Duration,
    fetch_every: Duration,
    in_flight: InFlight,
    ready: VecDeque<Claim>,
    phase: Phase,
    failures: u32,
}

impl Doorbells {
    /// Doorbells for the worker named `worker`, which runs `concurrency` handlers counted by
    /// `in_flight`; leases last `lease_ttl`; an idle worker looks every `fetch_every`.
    pub(crate) fn new(
        store: SharedStore,
        worker: &str,
        concurrency: usize,
        lease_ttl: Duration,
        fetch_every: Duration,
        in_flight: InFlight,
    ) -> Self {
        Doorbells {
            store,
            worker: worker.to_owned(),
            concurrency,
            lease_ttl,
            fetch_every,
            in_flight,
            ready: VecDeque::new(),
            phase: Phase::Idle,
            failures: 0,
        }
    }

    fn fetch(&self) -> Fetch {
        let store = self.store.clone();
        let room = self.concurrency.saturating_sub(self.in_flight.get()).max(1);
        let holder = names::holder(&self.worker);
        let ttl = self.lease_ttl;
        Box::pin(async move { store.take(Utc::now(), room, &holder, ttl).await })
    }

    fn nap(&self, wait: Duration) -> Nap {
        let store = self.store.clone();
        Box::pin(async move {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = store.rung() => {}
            }
        })
    }
}

impl Backend for Doorbells {
    type Task = Task<Claim>;
    type Error = std::convert::Infallible;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        loop {
            if let Some(claim) = self.ready.pop_front() {
                self.in_flight.add();
                return Poll::Ready(Some(Ok(Task::new(claim))));
            }
            match &mut self.phase {
                Phase::Idle => self.phase = Phase::Fetching(self.fetch()),
                Phase::Fetching(fetch) => {
                    let taken = match fetch.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(taken) => taken,
                    };
                    match taken {
                        Ok(claims) => {
                            // Cheap when nothing was down; ends an outage any part noticed.
                            outage::recovered("doorbells");
                            self.failures = 0;
                            if claims.is_empty() {
                                self.phase = Phase::Napping(self.nap(self.fetch_every));
                            } else {
                                debug!(count = claims.len(), "took due jobs");
                                self.ready.extend(claims);
                                self.phase = Phase::Idle;
                            }
                        }
                        Err(e) => {
                            outage::failed("doorbells", &e);
                            self.failures = self.failures.saturating_add(1);
                            let wait = AFTER_ERROR
                                .saturating_mul(1 << self.failures.min(5))
                                .min(AFTER_ERROR_MAX);
                            self.phase = Phase::Napping(self.nap(wait));
                        }
                    }
                }
                Phase::Napping(nap) => match nap.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => self.phase = Phase::Idle,
                },
            }
        }
    }

    fn poll_close(
        &mut self,
        _cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        // Leases taken but not handed out go back now rather than when they run out.
        let left: Vec<Claim> = self.ready.drain(..).collect();
        if !left.is_empty() {
            let store = self.store.clone();
            tokio::spawn(async move {
                for Claim { lease, .. } in left {
                    if let Err(e) = store.schedule().settle(&lease, Some(Utc::now())).await {
                        warn!(job = %lease.job, error = %e, "could not hand a job back at shutdown; its lease runs out on its own");
                    }
                }
            });
        }
        Poll::Ready(Ok(()))
    }
}

impl BackendConfig for Doorbells {
    type Args = Claim;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}
