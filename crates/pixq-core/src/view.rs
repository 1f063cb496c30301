//! The public objects: [`JobView`] (the job object), [`BatchView`] (the batch object) and
//! [`WebhookView`] (how a job's or a batch's webhook fared), exactly as the API shows them.
//!
//! They live here, not in the API, because webhooks carry the same objects: the store renders
//! an event's body when the transition that causes it is written, and the worker delivers it,
//! so both must see one definition. Each is built from the stored record field by field, so a
//! field added to the record for the workers (the exact submit body, the callback secret,
//! earlier task ids) never reaches a client by accident.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::batch::{Batch, Counts};
use crate::job::{Action, BatchId, Job, JobError, JobId, JobResult};
use crate::outbox::{DeliveryState, DeliveryStatus, EventId};
use crate::state::{JobState, WaitingReason};

/// The job object of INTERFACE.md.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobView {
    /// The job's id.
    pub id: JobId,
    /// Its batch, if any.
    #[schema(required = true)]
    pub batch_id: Option<BatchId>,
    /// The step it extends, `None` for a chain's first step.
    #[schema(required = true)]
    pub parent_id: Option<JobId>,
    /// The chain's first step.
    pub root_id: JobId,
    /// 0 for the first generation.
    pub step: u32,
    /// The chain's next steps.
    pub children: Vec<JobId>,
    /// `generate` or `extend`.
    pub action: Action,
    /// The request as given.
    pub params: Value,
    /// Where the job stands.
    pub state: JobState,
    /// Why a queued job waits.
    #[schema(required = true)]
    pub waiting_reason: Option<WaitingReason>,
    /// Failed tries counted against `retry.max_attempts`.
    pub attempts: u32,
    /// The upstream task, once there is one.
    pub upstream: UpstreamView,
    /// The video, once succeeded.
    #[schema(required = true)]
    pub result: Option<JobResult>,
    /// A video that arrived after the job had ended; shown only when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_result: Option<JobResult>,
    /// Why the job failed or was cancelled.
    #[schema(required = true)]
    pub error: Option<JobError>,
    /// The user's free JSON, as given.
    pub metadata: Value,
    /// Where the job is POSTed when it ends.
    #[schema(required = true)]
    pub webhook_url: Option<String>,
    /// How the webhook of the job's end fared; shown once there is one (never inside the
    /// webhook itself, which is written before it is sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookView>,
    /// When the job was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// When the job ended.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// The public part of the job's upstream record: never the request body or the callback
/// secret.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UpstreamView {
    /// The upstream task id.
    #[schema(required = true)]
    pub task_id: Option<String>,
    /// The upstream's trace id of the submit.
    #[schema(required = true)]
    pub trace_id: Option<String>,
    /// When the task id was recorded.
    #[schema(required = true)]
    pub submitted_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        JobView {
            id: job.id,
            batch_id: job.batch_id,
            parent_id: job.parent_id,
            root_id: job.root_id,
            step: job.step,
            children: job.children,
            action: job.action,
            params: job.params,
            state: job.state,
            waiting_reason: job.waiting_reason,
            attempts: job.attempts,
            upstream: UpstreamView {
                task_id: job.upstream.task_id,
                trace_id: job.upstream.trace_id,
                submitted_at: job.upstream.submitted_at,
            },
            result: job.result,
            late_result: job.late_result,
            error: job.error,
            metadata: job.metadata,
            webhook_url: job.webhook_url,
            webhook: None,
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }
}

impl JobView {
    /// The same object showing how its webhook fared (`None` leaves it out).
    pub fn with_webhook(mut self, status: Option<DeliveryStatus>) -> Self {
        self.webhook = status.map(WebhookView::from);
        self
    }
}

/// The batch object of INTERFACE.md: counts of its chains (a prompt with its extends is one)
/// by state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    /// The batch's id.
    pub id: BatchId,
    /// Its name, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How many chains it has.
    pub total: u64,
    /// How many are queued, running, succeeded, failed and cancelled.
    pub counts: Counts,
    /// Where the batch is POSTed when it ends.
    #[schema(required = true)]
    pub webhook_url: Option<String>,
    /// How the webhook of the batch's end fared; shown once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookView>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When its last chain ended; `null` while any is queued or running.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Batch> for BatchView {
    fn from(batch: Batch) -> Self {
        BatchView {
            id: batch.id,
            name: batch.name,
            total: batch.total,
            counts: batch.counts,
            webhook_url: batch.webhook_url,
            webhook: None,
            created_at: batch.created_at,
            finished_at: batch.finished_at,
        }
    }
}

impl BatchView {
    /// The same object showing how its webhook fared (`None` leaves it out).
    pub fn with_webhook(mut self, status: Option<DeliveryStatus>) -> Self {
        self.webhook = status.map(WebhookView::from);
        self
    }
}

/// How the latest webhook of a job or a batch fared: `{"id", "state", "attempts",
/// "last_error"}`. A refused one says why in `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    /// The event's id: its `webhook-id` header, and what `POST /v1/webhooks/{id}/resend`
    /// takes.
    pub id: EventId,
    /// `pending`, `delivered`, `failed` (given up after `webhooks.give_up_after`) or
    /// `refused` (the outbound policy forbade the address).
    pub state: DeliveryState,
    /// Requests made (and refusals), all attempts together.
    pub attempts: u32,
    /// Why the last attempt failed, if one did.
    #[schema(required = true)]
    pub last_error: Option<String>,
}

impl From<DeliveryStatus> for WebhookView {
    fn from(status: DeliveryStatus) -> Self {
        WebhookView {
            id: status.id,
            state: status.state,
            attempts: status.attempts,
            last_error: status.last_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::job::NewJob;

    #[test]
    fn internals_never_show() {
        let mut job = NewJob::new(Action::Generate, json!({"prompt": "a"})).into_job(Utc::now());
        job.upstream.request = Some("{\"secret-body\":1}".into());
        job.upstream.callback_secret = Some("s3cr3t".into());
        job.upstream.previous_task_ids = vec!["old-task".into()];
        let text = serde_json::to_string(&JobView::from(job)).unwrap();
        for hidden in [
            "secret-body",
            "s3cr3t",
            "old-task",
            "run_at",
            "late_result",
            "\"webhook\"",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        let value: Value = serde_json::from_str(&text).unwrap();
        let upstream = value["upstream"].as_object().unwrap();
        assert_eq!(upstream.len(), 3, "{upstream:?}");
    }

    #[test]
    fn the_webhook_state_shows_once_there_is_one() {
        let job = NewJob::new(Action::Generate, json!({"prompt": "a"})).into_job(Utc::now());
        let status = DeliveryStatus {
            id: EventId::from("evt_1"),
            state: DeliveryState::Refused,
            attempts: 1,
            last_error: Some("127.0.0.1 is a loopback address".into()),
        };
        let value = serde_json::to_value(JobView::from(job).with_webhook(Some(status))).unwrap();
        assert_eq!(
            value["webhook"],
            json!({"id": "evt_1", "state": "refused", "attempts": 1,
                   "last_error": "127.0.0.1 is a loopback address"})
        );
    }
}
