//! The tasks in memory: lookups by id, listings per token in creation order, the per-task poll
//! limit, and bounded retention with counted evictions.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::{Duration, Instant},
};

use crate::{
    config::SimConfig,
    task::{Record, Task},
};

/// A poll came sooner than the per-task window allows: answer 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooSoon;

/// The filters of `retrieve_batch`.
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchQuery {
    /// Explicit task ids; each one found counts as a poll of its task.
    pub(crate) ids: Option<Vec<String>>,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) created_at_min: Option<f64>,
    pub(crate) created_at_max: Option<f64>,
}

/// A task's place in its token's listing: `created_at` in milliseconds, then creation order.
type ListingKey = (i64, u64);

fn listing_key(task: &Task, seq: u64) -> ListingKey {
    ((task.created_at * 1000.0).round() as i64, seq)
}

/// Every stored task, keyed by a creation sequence number so that eviction is oldest first,
/// with a per-token index ordered by `created_at` so listings are range scans.
#[derive(Debug, Default)]
pub(crate) struct TaskStore {
    tasks: BTreeMap<u64, Task>,
    by_id: HashMap<String, u64>,
    by_token: HashMap<String, BTreeSet<ListingKey>>,
    videos: HashMap<i64, u64>,
    next_seq: u64,
    evicted: u64,
}

