//! [`Pauses`]: submission stopped per upstream token after an account-level error.

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Script};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_millis, millis, with_server_now};
use crate::store::StoreError;

/// `pause(alias, reason, until)`: writes the pause, keeping `since` of a pause already in
/// place (a failed probe extends the pause, it does not start a new one). Answers
/// `{since, was_paused}`.
const PAUSE: &str = r"
local since = now
local was_paused = 0
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  was_paused = 1
  local ok, rec = pcall(cjson.decode, old)
  if ok and type(rec) == 'table' and tonumber(rec['since']) then
    since = tonumber(rec['since'])
  end
end
local rec = {}
rec['reason'] = ARGV[2]
rec['since'] = since
rec['until'] = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return {since, was_paused}
";

/// `gate(alias, probe_window)`: `{0, ''}` when not paused; `{2, record}` while paused; once
/// `until` has passed, `{1, record}` for exactly one caller, which claims the probe by moving
/// `until` to now + the window, so the others keep waiting while it probes.
const GATE: &str = r"
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return {0, ''}
end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' or not tonumber(rec['until']) then
  return {2, raw}
end
if tonumber(rec['until']) > now then
  return {2, raw}
end
rec['until'] = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return {1, raw}
";

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

/// The stored form: times in milliseconds, so the Lua scripts can compare them.
#[derive(Serialize, Deserialize)]
struct Record {
    reason: String,
    since: i64,
    until: i64,
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

/// Paused upstream tokens, by alias, in one hash `{prefix}:paused` (alias → the pause as
/// JSON), so `/readyz` and `pixq_upstream_paused{token}` list them without a SCAN.
///
/// An account-level error (`used_up`, `invalid_token`, `token_expired`, `token_mismatched`,
/// `disabled`, or a 403 without a code at submit) would fail every job submitted with the
/// token in the same way; pausing instead keeps those jobs `queued` until an operator fixes
/// the account. pixq never sends a synthetic request to find out: after `until`, the next
/// waiting job's real submit is the probe, and [`Pauses::gate`] lets exactly one through.
/// Looking up tasks already running goes on during a pause. Clones share one connection.
#[derive(Debug, Clone)]
pub struct Pauses {
    conn: ConnectionManager,
    key: String,
    pause: Script,
    gate: Script,
}

impl Pauses {
    /// The pauses under `{prefix}:paused`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Pauses {
            conn,
            key: format!("{prefix}:paused"),
            pause: Script::new(&with_server_now(PAUSE)),
            gate: Script::new(&with_server_now(GATE)),
        }
    }

    fn decode(&self, alias: &str, raw: &str) -> Result<Pause, StoreError> {
        let what = format!("{} {alias}", self.key);
        let record: Record = serde_json::from_str(raw).map_err(|e| StoreError::Corrupt {
            what: what.clone(),
            detail: e.to_string(),
        })?;
        Ok(Pause {
            reason: record.reason,
            since: from_millis(record.since, &what)?,
            until: from_millis(record.until, &what)?,
        })
    }

    /// Pauses submission on `alias` because of `reason` until `until`, and answers the pause
    /// as stored with whether the token was already paused (so the caller logs a new pause
    /// once, not once per failed job).
    ///
    /// Pausing a paused token replaces its reason and `until` and keeps its `since`. `since`
    /// is the Redis server's time; `until` is compared with it by [`Pauses::gate`].
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn pause(
        &self,
        alias: &str,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<(Pause, bool), StoreError> {
        let mut conn = self.conn.clone();
        let (since, was_paused): (i64, i64) = self
            .pause
            .key(&self.key)
            .arg(alias)
            .arg(reason)
            .arg(until.timestamp_millis())
            .invoke_async(&mut conn)
            .await?;
        let pause = Pause {
            reason: reason.to_owned(),
            since: from_millis(since, &self.key)?,
            until: DateTime::from_timestamp_millis(until.timestamp_millis()).unwrap_or(until),
        };
        Ok((pause, was_paused == 1))
    }

    /// The pause on `alias`, if any. It stays after `until` has passed, until a probe's
    /// success clears it; see [`Pause::probe_due`].
    ///
    /// # Errors
    ///
    /// Redis failures; [`StoreError::Corrupt`] for a record that does not decode.
    pub async fn status(&self, alias: &str) -> Result<Option<Pause>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = conn.hget(&self.key, alias).await?;
        raw.map(|raw| self.decode(alias, &raw)).transpose()
    }

    /// Decides whether a job may submit on `alias` now (server time), claiming the probe
    /// for this caller when the pause's `until` has passed. The claim moves `until` to
    /// `probe_window` from now, so the others keep waiting while the probe runs and, should
    /// the prober die, another job probes after the window.
    ///
    /// # Errors
    ///
    /// Redis failures; [`StoreError::Corrupt`] for a record that does not decode.
    pub async fn gate(&self, alias: &str, probe_window: Duration) -> Result<Gate, StoreError> {
        let mut conn = self.conn.clone();
        let (kind, raw): (i64, String) = self
            .gate
            .key(&self.key)
            .arg(alias)
            .arg(millis(probe_window))
            .invoke_async(&mut conn)
            .await?;
        match kind {
            0 => Ok(Gate::Open),
            1 => Ok(Gate::Probe(self.decode(alias, &raw)?)),
            _ => Ok(Gate::Paused(self.decode(alias, &raw)?)),
        }
    }

    /// Lifts the pause on `alias`, when a probe's submit succeeded (or an operator says the
    /// account is fixed); `false` when it was not paused, so the caller logs the resume once.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn clear(&self, alias: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = conn.hdel(&self.key, alias).await?;
        Ok(removed == 1)
    }

    /// Every paused alias with its pause, sorted by alias: for `/readyz` and
    /// `pixq_upstream_paused{token}`.
    ///
    /// # Errors
    ///
    /// Redis failures; [`StoreError::Corrupt`] for a record that does not decode.
    pub async fn paused_aliases(&self) -> Result<Vec<(String, Pause)>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn.hgetall(&self.key).await?;
        let mut out = all
            .into_iter()
            .map(|(alias, raw)| {
                let pause = self.decode(&alias, &raw)?;
                Ok((alias, pause))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}
