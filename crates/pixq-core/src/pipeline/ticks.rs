//! [`Cron`]: when a pipeline fires. A cron expression with seconds, read by the `cron` crate,
//! evaluated in the pipeline's IANA time zone (`chrono-tz`), answered in UTC.
//!
//! Ticks are whole seconds. In a time zone with daylight saving, a local time that does not
//! exist (the hour skipped in spring) has no tick, and one that exists twice (the hour repeated
//! in autumn) has two: they are different instants, so different ticks.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use chrono_tz::Tz;

/// The fields of a schedule: second, minute, hour, day of month, month, day of week.
pub const CRON_FIELDS: usize = 6;

/// How a schedule is written, for error messages.
pub(crate) const CRON_FORMAT: &str = "six fields: second minute hour day-of-month month day-of-week, e.g. \"0 0 9 * * *\" (09:00:00 daily) or \"*/10 * * * * *\" (every 10 s)";

/// A pipeline's schedule in its time zone. Two are equal when written the same way.
#[derive(Clone)]
pub struct Cron {
    schedule: ::cron::Schedule,
    zone: Tz,
    /// The `timezone` as configured; `None` means UTC, and prints as unset.
    timezone: Option<Tz>,
}

/// Why a schedule or a time zone cannot be used; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CronError {
    /// The schedule is not a cron expression of [`CRON_FIELDS`] fields.
    #[error("{0}")]
    Schedule(String),
    /// The schedule is valid but never fires (e.g. on 30 February).
    #[error("{0:?} never fires")]
    Never(String),
    /// The time zone is not an IANA name.
    #[error("{0:?} is not an IANA time zone name")]
    Timezone(String),
}

impl Cron {
    /// Reads `schedule` in `timezone` (an IANA name such as `Europe/Berlin`; `None` is UTC).
    ///
    /// # Errors
    ///
    /// [`CronError::Schedule`] for an expression that is not six cron fields,
    /// [`CronError::Never`] for one that has no tick in the future,
    /// [`CronError::Timezone`] for an unknown zone.
    pub fn new(schedule: &str, timezone: Option<&str>) -> Result<Cron, CronError> {
        let timezone = match timezone {
            Some(name) => {
                Some(Tz::from_str(name.trim()).map_err(|_| CronError::Timezone(name.to_owned()))?)
            }
            None => None,
        };
        let text = schedule.trim();
        let fields = text.split_whitespace().count();
        if fields != CRON_FIELDS {
            return Err(CronError::Schedule(format!(
                "{text:?} has {fields} fields, not {CRON_FIELDS} (seconds come first)"
            )));
        }
        let schedule = ::cron::Schedule::from_str(text).map_err(|e| {
            let detail = e.to_string();
            let detail = detail.lines().next().unwrap_or("").trim();
            CronError::Schedule(format!("{text:?} is not a cron schedule ({detail})"))
        })?;
        let cron = Cron {
            schedule,
            zone: timezone.unwrap_or(Tz::UTC),
            timezone,
        };
        if cron.next_after(Utc::now()).is_none() {
            return Err(CronError::Never(text.to_owned()));
        }
        Ok(cron)
    }

    /// The schedule as written.
    pub fn text(&self) -> &str {
        self.schedule.source()
    }

    /// The time zone as configured; `None` for UTC by default.
    pub fn timezone(&self) -> Option<Tz> {
        self.timezone
    }

    /// The time zone the schedule is read in: its IANA name, `UTC` by default.
    pub fn zone_name(&self) -> &'static str {
        self.zone.name()
    }

    /// The first tick strictly after `t`; `None` when the schedule has no more.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&t.with_timezone(&self.zone))
            .next()
            .map(|tick| tick.with_timezone(&Utc))
    }

    /// The last tick at or before `t`; `None` when the schedule had none.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The crate answers the tick strictly before its start, to the second: start just
        // past `t`, and step back once more if that overshot (t was within the millisecond
        // before a tick).
        let start = (t + TimeDelta::milliseconds(1)).with_timezone(&self.zone);
        let mut ticks = self.schedule.after(&start);
        let mut tick = ticks.next_back()?.with_timezone(&Utc);
        if tick > t {
            tick = ticks.next_back()?.with_timezone(&Utc);
        }
        Some(tick)
    }

    /// `tick` as RFC 3339, in the pipeline's time zone (`Z` for UTC), to the second.
    pub fn label(&self, tick: DateTime<Utc>) -> String {
        tick.with_timezone(&self.zone)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl PartialEq for Cron {
    fn eq(&self, other: &Cron) -> bool {
        self.text() == other.text() && self.timezone == other.timezone
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cron")
            .field("schedule", &self.text())
            .field("timezone", &self.zone_name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 1, h, m, s).unwrap()
    }

    #[test]
    fn ticks_are_found_forward_strictly_and_backward_inclusively() {
        let cron = Cron::new("*/5 * * * * *", None).unwrap();
        assert_eq!(cron.next_after(at(0, 0, 10)), Some(at(0, 0, 15)));
        assert_eq!(cron.next_after(at(0, 0, 11)), Some(at(0, 0, 15)));
        assert_eq!(cron.latest_at_or_before(at(0, 0, 10)), Some(at(0, 0, 10)));
        assert_eq!(cron.latest_at_or_before(at(0, 0, 14)), Some(at(0, 0, 10)));
        let just_before = at(0, 0, 15) - TimeDelta::microseconds(300);
        assert_eq!(cron.latest_at_or_before(just_before), Some(at(0, 0, 10)));
        let just_after = at(0, 0, 15) + TimeDelta::microseconds(300);
        assert_eq!(cron.latest_at_or_before(just_after), Some(at(0, 0, 15)));
    }

    #[test]
    fn a_time_zone_moves_the_ticks_and_labels_them_in_local_time() {
        let cron = Cron::new("0 0 9 * * *", Some("Europe/Berlin")).unwrap();
        let next = cron.next_after(at(12, 0, 0)).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2030, 3, 2, 8, 0, 0).unwrap());
        assert_eq!(cron.label(next), "2030-03-02T09:00:00+01:00");
        assert_eq!(cron.zone_name(), "Europe/Berlin");
        let utc = Cron::new("0 0 9 * * *", None).unwrap();
        assert_eq!(utc.label(at(9, 0, 0)), "2030-03-01T09:00:00Z");
        assert_eq!((utc.zone_name(), utc.timezone()), ("UTC", None));
    }

    #[test]
    fn only_six_fields_an_iana_zone_and_a_schedule_that_fires_are_accepted() {
        for bad in ["* * * * *", "* * * * * * *", "@daily", "61 * * * * *", ""] {
            let err = Cron::new(bad, None).unwrap_err();
            assert!(matches!(err, CronError::Schedule(_)), "{bad:?}: {err}");
        }
        assert!(matches!(
            Cron::new("0 0 0 30 2 *", None),
            Err(CronError::Never(_))
        ));
        assert!(matches!(
            Cron::new("* * * * * *", Some("Mars/Olympus")),
            Err(CronError::Timezone(_))
        ));
    }

    #[test]
    fn equal_when_written_alike() {
        let a = Cron::new("0 * * * * *", Some("UTC")).unwrap();
        assert_eq!(a, Cron::new("0 * * * * *", Some("UTC")).unwrap());
        assert_ne!(a, Cron::new("0 * * * * *", None).unwrap());
    }
}
