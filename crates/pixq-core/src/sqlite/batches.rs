//! [`Batches`] on SQLite: the `batches`, `batch_roots` and `batch_idempotency` tables. The
//! counts move in [`move_in`], called by a transition in the same transaction as its step.
//!
//! Accepting a batch flips it and makes every chain due in one transaction: one process owns
//! the file, so there is no one else to keep waiting while it runs.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, from_millis, now_ms, optional};
use crate::batch::{Batch, BatchPage, Batches, Begun, ChainState, Counts, Move, NewBatch};
use crate::job::{BatchId, JobId, NewJob};
use crate::store::{Cursor, IdempotencyKey, StoreError};

/// Abandoned batches one sweep discards.
const SWEEP_LIMIT: i64 = 16;

/// The columns [`read_in`] takes, in its order.
const BATCH: &str = "SELECT name, webhook_url, total, queued, running, succeeded, failed,
       cancelled, created_ms, finished_ms
  FROM batches
 WHERE id = ?1 AND status = 'accepted' AND (expire_at_ms IS NULL OR expire_at_ms > ?2)";

/// Moves one chain of a batch between counts, inside a transition's transaction. The batch
/// finishes when no chain is queued or running, and expires at `expire_at` (the write that
/// finished it expires then too); a retry that moves a chain back opens it again.
/// A batch with a webhook that finishes gets its `batch.finished` event in the same
/// transaction.
pub(super) fn move_in(
    conn: &Connection,
    moved: &Move,
    at: i64,
    expire_at: Option<i64>,
) -> Result<(), StoreError> {
    // The column names come from ChainState::as_str, never from input.
    let sql = format!(
        "UPDATE batches SET {from} = {from} - 1, {to} = {to} + 1
          WHERE id = ?1 AND status = 'accepted'
          RETURNING queued + running, finished_ms",
        from = moved.from.as_str(),
        to = moved.to.as_str(),
    );
    let row: Option<(i64, Option<i64>)> =
        optional(conn.row(&sql, [moved.batch.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        }))?;
    match row {
        Some((0, None)) => {
            conn.exec(
                "UPDATE batches SET finished_ms = ?2, expire_at_ms = ?3 WHERE id = ?1",
                params![moved.batch.as_str(), at, expire_at],
            )?;
            if let Some(batch) = read_in(conn, &moved.batch, at)? {
                super::outbox::add_batch_event(conn, &batch)?;
            }
        }
        Some((open, Some(_))) if open > 0 => {
            conn.exec(
                "UPDATE batches SET finished_ms = NULL, expire_at_ms = NULL WHERE id = ?1",
                [moved.batch.as_str()],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// The accepted, unexpired batch `id`.
fn read_in(conn: &Connection, id: &BatchId, now: i64) -> Result<Option<Batch>, StoreError> {
    let row = optional(conn.row(BATCH, params![id.as_str(), now], |row| {
        Ok((
            row.get::<_, Option<String>>(0)?,
            row.get::<_, Option<String>>(1)?,
            [
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, i64>(6)?,
                row.get::<_, i64>(7)?,
            ],
            row.get::<_, Option<i64>>(8)?,
            row.get::<_, Option<i64>>(9)?,
        ))
    }))?;
    let Some((name, webhook_url, numbers, created, finished)) = row else {
        return Ok(None);
    };
    let what = format!("batch {id}");
    let count = |n: i64| u64::try_from(n.max(0)).unwrap_or(0);
    let mut counts = Counts::default();
    for (state, n) in ChainState::ALL.into_iter().zip(&numbers[1..]) {
        *counts.get_mut(state) = count(*n);
    }
    Ok(Some(Batch {
        id: id.clone(),
        name,
        total: count(numbers[0]),
        counts,
        webhook_url,
        created_at: from_millis(created.unwrap_or_default(), &what)?,
        finished_at: finished.map(|ms| from_millis(ms, &what)).transpose()?,
    }))
}

/// Deletes the batch `id` if it is still being written, with its jobs; whether it was.
fn discard_in(conn: &Connection, id: &BatchId) -> Result<bool, StoreError> {
    let writing = optional(conn.row(
        "SELECT idem_key FROM batches WHERE id = ?1 AND status = 'writing'",
        [id.as_str()],
        |row| row.get::<_, Option<String>>(0),
    ))?;
    let Some(idem) = writing else {
        return Ok(false);
    };
    conn.exec(
        "DELETE FROM jobs WHERE id IN (SELECT job_id FROM batch_roots WHERE batch = ?1)",
        [id.as_str()],
    )?;
    conn.exec("DELETE FROM batch_roots WHERE batch = ?1", [id.as_str()])?;
    conn.exec("DELETE FROM batches WHERE id = ?1", [id.as_str()])?;
    if let Some(key) = idem {
        conn.exec(
            "DELETE FROM batch_idempotency WHERE key = ?1 AND batch = ?2",
            params![key, id.as_str()],
        )?;
    }
    Ok(true)
}

/// Deletes up to `limit` batches whose retention has passed, with their chains' order and
/// keys (their jobs expire on their own); how many.
pub(super) fn prune_in(conn: &Connection, limit: i64, now: i64) -> Result<usize, StoreError> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM batches WHERE expire_at_ms <= ?1 LIMIT ?2")?
        .query_map(params![now, limit], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        conn.exec("DELETE FROM batch_roots WHERE batch = ?1", [id])?;
        conn.exec("DELETE FROM batch_idempotency WHERE batch = ?1", [id])?;
        conn.exec("DELETE FROM batches WHERE id = ?1", [id])?;
    }
    Ok(ids.len())
}

#[async_trait]
impl Batches for SqliteStore {
    async fn begin(
        &self,
        batch: &NewBatch,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Begun, StoreError> {
        let (batch, idempotency) = (batch.clone(), idempotency.cloned());
        self.write(move |tx| {
            let now = now_ms();
            if let Some(key) = &idempotency {
                let prior: Option<(String, String)> = optional(tx.row(
                    "SELECT batch, fingerprint FROM batch_idempotency WHERE key = ?1",
                    [&key.key],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                ))?;
                if let Some((first, fingerprint)) = prior {
                    let first = BatchId::from(first);
                    let status: Option<String> = optional(tx.row(
                        "SELECT status FROM batches
                          WHERE id = ?1 AND (expire_at_ms IS NULL OR expire_at_ms > ?2)",
                        params![first.as_str(), now],
                        |row| row.get(0),
                    ))?;
                    match status.as_deref() {
                        Some("accepted") if fingerprint == key.fingerprint => {
                            if let Some(found) = read_in(tx, &first, now)? {
                                return Ok(Begun::Replayed(found));
                            }
                        }
                        Some(status) => {
                            return Err(StoreError::BatchKeyTaken {
                                key: key.key.clone(),
                                batch: first,
                                in_progress: status == "writing",
                            });
                        }
                        // The batch it named is gone: the key is free again.
                        None => {}
                    }
                }
            }
            let exists = optional(tx.row(
                "SELECT 1 FROM batches WHERE id = ?1",
                [batch.id.as_str()],
                |_| Ok(()),
            ))?;
            if exists.is_some() {
                return Err(StoreError::DuplicateBatch(batch.id.clone()));
            }
            tx.exec(
                "INSERT INTO batches (id, status, name, webhook_url, idem_key, begun_ms)
                 VALUES (?1, 'writing', ?2, ?3, ?4, ?5)",
                params![
                    batch.id.as_str(),
                    batch.name,
                    batch.webhook_url,
                    idempotency.as_ref().map(|k| k.key.as_str()),
                    now,
                ],
            )?;
            if let Some(key) = &idempotency {
                tx.exec(
                    "INSERT OR REPLACE INTO batch_idempotency (key, batch, fingerprint)
                     VALUES (?1, ?2, ?3)",
                    params![key.key, batch.id.as_str(), key.fingerprint],
                )?;
            }
            Ok(Begun::Writing)
        })
        .await
    }

    async fn add(&self, batch: &BatchId, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        let now = Utc::now();
        let batch = batch.clone();
        let jobs: Vec<_> = jobs
            .into_iter()
            .map(|job| job.in_batch(batch.clone()).into_job(now))
            .collect();
        self.write(move |tx| {
            let writing = optional(tx.row(
                "SELECT 1 FROM batches WHERE id = ?1 AND status = 'writing'",
                [batch.as_str()],
                |_| Ok(()),
            ))?;
            if writing.is_none() {
                return Err(StoreError::UnknownBatch(batch.clone()));
            }
            let next: i64 = tx.row(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM batch_roots WHERE batch = ?1",
                [batch.as_str()],
                |row| row.get(0),
            )?;
            let now = now_ms();
            for (idx, job) in (next..).zip(&jobs) {
                if super::jobs::is_live(tx, job.id.as_str(), now)? {
                    return Err(StoreError::Duplicate(job.id.clone()));
                }
                super::jobs::insert(tx, job, None)?;
                tx.exec(
                    "INSERT INTO batch_roots (batch, idx, job_id) VALUES (?1, ?2, ?3)",
                    params![batch.as_str(), idx, job.id.as_str()],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn accept(&self, batch: &BatchId) -> Result<Batch, StoreError> {
        let batch = batch.clone();
        let accepted = self
            .write(move |tx| {
                let now = now_ms();
                let total: i64 = tx.row(
                    "SELECT COUNT(*) FROM batch_roots WHERE batch = ?1",
                    [batch.as_str()],
                    |row| row.get(0),
                )?;
                let flipped = tx.exec(
                    "UPDATE batches
                        SET status = 'accepted', created_ms = ?2, total = ?3, queued = ?3,
                            finished_ms = CASE WHEN ?3 = 0 THEN ?2 END
                      WHERE id = ?1 AND status = 'writing'",
                    params![batch.as_str(), now, total],
                )?;
                if flipped == 0 {
                    return Err(StoreError::UnknownBatch(batch.clone()));
                }
                tx.exec(
                    "INSERT INTO schedule (job_id, due_ms)
                     SELECT job_id, ?2 FROM batch_roots WHERE batch = ?1 AND true
                     ON CONFLICT (job_id) DO UPDATE
                        SET due_ms = MIN(COALESCE(due_ms, excluded.due_ms), excluded.due_ms)",
                    params![batch.as_str(), now],
                )?;
                let found = read_in(tx, &batch, now)?;
                Ok((found.ok_or(StoreError::UnknownBatch(batch.clone()))?, now))
            })
            .await?;
        let (batch, at) = accepted;
        if batch.total > 0 {
            self.rang(at);
        }
        Ok(batch)
    }

    async fn discard(&self, batch: &BatchId) -> Result<bool, StoreError> {
        let batch = batch.clone();
        self.write(move |tx| discard_in(tx, &batch)).await
    }

    async fn get(&self, batch: &BatchId) -> Result<Option<Batch>, StoreError> {
        let batch = batch.clone();
        self.read(move |conn| read_in(conn, &batch, now_ms())).await
    }

    async fn roots(
        &self,
        batch: &BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        let batch = batch.clone();
        let (offset, limit) = (
            i64::try_from(offset).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        );
        self.read(move |conn| {
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT job_id FROM batch_roots WHERE batch = ?1 AND idx >= ?2
                      ORDER BY idx LIMIT ?3",
                )?
                .query_map(params![batch.as_str(), offset, limit], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids.into_iter().map(JobId::from).collect())
        })
        .await
    }

    async fn list(&self, cursor: Option<&Cursor>, limit: usize) -> Result<BatchPage, StoreError> {
        let after = cursor.map(crate::batch::parse_cursor).transpose()?;
        if limit == 0 {
            return Ok(BatchPage {
                batches: Vec::new(),
                next_cursor: None,
            });
        }
        let (after_ms, after_id) = match after {
            Some((ms, id)) => (ms, id.to_string()),
            None => (i64::MAX, String::new()),
        };
        let take = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        self.read(move |conn| {
            let now = now_ms();
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT id FROM batches
                      WHERE status = 'accepted'
                        AND (expire_at_ms IS NULL OR expire_at_ms > ?1)
                        AND (created_ms < ?2 OR (created_ms = ?2 AND (?3 = '' OR id < ?3)))
                      ORDER BY created_ms DESC, id DESC LIMIT ?4",
                )?
                .query_map(params![now, after_ms, after_id, take], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let more = ids.len() > limit;
            let mut batches = Vec::with_capacity(limit);
            for id in ids.into_iter().take(limit) {
                if let Some(batch) = read_in(conn, &BatchId::from(id.as_str()), now)? {
                    batches.push(batch);
                }
            }
            let next_cursor = if more {
                batches.last().map(crate::batch::cursor_after)
            } else {
                None
            };
            Ok(BatchPage {
                batches,
                next_cursor,
            })
        })
        .await
    }

    async fn sweep_abandoned(&self, older_than: Duration) -> Result<usize, StoreError> {
        let older = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let swept = self
            .write(move |tx| {
                let cutoff = now_ms().saturating_sub(older);
                let ids: Vec<String> = tx
                    .prepare_cached(
                        "SELECT id FROM batches WHERE status = 'writing' AND begun_ms <= ?1
                          LIMIT ?2",
                    )?
                    .query_map(params![cutoff, SWEEP_LIMIT], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut swept = Vec::new();
                for id in ids {
                    let id = BatchId::from(id);
                    if discard_in(tx, &id)? {
                        swept.push(id);
                    }
                }
                Ok(swept)
            })
            .await?;
        for batch in &swept {
            tracing::warn!(%batch, "discarded a batch whose writer gave up before accepting it");
        }
        Ok(swept.len())
    }
}
