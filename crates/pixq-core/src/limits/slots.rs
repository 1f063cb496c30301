//! [`Slots`]: generations in flight per upstream token, capped across all workers.

use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use chrono::{DateTime, Utc};

use super::{from_millis, millis, with_server_now};
use crate::job::JobId;
use crate::store::StoreError;

/// Lua that sets the key's own expiry to its latest lease, so the set of a token no longer
/// used disappears once its last lease has run out.
const EXPIRE_WITH_LAST: &str = r"
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], last[2])
end
";

/// `acquire(job, max, ttl)`: drops expired leases; renews the job's slot when it holds one
/// already (a retried step must not take two); else takes one while fewer than `max` are
/// held. Answers `{1, expiry, held, renewed}` or `{0, earliest expiry or -1, held}`.
const ACQUIRE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expiry = now + tonumber(ARGV[3])
local renewed = 0
local held = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  renewed = 1
elseif held >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local earliest = -1
  if first[2] then
    earliest = tonumber(first[2])
  end
  return {0, earliest, held}
end
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[4])
__EXPIRE_WITH_LAST__
return {1, expiry, redis.call('ZCARD', KEYS[1]), renewed}
";

/// `renew(job, ttl)`: extends the job's lease only while it is unexpired; an expired one is
/// dropped (its slot may already be someone else's). Answers 1 or 0.
const RENEW: &str = r"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return 0
end
if tonumber(score) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
__EXPIRE_WITH_LAST__
return 1
";

/// `release(job)`: gives the slot back. Answers 1 when the lease was still live, 0 when it had
/// expired or was never held.
const RELEASE: &str = r"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(score) <= now then
  return 0
end
return 1
";

/// How many leases are live.
const HELD: &str = r"
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
";

