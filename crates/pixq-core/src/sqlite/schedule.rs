//! [`Schedule`] on SQLite: the `schedule` table, one row per job with a look booked
//! (`due_ms`), a lease (`holder`, `lease_until_ms`) or a look asked for while leased
//! (`rung_ms`); a row left with none of them is deleted.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, from_millis, millis, now_ms, optional};
use crate::job::JobId;
use crate::queue::{Lease, Schedule};
use crate::store::StoreError;

/// Books a look at `id` no later than `at`.
pub(super) fn ring(conn: &Connection, id: &str, at: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO schedule (job_id, due_ms) VALUES (?1, ?2)
         ON CONFLICT (job_id) DO UPDATE SET due_ms =
             CASE WHEN due_ms IS NULL OR excluded.due_ms < due_ms THEN excluded.due_ms ELSE due_ms END",
    )?
    .execute(params![id, at])?;
    Ok(())
}

/// Leases `id` to `holder` until `until`.
fn take(conn: &Connection, id: &str, holder: &str, until: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE schedule SET due_ms = NULL, holder = ?2, lease_until_ms = ?3 WHERE job_id = ?1",
    )?
    .execute(params![id, holder, until])?;
    Ok(())
}

/// Leases up to `limit` jobs to `holder` for `ttl` ms inside the caller's transaction: jobs
/// whose lease ran out, then jobs due at `due_now` that nobody holds; a due job that is leased
/// is booked again for when its lease is settled. Answers the ids taken.
pub(super) fn take_due_in(
    conn: &Connection,
    due_now: i64,
    limit: usize,
    holder: &str,
    ttl: i64,
) -> Result<Vec<String>, StoreError> {
    if is_paused(conn)? {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let until = now.saturating_add(ttl);
    let max = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut taken: Vec<String> = conn
        .prepare_cached(
            "SELECT job_id FROM schedule WHERE lease_until_ms <= ?1
                     ORDER BY lease_until_ms LIMIT ?2",
        )?
        .query_map(params![now, max], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &taken {
        take(conn, id, holder, until)?;
    }
    if taken.len() < limit {
        let left = max - i64::try_from(taken.len()).unwrap_or(0);
        let due: Vec<(String, i64, Option<i64>)> = conn
            .prepare_cached(
                "SELECT job_id, due_ms, lease_until_ms FROM schedule
                         WHERE due_ms <= ?1 ORDER BY due_ms LIMIT ?2",
            )?
            .query_map(params![due_now, left], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        for (id, at, lease_until) in due {
            if lease_until.is_some_and(|until| until > now) {
                // Leased: the look is booked again when its lease is settled.
                conn.prepare_cached(
                            "UPDATE schedule SET due_ms = NULL,
                                 rung_ms = CASE WHEN rung_ms IS NULL OR ?2 < rung_ms THEN ?2 ELSE rung_ms END
                             WHERE job_id = ?1",
                        )?
                        .execute(params![id, at])?;
            } else {
                take(conn, &id, holder, until)?;
                taken.push(id);
            }
        }
    }
    Ok(taken)
}

/// The `meta` key whose row says the queue is paused.
const PAUSED: &str = "queue_paused";

/// Whether the queue is paused (see [`Schedule::set_paused`]).
fn is_paused(conn: &Connection) -> Result<bool, StoreError> {
    Ok(optional(conn.row("SELECT 1 FROM meta WHERE key = ?1", [PAUSED], |_| Ok(())))?.is_some())
}

/// Ends `lease` (for its holder only) and books the job's next look at `next`, or earlier if
/// it was rung while leased, inside the caller's transaction. Answers whether the lease was
/// the holder's, and when the look is booked.
pub(super) fn settle_in(
    conn: &Connection,
    lease: &Lease,
    next: Option<i64>,
) -> Result<(bool, Option<i64>), StoreError> {
    let id = lease.job.as_str();
    // The holder's own lease, the usual case: one statement ends it and books the look at the
    // earliest of `next`, a ring that came while it was leased, and a look booked already
    // (each COALESCE stands for one of the three; all NULL, no look, and the row goes).
    let settled: Option<Option<i64>> = optional(conn.row(
        "UPDATE schedule SET holder = NULL, lease_until_ms = NULL, rung_ms = NULL,
             due_ms = MIN(COALESCE(due_ms, rung_ms, ?2), COALESCE(rung_ms, ?2, due_ms),
                          COALESCE(?2, due_ms, rung_ms))
         WHERE job_id = ?1 AND holder = ?3
         RETURNING due_ms",
        params![id, next, lease.holder.as_str()],
        |row| row.get(0),
    ))?;
    match settled {
        Some(Some(at)) => Ok((true, Some(at))),
        Some(None) => {
            conn.exec("DELETE FROM schedule WHERE job_id = ?1", [id])?;
            Ok((true, None))
        }
        // Not this holder's (any more): only the look asked for is booked.
        None => {
            match next {
                Some(at) => ring(conn, id, at)?,
                None => {
                    conn.exec(
                        "DELETE FROM schedule WHERE job_id = ?1 AND due_ms IS NULL
                             AND holder IS NULL AND rung_ms IS NULL",
                        [id],
                    )?;
                }
            }
            Ok((false, next))
        }
    }
}

#[async_trait]
impl Schedule for SqliteStore {
    async fn ring_many(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let at_ms = at.timestamp_millis();
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.write(move |tx| {
            for id in &ids {
                ring(tx, id, at_ms)?;
            }
            Ok(())
        })
        .await?;
        self.rang(at_ms);
        Ok(())
    }

    async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let due_now = now.timestamp_millis();
        let (holder, ttl) = (holder.to_owned(), millis(ttl));
        self.write(move |tx| {
            let taken = take_due_in(tx, due_now, limit, &holder, ttl)?;
            Ok(taken
                .into_iter()
                .map(|id| Lease {
                    job: JobId::from(id),
                    holder: holder.clone(),
                })
                .collect())
        })
        .await
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let (id, holder, ttl) = (lease.job.clone(), lease.holder.clone(), millis(ttl));
        self.write(move |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE schedule SET lease_until_ms = ?3 WHERE job_id = ?1 AND holder = ?2",
                )?
                .execute(params![id.as_str(), holder, now_ms().saturating_add(ttl)])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn settle(&self, lease: &Lease, next: Option<DateTime<Utc>>) -> Result<bool, StoreError> {
        let lease = lease.clone();
        let next = next.map(|at| at.timestamp_millis());
        let (mine, at) = self.write(move |tx| settle_in(tx, &lease, next)).await?;
        if let Some(at) = at {
            self.rang(at);
        }
        Ok(mine)
    }

    async fn due_at(&self, id: &JobId) -> Result<Option<DateTime<Utc>>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            let due: Option<Option<i64>> = optional(conn.row(
                "SELECT due_ms FROM schedule WHERE job_id = ?1",
                [id.as_str()],
                |row| row.get(0),
            ))?;
            due.flatten()
                .map(|ms| from_millis(ms, "a due time"))
                .transpose()
        })
        .await
    }

    async fn holder(&self, id: &JobId) -> Result<Option<(String, Duration)>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            let now = now_ms();
            let row: Option<(String, i64)> = optional(conn.row(
                "SELECT holder, lease_until_ms FROM schedule
                 WHERE job_id = ?1 AND holder IS NOT NULL AND lease_until_ms > ?2",
                params![id.as_str(), now],
                |row| Ok((row.get(0)?, row.get(1)?)),
            ))?;
            Ok(row.map(|(holder, until)| {
                let left = u64::try_from(until - now).unwrap_or(0);
                (holder, Duration::from_millis(left))
            }))
        })
        .await
    }

    async fn is_tracked(&self, id: &JobId) -> Result<bool, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            Ok(optional(conn.row(
                "SELECT 1 FROM schedule WHERE job_id = ?1
                     AND (due_ms IS NOT NULL OR holder IS NOT NULL OR rung_ms IS NOT NULL)",
                [id.as_str()],
                |_| Ok(()),
            ))?
            .is_some())
        })
        .await
    }

    async fn len(&self) -> Result<u64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM schedule WHERE due_ms IS NOT NULL",
            None,
        )
        .await
    }

    async fn due_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM schedule WHERE due_ms <= ?1",
            Some(now.timestamp_millis()),
        )
        .await
    }

    async fn leased_count(&self) -> Result<u64, StoreError> {
        self.count(
            "SELECT COUNT(*) FROM schedule WHERE lease_until_ms IS NOT NULL",
            None,
        )
        .await
    }

    async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.write(move |tx| {
            if paused {
                tx.exec(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    params![PAUSED, now_ms().to_string()],
                )?;
            } else {
                tx.exec("DELETE FROM meta WHERE key = ?1", [PAUSED])?;
            }
            Ok(())
        })
        .await?;
        if !paused {
            self.rang(now_ms());
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, StoreError> {
        self.read(is_paused).await
    }
}

impl SqliteStore {
    /// One `COUNT(*)`, with at most one parameter.
    pub(super) async fn count(
        &self,
        sql: &'static str,
        arg: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let n: i64 = match arg {
                Some(arg) => stmt.query_row([arg], |row| row.get(0))?,
                None => stmt.query_row([], |row| row.get(0))?,
            };
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}
