//! [`submit`]: a whole batch written and accepted, or replayed for its idempotency key, in
//! one call. The API's `POST /v1/batches` and the pipelines' scheduler both submit through it,
//! so a batch is written one way whoever writes it.

use std::sync::Arc;

use serde_json::json;

use super::{Batch, Begun, NewBatch};
use crate::chain;
use crate::spec::{JobSpec, fingerprint as body_fingerprint};
use crate::store::{IdempotencyKey, Store, StoreError};

/// Chains handed to the store per [`crate::batch::Batches::add`]: large enough that 100,000
/// chains are five calls, small enough that the next chunk's jobs are made while one is
/// written.
pub const WRITE_CHUNK: usize = 20_000;

/// The answer of [`submit`].
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The batch: the new one, or the one its idempotency key already named.
    pub batch: Batch,
    /// `true` when the key replayed an earlier batch made from the same body: nothing was
    /// written.
    pub replayed: bool,
}

/// The fingerprint of a batch for its idempotency key: equal entries (by their own
/// fingerprints, in order), name and webhook, equal fingerprints.
pub fn fingerprint(specs: &[JobSpec], name: Option<&str>, webhook_url: Option<&str>) -> String {
    let entries: Vec<String> = specs.iter().map(JobSpec::fingerprint).collect();
    body_fingerprint(&json!({
        "entries": entries,
        "name": name,
        "webhook_url": webhook_url,
    }))
}

/// Begins `batch` (taking `idempotency`, if any), writes its chains in chunks of
/// [`WRITE_CHUNK`] and accepts it. A failure after the begin discards what was written
/// (or leaves it to the janitor when even that fails), so a batch is whole or absent.
///
/// Each chunk's jobs are made on a blocking thread while the store writes the one before.
///
/// # Errors
///
/// [`StoreError::BatchKeyTaken`] when the key names another body's batch or one still being
/// written; the store's errors otherwise.
pub async fn submit(
    store: &dyn Store,
    batch: NewBatch,
    specs: Vec<JobSpec>,
    idempotency: Option<&IdempotencyKey>,
) -> Result<Submitted, StoreError> {
    if let Begun::Replayed(first) = store.batches().begin(&batch, idempotency).await? {
        return Ok(Submitted {
            batch: first,
            replayed: true,
        });
    }
    let written = async {
        let specs = Arc::new(specs);
        let make = |from: usize| {
            let specs = Arc::clone(&specs);
            tokio::task::spawn_blocking(move || {
                let to = (from + WRITE_CHUNK).min(specs.len());
                specs[from..to]
                    .iter()
                    .map(chain::new_job)
                    .collect::<Vec<_>>()
            })
        };
        let mut next = Some(make(0));
        let mut from = 0;
        while let Some(making) = next.take() {
            let jobs = making.await.map_err(|e| {
                StoreError::corrupt(
                    format!("batch {}", batch.id),
                    format!("making its jobs failed: {e}"),
                )
            })?;
            from += jobs.len();
            if from < specs.len() {
                next = Some(make(from));
            }
            store.batches().add(&batch.id, jobs).await?;
        }
        store.batches().accept(&batch.id).await
    }
    .await;
    match written {
        Ok(accepted) => Ok(Submitted {
            batch: accepted,
            replayed: false,
        }),
        Err(e) => {
            if let Err(discard) = store.batches().discard(&batch.id).await {
                tracing::warn!(batch = %batch.id, error = %discard, "could not discard a batch that failed mid-write; the janitor will");
            }
            Err(e)
        }
    }
}
