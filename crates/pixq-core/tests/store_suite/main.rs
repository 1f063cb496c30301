//! The conformance suite of the store seam: every promise of `pixq_core::store` and of the
//! parts behind it (jobs, schedule, slots, wait line, pauses, poll gate, dead letters,
//! batches, characters, pipeline runs, the webhook outbox),
//! checked against each real backend: Redis and SQLite.
//!
//! Each check is a generic function over a part's trait (`&dyn Jobs`, or the `SharedStore` for
//! the other parts), or over [`Backend`] when it must reach under the store, e.g. to damage a
//! record. The [`conformance!`] block instantiates every check once per backend, so a
//! behaviour that differs between the backends fails here. Every test gets a fresh backend
//! (for Redis: its own key prefix; for SQLite: its own data dir) and removes it at the end,
//! pass or fail.

mod batches;
mod chains;
mod characters;
mod claims;
mod creation;
mod dead_letters;
mod expiry;
mod jobs;
mod limits;
mod listing;
mod look;
mod outbox;
mod pipelines;
mod poll_gate;
mod redis_backend;
mod schedule;
mod sqlite_backend;
mod transitions;

use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::time::Duration;

use pixq_core::job::{Job, JobId};
use pixq_core::store::SharedStore;

/// What the suite needs from a backend besides the store: a fresh, isolated store, and a few
/// ways to reach under it that no store call offers.
pub trait Backend: Send + Sync + Sized + 'static {
    /// A fresh backend that shares no data with any other.
    fn setup() -> impl Future<Output = Self> + Send;

    /// Removes everything [`Backend::setup`] and the test wrote.
    fn teardown(&self) -> impl Future<Output = ()> + Send;

    /// The store under test, with a long retention.
    fn store(&self) -> &SharedStore;

    /// The same data through a store whose finished jobs expire after `retention`.
    fn with_retention(&self, retention: Duration) -> SharedStore;

    /// Overwrites `job`'s record as given, bypassing the state machine: sets up situations no
    /// sequence of transitions reaches. Indexes need not follow.
    fn force(&self, job: &Job) -> impl Future<Output = ()> + Send;

    /// Replaces the stored record of `id` with `text`, as a hand edit would.
    fn write_raw(&self, id: &JobId, text: &str) -> impl Future<Output = ()> + Send;

    /// Where anything of `job` is still stored (its record, an index entry, a claim), by
    /// name; empty once it is entirely gone.
    fn leftovers(&self, job: &Job) -> impl Future<Output = Vec<String>> + Send;

    /// Sweeps jobs whose retention has passed; answers how many.
    fn sweep_expired(&self) -> impl Future<Output = usize> + Send {
        async {
            self.store()
                .jobs()
                .prune_expired(10_000)
                .await
                .expect("prune_expired")
        }
    }
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

