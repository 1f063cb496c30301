//! What a scheduler fires, and when: pure functions of the schedule, the last run and the
//! time, so that every decision is tested with fixed clocks.
//!
//! - At start, [`missed`] says whether the catch-up policy fires a tick that passed while no
//!   scheduler ran.
//! - Running, a scheduler sleeps until the next tick, then fires what [`due`] says: the latest
//!   tick that has come. Ticks that came while it was busy firing an earlier one are skipped
//!   (other schedulers may have fired them), so a scheduler never falls further and further
//!   behind a fast schedule.
//! - A tick whose batch cannot be written (the store is unreachable) is tried again until the
//!   tick after it is due ([`Due::give_up_at`]); then it counts as missed.

use chrono::{DateTime, Utc};

use super::{CatchUp, Cron};

/// The tick a scheduler starting at `now` fires at once, if any: with [`CatchUp::Once`], the
/// most recent tick at or before `now` that is later than the last recorded run. A pipeline
/// that never ran has missed nothing, and [`CatchUp::Skip`] fires nothing.
pub fn missed(
    cron: &Cron,
    catch_up: CatchUp,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if catch_up == CatchUp::Skip {
        return None;
    }
    let last = last?;
    cron.latest_at_or_before(now).filter(|tick| *tick > last)
}

/// A tick to fire now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The tick.
    pub tick: DateTime<Utc>,
    /// The first tick passed over for it, when the scheduler woke after more than one had
    /// come.
    pub skipped_from: Option<DateTime<Utc>>,
    /// When to stop trying to fire it: the tick after it. `None` when there is none.
    pub give_up_at: Option<DateTime<Utc>>,
}

/// The tick to fire at `now`, for a scheduler that has dealt with every tick up to
/// `handled`: the latest tick in `(handled, now]`; `None` when none has come yet.
pub fn due(cron: &Cron, handled: DateTime<Utc>, now: DateTime<Utc>) -> Option<Due> {
    let first = cron.next_after(handled).filter(|tick| *tick <= now)?;
    let tick = cron
        .latest_at_or_before(now)
        .filter(|tick| *tick >= first)
        .unwrap_or(first);
    Some(Due {
        tick,
        skipped_from: (tick > first).then_some(first),
        give_up_at: cron.next_after(tick),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, s).unwrap()
    }

    fn every(seconds: u32) -> Cron {
        Cron::new(&format!("*/{seconds} * * * * *"), None).unwrap()
    }

    #[test]
    fn once_fires_the_latest_tick_after_the_last_run_and_skip_fires_none() {
        let cron = every(5);
        assert_eq!(
            missed(&cron, CatchUp::Once, Some(at(10)), at(27)),
            Some(at(25))
        );
        assert_eq!(missed(&cron, CatchUp::Skip, Some(at(10)), at(27)), None);
        assert_eq!(
            missed(&cron, CatchUp::Once, Some(at(25)), at(27)),
            None,
            "the latest tick already ran"
        );
        assert_eq!(
            missed(&cron, CatchUp::Once, None, at(27)),
            None,
            "a pipeline that never ran missed nothing"
        );
    }

    #[test]
    fn the_latest_come_tick_is_due_and_those_passed_over_are_reported() {
        let cron = every(5);
        assert_eq!(due(&cron, at(10), at(14)), None, "nothing came yet");
        let on_time = due(&cron, at(10), at(15)).unwrap();
        assert_eq!(
            on_time,
            Due {
                tick: at(15),
                skipped_from: None,
                give_up_at: Some(at(20)),
            }
        );
        let late = due(&cron, at(10), at(31) + TimeDelta::milliseconds(2)).unwrap();
        assert_eq!(late.tick, at(30));
        assert_eq!(late.skipped_from, Some(at(15)));
        assert_eq!(late.give_up_at, Some(at(35)));
    }
}
