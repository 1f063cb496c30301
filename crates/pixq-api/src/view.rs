//! [`JobView`]: the job object as the API shows it.
//!
//! Built from the stored [`Job`], field by field, so that a field added to the record for the
//! workers (the exact submit body, the callback secret, earlier task ids, the chain still to
//! run) never reaches a client by accident.

use chrono::{DateTime, Utc};
use pixq_core::job::{Action, BatchId, Job, JobError, JobId, JobResult};
use pixq_core::state::{JobState, WaitingReason};
use serde::Serialize;
use serde_json::Value;

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
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use pixq_core::job::NewJob;
    use serde_json::json;

    use super::*;

    #[test]
    fn internals_never_show() {
        let mut job = NewJob::new(Action::Generate, json!({"prompt": "a"})).into_job(Utc::now());
        job.upstream.request = Some("{\"secret-body\":1}".into());
        job.upstream.callback_secret = Some("s3cr3t".into());
        job.upstream.previous_task_ids = vec!["old-task".into()];
        let text = serde_json::to_string(&JobView::from(job)).unwrap();
        for hidden in ["secret-body", "s3cr3t", "old-task", "run_at", "late_result"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        let value: Value = serde_json::from_str(&text).unwrap();
        let upstream = value["upstream"].as_object().unwrap();
        assert_eq!(upstream.len(), 3, "{upstream:?}");
    }
}
