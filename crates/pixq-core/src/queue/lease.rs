//! [`Leases`]: at most one worker handles a job at a time.

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Script};

use crate::job::JobId;
use crate::store::StoreError;

/// Extends the lease only for its holder.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes the lease only for its holder.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The per-job leases under `{prefix}:lease:{job_id}`, each a key holding its holder's name
/// with a time to live. A holder that dies stops renewing, and the lease frees itself.
#[derive(Debug, Clone)]
pub struct Leases {
    conn: ConnectionManager,
    prefix: String,
    renew: Script,
    release: Script,
}

/// A lease held on one job. Renew it well before its time to live runs out; release it when
/// done. Dropping it without release leaves it to expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    key: String,
    holder: String,
}

impl Lease {
    /// Who holds it.
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl Leases {
    /// The leases under `{prefix}:lease:`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Leases {
            conn,
            prefix: format!("{prefix}:lease:"),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        }
    }

    fn key(&self, id: &JobId) -> String {
        format!("{}{}", self.prefix, id)
    }

    /// Takes the lease on `id` for `holder` for `ttl`, or answers `None` while someone holds
    /// it.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn acquire(
        &self,
        id: &JobId,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let key = self.key(id);
        let mut conn = self.conn.clone();
        let set: Option<String> = ::redis::cmd("SET")
            .arg(&key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await?;
        Ok(set.map(|_| Lease {
            key,
            holder: holder.to_owned(),
        }))
    }

    /// Extends `lease` to `ttl` from now; `false` when it was lost (expired and perhaps
    /// taken by another worker), and the holder must stop.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let renewed: i64 = self
            .renew
            .key(&lease.key)
            .arg(&lease.holder)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }

    /// Gives `lease` up; `false` when it had already been lost.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn release(&self, lease: &Lease) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let released: i64 = self
            .release
            .key(&lease.key)
            .arg(&lease.holder)
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }

    /// Who holds the lease on `id` and for how much longer, if anyone does.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn holder(&self, id: &JobId) -> Result<Option<(String, Duration)>, StoreError> {
        let key = self.key(id);
        let mut conn = self.conn.clone();
        let (holder, ttl_ms): (Option<String>, i64) = ::redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut conn)
            .await?;
        Ok(holder.map(|h| (h, Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)))))
    }

    /// Whether anyone holds the lease on `id`.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn is_held(&self, id: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.exists(self.key(id)).await?)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
