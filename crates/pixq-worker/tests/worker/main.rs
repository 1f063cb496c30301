//! The worker against the simulator, in process, on each backend: the shared Redis under a
//! key prefix of each test's own, and SQLite in a temporary `data_dir`; each test waiting
//! with a deadline.

mod support;

mod callbacks;
mod cancel;
mod chains;
mod doorbells;
mod faults;
mod limits;
mod metrics;
mod outage;
mod rescue;
mod shutdown;
mod takeover;
