//! What rings a worker's doorbell: pixq's own schedule of due jobs, per-job leases, the queue
//! payload, and the place where payloads that do not decode are set aside.
//!
//! The store holds the truth about a job; these hold only *when* a worker should look at it
//! and *who* is looking. Losing any of them loses no job: the rescuer rings again for any
//! unfinished job that is neither scheduled nor leased.
//!
//! - [`Schedule`]: a sorted set of job ids by due time. The API and the workers write to it;
//!   a pump hands due ids to the apalis queue a bounded number at a time, so a backlog of any
//!   size never reaches apalis-redis's `scheduled` set (APALIS-NOTES, item 5).
//! - [`Leases`]: at most one worker handles a job at a time. A doorbell rung twice, or a
//!   message recovered from a dead worker while another holds the job, cannot submit twice.
//! - [`Doorbell`]: the queue payload, a job id and little more, decoded from any JSON shape.
//! - [`DeadLetters`]: payloads that are not doorbells, kept for an operator with the error.

mod dead_letter;
mod lease;
mod payload;
mod schedule;

pub use dead_letter::{DeadLetter, DeadLetters, MAX_DEAD_LETTERS};
pub use lease::{Lease, Leases};
pub use payload::{Doorbell, PayloadError};
pub use schedule::Schedule;
