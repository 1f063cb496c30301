//! [`WaitLine`]: jobs waiting for a slot on a token, in the order they arrived.

use async_trait::async_trait;

use crate::job::JobId;
use crate::store::StoreError;

/// Per token alias, the jobs that found every slot taken, in the order they arrived, so
/// parked jobs wake in that order rather than whichever poll happens to come first.
///
/// A job stays in the line from its first park until it gets a slot (or ends), and parking
/// it again keeps its place: a job woken when a slot freed but beaten to it by another is
/// still first next time. The worker that frees a slot rings the jobs of
/// [`WaitLine::first`]; it does not take them out, the job does with [`WaitLine::remove`]
/// once it holds a slot, is cancelled, or fails. A job left behind by a crash is woken at the
/// head of the line and removes itself then. The order needs no clock.
#[async_trait]
pub trait WaitLine: Send + Sync {
    /// Puts `job` at the end of `alias`'s line; `false` when it was in the line already and
    /// kept its earlier place.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn park(&self, alias: &str, job: &JobId) -> Result<bool, StoreError>;

    /// The first `n` jobs of `alias`'s line, the longest waiting first: the ones to wake
    /// when `n` slots free. They stay in the line.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn first(&self, alias: &str, n: usize) -> Result<Vec<JobId>, StoreError>;

    /// Takes `job` out of `alias`'s line, once it holds a slot or no longer waits for one;
    /// `false` when it was not in the line.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn remove(&self, alias: &str, job: &JobId) -> Result<bool, StoreError>;

    /// How many jobs wait in `alias`'s line.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn len(&self, alias: &str) -> Result<u64, StoreError>;
}
