//! pixq's domain, independent of HTTP and of queues.
//!
//! - [`spec`]: what a user asks for (a generation and its extend chain), validated at the door.
//! - [`chain`]: how a stored job becomes an upstream request, and a finished step the next.
//! - [`job`] and [`state`]: the job record and its state machine; every transition is a named
//!   constructor that carries the state it expects.
//! - [`outage`]: one log line per Redis outage, not one per failed call.
//! - [`queue`]: when a worker should look at a job and who is looking: schedule, leases,
//!   the queue payload.
//! - [`limits`]: the upstream's limits shared by all workers: slots in flight per token,
//!   paused tokens, and the line of jobs waiting for a slot.
//! - [`store`]: the `Store` trait, the truth about every job; [`redis`] implements it.
//! - [`settings`]: the configuration: raw from the layers, then validated `Settings` whose
//!   errors name the key.

#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod chain;
pub mod job;
pub mod limits;
pub mod outage;
pub mod queue;
pub mod redis;
pub mod settings;
pub mod spec;
pub mod state;
pub mod store;
