//! Live progress on stderr while `pixq submit --wait` or `pixq watch` waits: one bar for the
//! batch (chains done of total), its chains by state, the throughput and the time left.
//!
//! On an interactive terminal it is an `indicatif` bar redrawn in place. Anywhere else (a pipe,
//! a CI log) it is a plain line every [`PLAIN_EVERY`], and once more at the end, so logs stay
//! readable. Progress is the only output written while a command runs: the rest goes through
//! the command's [`Outcome`](super::Outcome) at the end.
//!
//! Throughput counts only the chains seen ending while this command watched, so attaching to a
//! half-done batch does not claim its earlier work as speed.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::batch::Counts;
use super::plain;

/// How often a plain progress line is printed.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How the bar is drawn: spinner, elapsed time, the bar, done/total, then the message.
const TEMPLATE: &str = "{spinner} {prefix} [{elapsed_precise}] [{bar:30}] {pos}/{len} {msg}";

/// Where a batch or chain stands: `total` chains (or steps) and how many are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// How many there are in all.
    pub total: u64,
    /// How many are in each state.
    pub counts: Counts,
}

impl Snapshot {
    /// How many have ended.
    pub fn done(&self) -> u64 {
        self.counts.done().min(self.total)
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A bar redrawn in place, for an interactive terminal.
    Bar,
    /// A plain line every few seconds, for logs and pipes.
    Plain,
    /// Nothing, for `--json` and tests.
    Hidden,
}

impl Mode {
    /// A bar when stderr is an interactive terminal, plain lines otherwise.
    pub fn detect() -> Mode {
        if io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Plain
        }
    }
}

enum Display {
    Bar(ProgressBar),
    Plain {
        out: Box<dyn Write + Send>,
        last: Option<Instant>,
    },
    Hidden,
}

/// The progress of one batch or chain.
pub struct Progress {
    /// What starts a plain line: `pixq submit: batch_…`.
    label: String,
    display: Display,
    /// When the first snapshot arrived and how many were done then.
    base: Option<(Instant, u64)>,
}

impl Progress {
    /// Progress for the batch or job `id`, drawn on stderr; plain lines start with
    /// `pixq {context}: {id}`, as the command's other messages do.
    pub fn new(context: &str, id: &str, mode: Mode) -> Progress {
        let display = match mode {
            Mode::Bar => {
                let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
                // The template is a constant; a typo is caught by the tests below.
                if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(plain(id));
                bar.enable_steady_tick(Duration::from_millis(120));
                Display::Bar(bar)
            }
            Mode::Plain => Display::Plain {
                out: Box::new(io::stderr()),
                last: None,
            },
            Mode::Hidden => Display::Hidden,
        };
        Progress {
            label: format!("pixq {}: {}", plain(context), plain(id)),
            display,
            base: None,
        }
    }

    /// Plain lines written to `out`, for tests.
    #[cfg(test)]
    fn plain_to(label: &str, out: Box<dyn Write + Send>) -> Progress {
        Progress {
            label: label.to_owned(),
            display: Display::Plain { out, last: None },
            base: None,
        }
    }

    /// Shows a new snapshot taken at `now`.
    pub fn update(&mut self, snapshot: &Snapshot, now: Instant) {
        self.show(snapshot, now, false);
    }

    /// Shows the last snapshot and leaves it on screen.
    pub fn finish(&mut self, snapshot: &Snapshot, now: Instant) {
        self.show(snapshot, now, true);
        if let Display::Bar(bar) = &self.display {
            bar.finish();
        }
    }

    /// Stops drawing where it stands, e.g. on Ctrl-C.
    pub fn abandon(&mut self) {
        if let Display::Bar(bar) = &self.display {
            bar.abandon();
        }
    }

