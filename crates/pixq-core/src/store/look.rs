//! What one look at a job reads and writes in one call each: the job taken with its lease and
//! its record ([`Claim`]), the slot of the shared cap taken in turn ([`SlotRequest`],
//! [`SlotTurn`]), and the look's last transition with everything that follows from it
//! ([`Effects`], [`Committed`]).
//!
//! A look used to cost a dozen store calls: read the record, take the pause gate, renew,
//! count, read the line, acquire, leave the line, write, settle the lease, ring the next step,
//! release the slot, count again, read the pause, read the line, ring it. Each of these is now
//! one call, atomic in each backend (one Lua script on Redis, one transaction on SQLite).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::job::{Job, JobId};
use crate::limits::Pause;
use crate::queue::Lease;
use crate::store::Outcome;

/// A job's record with the version the store keeps beside it: a write planned from it is
/// conditional on that version, so nothing has to be read again before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    /// The record.
    pub job: Job,
    /// Its version; every write of the record adds one.
    pub version: u64,
}

/// One job taken for a look: its lease and, in the same read, its record (`None` when the
/// schedule named a job that does not exist, or expired).
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The lease on the job.
    pub lease: Lease,
    /// The record as it was when it was taken.
    pub record: Option<Basis>,
}

/// What else a transition's write does, in the same atomic write, when it applies. When it
/// does not (the answer is `Stale` or `TaskTaken`), nothing of this is done either: the caller
/// decides again from the record as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// Ends this lease and books the job's next look (`None`: only if it was rung while
    /// leased), as [`Schedule::settle`](crate::queue::Schedule::settle).
    pub settle: Option<(Lease, Option<DateTime<Utc>>)>,
    /// Books a look now at each of these jobs (the chain's next step).
    pub ring_now: Vec<JobId>,
    /// The job's standing with the token's shared cap.
    pub slot: Option<SlotEffect>,
    /// With `settle`: also lease the next due job to the same holder for this long, in the
    /// same write, so that the worker goes on to it without a call of its own (a worker's
    /// handlers stay busy while work is due). A home may take none: Redis does not, and the
    /// job is then taken by the doorbell as usual.
    pub take_next: Option<Duration>,
}

/// What a write does to the job's slot and place in the wait line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotEffect {
    /// The token alias.
    pub alias: String,
    /// `upstream.max_in_flight`: how many slots there are, to know how many to wake.
    pub max: u32,
    /// Gives the job's slot back (its task ended, or its submit created none).
    pub release: bool,
    /// Takes the job out of the wait line (it no longer waits for a slot).
    pub leave_line: bool,
}

/// The answer of [`Store::commit`](crate::store::Store::commit).
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// Whether the transition applied, and the record.
    pub outcome: Outcome,
    /// The record's version when it applied, for the next write of the same look.
    pub version: Option<u64>,
    /// Jobs of the wait line rung because the write freed a slot.
    pub woken: Vec<JobId>,
    /// The job leased with [`Effects::take_next`], if one was due and this home takes them.
    pub next: Option<Claim>,
}

impl Committed {
    /// The record with its version when the transition applied.
    pub fn basis(&self) -> Option<Basis> {
        match (&self.outcome, self.version) {
            (Outcome::Applied(job), Some(version)) => Some(Basis {
                job: job.clone(),
                version,
            }),
            _ => None,
        }
    }
}

/// A job asking for a slot of the token's shared cap before it submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRequest {
    /// The token alias.
    pub alias: String,
    /// The job.
    pub job: JobId,
    /// `upstream.max_in_flight`.
    pub max: u32,
    /// The slot's lease.
    pub ttl: Duration,
    /// While one job probes a paused token, how long the others wait for its answer.
    pub probe_window: Duration,
}

/// What [`Store::take_slot`](crate::store::Store::take_slot) decided, all in one atomic step:
/// the pause gate, then a slot in the order of the wait line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a job that did not get a slot must not submit"]
pub enum SlotTurn {
    /// The job holds a slot (taken now, or renewed if it held one) and left the line: it may
    /// submit. With `probe`, the token is paused and this submit is its one probe: the pause
    /// as it was before the claim.
    Taken {
        /// Live slots on the token now, this one included.
        held: u32,
        /// The pause this submit probes, if any.
        probe: Option<Pause>,
    },
    /// Every slot is taken, or jobs that came earlier wait: the job is parked in the line.
    Wait {
        /// Live slots on the token.
        held: u32,
        /// When the earliest slot lease runs out unless renewed.
        earliest_expiry: Option<DateTime<Utc>>,
        /// Whether the job is among the first `max` of the line, the ones the next releases
        /// wake.
        at_head: bool,
    },
    /// The token is paused (or another job probes it): the job is parked in the line.
    Paused {
        /// The pause.
        pause: Pause,
        /// Whether the job is among the first `max` of the line.
        at_head: bool,
    },
}

impl SlotTurn {
    /// The slot's figures (`held`, `probe`) when the job got it, so that a write can follow;
    /// otherwise the answer to give as it is.
    pub fn into_taken(self) -> Result<(u32, Option<Pause>), SubmitTurn> {
        match self {
            SlotTurn::Taken { held, probe } => Ok((held, probe)),
            SlotTurn::Wait {
                held,
                earliest_expiry,
                at_head,
            } => Err(SubmitTurn::Wait {
                held,
                earliest_expiry,
                at_head,
            }),
            SlotTurn::Paused { pause, at_head } => Err(SubmitTurn::Paused { pause, at_head }),
        }
    }
}

/// What [`Store::take_slot_then_commit`](crate::store::Store::take_slot_then_commit) did: a
/// [`SlotTurn`], and with the slot, the write that records the submit.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a job that did not get a slot must not submit"]
pub enum SubmitTurn {
    /// The job holds a slot, as [`SlotTurn::Taken`], and the transition was written, or not.
    Taken {
        /// Live slots on the token now, this one included.
        held: u32,
        /// The pause this submit probes, if any.
        probe: Option<Pause>,
        /// What the transition's write answered (boxed: it holds whole records).
        committed: Box<Committed>,
    },
    /// As [`SlotTurn::Wait`]; nothing was written.
    Wait {
        /// Live slots on the token.
        held: u32,
        /// When the earliest slot lease runs out unless renewed.
        earliest_expiry: Option<DateTime<Utc>>,
        /// Whether the job is among the first `max` of the line.
        at_head: bool,
    },
    /// As [`SlotTurn::Paused`]; nothing was written.
    Paused {
        /// The pause.
        pause: Pause,
        /// Whether the job is among the first `max` of the line.
        at_head: bool,
    },
}
