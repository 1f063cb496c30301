//! When a worker should look at a job and who is looking: the schedule with its leases, and
//! the place where schedule entries that name no job are set aside.
//!
//! The store holds the truth about a job; these hold only *when* a worker should look at it
//! and *who* is looking. Losing any of them loses no job: the rescuer rings again for any
//! unfinished job that is neither scheduled nor leased.
//!
//! - [`Schedule`]: job ids by due time, and the lease of the worker handling each. Workers
//!   take due jobs with their leases in one step ([`Schedule::take_due`]), so a job is never
//!   between the schedule and a worker, and a worker that dies gives its jobs back when
//!   their leases run out.
//! - [`DeadLetters`]: schedule entries that are not pixq job ids, kept for an operator with
//!   the error.

mod dead_letter;
mod payload;
mod schedule;

pub use dead_letter::{DeadLetter, DeadLetters, MAX_DEAD_LETTERS};
pub use payload::{MAX_JOB_ID_LEN, PayloadError, check_job_id};
pub use schedule::{Lease, Schedule};
