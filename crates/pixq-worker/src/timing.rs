//! [`PollTiming`]: when to poll a task first, learned from when tasks were seen to end.
//!
//! `poll.first_after` is where pixq starts, not a constant. Every task seen finished gives
//! one observation: the time from its submit to the look that saw it done (exact with
//! callbacks, which come when a task ends; an upper bound by at most a poll interval without).
//! Then:
//!
//! - **Poll mode.** The first poll goes at nine tenths of the 80th percentile of the recent
//!   observations. If most tasks are done by then, the observations sit at the first poll and
//!   the next first poll comes sooner; if many are not, they sit a poll interval later and it
//!   comes later. It settles where about four tasks in five are done at their first poll: one
//!   poll for most videos, and little time lost waiting after a video is ready.
//! - **Callback mode.** The callback rings the job when its task ends, so a scheduled poll is
//!   only the safety net for a callback that was lost: it goes after half again the 95th
//!   percentile, plus a poll interval (twice `poll.first_after` plus an interval until there
//!   is something to learn from).
//!
//! Each worker process learns on its own, from its last [`WINDOW`] tasks.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many recent observations count.
pub(crate) const WINDOW: usize = 200;

/// The soonest a first poll goes: a task of an upstream that answers at once is done a
/// moment after its submit is answered.
pub(crate) const MIN_FIRST_POLL: Duration = Duration::from_millis(10);

/// The learned timing of first polls of one worker process. Clones share what is learned.
#[derive(Debug, Clone)]
pub(crate) struct PollTiming {
    inner: Arc<Mutex<Learned>>,
    start: Duration,
    interval: Duration,
    most: Duration,
    callbacks: bool,
}

#[derive(Debug, Default)]
struct Learned {
    seen: VecDeque<Duration>,
}

impl PollTiming {
    /// A timing that starts at `first_after` (`poll.first_after`), polls every `interval`
    /// after, never waits longer than `most` (half of `poll.give_up_after`), and relies on
    /// callbacks when `callbacks` is set.
    pub(crate) fn new(
        first_after: Duration,
        interval: Duration,
        most: Duration,
        callbacks: bool,
    ) -> Self {
        PollTiming {
            inner: Arc::new(Mutex::new(Learned::default())),
            start: first_after,
            interval,
            most,
            callbacks,
        }
    }

    /// How long after a submit its first poll goes.
    pub(crate) fn first_poll_after(&self) -> Duration {
        let learned = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let wait = if learned.seen.len() < WINDOW / 10 {
            if self.callbacks {
                // Nothing learned yet: twice the configured start, so the callbacks of the
                // first tasks come before their safety-net polls.
                self.start.saturating_mul(2).saturating_add(self.interval)
            } else {
                self.start
            }
        } else if self.callbacks {
            quantile(&learned.seen, 0.95)
                .mul_f64(1.5)
                .saturating_add(self.interval)
        } else {
            quantile(&learned.seen, 0.8).mul_f64(0.9)
        };
        wait.clamp(MIN_FIRST_POLL, self.most.max(MIN_FIRST_POLL))
    }

    /// A task was seen finished `took` after its submit.
    pub(crate) fn saw_done(&self, took: Duration) {
        let mut learned = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if learned.seen.len() == WINDOW {
            learned.seen.pop_front();
        }
        learned.seen.push_back(took);
    }
}

/// The `q` quantile of `seen` (not empty).
fn quantile(seen: &VecDeque<Duration>, q: f64) -> Duration {
    let mut sorted: Vec<Duration> = seen.iter().copied().collect();
    sorted.sort_unstable();
    let last = sorted.len().saturating_sub(1);
    // q is in [0, 1] and `last` small: the index is exact and in range.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((last as f64) * q).round() as usize;
    sorted.get(i.min(last)).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn it_starts_at_first_after_and_never_goes_below_the_floor() {
        let t = PollTiming::new(Duration::ZERO, ms(1000), ms(60_000), false);
        assert_eq!(t.first_poll_after(), MIN_FIRST_POLL);
        let t = PollTiming::new(ms(5000), ms(1000), ms(60_000), false);
        assert_eq!(t.first_poll_after(), ms(5000));
    }

    #[test]
    fn a_fast_upstream_is_polled_soon_after_the_submit() {
        let t = PollTiming::new(ms(60_000), ms(10_000), ms(450_000), false);
        for _ in 0..WINDOW {
            t.saw_done(ms(20));
        }
        assert_eq!(t.first_poll_after(), ms(18));
    }

    #[test]
    fn poll_mode_settles_where_most_tasks_are_done_at_their_first_poll() {
        // Tasks take 60–120 s, evenly; a poll that misses sees the task one interval later.
        let t = PollTiming::new(ms(60_000), ms(10_000), ms(450_000), false);
        let mut first = t.first_poll_after();
        let mut hits = 0;
        for i in 0..2000u64 {
            let took = ms(60_000 + (i * 7919) % 60_000);
            first = t.first_poll_after();
            let mut seen = first;
            while seen < took {
                seen += ms(10_000);
            }
            if i >= 1000 && seen == first {
                hits += 1;
            }
            t.saw_done(seen);
        }
        assert!(
            first > ms(90_000) && first < ms(125_000),
            "first poll at {first:?}"
        );
        assert!(
            (500..=950).contains(&hits),
            "{hits} of 1000 at the first poll"
        );
    }

    #[test]
    fn callback_mode_polls_only_after_most_callbacks_came() {
        let t = PollTiming::new(ms(60_000), ms(10_000), ms(450_000), true);
        for i in 0..WINDOW as u64 {
            t.saw_done(ms(60_000 + i * 300));
        }
        let first = t.first_poll_after();
        assert!(first > ms(170_000) && first <= ms(450_000), "{first:?}");
    }
}
