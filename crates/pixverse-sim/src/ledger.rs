//! The ledger: one entry for every task created, oldest first, so a test can check exactly what
//! a client submitted (and would have been billed for). Bounded like the tasks, but never cut
//! silently: every entry dropped is counted.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::value::RawValue;

/// One task created: its id, when, by which token, and the body as sent.
#[derive(Debug, Serialize)]
pub(crate) struct LedgerEntry {
    pub(crate) task_id: String,
    pub(crate) created_at: f64,
    pub(crate) token: String,
    pub(crate) request: Box<RawValue>,
    #[serde(skip)]
    pub(crate) created: Instant,
}

/// The entries kept and the count of those dropped for age or room.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    entries: VecDeque<LedgerEntry>,
    dropped: u64,
}

impl Ledger {
    /// Appends an entry, first dropping (and counting) expired ones and the oldest beyond `max`.
    pub(crate) fn push(&mut self, entry: LedgerEntry, max: usize, retention: Duration) {
        self.prune(max, retention, entry.created, 1);
        if max == 0 {
            self.dropped += 1;
            return;
        }
        self.entries.push_back(entry);
    }

    /// Drops (and counts) expired entries, then the oldest until `room` more fit within `max`.
    pub(crate) fn prune(&mut self, max: usize, retention: Duration, now: Instant, room: usize) {
        while let Some(oldest) = self.entries.front() {
            let expired = now.saturating_duration_since(oldest.created) > retention;
            if !expired && self.entries.len() + room <= max {
                break;
            }
            self.entries.pop_front();
            self.dropped += 1;
        }
    }

    /// The entries kept, oldest first.
    pub(crate) fn entries(&self) -> &VecDeque<LedgerEntry> {
        &self.entries
    }

    /// Entries dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}
