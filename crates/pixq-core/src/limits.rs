//! The upstream's limits, shared by every worker (DESIGN decision 4): how many generations a
//! token may have in flight, whether submission on a token is paused, and who waits first.
//!
//! The upstream counts generations in flight per token, not per worker, and refuses the
//! whole account when its balance runs out. These types keep that state in Redis, per token
//! alias (never the token itself), so that any number of workers on any machines see one
//! picture:
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
//! Times that decide who holds what (lease expiries, the probe window) are read from the
//! Redis server's clock inside the scripts, so the clocks of worker machines do not matter.
//! Metrics read them too: `pixq_in_flight{token}` is [`Slots::held`],
//! `pixq_upstream_paused{token}` comes from [`Pauses::paused_aliases`].

mod pause;
mod slots;
mod wait_line;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::StoreError;

pub use pause::{Gate, Pause, Pauses};
pub use slots::{Acquire, Slots};
pub use wait_line::WaitLine;

/// Lua that sets `now` to the Redis server's time in milliseconds; prepended to every script
/// that compares against lease expiries, so one clock decides for all workers.
const SERVER_NOW: &str = r"
local server_time = redis.call('TIME')
local now = tonumber(server_time[1]) * 1000 + math.floor(tonumber(server_time[2]) / 1000)
";

/// A script body with `now` (server milliseconds) defined at its top.
fn with_server_now(body: &str) -> String {
    format!("{SERVER_NOW}{body}")
}

/// Whole milliseconds of `d`, at least 1 (Redis refuses a zero time to live).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// A time in milliseconds read back from Redis; `what` names the key for the error.
fn from_millis(ms: i64, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        what: what.to_owned(),
        detail: format!("{ms} is not a time in milliseconds"),
    })
}
