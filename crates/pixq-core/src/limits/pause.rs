//! [`Pauses`]: submission stopped per upstream token after an account-level error.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// Why and since when submission on a token is paused, and when the next probe may go.
///
/// Serializes with RFC 3339 times, e.g. for the body of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// The account-level error that paused it, e.g. `used_up`: what an operator must fix.
    pub reason: String,
    /// When the token was first paused; a failed probe extends the pause and keeps this.
    pub since: DateTime<Utc>,
    /// When the next waiting job's submit may probe whether the account works again.
    pub until: DateTime<Utc>,
}

impl Pause {
    /// Whether, at `now`, a waiting job's submit may probe the token.
    pub fn probe_due(&self, now: DateTime<Utc>) -> bool {
        now >= self.until
    }
}

/// What [`Pauses::gate`] decided for a job about to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a paused token must not be submitted to"]
pub enum Gate {
    /// The token is not paused: submit.
    Open,
    /// The token is paused, its `until` has passed, and this caller is the one probe: submit
    /// for real. On success [`Pauses::clear`]; on another account-level error
    /// [`Pauses::pause`] again with a longer backoff. The pause is as it was before the claim.
    Probe(Pause),
    /// The token is paused (or another job is probing it): do not submit; wait with
    /// `waiting_reason: paused` until the pause's `until`.
    Paused(Pause),
}

/// Paused upstream tokens, by alias.
///
/// An account-level error (`used_up`, `invalid_token`, `token_expired`, `token_mismatched`,
/// `disabled`, or a 403 without a code at submit) would fail every job submitted with the
/// token in the same way; pausing instead keeps those jobs `queued` until an operator fixes
/// the account. pixq never sends a synthetic request to find out: after `until`, the next
/// waiting job's real submit is the probe, and [`Pauses::gate`] lets exactly one through.
/// Looking up tasks already running goes on during a pause. Times are the backend's clock.
#[async_trait]
pub trait Pauses: Send + Sync {
    /// Pauses submission on `alias` because of `reason` until `until`, and answers the pause
    /// as stored with whether the token was already paused (so the caller logs a new pause
    /// once, not once per failed job).
    ///
    /// Pausing a paused token replaces its reason and `until` and keeps its `since`.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn pause(
        &self,
        alias: &str,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<(Pause, bool), StoreError>;

    /// The pause on `alias`, if any. It stays after `until` has passed, until a probe's
    /// success clears it; see [`Pause::probe_due`].
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not decode.
    async fn status(&self, alias: &str) -> Result<Option<Pause>, StoreError>;

    /// Decides whether a job may submit on `alias` now, claiming the probe for this caller
    /// when the pause's `until` has passed. The claim moves `until` to `probe_window` from
    /// now, so the others keep waiting while the probe runs and, should the prober die,
    /// another job probes after the window.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not decode.
    async fn gate(&self, alias: &str, probe_window: Duration) -> Result<Gate, StoreError>;

    /// Lifts the pause on `alias`, when a probe's submit succeeded (or an operator says the
    /// account is fixed); `false` when it was not paused, so the caller logs the resume once.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn clear(&self, alias: &str) -> Result<bool, StoreError>;

    /// Every paused alias with its pause, sorted by alias: for `/readyz` and
    /// `pixq_upstream_paused{token}`.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not decode.
    async fn paused_aliases(&self) -> Result<Vec<(String, Pause)>, StoreError>;
}
