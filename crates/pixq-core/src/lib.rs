//! pixq's domain, independent of HTTP and of queues.
//!
//! - [`spec`]: what a user asks for (a generation and its extend chain), validated at the door.
//! - [`job`] and [`state`]: the job record and its state machine; every transition is a named
//!   constructor that carries the state it expects.
//! - [`store`]: the `Store` trait, the truth about every job; [`redis`] implements it.

#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod job;
pub mod redis;
pub mod spec;
pub mod state;
pub mod store;
