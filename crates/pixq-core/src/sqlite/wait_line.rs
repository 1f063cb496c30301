//! [`WaitLine`] on SQLite: the `wait_line` table, jobs per token alias by their batch's turn,
//! and `wait_lanes`, the last turn each batch was given (the same rule as `park` in
//! `redis/prelude.lua`).

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{Cached, SqliteStore, optional};
use crate::job::JobId;
use crate::limits::WaitLine;
use crate::store::StoreError;

/// Puts `job` in `alias`'s line unless it is in it already (it then keeps its place), inside
/// the caller's transaction; whether it was added. Batches take turns: the k-th job of a batch
/// to wait gets turn k, or the line's first turn if that is later; jobs without a batch share
/// one lane.
pub(super) fn park_in(conn: &Connection, alias: &str, job: &str) -> Result<bool, StoreError> {
    let there = optional(conn.row(
        "SELECT 1 FROM wait_line WHERE alias = ?1 AND job_id = ?2",
        params![alias, job],
        |_| Ok(()),
    ))?;
    if there.is_some() {
        return Ok(false);
    }
    let lane: String = optional(conn.row(
        "SELECT COALESCE(batch, '') FROM jobs WHERE id = ?1",
        [job],
        |row| row.get(0),
    ))?
    .unwrap_or_default();
    let last: i64 = optional(conn.row(
        "SELECT last FROM wait_lanes WHERE alias = ?1 AND lane = ?2",
        params![alias, lane],
        |row| row.get(0),
    ))?
    .unwrap_or(0);
    let head: Option<i64> = conn.row(
        "SELECT MIN(seq) FROM wait_line WHERE alias = ?1",
        [alias],
        |row| row.get(0),
    )?;
    let turn = (last + 1).max(head.unwrap_or(0));
    conn.exec(
        "INSERT INTO wait_lanes (alias, lane, last) VALUES (?1, ?2, ?3)
         ON CONFLICT (alias, lane) DO UPDATE SET last = excluded.last",
        params![alias, lane, turn],
    )?;
    conn.exec(
        "INSERT INTO wait_line (alias, job_id, seq) VALUES (?1, ?2, ?3)",
        params![alias, job, turn],
    )?;
    Ok(true)
}

/// Takes `job` out of `alias`'s line, inside the caller's transaction; an emptied line
/// forgets its lanes' turns. Whether it was there.
pub(super) fn leave_in(conn: &Connection, alias: &str, job: &str) -> Result<bool, StoreError> {
    let removed = conn.exec(
        "DELETE FROM wait_line WHERE alias = ?1 AND job_id = ?2",
        params![alias, job],
    )? == 1;
    if removed && first_in(conn, alias, 1)?.is_empty() {
        conn.exec("DELETE FROM wait_lanes WHERE alias = ?1", [alias])?;
    }
    Ok(removed)
}

/// The first `n` jobs of `alias`'s line, inside the caller's transaction.
pub(super) fn first_in(conn: &Connection, alias: &str, n: i64) -> Result<Vec<String>, StoreError> {
    Ok(conn
        .prepare_cached(FIRST)?
        .query_map(params![alias, n], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

/// The line in order: by turn, equal turns by job id.
const FIRST: &str = "SELECT job_id FROM wait_line WHERE alias = ?1 ORDER BY seq, job_id LIMIT ?2";

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
            let ids = first_in(conn, &alias, n)?;
            Ok(ids.into_iter().map(JobId::from).collect())
        })
        .await
    }

    async fn remove(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let (alias, job) = (alias.to_owned(), job.clone());
        self.write(move |tx| leave_in(tx, &alias, job.as_str()))
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
