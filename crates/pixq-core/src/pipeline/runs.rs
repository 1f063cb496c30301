//! [`PipelineRuns`]: each pipeline's last run, in the store, so that a scheduler starting up
//! knows which ticks were missed, and `GET /v1/pipelines` can show the last batch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::job::BatchId;
use crate::store::StoreError;

/// A tick that fired, and the batch it submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRun {
    /// The tick, to the millisecond (ticks are whole seconds).
    pub tick: DateTime<Utc>,
    /// The batch that tick submitted.
    pub batch: BatchId,
}

/// The last run of every pipeline, by name. Every backend keeps the same promises, checked by
/// the conformance suite: a run only ever moves forward (a scheduler that records an older
/// tick late changes nothing), and the tick and its batch move together.
#[async_trait]
pub trait PipelineRuns: Send + Sync {
    /// Records `run` as `pipeline`'s last, unless a run of the same or a later tick is
    /// recorded already; answers whether it was recorded.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn record(&self, pipeline: &str, run: &PipelineRun) -> Result<bool, StoreError>;

    /// `pipeline`'s last recorded run; `None` when it never ran.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for a record that does not read back.
    async fn last(&self, pipeline: &str) -> Result<Option<PipelineRun>, StoreError>;
}
