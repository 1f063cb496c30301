//! What the API shows of webhooks: the job and batch objects with how their latest event fared
//! (`webhook`, from [`pixq_core::outbox::Outbox::status`]), and the refusal of a `webhook_url`
//! while nothing could sign its events.

use pixq_core::batch::Batch;
use pixq_core::job::Job;
use pixq_core::outbox::DeliveryStatus;
use pixq_core::spec::SpecErrorCode;
use pixq_core::view::{BatchView, JobView};

use crate::error::ApiError;
use crate::state::AppState;

/// 400 naming `field` when webhooks are asked for while `api.webhook_secret` is unset.
pub(crate) fn require_secret(state: &AppState, field: &str) -> Result<(), ApiError> {
    if state.config().signs_webhooks {
        return Ok(());
    }
    Err(ApiError::bad_input(
        SpecErrorCode::InvalidValue,
        field,
        "webhooks are off on this server: set api.webhook_secret (a Standard Webhooks secret, whsec_ + base64) to send them",
    ))
}

/// How the latest event of each item fared, in order: `None` for an item without a webhook
/// (`subject` answers `None`) or whose webhook has not fired. Only items with one are looked
/// up, in one call.
async fn statuses<T>(
    state: &AppState,
    items: &[T],
    subject: impl Fn(&T) -> Option<String>,
) -> Result<Vec<Option<DeliveryStatus>>, ApiError> {
    let subjects: Vec<Option<String>> = items.iter().map(subject).collect();
    let asked: Vec<String> = subjects.iter().flatten().cloned().collect();
    let mut found = if asked.is_empty() {
        Vec::new()
    } else {
        state.store().outbox().status(&asked).await?
    }
    .into_iter();
    Ok(subjects
        .iter()
        .map(|s| s.as_ref().and_then(|_| found.next().flatten()))
        .collect())
}

/// The job objects of `jobs`, each with its webhook's state when it has one.
pub(crate) async fn job_views(state: &AppState, jobs: Vec<Job>) -> Result<Vec<JobView>, ApiError> {
    let statuses = statuses(state, &jobs, |job| {
        job.webhook_url.as_ref().map(|_| job.id.to_string())
    })
    .await?;
    Ok(jobs
        .into_iter()
        .zip(statuses)
        .map(|(job, status)| JobView::from(job).with_webhook(status))
        .collect())
}

/// The job object of `job`, with its webhook's state when it has one.
pub(crate) async fn job_view(state: &AppState, job: Job) -> Result<JobView, ApiError> {
    let mut views = job_views(state, vec![job]).await?;
    views.pop().ok_or_else(ApiError::internal)
}

/// The batch objects of `batches`, each with its webhook's state when it has one.
pub(crate) async fn batch_views(
    state: &AppState,
    batches: Vec<Batch>,
) -> Result<Vec<BatchView>, ApiError> {
    let statuses = statuses(state, &batches, |batch| {
        batch.webhook_url.as_ref().map(|_| batch.id.to_string())
    })
    .await?;
    Ok(batches
        .into_iter()
        .zip(statuses)
        .map(|(batch, status)| BatchView::from(batch).with_webhook(status))
        .collect())
}

/// The batch object of `batch`, with its webhook's state when it has one.
pub(crate) async fn batch_view(state: &AppState, batch: Batch) -> Result<BatchView, ApiError> {
    if batch.webhook_url.is_none() {
        return Ok(BatchView::from(batch));
    }
    let status = state
        .store()
        .outbox()
        .status(&[batch.id.to_string()])
        .await?
        .pop()
        .flatten();
    Ok(BatchView::from(batch).with_webhook(status))
}
