//! [`WaitLine`] on SQLite: the `wait_line` table, jobs per token alias with an arrival number
//! from `meta.waiting_seq`.

use async_trait::async_trait;
use rusqlite::params;

use super::{Cached, SqliteStore, optional};
use crate::job::JobId;
use crate::limits::WaitLine;
use crate::store::StoreError;

#[async_trait]
impl WaitLine for SqliteStore {
    async fn park(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let (alias, job) = (alias.to_owned(), job.clone());
        self.write(move |tx| {
            let there = optional(tx.row(
                "SELECT 1 FROM wait_line WHERE alias = ?1 AND job_id = ?2",
                params![alias, job.as_str()],
                |_| Ok(()),
            ))?;
            if there.is_some() {
                return Ok(false);
            }
            let seq: i64 = tx.row(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'waiting_seq'
                 RETURNING CAST(value AS INTEGER)",
                [],
                |row| row.get(0),
            )?;
            tx.exec(
                "INSERT INTO wait_line (alias, job_id, seq) VALUES (?1, ?2, ?3)",
                params![alias, job.as_str(), seq],
            )?;
            Ok(true)
        })
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
