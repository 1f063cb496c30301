//! [`Slots`] on Redis: `{p}:slots:{alias}`, job ids scored by lease expiry (server ms), and
//! `{p}:slot_aliases`, every alias that took a slot.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{RedisStore, from_millis, millis};
use crate::job::JobId;
use crate::limits::{Acquire, Slots};
use crate::store::StoreError;

#[async_trait]
impl Slots for RedisStore {
    async fn acquire(
        &self,
        alias: &str,
        job: &JobId,
        max: u32,
        ttl: Duration,
    ) -> Result<Acquire, StoreError> {
        let key = self.keys.slots(alias);
        let mut conn = self.conn();
        let reply: Vec<i64> = self
            .scripts
            .slot_acquire
            .key(&key)
            .key(self.keys.slot_aliases())
            .arg(job.as_str())
            .arg(max)
            .arg(millis(ttl))
            .arg(alias)
            .invoke_async(&mut conn)
            .await?;
        let corrupt = || StoreError::corrupt(&key, format!("the slot script answered {reply:?}"));
        let count = |n: i64| u32::try_from(n).map_err(|_| corrupt());
        match reply.as_slice() {
            [1, until, held, renewed] => Ok(Acquire::Acquired {
                until: from_millis(*until, &key)?,
                renewed: *renewed == 1,
                held: count(*held)?,
            }),
            [0, earliest, held] => Ok(Acquire::Full {
                held: count(*held)?,
                earliest_expiry: if *earliest < 0 {
                    None
                } else {
                    Some(from_millis(*earliest, &key)?)
                },
            }),
            _ => Err(corrupt()),
        }
    }

    async fn renew(&self, alias: &str, job: &JobId, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let renewed: i64 = self
            .scripts
            .slot_renew
            .key(self.keys.slots(alias))
            .arg(job.as_str())
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }

    async fn release(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let released: i64 = self
            .scripts
            .slot_release
            .key(self.keys.slots(alias))
            .arg(job.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }

    async fn held(&self, alias: &str) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        let held: i64 = self
            .scripts
            .slot_held
            .key(self.keys.slots(alias))
            .invoke_async(&mut conn)
            .await?;
        Ok(u32::try_from(held).unwrap_or(u32::MAX))
    }

    async fn holders(&self, alias: &str) -> Result<Vec<(JobId, DateTime<Utc>)>, StoreError> {
        let key = self.keys.slots(alias);
        let mut conn = self.conn();
        let rows: Vec<(String, i64)> = self
            .scripts
            .slot_holders
            .key(&key)
            .invoke_async(&mut conn)
            .await?;
        rows.into_iter()
            .map(|(job, ms)| Ok((JobId::from(job), from_millis(ms, &key)?)))
            .collect()
    }

    async fn aliases(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let mut aliases: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(self.keys.slot_aliases())
            .query_async(&mut conn)
            .await?;
        aliases.sort();
        Ok(aliases)
    }
}
