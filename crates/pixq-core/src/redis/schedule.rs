//! [`Schedule`] on Redis: `{p}:due` (job → due ms), `{p}:leased` (job → lease expiry, server
//! ms), `{p}:holders` (job → holder) and `{p}:rung` (job → a look asked for while leased).

use std::time::Duration;

use ::redis::AsyncCommands;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{RedisStore, millis};
use crate::job::JobId;
use crate::queue::{Lease, Schedule};
use crate::store::StoreError;

/// How many ids one ring sends to Redis; bounds the size of any one command.
const CHUNK: usize = 1000;

#[async_trait]
impl Schedule for RedisStore {
    async fn ring_many(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<(), StoreError> {
        let score = at.timestamp_millis();
        let key = self.keys.due();
        let now = at <= Utc::now();
        let mut conn = self.conn();
        for chunk in ids.chunks(CHUNK) {
            let mut pipe = ::redis::pipe();
            let cmd = pipe.cmd("ZADD").arg(&key).arg("LT");
            for id in chunk {
                cmd.arg(score).arg(id.as_str());
            }
            cmd.ignore();
            if now {
                // Idle workers of other processes hear it at once, not at their next poll.
                pipe.cmd("PUBLISH")
                    .arg(self.keys.rung_channel())
                    .arg(1)
                    .ignore();
            }
            let () = pipe.query_async(&mut conn).await?;
        }
        if !ids.is_empty() {
            self.wake.at(at);
        }
        Ok(())
    }

    async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StoreError> {
        let ids = self.invoke_take(now, limit, holder, ttl, false).await?;
        Ok(ids
            .into_iter()
            .map(|id| Lease {
                job: JobId::from(id),
                holder: holder.to_owned(),
            })
            .collect())
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let renewed: i64 = self
            .scripts
            .renew_lease
            .key(self.keys.leased())
            .key(self.keys.holders())
            .arg(lease.job.as_str())
            .arg(&lease.holder)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }

    async fn settle(&self, lease: &Lease, next: Option<DateTime<Utc>>) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let next_ms = next.map(|at| at.timestamp_millis().to_string());
        let settled: i64 = self
            .scripts
            .settle
            .prepare_invoke()
            .arg(&self.keys.layout()[..])
            .arg(lease.job.as_str())
            .arg(&lease.holder)
            .arg(next_ms.unwrap_or_default())
            .invoke_async(&mut conn)
            .await?;
        if let Some(at) = next {
            self.wake.at(at);
        }
        Ok(settled == 1)
    }

    async fn due_at(&self, id: &JobId) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn();
        let score: Option<f64> = conn.zscore(self.keys.due(), id.as_str()).await?;
        // Scores are whole milliseconds we wrote ourselves; the cast is exact below 2^53.
        #[allow(clippy::cast_possible_truncation)]
        Ok(score.and_then(|ms| DateTime::from_timestamp_millis(ms as i64)))
    }

    async fn holder(&self, id: &JobId) -> Result<Option<(String, Duration)>, StoreError> {
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .scripts
            .holder
            .key(self.keys.leased())
            .key(self.keys.holders())
            .arg(id.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(match reply.as_slice() {
            [holder, left] => {
                let left = left.parse::<u64>().unwrap_or(0);
                Some((holder.clone(), Duration::from_millis(left)))
            }
            _ => None,
        })
    }

    async fn is_tracked(&self, id: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let (due, leased, rung): (Option<f64>, Option<f64>, bool) = ::redis::pipe()
            .atomic()
            .zscore(self.keys.due(), id.as_str())
            .zscore(self.keys.leased(), id.as_str())
            .hexists(self.keys.rung(), id.as_str())
            .query_async(&mut conn)
            .await?;
        Ok(due.is_some() || leased.is_some() || rung)
    }

    async fn len(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        Ok(conn.zcard(self.keys.due()).await?)
    }

    async fn due_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        Ok(conn
            .zcount(self.keys.due(), "-inf", now.timestamp_millis())
            .await?)
    }

    async fn leased_count(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        Ok(conn.zcard(self.keys.leased()).await?)
    }

    async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        let mut conn = self.conn();
        if paused {
            let now = Utc::now().timestamp_millis();
            let () = conn.set(self.keys.queue_paused(), now).await?;
        } else {
            let mut pipe = ::redis::pipe();
            pipe.cmd("DEL").arg(self.keys.queue_paused()).ignore();
            // Idle workers of every process hear it at once, not at their next poll.
            pipe.cmd("PUBLISH")
                .arg(self.keys.rung_channel())
                .arg(1)
                .ignore();
            let () = pipe.query_async(&mut conn).await?;
            self.wake.now();
        }
        Ok(())
    }

    async fn is_paused(&self) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        Ok(conn.exists(self.keys.queue_paused()).await?)
    }
}

impl RedisStore {
    /// One call of `take.lua`: the ids taken, each followed by its version and record when
    /// `records` is set.
    pub(super) async fn invoke_take(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
        records: bool,
    ) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        Ok(self
            .scripts
            .take
            .prepare_invoke()
            .arg(&self.keys.layout()[..])
            .arg(now.timestamp_millis())
            .arg(limit)
            .arg(holder)
            .arg(millis(ttl))
            .arg(if records { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await?)
    }
}
