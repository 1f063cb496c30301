//! Helpers that pixq's tests share, so that no test crate keeps its own copy.
//!
//! - [`redis`]: the shared Redis's URL, and a key prefix per test that deletes only its own
//!   keys, when the test ends or panics.
//! - [`data_dir`]: a temporary `data_dir` for the embedded backend.
//! - [`wait`]: waiting for a condition with a deadline, instead of sleeping and hoping.
//! - [`http`]: reading HTTP answers (their content type).
//! - [`net`]: free loopback ports.
//! - [`process`]: child processes with their output in a log file, SIGKILL and SIGTERM.
//! - [`sim`]: the simulator's admin endpoints (ledger, stats, faults, tokens).
//!
//! It depends on no pixq crate, so every pixq crate can use it in its tests without a cycle.

#![allow(clippy::missing_panics_doc)]

pub mod data_dir;
pub mod http;
pub mod net;
pub mod process;
pub mod redis;
pub mod sim;
pub mod wait;
