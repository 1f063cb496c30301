//! [`Slots`] on SQLite: the `slots` table, one row per job holding a slot on a token alias,
//! with its lease's expiry, and `slot_aliases`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, from_millis, millis, now_ms, optional};
use crate::job::JobId;
use crate::limits::{Acquire, Slots};
use crate::store::StoreError;

/// The rows `slots` holds for `alias`, live or not, from the count the triggers keep.
fn counted(conn: &Connection, alias: &str) -> Result<i64, StoreError> {
    Ok(optional(conn.row(
        "SELECT held FROM slot_counts WHERE alias = ?1",
        [alias],
        |row| row.get(0),
    ))?
    .unwrap_or(0))
}

/// The live leases on `alias` at `now`: the kept count, unless a lease has run out and not
/// been deleted yet (a holder died), when they are counted one by one.
pub(super) fn live(conn: &Connection, alias: &str, now: i64) -> Result<i64, StoreError> {
    let earliest: Option<i64> = conn.row(
        "SELECT MIN(expires_ms) FROM slots WHERE alias = ?1",
        [alias],
        |row| row.get(0),
    )?;
    match earliest {
        None => Ok(0),
        Some(at) if at <= now => Ok(conn.row(
            "SELECT COUNT(*) FROM slots WHERE alias = ?1 AND expires_ms > ?2",
            params![alias, now],
            |row| row.get(0),
        )?),
        Some(_) => counted(conn, alias),
    }
}

#[async_trait]
impl Slots for SqliteStore {
    async fn acquire(
        &self,
        alias: &str,
        job: &JobId,
        max: u32,
        ttl: Duration,
    ) -> Result<Acquire, StoreError> {
        let (alias, job, ttl) = (alias.to_owned(), job.clone(), millis(ttl));
        self.write(move |tx| {
            let now = now_ms();
            let what = format!("the slots of {alias}");
            tx.prepare_cached("DELETE FROM slots WHERE alias = ?1 AND expires_ms <= ?2")?
                .execute(params![alias, now])?;
            let held = counted(tx, &alias)?;
            let mine = optional(tx.row(
                "SELECT 1 FROM slots WHERE alias = ?1 AND job_id = ?2",
                params![alias, job.as_str()],
                |_| Ok(()),
            ))?
            .is_some();
            let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
            if !mine && held >= i64::from(max) {
                let earliest: Option<i64> = tx
                    .prepare_cached("SELECT MIN(expires_ms) FROM slots WHERE alias = ?1")?
                    .query_row([&alias], |row| row.get(0))?;
                return Ok(Acquire::Full {
                    held: count(held),
                    earliest_expiry: earliest.map(|ms| from_millis(ms, &what)).transpose()?,
                });
            }
            let until = now.saturating_add(ttl);
            tx.prepare_cached(
                "INSERT INTO slots (alias, job_id, expires_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (alias, job_id) DO UPDATE SET expires_ms = excluded.expires_ms",
            )?
            .execute(params![alias, job.as_str(), until])?;
            tx.prepare_cached("INSERT OR IGNORE INTO slot_aliases (alias) VALUES (?1)")?
                .execute([&alias])?;
            Ok(Acquire::Acquired {
                until: from_millis(until, &what)?,
                renewed: mine,
                held: count(if mine { held } else { held + 1 }),
            })
        })
        .await
    }

    async fn renew(&self, alias: &str, job: &JobId, ttl: Duration) -> Result<bool, StoreError> {
        let (alias, job, ttl) = (alias.to_owned(), job.clone(), millis(ttl));
        self.write(move |tx| {
            let now = now_ms();
            let expires: Option<i64> = optional(tx.row(
                "SELECT expires_ms FROM slots WHERE alias = ?1 AND job_id = ?2",
                params![alias, job.as_str()],
                |row| row.get(0),
            ))?;
            match expires {
                None => Ok(false),
                Some(at) if at <= now => {
                    tx.exec(
                        "DELETE FROM slots WHERE alias = ?1 AND job_id = ?2",
                        params![alias, job.as_str()],
                    )?;
                    Ok(false)
                }
                Some(_) => {
                    tx.exec(
                        "UPDATE slots SET expires_ms = ?3 WHERE alias = ?1 AND job_id = ?2",
                        params![alias, job.as_str(), now.saturating_add(ttl)],
                    )?;
                    Ok(true)
                }
            }
        })
        .await
    }

    async fn release(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let (alias, job) = (alias.to_owned(), job.clone());
        self.write(move |tx| {
            let expires: Option<i64> = optional(tx.row(
                "DELETE FROM slots WHERE alias = ?1 AND job_id = ?2 RETURNING expires_ms",
                params![alias, job.as_str()],
                |row| row.get(0),
            ))?;
            Ok(expires.is_some_and(|at| at > now_ms()))
        })
        .await
    }

    async fn held(&self, alias: &str) -> Result<u32, StoreError> {
        let alias = alias.to_owned();
        self.read(move |conn| {
            let held = live(conn, &alias, now_ms())?;
            Ok(u32::try_from(held).unwrap_or(u32::MAX))
        })
        .await
    }

    async fn holders(&self, alias: &str) -> Result<Vec<(JobId, DateTime<Utc>)>, StoreError> {
        let alias = alias.to_owned();
        self.read(move |conn| {
            let what = format!("the slots of {alias}");
            let rows: Vec<(String, i64)> = conn
                .prepare_cached(
                    "SELECT job_id, expires_ms FROM slots WHERE alias = ?1 AND expires_ms > ?2
                     ORDER BY expires_ms, job_id",
                )?
                .query_map(params![alias, now_ms()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|(job, ms)| Ok((JobId::from(job), from_millis(ms, &what)?)))
                .collect()
        })
        .await
    }

    async fn aliases(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT alias FROM slot_aliases ORDER BY alias")?
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?)
        })
        .await
    }
}
