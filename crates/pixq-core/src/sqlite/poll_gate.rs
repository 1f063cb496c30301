//! [`PollGate`] of the embedded store: in memory. One process owns the data dir, so this
//! process's map is every poller there is; a restart takes more than the window anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::SqliteStore;
use crate::limits::{POLL_WINDOW, PollGate};
use crate::store::StoreError;

/// The map is swept of ended windows once it holds at least this many entries, and twice as
/// many as the last sweep left: each poll pays a constant share of the sweeping, however many
/// tasks are polled a second.
const SWEEP_AT_LEAST: usize = 1_024;

/// When each task may be polled again.
#[derive(Debug, Default)]
pub(super) struct Gates {
    inner: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    until: HashMap<String, Instant>,
    /// How many entries the last sweep left.
    kept: usize,
}

#[async_trait]
impl PollGate for SqliteStore {
    async fn enter(&self, task_id: &str) -> Result<Option<Duration>, StoreError> {
        let now = Instant::now();
        let mut windows = self
            .gates
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = windows.until.get(task_id).filter(|at| **at > now) {
            let wait = at.duration_since(now).max(Duration::from_millis(50));
            return Ok(Some(wait));
        }
        if windows.until.len() >= SWEEP_AT_LEAST.max(windows.kept.saturating_mul(2)) {
            windows.until.retain(|_, at| *at > now);
            windows.kept = windows.until.len();
        }
        windows.until.insert(task_id.to_owned(), now + POLL_WINDOW);
        Ok(None)
    }
}
