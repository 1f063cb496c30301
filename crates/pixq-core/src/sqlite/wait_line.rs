//! [`WaitLine`] on SQLite: the `wait_line` table, jobs per token alias with an arrival number
//! from `meta.waiting_seq`.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, optional};
use crate::job::JobId;
use crate::limits::WaitLine;
use crate::store::StoreError;

/// Puts `job` at the end of `alias`'s line unless it is in it already (it then keeps its
/// place), inside the caller's transaction; whether it was added.
pub(super) fn park_in(conn: &Connection, alias: &str, job: &str) -> Result<bool, StoreError> {
    let there = optional(conn.row(
        "SELECT 1 FROM wait_line WHERE alias = ?1 AND job_id = ?2",
        params![alias, job],
        |_| Ok(()),
    ))?;
    if there.is_some() {
        return Ok(false);
    }
    let seq: i64 = conn.row(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'waiting_seq'
         RETURNING CAST(value AS INTEGER)",
        [],
        |row| row.get(0),
    )?;
    conn.exec(
        "INSERT INTO wait_line (alias, job_id, seq) VALUES (?1, ?2, ?3)",
        params![alias, job, seq],
    )?;
    Ok(true)
}

/// The first `n` jobs of `alias`'s line, inside the caller's transaction.
pub(super) fn first_in(conn: &Connection, alias: &str, n: i64) -> Result<Vec<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT job_id FROM wait_line WHERE alias = ?1 ORDER BY seq LIMIT ?2")?
        .query_map(params![alias, n], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

#[async_trait]
impl WaitLine for SqliteStore {
    async fn park(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let (alias, job) = (alias.to_owned(), job.clone());
        self.write(move |tx| park_in(tx, &alias, job.as_str()))
            .await
    }

    async fn first(&self, alias: &str, n: usize) -> Result<Vec<JobId>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (alias, n) = (alias.to_owned(), i64::try_from(n).unwrap_or(i64::MAX));
        self.read(move |conn| {
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT job_id FROM wait_line WHERE alias = ?1 ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![alias, n], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids.into_iter().map(JobId::from).collect())
        })
        .await
    }

    async fn remove(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let (alias, job) = (alias.to_owned(), job.clone());
        self.write(move |tx| {
            let removed = tx
                .prepare_cached("DELETE FROM wait_line WHERE alias = ?1 AND job_id = ?2")?
                .execute(params![alias, job.as_str()])?;
            Ok(removed == 1)
        })
        .await
    }

    async fn len(&self, alias: &str) -> Result<u64, StoreError> {
        let alias = alias.to_owned();
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM wait_line WHERE alias = ?1")?
                .query_row([alias], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}
