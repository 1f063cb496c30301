//! [`PipelineRuns`] on Redis: `{p}:pipeline:{name}`, a hash of the last run's `tick` (ms) and
//! `batch`, moved forward only by `pipeline_record.lua`.

use std::collections::HashMap;

use ::redis::AsyncCommands;
use async_trait::async_trait;

use super::{RedisStore, from_millis};
use crate::job::BatchId;
use crate::pipeline::{PipelineRun, PipelineRuns};
use crate::store::StoreError;

#[async_trait]
impl PipelineRuns for RedisStore {
    async fn record(&self, pipeline: &str, run: &PipelineRun) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let recorded: i64 = self
            .scripts
            .pipeline_record
            .arg(self.keys.pipeline(pipeline))
            .arg(run.tick.timestamp_millis())
            .arg(run.batch.as_str())
            .invoke_async(&mut conn)
            .await?;
        Ok(recorded == 1)
    }

    async fn last(&self, pipeline: &str) -> Result<Option<PipelineRun>, StoreError> {
        let what = self.keys.pipeline(pipeline);
        let mut conn = self.conn();
        let fields: HashMap<String, String> = conn.hgetall(&what).await?;
        let (Some(tick), Some(batch)) = (fields.get("tick"), fields.get("batch")) else {
            return Ok(None);
        };
        let ms = tick.parse::<i64>().map_err(|_| {
            StoreError::corrupt(&what, format!("the tick {tick:?} is not a number"))
        })?;
        Ok(Some(PipelineRun {
            tick: from_millis(ms, &what)?,
            batch: BatchId::from(batch.as_str()),
        }))
    }
}