    fn show(&mut self, snapshot: &Snapshot, now: Instant, last: bool) {
        let (since, base) = *self.base.get_or_insert((now, snapshot.done()));
        let speed = Speed::measure(snapshot.done().saturating_sub(base), now - since);
        match &mut self.display {
            Display::Bar(bar) => {
                bar.set_length(snapshot.total);
                bar.set_position(snapshot.done());
                bar.set_message(details(snapshot, speed));
            }
            Display::Plain { out, last: printed } => {
                let due = printed.is_none_or(|at| now.duration_since(at) >= PLAIN_EVERY);
                if due || last {
                    *printed = Some(now);
                    let line = format!(
                        "{} {}/{} done · {}\n",
                        self.label,
                        snapshot.done(),
                        snapshot.total,
                        details(snapshot, speed)
                    );
                    // Progress is a courtesy: a closed stderr must not stop the wait.
                    let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
                }
            }
            Display::Hidden => {}
        }
    }
}

/// The counts, the throughput and the time left: what follows `done/total`.
fn details(snapshot: &Snapshot, speed: Option<Speed>) -> String {
    let remaining = snapshot.total.saturating_sub(snapshot.done());
    let pace = match speed {
        Some(speed) if remaining == 0 => speed.to_string(),
        Some(speed) => format!("{speed} · about {} left", human(speed.eta(remaining))),
        None if remaining == 0 => "done".to_owned(),
        None => "measuring speed".to_owned(),
    };
    format!("{} · {pace}", snapshot.counts.summary())
}

/// Chains ended per second, over the time this command watched.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Speed(f64);

impl Speed {
    /// `None` until something has ended: no speed is better than a speed of zero.
    fn measure(ended: u64, over: Duration) -> Option<Speed> {
        let seconds = over.as_secs_f64();
        (ended > 0 && seconds > 0.0).then(|| Speed(ended as f64 / seconds))
    }

    fn eta(self, remaining: u64) -> Duration {
        // Rounded up: "about 0s left" would be a promise already broken.
        Duration::from_secs_f64((remaining as f64 / self.0).ceil().min(1e9))
    }
}

impl std::fmt::Display for Speed {
    /// Per second when fast, per minute when not: videos take minutes each.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 1.0 {
            write!(f, "{:.1}/s", self.0)
        } else {
            write!(f, "{:.1}/min", self.0 * 60.0)
        }
    }
}

/// `42s`, `3m 05s`, `2h 10m`: precise enough for a guess.
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn snapshot(total: u64, queued: u64, running: u64, succeeded: u64, failed: u64) -> Snapshot {
        Snapshot {
            total,
            counts: Counts {
                queued,
                running,
                succeeded,
                failed,
                cancelled: 0,
            },
        }
    }

    #[test]
    fn the_bar_template_is_valid() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }

    #[test]
    fn plain_lines_come_every_few_seconds_and_at_the_end() {
        let sink = Shared::default();
        let mut progress = Progress::plain_to("pixq watch: batch_1", Box::new(sink.clone()));
        let start = Instant::now();
        progress.update(&snapshot(12, 12, 0, 0, 0), start);
        progress.update(&snapshot(12, 6, 6, 0, 0), start + Duration::from_secs(1));
        progress.update(&snapshot(12, 0, 6, 5, 1), start + PLAIN_EVERY);
        progress.finish(&snapshot(12, 0, 0, 11, 1), start + PLAIN_EVERY * 2);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "pixq watch: batch_1 0/12 done · queued 12 · running 0 · succeeded 0 · failed 0 · cancelled 0 · measuring speed",
                "pixq watch: batch_1 6/12 done · queued 0 · running 6 · succeeded 5 · failed 1 · cancelled 0 · 1.2/s · about 5s left",
                "pixq watch: batch_1 12/12 done · queued 0 · running 0 · succeeded 11 · failed 1 · cancelled 0 · 1.2/s",
            ]
        );
    }

    #[test]
    fn speed_is_per_minute_when_slow_and_per_second_when_fast() {
        let slow = Speed::measure(3, Duration::from_secs(60)).unwrap();
        assert_eq!(slow.to_string(), "3.0/min");
        assert_eq!(human(slow.eta(10)), "3m 20s");
        let fast = Speed::measure(500, Duration::from_secs(2)).unwrap();
        assert_eq!(fast.to_string(), "250.0/s");
        assert_eq!(Speed::measure(0, Duration::from_secs(9)), None);
        assert_eq!(human(Duration::from_secs(7810)), "2h 10m");
    }
}
