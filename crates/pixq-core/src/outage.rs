//! One log line per Redis outage, not one per failed call.
//!
//! When Redis restarts, every loop and request of a process fails at once and keeps failing
//! until it is back: a pump round every 100 ms, each handler, each scrape. Logging each would
//! bury the one fact an operator needs. So the first failure of an outage logs a warning, the
//! rest log at debug level, and the first success after it logs how long Redis was gone. The
//! state is per process, which is what an outage is to a process.

use std::fmt::Display;
use std::sync::Mutex;
use std::time::Instant;

/// When the current outage began, if there is one.
static DOWN_SINCE: Mutex<Option<Instant>> = Mutex::new(None);

fn down_since() -> std::sync::MutexGuard<'static, Option<Instant>> {
    // A panic while holding this lock cannot leave a half-made change: take it over.
    DOWN_SINCE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records that `what` could not reach Redis. Answers whether this call began the outage
/// (and so logged the warning).
pub fn failed(what: &str, error: &dyn Display) -> bool {
    let mut since = down_since();
    if since.is_some() {
        tracing::debug!(%what, %error, "Redis still unreachable");
        return false;
    }
    *since = Some(Instant::now());
    tracing::warn!(
        %what,
        %error,
        "Redis is unreachable; retrying with backoff (one line per outage: the next says when it is back)"
    );
    true
}

/// Records that `what` reached Redis. Answers whether this call ended an outage (and so logged
/// that Redis is back).
pub fn recovered(what: &str) -> bool {
    let mut since = down_since();
    match since.take() {
        Some(began) => {
            tracing::info!(%what, down_for = ?began.elapsed(), "Redis answers again");
            true
        }
        None => false,
    }
}

/// Whether this process currently counts Redis as unreachable.
pub fn is_down() -> bool {
    down_since().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_begun_once_and_ended_once() {
        // The state is global: this is the only test that touches it.
        assert!(!recovered("t"), "nothing to recover from");
        assert!(failed("t", &"refused"));
        assert!(!failed("t", &"refused again"));
        assert!(is_down());
        assert!(recovered("t"));
        assert!(!recovered("t"));
        assert!(!is_down());
    }
}
