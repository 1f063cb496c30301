//! The upstream's limits, shared by every worker (DESIGN decision 4): how many generations a
//! token may have in flight, whether submission on a token is paused, and who waits first.
//!
//! The upstream counts generations in flight per token, not per worker, and refuses the
//! whole account when its balance runs out. These traits keep that state in the store, per
//! token alias (never the token itself), so that any number of workers on any machines see
//! one picture:
//!
//! - [`Slots`]: a lease-based semaphore. A job takes a slot before it submits and keeps it
//!   until its upstream task ends; a worker that dies stops renewing, and its slots free
//!   themselves when their leases run out.
//! - [`Pauses`]: an account-level error (`used_up`, `invalid_token`, `token_expired`,
//!   `token_mismatched`, `disabled`, or a 403 without a code at submit) pauses submission on
//!   the token instead of failing every waiting job. After the pause's `until`, exactly one
//!   waiting job's real submit is the probe ([`Pauses::gate`]); pixq never spends credits on
//!   a synthetic request.
//! - [`WaitLine`]: jobs that found every slot taken, in the order they arrived, so the
//!   worker that frees a slot wakes the longest-waiting job first.
//!
//! How a submit step uses them, in order:
//!
//! 1. [`Pauses::gate`]: `Paused` → requeue with `waiting_reason: paused`, due at `until`;
//!    `Probe` or `Open` → go on.
//! 2. [`Slots::acquire`]: `Full` → [`WaitLine::park`] and requeue with
//!    `waiting_reason: upstream_capacity`, due no later than the earliest lease expiry (a
//!    fallback: a release wakes it sooner); `Acquired` → [`WaitLine::remove`] and submit.
//! 3. An account-level error → [`Pauses::pause`], [`Slots::release`], requeue `paused`. A
//!    success while the gate said `Probe` → [`Pauses::clear`].
//! 4. Whoever looks at the running task (callback or poll) calls [`Slots::renew`]; when the
//!    task ends (succeeded, failed, or finished after a cancel) it calls [`Slots::release`]
//!    and rings the jobs of [`WaitLine::first`].
//!
//! - [`PollGate`]: at most one poll a second per upstream task, whoever polls.
//!
//! Times that decide who holds what (lease expiries, the probe window) are read from the
//! backend's clock (for Redis, the server's, inside the scripts), so the clocks of worker
//! machines do not matter.
//! Metrics read them too: `pixq_in_flight{token}` is [`Slots::held`],
//! `pixq_upstream_paused{token}` comes from [`Pauses::paused_aliases`].

mod pause;
mod poll_gate;
mod slots;
mod wait_line;

pub use pause::{Gate, Pause, Pauses};
pub use poll_gate::{POLL_WINDOW, PollGate};
pub use slots::{Acquire, Slots};
pub use wait_line::WaitLine;
