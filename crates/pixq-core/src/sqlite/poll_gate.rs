//! [`PollGate`] on SQLite: the `poll_gate` table, when each upstream task may be polled
//! again. Rows long past are swept as new ones come.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;

use super::{Cached, SqliteStore, millis, now_ms, optional};
use crate::limits::{POLL_WINDOW, PollGate};
use crate::store::StoreError;

/// Rows whose window ended this long ago are deleted.
const FORGET_AFTER_MS: i64 = 60_000;

#[async_trait]
impl PollGate for SqliteStore {
    async fn enter(&self, task_id: &str) -> Result<Option<Duration>, StoreError> {
        let task = task_id.to_owned();
        self.write(move |tx| {
            let now = now_ms();
            let until: Option<i64> = optional(tx.row(
                "SELECT until_ms FROM poll_gate WHERE task_id = ?1",
                [&task],
                |row| row.get(0),
            ))?;
            if let Some(until) = until.filter(|until| *until > now) {
                let left = u64::try_from(until - now).unwrap_or(0).max(50);
                return Ok(Some(Duration::from_millis(left)));
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO poll_gate (task_id, until_ms) VALUES (?1, ?2)",
            )?
            .execute(params![task, now.saturating_add(millis(POLL_WINDOW))])?;
            tx.prepare_cached("DELETE FROM poll_gate WHERE until_ms < ?1")?
                .execute([now - FORGET_AFTER_MS])?;
            Ok(None)
        })
        .await
    }
}
