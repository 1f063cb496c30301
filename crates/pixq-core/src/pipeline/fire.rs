//! [`fire`]: one tick of one pipeline submitted as one batch, once, however many schedulers
//! fire it at the same time.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pixverse::AssetId;
use serde_json::Value;

use super::load::character_name;
use super::{Pipeline, PipelineRun};
use crate::batch::{self, Batch, NewBatch, Submitted};
use crate::job::BatchId;
use crate::spec::{JobSpec, SpecError};
use crate::store::{Store, StoreError};

/// What firing a tick did.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// This call wrote the tick's batch.
    Created(Batch),
    /// The tick's batch was there already (another scheduler wrote it): nothing was written.
    Replayed(Batch),
    /// Another scheduler is writing the tick's batch at this moment: nothing was written, and
    /// that scheduler records the run.
    InProgress(BatchId),
    /// The tick's batch was written by a scheduler whose pipeline submits something else
    /// (its configuration differs from this one's): nothing was written.
    Differs(BatchId),
}

impl Fired {
    /// The tick's batch, whoever wrote it.
    pub fn batch_id(&self) -> &BatchId {
        match self {
            Fired::Created(batch) | Fired::Replayed(batch) => &batch.id,
            Fired::InProgress(id) | Fired::Differs(id) => id,
        }
    }
}

/// Why a tick could not be fired.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FireError {
    /// The store failed; the tick may be fired again.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A job's `asset_id` names a character that does not exist (yet).
    #[error(
        "asset_id {name:?} names no character: make it with `pixq character create … --name {name}`, or change the pipeline"
    )]
    UnknownCharacter {
        /// The name.
        name: String,
    },
    /// A job is refused once its character is resolved.
    #[error("job {index} of the pipeline is refused: {error}")]
    Job {
        /// Its index among the pipeline's jobs.
        index: usize,
        /// Why.
        error: SpecError,
    },
}

/// Submits `pipeline`'s jobs as tick `tick`'s batch, named [`Pipeline::batch_name`], under the
/// tick's idempotency key ([`Pipeline::tick_key`]), and records the run. Any number of
/// schedulers may fire the same tick at once: the store lets one write the batch, and answers
/// the others with it.
///
/// # Errors
///
/// [`FireError::Store`] when the store fails (firing again is safe);
/// [`FireError::UnknownCharacter`] and [`FireError::Job`] when a job cannot be made.
pub async fn fire(
    store: &dyn Store,
    pipeline: &Pipeline,
    tick: DateTime<Utc>,
) -> Result<Fired, FireError> {
    let specs = specs(store, pipeline).await?;
    let name = pipeline.batch_name(tick);
    let fingerprint = batch::fingerprint(&specs, Some(&name), pipeline.webhook_url.as_deref());
    let key = pipeline.idempotency(tick, fingerprint);
    let new = NewBatch {
        id: BatchId::generate(),
        name: Some(name),
        webhook_url: pipeline.webhook_url.clone(),
    };
    let fired = match batch::submit(store, new, specs, Some(&key)).await {
        Ok(Submitted {
            batch,
            replayed: false,
        }) => Fired::Created(batch),
        Ok(Submitted {
            batch,
            replayed: true,
        }) => Fired::Replayed(batch),
        Err(StoreError::BatchKeyTaken {
            batch,
            in_progress: true,
            ..
        }) => return Ok(Fired::InProgress(batch)),
        Err(StoreError::BatchKeyTaken {
            batch,
            in_progress: false,
            ..
        }) => Fired::Differs(batch),
        Err(e) => return Err(e.into()),
    };
    let run = PipelineRun {
        tick,
        batch: fired.batch_id().clone(),
    };
    store.pipelines().record(&pipeline.name, &run).await?;
    Ok(fired)
}

/// The pipeline's jobs as specs, with every character name resolved (one lookup a name).
async fn specs(store: &dyn Store, pipeline: &Pipeline) -> Result<Vec<JobSpec>, FireError> {
    let mut names: HashMap<String, AssetId> = HashMap::new();
    for job in pipeline.jobs.iter() {
        if let Some(name) = character_name(job)
            && !names.contains_key(name)
        {
            let character = store
                .characters()
                .find_by_name(name)
                .await?
                .ok_or_else(|| FireError::UnknownCharacter {
                    name: name.to_owned(),
                })?;
            names.insert(name.to_owned(), character.asset_id);
        }
    }
    let jobs = Arc::clone(&pipeline.jobs);
    tokio::task::spawn_blocking(move || build(&jobs, &names))
        .await
        .map_err(|e| {
            FireError::Store(StoreError::corrupt(
                "a pipeline's jobs",
                format!("making them failed: {e}"),
            ))
        })?
}

fn build(jobs: &[Value], names: &HashMap<String, AssetId>) -> Result<Vec<JobSpec>, FireError> {
    jobs.iter()
        .enumerate()
        .map(|(index, job)| {
            let spec = match character_name(job).and_then(|name| names.get(name)) {
                Some(asset_id) => {
                    let mut job = job.clone();
                    job["asset_id"] = Value::from(asset_id.get());
                    JobSpec::from_value(&job)
                }
                None => JobSpec::from_value(job),
            };
            spec.map_err(|error| FireError::Job { index, error })
        })
        .collect()
}
