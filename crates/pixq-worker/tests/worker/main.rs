//! The worker against a real Redis and the simulator, in process: each test under its own
//! key prefix, each waiting with a deadline.

mod support;

mod callbacks;
mod cancel;
mod chains;
mod doorbells;
mod faults;
mod limits;
mod metrics;
mod rescue;
mod restart;
mod shutdown;
