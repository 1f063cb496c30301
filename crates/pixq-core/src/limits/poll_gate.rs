//! [`PollGate`]: at most one poll a second per upstream task, across every worker.

use std::time::Duration;

use async_trait::async_trait;

use crate::store::StoreError;

/// A little over the upstream's one second, for the time a request takes to get there.
pub const POLL_WINDOW: Duration = Duration::from_millis(1100);

/// The upstream answers 429 to a second poll of a task within a second. A job rung twice (a
/// rescue, a callback, a duplicate) could otherwise make two handlers poll the same task back
/// to back. Whoever enters the gate first in a [`POLL_WINDOW`] may poll; the others wait.
#[async_trait]
pub trait PollGate: Send + Sync {
    /// `None` when `task_id` may be polled now (and marks it polled for [`POLL_WINDOW`]),
    /// otherwise how long to wait.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn enter(&self, task_id: &str) -> Result<Option<Duration>, StoreError>;
}
