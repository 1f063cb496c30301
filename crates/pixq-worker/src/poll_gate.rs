//! [`PollGate`]: at most one poll a second per upstream task, across every worker.
//!
//! The upstream answers 429 to a second poll of a task within a second. A doorbell rung twice
//! (a rescue, a callback, a duplicate) could otherwise make two handlers poll the same task
//! back to back. The gate is a Redis key per task, `{prefix}:polled:{task_id}`, set with NX
//! and a time to live of a little over a second: whoever sets it may poll.

use std::time::Duration;

use pixq_core::store::StoreError;
use redis::aio::ConnectionManager;

/// A little over the upstream's one second, for the time a request takes to get there.
const WINDOW: Duration = Duration::from_millis(1100);

/// The poll gates under `{prefix}:polled:`.
#[derive(Debug, Clone)]
pub(crate) struct PollGate {
    conn: ConnectionManager,
    prefix: String,
}

impl PollGate {
    /// The gates under `{prefix}:polled:`.
    pub(crate) fn new(conn: ConnectionManager, prefix: &str) -> Self {
        PollGate {
            conn,
            prefix: format!("{prefix}:polled:"),
        }
    }

    /// `None` when `task_id` may be polled now (and marks it polled), otherwise how long to
    /// wait.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub(crate) async fn enter(&self, task_id: &str) -> Result<Option<Duration>, StoreError> {
        let key = format!("{}{task_id}", self.prefix);
        let mut conn = self.conn.clone();
        let window = u64::try_from(WINDOW.as_millis()).unwrap_or(1100);
        let (set, ttl_ms): (Option<String>, i64) = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(window)
            .cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        if set.is_some() {
            return Ok(None);
        }
        let wait = u64::try_from(ttl_ms).unwrap_or(0).max(50);
        Ok(Some(Duration::from_millis(wait)))
    }
}
