//! [`PollGate`] on Redis: a key per task, `{p}:polled:{task_id}`, set with NX for a little
//! over a second; whoever sets it may poll.

use std::time::Duration;

use async_trait::async_trait;

use super::{RedisStore, millis};
use crate::limits::{POLL_WINDOW, PollGate};
use crate::store::StoreError;

#[async_trait]
impl PollGate for RedisStore {
    async fn enter(&self, task_id: &str) -> Result<Option<Duration>, StoreError> {
        let mut conn = self.conn();
        let left: i64 = self
            .scripts
            .poll_gate
            .key(self.keys.polled(task_id))
            .arg(millis(POLL_WINDOW))
            .invoke_async(&mut conn)
            .await?;
        if left < 0 {
            return Ok(None);
        }
        let wait = u64::try_from(left).unwrap_or(0).max(50);
        Ok(Some(Duration::from_millis(wait)))
    }
}
