//! Paused tokens: an account-level refusal at submit (`used_up`, `invalid_token`,
//! `token_expired`, `token_mismatched`, `disabled`, or a 403 without a code) pauses
//! submission on the token instead of failing every job.
//!
//! - The pause is written to [`Pauses`] with a backoff (`pause_backoff`, doubling with every
//!   failed probe, at most `pause_backoff_max`), logged once as a warning when it starts, and
//!   shown by `pixq_upstream_paused{token}`.
//! - Jobs that meet it before their submit (the gate of
//!   [`Store::take_slot`](pixq_core::store::Store::take_slot)) go back to `queued` with
//!   `waiting_reason: paused` without burning an attempt, parked in the wait line, due when
//!   the pause ends. Jobs never fail because of a pause.
//! - After the backoff, the next waiting job's real submit is the probe: a task created (or
//!   a refusal for what the request is) proves the account works and lifts the pause; another
//!   account-level refusal pauses again for longer; anything else proves nothing and hands
//!   the probe to the next job. pixq never sends a synthetic request.
//! - Polls and lookups of tasks already running go on during a pause.
//!
//! [`Pauses`]: pixq_core::limits::Pauses

use std::time::Duration;

use chrono::{DateTime, Utc};
use pixq_core::job::Job;
use pixq_core::limits::Pause;
use pixq_core::state::WaitingReason;
use pixverse::{Error, ErrorKind, Submission};
use tracing::{info, warn};

use crate::error::StepError;
use crate::handler::{Handler, SlotFate};
use crate::look::Look;
use crate::step::Step;
use crate::telemetry;

/// What a probe's answer says about the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The upstream took the request past the account check: lift the pause.
    Works,
    /// Another account-level refusal: the refusal itself pauses again, for longer.
    Refused,
    /// No answer that says anything about the account: let the next job probe.
    Unclear,
}

impl Handler {
    /// An account-level refusal of `job`'s submit: pauses the token, or extends the pause
    /// after a failed probe, and parks the job until the pause ends, giving its slot back in
    /// the same write.
    pub(crate) async fn pause_for(
        &self,
        look: &Look,
        job: &Job,
        e: &Error,
    ) -> Result<Step, StepError> {
        let alias = self.alias();
        let reason = account_reason(e);
        let now = Utc::now();
        let pauses = self.store.pauses();
        let backoff = match pauses.status(alias).await? {
            Some(pause) => next_backoff(
                (now - pause.since).to_std().unwrap_or_default(),
                self.config.pause_backoff,
                self.config.pause_backoff_max,
            ),
            None => self.config.pause_backoff,
        };
        let (pause, was_paused) = pauses.pause(alias, &reason, now + backoff).await?;
        telemetry::paused(alias, true);
        if was_paused {
            info!(token = alias, %reason, next_probe = %pause.until, "the token is still refused; submission stays paused");
        } else {
            warn!(
                token = alias,
                %reason,
                error = %e,
                next_probe = %pause.until,
                "the upstream refused the token: submission on it is PAUSED; jobs wait queued with waiting_reason paused, nothing fails; fix the token or top up the balance, and the next waiting job's submit after the backoff probes it"
            );
        }
        self.store.wait_line().park(alias, &job.id).await?;
        let at_head = self.at_head(&job.id).await?;
        let due = self.paused_until(&pause, at_head);
        self.wait(look, job, WaitingReason::Paused, due, SlotFate::Release)
            .await
    }

    /// Keeps a job parked (it is in the line already) while the token is paused:
    /// `queued`, `waiting_reason: paused`, no attempt burned.
    pub(crate) async fn wait_paused(
        &self,
        look: &Look,
        job: &Job,
        pause: &Pause,
        at_head: bool,
    ) -> Result<Step, StepError> {
        let due = self.paused_until(pause, at_head);
        self.wait(look, job, WaitingReason::Paused, due, SlotFate::Keep)
            .await
    }

    /// When a job parked by a pause looks again: the first jobs of the line at `until`, when
    /// one of them probes; the rest wait for the line to be woken when the pause lifts, with a
    /// late fallback, so that a long pause with thousands parked does not bring every one of
    /// them back at each probe.
    fn paused_until(&self, pause: &Pause, at_head: bool) -> DateTime<Utc> {
        if at_head {
            pause.until
        } else {
            pause.until + self.config.pause_backoff_max
        }
    }

    /// Acts on the answer to a probe's submit (a failure here is logged; the pause's probe
    /// window then lets another job probe).
    pub(crate) async fn conclude_probe(&self, probe: &Pause, answer: &Result<Submission, Error>) {
        match verdict(answer) {
            Verdict::Works => self.resume_token().await,
            Verdict::Refused => {}
            Verdict::Unclear => self.hand_back_probe(probe).await,
        }
    }

    /// Lifts the pause after a probe succeeded; logs the resume once and wakes the line.
    async fn resume_token(&self) {
        let alias = self.alias();
        match self.store.pauses().clear(alias).await {
            Ok(true) => {
                telemetry::paused(alias, false);
                info!(
                    token = alias,
                    "the upstream accepted the token again: submission on it RESUMED"
                );
                self.wake_line().await;
            }
            Ok(false) => {}
            Err(e) => warn!(error = %e, "could not lift the token's pause; the next probe will"),
        }
    }

    /// This job claimed the probe but its submit proved nothing (it was not sent, or got no
    /// telling answer): the pause is due again now, so the next job handled probes.
    pub(crate) async fn hand_back_probe(&self, probe: &Pause) {
        let alias = self.alias();
        let still = match self.store.pauses().status(alias).await {
            Ok(still) => still,
            Err(e) => {
                warn!(error = %e, "could not read the token's pause to hand the probe back");
                return;
            }
        };
        if still.is_none() {
            return;
        }
        if let Err(e) = self
            .store
            .pauses()
            .pause(alias, &probe.reason, Utc::now())
            .await
        {
            warn!(error = %e, "could not hand the probe back; another job probes after the probe window");
        }
    }
}

/// What a probe's `answer` says about the account.
fn verdict(answer: &Result<Submission, Error>) -> Verdict {
    match answer {
        Ok(submission) if submission.task_id().is_some() => Verdict::Works,
        Ok(_) => Verdict::Unclear,
        Err(e) => match e.kind() {
            ErrorKind::Account => Verdict::Refused,
            // Refused for what the request is: the account check was passed.
            ErrorKind::Permanent => Verdict::Works,
            _ => Verdict::Unclear,
        },
    }
}

/// The reason a pause shows: the upstream's code, else `http_<status>`, else `account`.
fn account_reason(e: &Error) -> String {
    match (e.code(), e.status()) {
        (Some(code), _) => code.to_owned(),
        (None, Some(status)) => format!("http_{status}"),
        (None, None) => "account".to_owned(),
    }
}

/// The next pause of a token paused for `paused_for` already: `base` at first, then as long
/// again as the pause has lasted plus `base`, so the waits between probes double (`base`,
/// `2 × base`, `4 × base`, …) without storing a count; at most `max`.
fn next_backoff(paused_for: Duration, base: Duration, max: Duration) -> Duration {
    paused_for.saturating_add(base).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waits_between_probes_double_up_to_the_cap() {
        let (base, max) = (Duration::from_secs(30), Duration::from_secs(600));
        let mut paused_for = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let wait = next_backoff(paused_for, base, max);
            waits.push(wait.as_secs());
            paused_for += wait;
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 600, 600]);
    }
}
