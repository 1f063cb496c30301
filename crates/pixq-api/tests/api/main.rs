//! Black-box tests of the API over real HTTP on loopback, on each backend: the real Redis
//! (`PIXQ_TEST_REDIS_URL`, by default `redis://127.0.0.1:6379`), each test under its own
//! `pixq-test-api-<uuid>` prefix, and SQLite, each test in its own temporary `data_dir`.
//! A test that holds for both is written once, as `async fn(Backend)`, and instantiated as
//! `<file>::redis::<name>` and `<file>::sqlite::<name>` by `on_each_backend!`; a test of
//! Redis itself (cutting it away) is Redis-only.

mod auth;
mod batch_listing;
mod batches;
mod callback;
mod characters;
mod control;
mod dashboard;
mod health;
mod idempotency;
mod limits;
mod listing;
mod openapi;
mod queue;
mod routing;
mod setup;
mod templates;
mod validation;
mod webhooks;
