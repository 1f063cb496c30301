//! [`WaitLine`]: jobs waiting for a slot on a token, in the order they arrived.

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Script};

use crate::job::JobId;
use crate::store::StoreError;

/// `park(job)`: puts the job at the end of the line unless it is in it already (then it
/// keeps its place). Answers 1 when it was added.
const PARK: &str = r"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], 'NX', redis.call('INCR', KEYS[2]), ARGV[1])
return 1
";

/// Per token alias, the jobs that found every slot taken, in a sorted set
/// `{prefix}:waiting:{alias}` scored by a sequence number from `{prefix}:waiting-seq`, so
/// parked jobs wake in the order they arrived rather than whichever poll happens to come
/// first.
///
/// A job stays in the line from its first park until it gets a slot (or ends), and parking
/// it again keeps its place: a job woken when a slot freed but beaten to it by another is
/// still first next time. The worker that frees a slot rings the jobs of
/// [`WaitLine::first`]; it does not take them out, the job does with [`WaitLine::remove`]
/// once it holds a slot, is cancelled, or fails. A job left behind by a crash is woken at the
/// head of the line and removes itself then. The scores need no clock. Clones share one
/// connection.
#[derive(Debug, Clone)]
pub struct WaitLine {
    conn: ConnectionManager,
    prefix: String,
    seq: String,
    park: Script,
}

impl WaitLine {
    /// The lines under `{prefix}:waiting:{alias}`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        WaitLine {
            conn,
            prefix: format!("{prefix}:waiting:"),
            seq: format!("{prefix}:waiting-seq"),
            park: Script::new(PARK),
        }
    }

    fn key(&self, alias: &str) -> String {
        format!("{}{alias}", self.prefix)
    }

    /// Puts `job` at the end of `alias`'s line; `false` when it was in the line already and
    /// kept its earlier place.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn park(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let added: i64 = self
            .park
            .key(self.key(alias))
            .key(&self.seq)
            .arg(job.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(added == 1)
    }

    /// The first `n` jobs of `alias`'s line, the longest waiting first: the ones to wake
    /// when `n` slots free. They stay in the line.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn first(&self, alias: &str, n: usize) -> Result<Vec<JobId>, StoreError> {
        let Some(last) = n.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let last = isize::try_from(last).unwrap_or(isize::MAX);
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.zrange(self.key(alias), 0, last).await?;
        Ok(ids.into_iter().map(JobId::from).collect())
    }

    /// Takes `job` out of `alias`'s line, once it holds a slot or no longer waits for one;
    /// `false` when it was not in the line.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn remove(&self, alias: &str, job: &JobId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = conn.zrem(self.key(alias), job.as_str()).await?;
        Ok(removed == 1)
    }

    /// How many jobs wait in `alias`'s line.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn len(&self, alias: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.zcard(self.key(alias)).await?)
    }
}
