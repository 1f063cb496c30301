//! How long to wait: exponential backoff with jitter for failed tries, and jitter for loops.

use std::time::Duration;

use rand::Rng;

/// The wait before try `attempts + 1` after `attempts` failed ones: `base × 2^attempts`,
/// capped at `max`, then drawn uniformly from its upper half ("equal jitter"), so many jobs
/// that failed together do not come back together.
pub(crate) fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.min(30));
    let full = base.saturating_mul(factor).min(max);
    let half = full / 2;
    half + jitter_up_to(full - half)
}

/// `every`, moved by up to a fifth either way: background loops in many processes drift
/// apart instead of hitting Redis in step.
pub(crate) fn jittered(every: Duration) -> Duration {
    let fifth = every / 5;
    every - fifth + jitter_up_to(fifth * 2)
}

fn jitter_up_to(limit: Duration) -> Duration {
    let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        for attempts in 0..10 {
            let full = (base * 2u32.pow(attempts)).min(max);
            let d = backoff(attempts, base, max);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d:?}");
        }
        assert!(backoff(u32::MAX, base, max) <= max);
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        let every = Duration::from_secs(5);
        for _ in 0..100 {
            let d = jittered(every);
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(6),
                "{d:?}"
            );
        }
    }
}
