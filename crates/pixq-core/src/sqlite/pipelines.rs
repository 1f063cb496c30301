//! [`PipelineRuns`] on SQLite: the `pipeline_runs` table, one row a pipeline, moved forward
//! only by a conditional upsert.

use async_trait::async_trait;
use rusqlite::params;

use super::{Cached, SqliteStore, from_millis, optional};
use crate::job::BatchId;
use crate::pipeline::{PipelineRun, PipelineRuns};
use crate::store::StoreError;

#[async_trait]
impl PipelineRuns for SqliteStore {
    async fn record(&self, pipeline: &str, run: &PipelineRun) -> Result<bool, StoreError> {
        let (name, tick, batch) = (
            pipeline.to_owned(),
            run.tick.timestamp_millis(),
            run.batch.as_str().to_owned(),
        );
        self.write(move |tx| {
            let changed = tx.exec(
                "INSERT INTO pipeline_runs (name, tick_ms, batch) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET tick_ms = excluded.tick_ms, batch = excluded.batch
                 WHERE excluded.tick_ms > pipeline_runs.tick_ms",
                params![name, tick, batch],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn last(&self, pipeline: &str) -> Result<Option<PipelineRun>, StoreError> {
        let name = pipeline.to_owned();
        self.read(move |conn| {
            let row: Option<(i64, String)> = optional(conn.row(
                "SELECT tick_ms, batch FROM pipeline_runs WHERE name = ?1",
                [&name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            ))?;
            row.map(|(ms, batch)| {
                Ok(PipelineRun {
                    tick: from_millis(ms, &format!("the last run of pipeline {name}"))?,
                    batch: BatchId::from(batch),
                })
            })
            .transpose()
        })
        .await
    }
}
