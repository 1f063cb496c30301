//! [`Pauses`] on SQLite: the `pauses` table, one row per paused token alias.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, from_millis, millis, now_ms, optional};
use crate::limits::{Gate, Pause, Pauses};
use crate::store::StoreError;

/// The pause of `alias`, as stored.
pub(super) fn read(conn: &Connection, alias: &str) -> Result<Option<Pause>, StoreError> {
    let row: Option<(String, i64, i64)> = optional(conn.row(
        "SELECT reason, since_ms, until_ms FROM pauses WHERE alias = ?1",
        [alias],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    ))?;
    let what = format!("the pause of {alias}");
    row.map(|(reason, since, until)| {
        Ok(Pause {
            reason,
            since: from_millis(since, &what)?,
            until: from_millis(until, &what)?,
        })
    })
    .transpose()
}

#[async_trait]
impl Pauses for SqliteStore {
    async fn pause(
        &self,
        alias: &str,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<(Pause, bool), StoreError> {
        let (alias, reason) = (alias.to_owned(), reason.to_owned());
        let until_ms = until.timestamp_millis();
        self.write(move |tx| {
            let old = read(tx, &alias)?;
            let since = old.as_ref().map_or(now_ms(), |p| p.since.timestamp_millis());
            tx.exec(
                "INSERT OR REPLACE INTO pauses (alias, reason, since_ms, until_ms) VALUES (?1, ?2, ?3, ?4)",
                params![alias, reason, since, until_ms],
            )?;
            let what = format!("the pause of {alias}");
            let pause = Pause {
                reason,
                since: from_millis(since, &what)?,
                until: from_millis(until_ms, &what)?,
            };
            Ok((pause, old.is_some()))
        })
        .await
    }

    async fn status(&self, alias: &str) -> Result<Option<Pause>, StoreError> {
        let alias = alias.to_owned();
        self.read(move |conn| read(conn, &alias)).await
    }

    async fn gate(&self, alias: &str, probe_window: Duration) -> Result<Gate, StoreError> {
        let (alias, window) = (alias.to_owned(), millis(probe_window).max(1));
        self.write(move |tx| {
            let Some(pause) = read(tx, &alias)? else {
                return Ok(Gate::Open);
            };
            let now = now_ms();
            if pause.until.timestamp_millis() > now {
                return Ok(Gate::Paused(pause));
            }
            tx.exec(
                "UPDATE pauses SET until_ms = ?2 WHERE alias = ?1",
                params![alias, now.saturating_add(window)],
            )?;
            Ok(Gate::Probe(pause))
        })
        .await
    }

    async fn clear(&self, alias: &str) -> Result<bool, StoreError> {
        let alias = alias.to_owned();
        self.write(move |tx| Ok(tx.exec("DELETE FROM pauses WHERE alias = ?1", [alias])? == 1))
            .await
    }

    async fn paused_aliases(&self) -> Result<Vec<(String, Pause)>, StoreError> {
        self.read(|conn| {
            let aliases: Vec<String> = conn
                .prepare_cached("SELECT alias FROM pauses ORDER BY alias")?
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(aliases.len());
            for alias in aliases {
                if let Some(pause) = read(conn, &alias)? {
                    out.push((alias, pause));
                }
            }
            Ok(out)
        })
        .await
    }
}
