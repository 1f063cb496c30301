//! [`WaitLine`] on Redis: `{p}:waiting:{alias}`, job ids scored by their batch's turn, and
//! `{p}:waiting-lanes:{alias}`, the last turn of each batch (see `park` in `prelude.lua`).

use ::redis::AsyncCommands;
use async_trait::async_trait;

use super::RedisStore;
use crate::job::JobId;
use crate::limits::WaitLine;
use crate::store::StoreError;

#[async_trait]
impl WaitLine for RedisStore {
    async fn park(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let added: i64 = self
            .scripts
            .line_park
            .arg(&self.keys.layout()[..])
            .arg(alias)
            .arg(job.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(added == 1)
    }

    async fn first(&self, alias: &str, n: usize) -> Result<Vec<JobId>, StoreError> {
        let Some(last) = n.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let last = isize::try_from(last).unwrap_or(isize::MAX);
        let mut conn = self.conn();
        let ids: Vec<String> = conn.zrange(self.keys.waiting(alias), 0, last).await?;
        Ok(ids.into_iter().map(JobId::from).collect())
    }

    async fn remove(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let removed: i64 = self
            .scripts
            .line_leave
            .arg(&self.keys.layout()[..])
            .arg(alias)
            .arg(job.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(removed == 1)
    }

    async fn len(&self, alias: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        Ok(conn.zcard(self.keys.waiting(alias)).await?)
    }
}
