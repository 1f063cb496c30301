//! The `Store` conformance suite: every promise of `pixq_core::store`, checked against a real
//! backend.
//!
//! Each check is a generic function over [`Store`] (or over [`Backend`] when it must reach
//! under the trait, e.g. to damage a record), so the SQLite backend runs the very same
//! functions: implement [`Backend`] for it and list it in a [`conformance!`] block like the
//! Redis one below. Every test gets a fresh backend (for Redis: its own key prefix) and
//! removes it at the end, pass or fail.

mod chains;
mod claims;
mod creation;
mod expiry;
mod jobs;
mod listing;
mod redis_backend;
mod transitions;

use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::time::Duration;

use pixq_core::job::{Job, JobId};
use pixq_core::store::Store;

/// What the suite needs from a backend besides the [`Store`] trait: a fresh, isolated store,
/// and a few ways to reach under it that no store call offers.
pub trait Backend: Send + Sync + Sized + 'static {
    /// The store under test.
    type Store: Store + Clone + 'static;

    /// A fresh backend that shares no data with any other.
    fn setup() -> impl Future<Output = Self> + Send;

    /// Removes everything [`Backend::setup`] and the test wrote.
    fn teardown(&self) -> impl Future<Output = ()> + Send;

    /// The store under test, with a long retention.
    fn store(&self) -> &Self::Store;

    /// Another store over the same data whose finished jobs expire after `retention`.
    fn with_retention(&self, retention: Duration) -> Self::Store;

    /// Overwrites `job`'s record as given, bypassing the state machine: sets up situations no
    /// sequence of transitions reaches. Indexes need not follow.
    fn force(&self, job: &Job) -> impl Future<Output = ()> + Send;

    /// Replaces the stored record of `id` with `text`, as a hand edit would.
    fn write_raw(&self, id: &JobId, text: &str) -> impl Future<Output = ()> + Send;

    /// Sweeps jobs whose retention has passed out of every index; answers how many.
    fn sweep_expired(&self) -> impl Future<Output = usize> + Send;

    /// Where anything of `job` is still stored (its record, an index entry), by name; empty
    /// once it is entirely gone.
    fn leftovers(&self, job: &Job) -> impl Future<Output = Vec<String>> + Send;
}

/// Runs `check` against a fresh `B`, then tears it down even when the check panicked.
pub async fn run<B, F, Fut>(check: F)
where
    B: Backend,
    F: FnOnce(Arc<B>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let backend = Arc::new(B::setup().await);
    let outcome = tokio::spawn(check(Arc::clone(&backend))).await;
    backend.teardown().await;
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => resume_unwind(panic),
            Err(err) => panic!("the check did not finish: {err}"),
        }
    }
}

/// Instantiates the suite for one backend type: `store:` checks take `&B::Store`, `backend:`
/// checks take `&B`. Each becomes a `#[tokio::test]` named after the check.
macro_rules! conformance {
    (
        $backend:ty;
        store: [$($smod:ident::$scheck:ident),* $(,)?];
        backend: [$($bmod:ident::$bcheck:ident),* $(,)?] $(;)?
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scheck() {
                $crate::run::<$backend, _, _>(|b| async move {
                    $crate::$smod::$scheck(b.store()).await
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $bcheck() {
                $crate::run::<$backend, _, _>(|b| async move {
                    $crate::$bmod::$bcheck(&*b).await
                })
                .await;
            }
        )*
    };
}

mod redis {
    use crate::Backend as _;

    conformance! {
        crate::redis_backend::RedisBackend;
        store: [
            creation::create_then_get_round_trips,
            creation::unknown_job_is_none_and_not_found,
            creation::idempotency_key_replays_the_first_job_for_the_same_body,
            creation::idempotency_key_conflicts_for_another_body,
            creation::concurrent_creates_under_one_key_make_one_job,
            creation::duplicate_id_is_refused_and_leaves_the_first,
            creation::duplicate_id_does_not_take_the_idempotency_key,
            creation::batch_is_created_whole,
            creation::batch_with_an_existing_id_creates_nothing,
            creation::batch_repeating_an_id_creates_nothing,
            transitions::a_task_created_for_a_job_cancelled_mid_submit_is_recorded_once,
            transitions::each_transition_applies_only_from_its_states,
            transitions::resume_needs_a_task_id,
            transitions::second_succeed_is_stale,
            transitions::late_succeed_after_cancel_is_stale_and_kept_as_late_result,
            transitions::concurrent_begin_submits_apply_once,
            transitions::concurrent_succeed_and_cancel_apply_once,
            claims::task_id_belongs_to_the_first_claimer,
            claims::job_may_claim_its_own_task_again,
            claims::concurrent_claims_of_one_task_apply_once,
            chains::succeed_creates_the_next_step_in_place,
            chains::concurrent_succeeds_create_the_next_step_once,
            listing::list_pages_newest_first_and_covers_every_job_once,
            listing::list_filters_by_state,
            listing::list_filters_by_batch_and_state,
            listing::list_rejects_a_garbage_cursor,
            listing::unfinished_older_than_finds_quiet_unfinished_jobs_only,
        ];
        backend: [
            chains::succeed_keeps_an_existing_next_step,
            chains::cancel_cancels_unfinished_descendants,
            expiry::finished_job_expires_after_retention,
            expiry::corrupt_record_is_reported_not_panicked,
        ];
    }
}
