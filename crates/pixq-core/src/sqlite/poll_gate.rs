//! [`PollGate`] of the embedded store: in memory. One process owns the data dir, so this
//! process's map is every poller there is; a restart takes more than the window anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::SqliteStore;
use crate::limits::{POLL_WINDOW, PollGate};
use crate::store::StoreError;

/// Entries whose window ended this long ago are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// Old entries are swept once the map holds this many.
const SWEEP_AT: usize = 10_000;

/// When each task may be polled again.
#[derive(Debug, Default)]
pub(super) struct Gates {
    until: Mutex<HashMap<String, Instant>>,
}

#[async_trait]
impl PollGate for SqliteStore {
    async fn enter(&self, task_id: &str) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        let mut until = self
            .gates
            .until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = until.get(task_id).filter(|at| **at > now) {
            let wait = at.duration_since(now).max(Duration::from_millis(50));
            return Ok(Some(wait));
        }
        if until.len() >= SWEEP_AT {
            until.retain(|_, at| now.saturating_duration_since(*at) < FORGET_AFTER);
        }
        until.insert(task_id.to_owned(), now + POLL_WINDOW);
        Ok(None)
    }
}
