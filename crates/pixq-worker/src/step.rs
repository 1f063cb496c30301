//! [`Step`]: what one look at a job decided.

use chrono::{DateTime, Utc};
use pixq_core::job::Job;

/// The outcome of one step of a handler. None of them uses up an attempt by itself: the
/// transitions a step applied already did (see [`pixq_core::state::Transition::requeue`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// The step's last write settled the lease and booked the job's next look (or none) in
    /// the same call: nothing is left to do.
    Settled,
    /// Nothing more to do now: the job is finished (or belongs to nobody any more).
    Done,
    /// Look at the job again at this time: a poll, a lookup not yet concluded.
    LookAt(DateTime<Utc>),
    /// The record was not what this step expected (another writer moved it); decide again
    /// from the record as it is now.
    Again(Box<Job>),
}

impl Step {
    /// Decide again from `job`, the record as it is now.
    pub(crate) fn again(job: Job) -> Self {
        Step::Again(Box::new(job))
    }
}
