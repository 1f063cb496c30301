//! [`Schedule`]: job ids by the time a worker should next look at them.

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Script};
use chrono::{DateTime, Utc};

use crate::job::JobId;
use crate::store::StoreError;

/// Takes up to `limit` due ids, oldest first, and removes them, in one step so that two pumps
/// never take the same id.
const TAKE_DUE: &str = r"
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids))
end
return ids
";

/// How many ids one write sends to Redis; bounds the size of any one command.
const CHUNK: usize = 1000;

/// pixq's schedule: a sorted set `{prefix}:due` of job ids scored by due time (ms).
///
/// Ringing is "no later than": ringing a job that is already due earlier keeps the earlier
/// time, so a callback that asks for a look now is never pushed back by a poll scheduled for
/// later. Clones share one connection.
#[derive(Debug, Clone)]
pub struct Schedule {
    conn: ConnectionManager,
    key: String,
    take: Script,
}

impl Schedule {
    /// The schedule under `{prefix}:due`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Schedule {
            conn,
            key: format!("{prefix}:due"),
            take: Script::new(TAKE_DUE),
        }
    }

    /// Asks for a look at `id` no later than `at`.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn ring(&self, id: &JobId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.ring_many(std::slice::from_ref(id), at).await
    }

    /// Asks for a look at each of `ids` no later than `at`, in chunks.
    ///
    /// # Errors
    ///
    /// Redis failures; the chunks written before one failed stay written.
    pub async fn ring_many(&self, ids: &[JobId], at: DateTime<Utc>) -> Result<(), StoreError> {
        let score = at.timestamp_millis();
        let mut conn = self.conn.clone();
        for chunk in ids.chunks(CHUNK) {
            let mut cmd = ::redis::cmd("ZADD");
            cmd.arg(&self.key).arg("LT");
            for id in chunk {
                cmd.arg(score).arg(id.as_str());
            }
            let _: i64 = cmd.query_async(&mut conn).await?;
        }
        Ok(())
    }

    /// Removes and returns up to `limit` ids due at `now`, the longest due first.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let ids: Vec<String> = self
            .take
            .key(&self.key)
            .arg(now.timestamp_millis())
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        Ok(ids.into_iter().map(JobId::from).collect())
    }

    /// When `id` is due, if it is scheduled at all.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn due_at(&self, id: &JobId) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut conn = self.conn.clone();
        let score: Option<f64> = conn.zscore(&self.key, id.as_str()).await?;
        // Scores are whole milliseconds we wrote ourselves; the cast is exact below 2^53.
        #[allow(clippy::cast_possible_truncation)]
        Ok(score.and_then(|ms| DateTime::from_timestamp_millis(ms as i64)))
    }

    /// How many jobs are scheduled, due or not.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn len(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.zcard(&self.key).await?)
    }

    /// Whether there are none.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }

    /// How many jobs are due at `now`.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn due_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn
            .zcount(&self.key, "-inf", now.timestamp_millis())
            .await?)
    }
}