/// The live leases, `{{job, expiry}, ...}`, the earliest expiry first.
const HOLDERS: &str = r"
local flat = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'WITHSCORES')
local out = {}
for i = 1, #flat, 2 do
  out[#out + 1] = {flat[i], tonumber(flat[i + 1])}
end
return out
";

/// What [`Slots::acquire`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a job that did not get a slot must not submit"]
pub enum Acquire {
    /// The job holds a slot until `until` (server time); it may submit.
    Acquired {
        /// When the lease runs out unless renewed.
        until: DateTime<Utc>,
        /// The job held a slot already (a retried step) and it was only renewed: no second
        /// slot was taken.
        renewed: bool,
        /// Live leases on the token now, this one included.
        held: u32,
    },
    /// Every slot is taken; the job must wait without submitting.
    Full {
        /// Live leases on the token.
        held: u32,
        /// When the earliest lease runs out unless renewed: the latest a slot frees itself
        /// if its holder died, so a parked job can be scheduled to try again then even if no
        /// release wakes it. `None` only when `max` is 0 and nothing is held.
        earliest_expiry: Option<DateTime<Utc>>,
    },
}

impl Acquire {
    /// Whether the job holds a slot and may submit.
    pub fn is_acquired(&self) -> bool {
        matches!(self, Acquire::Acquired { .. })
    }
}

/// A lease-based distributed semaphore capping generations in flight per upstream token,
/// across all workers: the upstream refuses (or 429s) submits beyond its per-token limit, and
/// each worker alone cannot know what the others have running.
///
/// Each token alias has a sorted set `{prefix}:slots:{alias}` whose members are the job ids
/// holding a slot, scored by when their lease expires (server ms). A job holds its slot from
/// the submit until its upstream task ends, *including* a job cancelled mid-generation: the
/// upstream keeps generating it and counts it. The lease is short (e.g. 60 s) and is renewed
/// by whoever looks at the running task (the poll or the callback), so a slot of a worker
/// that died, or of a task nobody looks at any more, frees itself when its lease expires.
/// Keep the lease well above the interval between two looks at a task.
///
/// Every operation is one Lua script reading the Redis server's clock, so concurrent workers
/// on machines with different clocks can never hold more than `max` between them. Clones
/// share one connection.
#[derive(Debug, Clone)]
pub struct Slots {
    conn: ConnectionManager,
    prefix: String,
    registry: String,
    acquire: Script,
    renew: Script,
    release: Script,
    held: Script,
    holders: Script,
}

impl Slots {
    /// The slots under `{prefix}:slots:{alias}`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        let script = |body: &str| {
            Script::new(&with_server_now(
                &body.replace("__EXPIRE_WITH_LAST__", EXPIRE_WITH_LAST),
            ))
        };
        Slots {
            conn,
            prefix: format!("{prefix}:slots:"),
            registry: format!("{prefix}:slot_aliases"),
            acquire: script(ACQUIRE),
            renew: script(RENEW),
            release: script(RELEASE),
            held: script(HELD),
            holders: script(HOLDERS),
        }
    }

    fn key(&self, alias: &str) -> String {
        format!("{}{alias}", self.prefix)
    }

    /// Takes a slot on `alias` for `job` for `ttl`, unless `max` are held already.
    ///
    /// Idempotent per job: a job that holds a slot already only has its lease renewed, so a
    /// step retried after a crash or a duplicate delivery never takes two. Expired leases are
    /// dropped first, so a dead holder's slot goes to the next acquirer.
    ///
    /// # Errors
    ///
    /// Redis failures; [`StoreError::Corrupt`] when the script answers something else.
    pub async fn acquire(
        &self,
        alias: &str,
        job: &JobId,
        max: u32,
        ttl: Duration,
    ) -> Result<Acquire, StoreError> {
        let key = self.key(alias);
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = self
            .acquire
            .key(&key)
            .key(&self.registry)
            .arg(job.as_str())
            .arg(max)
            .arg(millis(ttl))
            .arg(alias)
            .invoke_async(&mut conn)
            .await?;
        let corrupt = || StoreError::Corrupt {
            what: key.clone(),
            detail: format!("the slot script answered {reply:?}"),
        };
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

    /// Extends `job`'s lease on `alias` to `ttl` from now; `false` when it was lost (expired,
    /// and the slot perhaps taken since), and the caller must acquire again before it may
    /// count the task as holding a slot.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn renew(&self, alias: &str, job: &JobId, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let renewed: i64 = self
            .renew
            .key(self.key(alias))
            .arg(job.as_str())
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }

    /// Gives `job`'s slot on `alias` back, when its upstream task has ended or it failed
    /// before the upstream took it; `false` when the lease had already expired or was never
    /// held. Either way the job holds no slot afterwards.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn release(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let released: i64 = self
            .release
            .key(self.key(alias))
            .arg(job.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(released == 1)
    }

    /// How many live leases `alias` has: the generations pixq counts as in flight on it
    /// (`pixq_in_flight{token}`).
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn held(&self, alias: &str) -> Result<u32, StoreError> {
        let mut conn = self.conn.clone();
        let held: i64 = self
            .held
            .key(self.key(alias))
            .invoke_async(&mut conn)
            .await?;
        Ok(u32::try_from(held).unwrap_or(u32::MAX))
    }

    /// The jobs holding a live lease on `alias`, each with when its lease runs out, the
    /// earliest first: for an operator asking what occupies the token.
    ///
    /// # Errors
    ///
    /// Redis failures; [`StoreError::Corrupt`] for an expiry that is not a time.
    pub async fn holders(&self, alias: &str) -> Result<Vec<(JobId, DateTime<Utc>)>, StoreError> {
        let key = self.key(alias);
        let mut conn = self.conn.clone();
        let rows: Vec<(String, i64)> = self.holders.key(&key).invoke_async(&mut conn).await?;
        rows.into_iter()
            .map(|(job, ms)| Ok((JobId::from(job), from_millis(ms, &key)?)))
            .collect()
    }

    /// Every token alias that ever took a slot under this prefix (kept in
    /// `{prefix}:slot_aliases`): lets a scrape report `pixq_in_flight{token}` without knowing
    /// the tokens, and without scanning the keyspace.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn aliases(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let mut aliases: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(&self.registry)
            .query_async(&mut conn)
            .await?;
        aliases.sort();
        Ok(aliases)
    }
}
