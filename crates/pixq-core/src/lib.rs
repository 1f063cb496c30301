//! pixq's domain, independent of HTTP and of queues.
//!
//! - [`spec`]: what a user asks for (a generation and its extend chain), validated at the door.
//! - [`batch`]: batches of chains, counted as their jobs move, read back in order.
//! - [`callback`]: the upstream's callback URL and the API's route for it, in one place.
//! - [`chain`]: how a stored job becomes an upstream request, and a finished step the next.
//! - [`character`]: characters made upstream from images, under a unique name, paid once.
//! - [`job`] and [`state`]: the job record and its state machine; every transition is a named
//!   constructor that carries the state it expects.
//! - [`outage`]: one log line per outage of the store, not one per failed call.
//! - [`queue`]: when a worker should look at a job and who is looking: the schedule and its
//!   leases.
//! - [`limits`]: the upstream's limits shared by all workers: slots in flight per token,
//!   paused tokens, the line of jobs waiting for a slot, one poll a second per task.
//! - [`store`]: the seam, the `Store` trait over all of the above; [`redis`] and [`sqlite`]
//!   implement it, and [`store::open`] picks one from the settings.
//! - [`pipeline`]: scheduled pipelines: a prompt list submitted as one batch on every tick of
//!   a cron schedule, each tick once however many schedulers race for it.
//! - [`outbox`]: webhook events written in the same write as the transition that causes
//!   them, and their delivery's leases; [`webhook`]: how they are signed, and which addresses
//!   they may reach; [`view`]: the job and batch objects they carry, as the API shows them.
//! - [`metrics`]: the names and help of every metric, and the process's one recorder.
//! - [`settings`]: the configuration: raw from the layers, then validated `Settings` whose
//!   errors name the key.

#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod batch;
pub mod callback;
pub mod chain;
pub mod character;
pub mod job;
pub mod limits;
pub mod metrics;
pub mod outage;
pub mod outbox;
pub mod pipeline;
pub mod queue;
pub mod redis;
pub mod settings;
pub mod spec;
pub mod sqlite;
pub mod state;
pub mod store;
pub mod view;
pub mod webhook;