impl TaskStore {
    /// Stores a new task and returns its sequence number.
    pub(crate) fn insert(&mut self, task: Task) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(task.id.clone(), seq);
        self.by_token
            .entry(task.token.clone())
            .or_default()
            .insert(listing_key(&task, seq));
        self.tasks.insert(seq, task);
        seq
    }

    /// Evicts expired tasks, then the oldest until there is room for `room` more within `max`.
    pub(crate) fn prune(&mut self, max: usize, retention: Duration, now: Instant, room: usize) {
        while let Some(task) = self.tasks.first_key_value().map(|(_, task)| task) {
            let expired = now.saturating_duration_since(task.created) > retention;
            if !expired && self.tasks.len() + room <= max {
                break;
            }
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        let Some((seq, task)) = self.tasks.pop_first() else {
            return;
        };
        self.by_id.remove(&task.id);
        if let Some(keys) = self.by_token.get_mut(&task.token) {
            keys.remove(&listing_key(&task, seq));
            if keys.is_empty() {
                self.by_token.remove(&task.token);
            }
        }
        if let Some(video_id) = task.video_id {
            self.videos.remove(&video_id);
        }
        self.evicted += 1;
    }

    /// A stored task by sequence number, deleted or not: the runner updates it.
    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut Task> {
        self.tasks.get_mut(&seq)
    }

    /// Remembers that a finished task produced `video_id`, which `extend` may then use.
    pub(crate) fn add_video(&mut self, seq: u64, video_id: i64) {
        if let Some(task) = self.tasks.get_mut(&seq) {
            task.video_id = Some(video_id);
            self.videos.insert(video_id, seq);
        }
    }

    /// Whether this simulator produced `video_id` (and still keeps its task, deleted or not).
    pub(crate) fn has_video(&self, video_id: i64) -> bool {
        self.videos.contains_key(&video_id)
    }

    fn visible(&self, id: &str) -> Option<u64> {
        let seq = *self.by_id.get(id)?;
        self.tasks
            .get(&seq)
            .filter(|task| !task.deleted)
            .map(|_| seq)
    }

    /// A visible task by id, without counting a poll: the media endpoints read it.
    pub(crate) fn find(&self, id: &str) -> Option<&Task> {
        self.visible(id).and_then(|seq| self.tasks.get(&seq))
    }

    /// A task's record as a poll sees it, after the per-task poll check; `Ok(None)` when unknown.
    /// Expired tasks are evicted first.
    ///
    /// # Errors
    ///
    /// [`TooSoon`] when the last accepted poll of this task is younger than `window`; the
    /// refused poll does not count.
    pub(crate) fn poll(
        &mut self,
        id: &str,
        now: Instant,
        config: &SimConfig,
    ) -> Result<Option<Record<'_>>, TooSoon> {
        self.prune(config.max_tasks, config.retention, now, 0);
        let window = config.min_poll_interval;
        let Some(seq) = self.visible(id) else {
            return Ok(None);
        };
        self.check_polls(&[seq], now, window)?;
        Ok(self.tasks.get(&seq).map(Task::record))
    }

    fn check_polls(&mut self, seqs: &[u64], now: Instant, window: Duration) -> Result<(), TooSoon> {
        let too_soon = seqs
            .iter()
            .filter_map(|seq| self.tasks.get(seq))
            .any(|task| {
                task.last_poll
                    .is_some_and(|last| now.saturating_duration_since(last) < window)
            });
        if too_soon {
            return Err(TooSoon);
        }
        for seq in seqs {
            if let Some(task) = self.tasks.get_mut(seq) {
                task.last_poll = Some(now);
            }
        }
        Ok(())
    }

    /// `retrieve_batch`: the caller's matching records oldest first, after `offset`, at most
    /// `limit`, with the number of matches before paging. Expired tasks are evicted first.
    ///
    /// # Errors
    ///
    /// [`TooSoon`] when any explicit id was polled within `window`; then no poll is recorded.
    pub(crate) fn batch(
        &mut self,
        token: &str,
        query: &BatchQuery,
        now: Instant,
        config: &SimConfig,
    ) -> Result<(Vec<Record<'_>>, usize), TooSoon> {
        self.prune(config.max_tasks, config.retention, now, 0);
        let window = config.min_poll_interval;
        let keys: Vec<ListingKey> = match &query.ids {
            Some(ids) => {
                let owned: BTreeSet<ListingKey> = ids
                    .iter()
                    .filter_map(|id| self.visible(id))
                    .filter_map(|seq| {
                        let task = self.tasks.get(&seq).filter(|task| task.token == token)?;
                        Some(listing_key(task, seq))
                    })
                    .collect();
                let seqs: Vec<u64> = owned.iter().map(|(_, seq)| *seq).collect();
                self.check_polls(&seqs, now, window)?;
                owned.into_iter().collect()
            }
            None => {
                // A range in whole milliseconds, widened by one on each side so that float
                // rounding cannot cut off an edge; the exact filter below decides.
                let low = query.created_at_min.map_or(i64::MIN, |min| {
                    ((min * 1000.0).floor() as i64).saturating_sub(1)
                });
                let high = query.created_at_max.map_or(i64::MAX, |max| {
                    ((max * 1000.0).ceil() as i64).saturating_add(1)
                });
                match self.by_token.get(token) {
                    Some(index) if low <= high => {
                        index.range((low, 0)..=(high, u64::MAX)).copied().collect()
                    }
                    _ => Vec::new(),
                }
            }
        };
        let in_range = |task: &&Task| {
            !task.deleted
                && query
                    .created_at_min
                    .is_none_or(|min| task.created_at >= min)
                && query
                    .created_at_max
                    .is_none_or(|max| task.created_at <= max)
        };
        let matches: Vec<&Task> = keys
            .iter()
            .filter_map(|(_, seq)| self.tasks.get(seq))
            .filter(in_range)
            .collect();
        let count = matches.len();
        let page = matches
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(Task::record)
            .collect();
        Ok((page, count))
    }

    /// Hides a task from every lookup; `false` when no visible task has this id.
    pub(crate) fn delete(&mut self, id: &str) -> bool {
        let Some(seq) = self.visible(id) else {
            return false;
        };
        if let Some(task) = self.tasks.get_mut(&seq) {
            task.deleted = true;
        }
        true
    }

    /// Tasks held, deleted ones included until they are evicted.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Tasks evicted so far for age or room.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }
}