/// Instantiates the suite for one backend type: `jobs:` checks take `&dyn Jobs`, `store:`
/// checks take the `&SharedStore` (they may spawn tasks with clones), `backend:` checks take
/// `&B`. Each becomes a `#[tokio::test]`
/// named after the check.
macro_rules! conformance {
    (
        $backend:ty;
        jobs: [$($jmod:ident::$jcheck:ident),* $(,)?];
        store: [$($smod:ident::$scheck:ident),* $(,)?];
        backend: [$($bmod:ident::$bcheck:ident),* $(,)?] $(;)?
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $jcheck() {
                $crate::run::<$backend, _, _>(|b| async move {
                    $crate::$jmod::$jcheck(b.store().jobs()).await
                })
                .await;
            }
        )*
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

/// Every check, instantiated for one backend.
macro_rules! suite {
    ($backend:ty) => {
        conformance! {
            $backend;
            jobs: [
                creation::create_then_get_round_trips,
                creation::unknown_job_is_none_and_not_found,
                creation::idempotency_key_replays_the_first_job_for_the_same_body,
                creation::idempotency_key_conflicts_for_another_body,
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
                claims::task_id_belongs_to_the_first_claimer,
                claims::job_may_claim_its_own_task_again,
                chains::succeed_creates_the_next_step_in_place,
                listing::list_pages_newest_first_and_covers_every_job_once,
                listing::list_filters_by_state,
                listing::list_filters_by_batch_and_state,
                listing::list_rejects_a_garbage_cursor,
                listing::unfinished_older_than_finds_quiet_unfinished_jobs_only,
            ];
            store: [
                creation::concurrent_creates_under_one_key_make_one_job,
                transitions::concurrent_begin_submits_apply_once,
                transitions::concurrent_succeed_and_cancel_apply_once,
                claims::concurrent_claims_of_one_task_apply_once,
                chains::concurrent_succeeds_create_the_next_step_once,
                schedule::due_jobs_come_out_longest_due_first_once_and_ringing_keeps_the_earlier_time,
                schedule::racing_takers_never_lease_the_same_job,
                schedule::a_lease_has_one_holder_until_settled_or_run_out,
                schedule::a_job_rung_while_leased_is_looked_at_again_after_the_lease,
                schedule::settling_books_the_next_look_or_none,
                schedule::a_leased_job_is_tracked_and_an_unbooked_one_is_not,
                schedule::a_paused_queue_leases_nothing_until_resumed,
                limits::fifty_concurrent_acquirers_get_exactly_five_slots,
                limits::never_more_than_max_hold_at_once_under_churn,
                limits::acquiring_again_only_renews_the_slot_a_job_holds,
                limits::an_expired_holder_frees_its_slot_and_cannot_renew_or_release_it,
                limits::release_frees_the_slot_once,
                limits::a_pause_round_trips_and_keeps_its_start,
                limits::after_until_exactly_one_job_probes,
                limits::the_wait_line_keeps_arrival_order_and_first_places,
                limits::concurrent_parkers_each_get_one_place,
                poll_gate::a_task_is_polled_at_most_once_a_window,
                look::a_take_hands_out_each_job_with_its_record_and_version,
                look::a_commit_from_an_old_version_is_planned_again,
                look::a_commit_settles_rings_the_next_step_and_gives_the_slot_back_at_once,
                look::a_commit_that_does_not_apply_has_no_effects,
                look::a_requeue_commit_books_the_next_look_at_its_time,
                look::a_settling_commit_may_take_the_next_due_job_for_the_same_holder,
                look::slots_are_taken_in_the_order_of_the_line,
                look::a_paused_token_parks_jobs_and_lets_one_probe_after_its_until,
                look::a_probe_without_a_free_slot_hands_the_probe_back,
                look::a_batch_arriving_late_takes_a_free_slot_in_its_turn,
                dead_letters::dead_letters_keep_the_payload_and_the_reason,
                batches::a_batch_is_invisible_and_nothing_of_it_due_until_accepted,
                batches::counts_move_with_the_chains_and_the_batch_finishes_when_all_have_ended,
                batches::an_idempotency_key_is_taken_at_begin_and_replays_the_accepted_batch,
                batches::a_batch_whose_writer_died_is_swept_with_its_jobs_and_frees_its_key,
                batches::a_late_small_batch_takes_turns_with_a_large_one_in_the_wait_line,
                batches::batches_are_listed_newest_first_each_once_across_pages,
                characters::characters_replay_the_first_for_a_key_with_the_same_body,
                characters::characters_conflict_for_a_key_with_another_body_finished_or_not,
                characters::characters_stay_in_progress_for_ever_for_a_key_whose_creation_never_finished,
                characters::characters_refuse_a_taken_name_before_paying,
                characters::characters_abandoned_free_their_key_and_name,
                characters::characters_reserved_long_ago_lose_their_name_and_keep_their_key,
                characters::characters_are_listed_newest_first,
                characters::characters_are_found_by_their_exact_name_once_finished,
                characters::characters_begun_concurrently_under_one_key_or_name_reserve_once,
                pipelines::pipeline_runs_are_recorded_per_pipeline_and_read_back,
                pipelines::pipeline_runs_only_move_forward,
                pipelines::schedulers_racing_for_one_tick_make_one_batch,
                outbox::every_way_a_job_ends_writes_one_event_carrying_the_job_object,
                outbox::a_transition_that_does_not_apply_writes_no_event,
                outbox::cancelling_a_chain_writes_an_event_for_each_step_it_ends,
                outbox::a_retried_job_that_ends_again_gets_a_new_event,
                outbox::a_batch_that_finishes_writes_its_event_and_again_once_a_retry_reopens_it,
                outbox::a_due_event_is_leased_to_one_taker_and_taken_again_when_its_lease_runs_out,
                outbox::racing_takers_never_take_the_same_event,
                outbox::a_failed_attempt_is_due_again_after_its_delay_and_a_postponed_one_counts_none,
                outbox::dead_events_are_listed_and_resent_under_the_same_id_and_body,
                outbox::a_subject_without_events_has_no_status,
            ];
            backend: [
                outbox::ended_events_expire_after_retention,
                chains::succeed_keeps_an_existing_next_step,
                chains::cancel_cancels_unfinished_descendants,
                expiry::finished_job_expires_after_retention,
                expiry::corrupt_record_is_reported_not_panicked,
            ];
        }
    };
}

mod redis {
    use crate::Backend as _;

    suite!(crate::redis_backend::RedisBackend);
}

mod sqlite {
    use crate::Backend as _;

    suite!(crate::sqlite_backend::SqliteBackend);
}
