//! Black-box tests of the API over real HTTP on loopback, against the real Redis
//! (`PIXQ_TEST_REDIS_URL`, by default `redis://127.0.0.1:6379`), each test under its own
//! `pixq-test-api-<uuid>` prefix.

mod auth;
mod callback;
mod control;
mod health;
mod idempotency;
mod limits;
mod listing;
mod routing;
mod setup;
mod validation;
