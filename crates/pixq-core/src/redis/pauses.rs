//! [`Pauses`] on Redis: one hash `{p}:paused`, token alias → the pause as JSON with times in
//! server milliseconds, so `/readyz` and `pixq_upstream_paused{token}` list them without a
//! SCAN.

use std::time::Duration;

use ::redis::AsyncCommands;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{RedisStore, from_millis, millis};
use crate::limits::{Gate, Pause, Pauses};
use crate::store::StoreError;

/// The stored form: times in milliseconds, so the Lua scripts can compare them.
#[derive(Deserialize)]
struct Record {
    reason: String,
    since: i64,
    until: i64,
}

impl RedisStore {
    pub(super) fn decode_pause(&self, alias: &str, raw: &str) -> Result<Pause, StoreError> {
        let what = format!("{} {alias}", self.keys.paused());
        let record: Record =
            serde_json::from_str(raw).map_err(|e| StoreError::corrupt(&what, e.to_string()))?;
        Ok(Pause {
            reason: record.reason,
            since: from_millis(record.since, &what)?,
            until: from_millis(record.until, &what)?,
        })
    }
}

#[async_trait]
impl Pauses for RedisStore {
    async fn pause(
        &self,
        alias: &str,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<(Pause, bool), StoreError> {
        let key = self.keys.paused();
        let mut conn = self.conn();
        let (since, was_paused): (i64, i64) = self
            .scripts
            .pause
            .key(&key)
            .arg(alias)
            .arg(reason)
            .arg(until.timestamp_millis())
            .invoke_async(&mut conn)
            .await?;
        let pause = Pause {
            reason: reason.to_owned(),
            since: from_millis(since, &key)?,
            until: DateTime::from_timestamp_millis(until.timestamp_millis()).unwrap_or(until),
        };
        Ok((pause, was_paused == 1))
    }

    async fn status(&self, alias: &str) -> Result<Option<Pause>, StoreError> {
        let mut conn = self.conn();
        let raw: Option<String> = conn.hget(self.keys.paused(), alias).await?;
        raw.map(|raw| self.decode_pause(alias, &raw)).transpose()
    }

    async fn gate(&self, alias: &str, probe_window: Duration) -> Result<Gate, StoreError> {
        let mut conn = self.conn();
        let (kind, raw): (i64, String) = self
            .scripts
            .pause_gate
            .key(self.keys.paused())
            .arg(alias)
            .arg(millis(probe_window))
            .invoke_async(&mut conn)
            .await?;
        match kind {
            0 => Ok(Gate::Open),
            1 => Ok(Gate::Probe(self.decode_pause(alias, &raw)?)),
            _ => Ok(Gate::Paused(self.decode_pause(alias, &raw)?)),
        }
    }

    async fn clear(&self, alias: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let removed: i64 = conn.hdel(self.keys.paused(), alias).await?;
        Ok(removed == 1)
    }

    async fn paused_aliases(&self) -> Result<Vec<(String, Pause)>, StoreError> {
        let mut conn = self.conn();
        let all: Vec<(String, String)> = conn.hgetall(self.keys.paused()).await?;
        let mut out = all
            .into_iter()
            .map(|(alias, raw)| {
                let pause = self.decode_pause(&alias, &raw)?;
                Ok((alias, pause))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}
