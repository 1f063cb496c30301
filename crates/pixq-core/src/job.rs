//! The job record: what a job is, where it sits in its chain and batch, and what the upstream
//! said about it.
//!
//! A [`Job`] is created from a [`NewJob`] (a chain's first step) or from a [`NextStep`] (step
//! k+1, created by the store in the same write that finishes step k). Its state only changes
//! through a [`Transition`](crate::state::Transition); the fields here are the data those
//! transitions carry.
//!
//! Ids are deterministic along a chain: the root is `job_<uuidv7>` and step k of it is
//! `<root>.s<k>`, so the next step of a job can be created at most once.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{JobState, WaitingReason};

/// A job's id: `job_<uuidv7>` for a chain's first step, `<root>.s<k>` for step k.
///
/// UUIDv7 ids sort by creation time, so roots sort newest last as plain strings.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// A fresh id for the first step of a chain.
    pub fn generate() -> Self {
        JobId(format!("job_{}", uuid::Uuid::now_v7().simple()))
    }

    /// The id of step `step` of the chain rooted at `root` (the root itself for step 0).
    ///
    /// Deterministic, so that finishing a step twice finds its successor already there.
    pub fn for_step(root: &JobId, step: u32) -> Self {
        if step == 0 {
            root.clone()
        } else {
            JobId(format!("{}.s{step}", root.0))
        }
    }

    /// The id as text, e.g. for a URL path or a log field.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for JobId {
    /// Wraps an id as given (e.g. from a URL path); an unknown id is simply not found.
    fn from(id: String) -> Self {
        JobId(id)
    }
}

impl From<&str> for JobId {
    fn from(id: &str) -> Self {
        JobId(id.to_owned())
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A batch's id: `batch_<uuidv7>`. Every job created by one `POST /v1/batches` carries it.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct BatchId(String);

impl BatchId {
    /// A fresh batch id.
    pub fn generate() -> Self {
        BatchId(format!("batch_{}", uuid::Uuid::now_v7().simple()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for BatchId {
    /// Wraps an id as given; an unknown batch simply has no jobs.
    fn from(id: String) -> Self {
        BatchId(id)
    }
}

impl From<&str> for BatchId {
    fn from(id: &str) -> Self {
        BatchId(id.to_owned())
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a step asks the upstream for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A new video from a prompt (and optionally an image or a template).
    Generate,
    /// A continuation of an earlier video, by its `video_id`.
    Extend,
}

impl Action {
    /// The wire name: `generate` or `extend`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Generate => "generate",
            Action::Extend => "extend",
        }
    }
}

/// What pixq knows about the upstream side of a job.
///
/// `request` and `callback_secret` are recorded by
/// [`Transition::begin_submit`](crate::state::Transition::begin_submit) before the submit is
/// sent. They are internal: the API shows `task_id`, `trace_id` and `submitted_at` only, and
/// never the secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Upstream {
    /// The upstream task id, once a submit answered (or a lookup found it).
    #[serde(default)]
    pub task_id: Option<String>,
    /// The upstream's trace id of the submit.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// When the task id was recorded.
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    /// The exact body of the latest submit, recorded before it was sent: an unanswered submit
    /// is looked up by it before pixq dares to submit again.
    #[serde(default)]
    pub request: Option<String>,
    /// The secret in this job's callback URL, when the upstream can call back.
    #[serde(default)]
    pub callback_secret: Option<String>,
    /// Task ids of earlier attempts that ended without a usable video, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_task_ids: Vec<String>,
}

/// A finished video, as the job object reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobResult {
    /// The PixVerse video id (an integer), which the next extend step continues from.
    #[schema(value_type = i64)]
    pub video_id: pixverse::VideoId,
    /// Where the MP4 lives; PixVerse's CDN keeps it for a limited time.
    pub video_url: String,
    /// Width in pixels, when reported.
    #[serde(default)]
    #[schema(required = true)]
    pub width: Option<u32>,
    /// Height in pixels, when reported.
    #[serde(default)]
    #[schema(required = true)]
    pub height: Option<u32>,
    /// First frame image URL, when given.
    #[serde(default)]
    #[schema(required = true)]
    pub first_frame: Option<String>,
    /// Last frame image URL, when given.
    #[serde(default)]
    #[schema(required = true)]
    pub last_frame: Option<String>,
    /// The seed used, when reported.
    #[serde(default)]
    #[schema(required = true)]
    pub seed: Option<i64>,
    /// Length in seconds, when reported.
    #[serde(default)]
    #[schema(required = true)]
    pub duration: Option<u32>,
    /// The model used, e.g. `v3.5`, when reported.
    #[serde(default)]
    #[schema(required = true)]
    pub model: Option<String>,
    /// The quality used, e.g. `540p`, when reported.
    #[serde(default)]
    #[schema(required = true)]
    pub quality: Option<String>,
}

impl From<&pixverse::Video> for JobResult {
    fn from(video: &pixverse::Video) -> Self {
        JobResult {
            video_id: video.video_id,
            video_url: video.video_url.clone(),
            width: video.width,
            height: video.height,
            first_frame: video.first_frame.clone(),
            last_frame: video.last_frame.clone(),
            seed: video.seed,
            duration: video.duration,
            model: video.model.clone(),
            quality: video.quality.clone(),
        }
    }
}

/// Why a job failed (or was cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobError {
    /// A machine-readable code: the upstream's own, or one of pixq's (`poll_timeout`,
    /// `cancelled`, `max_attempts`).
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// Whether a retry may succeed.
    pub retryable: bool,
}

impl JobError {
    /// The code pixq sets on a cancelled job.
    pub const CANCELLED: &'static str = "cancelled";

    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        JobError {
            code: code.into(),
            message: message.into(),
            retryable,
        }
    }
}

/// The stored record of one job: one step of a chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// This job's id.
    pub id: JobId,
    /// The batch it was submitted in, if any; later chain steps inherit it.
    #[serde(default)]
    pub batch_id: Option<BatchId>,
    /// The step this one extends; `None` for the first step.
    #[serde(default)]
    pub parent_id: Option<JobId>,
    /// The chain's first step (this job itself for step 0).
    pub root_id: JobId,
    /// The position in the chain: 0 is the first generation.
    pub step: u32,
    /// How many steps the chain has in all (1 without extends): whether this step is the
    /// last one, so a batch can count whole chains.
    #[serde(default = "one_step")]
    pub chain_len: u32,
    /// The ids of the steps created from this one (at most one in a linear chain).
    #[serde(default)]
    pub children: Vec<JobId>,
    /// What this step asks for.
    pub action: Action,
    /// The request as the user gave it (for later steps: as inherited and overridden). Opaque
    /// to the store.
    pub params: Value,
    /// Where the job stands.
    pub state: JobState,
    /// Why a queued job is waiting; `None` in every other state.
    #[serde(default)]
    pub waiting_reason: Option<WaitingReason>,
    /// Failed tries that count against `retry.max_attempts`.
    #[serde(default)]
    pub attempts: u32,
    /// When a queued job is due again (after a backoff); `None` means now.
    #[serde(default)]
    pub run_at: Option<DateTime<Utc>>,
    /// The upstream side: request as sent, task id, trace id.
    #[serde(default)]
    pub upstream: Upstream,
    /// The video, once succeeded.
    #[serde(default)]
    pub result: Option<JobResult>,
    /// A result that arrived after the job had already ended (e.g. was cancelled): recorded,
    /// never applied.
    #[serde(default)]
    pub late_result: Option<JobResult>,
    /// Why the job failed or was cancelled.
    #[serde(default)]
    pub error: Option<JobError>,
    /// Free JSON from the user, returned as is; `null` when none was given.
    #[serde(default)]
    pub metadata: Value,
    /// Where to POST the job object when it ends.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// When the job was created.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// When the job reached a terminal state; cleared by a retry.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A chain without extends.
fn one_step() -> u32 {
    1
}

impl Job {
    /// Whether the job has ended (succeeded, failed or cancelled).
    pub fn is_terminal(&self) -> bool {
        self.state.is_terminal()
    }
}

/// A chain's first step, as the API hands it to [`Store::create`](crate::store::Store::create).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The id to create it under; [`NewJob::new`] generates one.
    pub id: JobId,
    /// The batch it belongs to, if any.
    pub batch_id: Option<BatchId>,
    /// What it asks for.
    pub action: Action,
    /// The request as given by the user, its extend steps included.
    pub params: Value,
    /// How many steps the chain has in all.
    pub chain_len: u32,
    /// Free JSON from the user.
    pub metadata: Value,
    /// Where to POST the job object when it ends.
    pub webhook_url: Option<String>,
}

impl NewJob {
    /// A first step with a fresh id, no batch, no metadata and no webhook.
    pub fn new(action: Action, params: Value) -> Self {
        NewJob {
            id: JobId::generate(),
            batch_id: None,
            action,
            params,
            chain_len: 1,
            metadata: Value::Null,
            webhook_url: None,
        }
    }

    /// Sets how many steps the chain has in all.
    pub fn with_chain_len(mut self, steps: u32) -> Self {
        self.chain_len = steps.max(1);
        self
    }

    /// Puts the job in a batch.
    pub fn in_batch(mut self, batch_id: BatchId) -> Self {
        self.batch_id = Some(batch_id);
        self
    }

    /// Sets the user's metadata.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the webhook URL.
    pub fn with_webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// The record as created at `now`: queued, step 0, its own root.
    pub fn into_job(self, now: DateTime<Utc>) -> Job {
        Job {
            root_id: self.id.clone(),
            id: self.id,
            batch_id: self.batch_id,
            parent_id: None,
            step: 0,
            chain_len: self.chain_len,
            children: Vec::new(),
            action: self.action,
            params: self.params,
            state: JobState::Queued,
            waiting_reason: None,
            attempts: 0,
            run_at: None,
            upstream: Upstream::default(),
            result: None,
            late_result: None,
            error: None,
            metadata: self.metadata,
            webhook_url: self.webhook_url,
            created_at: now,
            updated_at: now,
            finished_at: None,
        }
    }
}

/// The next step of a chain, handed to
/// [`Transition::succeed`](crate::state::Transition::succeed). Its id, parent, root, step,
/// batch, metadata and webhook come from the step that succeeded, so it cannot be created
/// under two ids.
#[derive(Debug, Clone, PartialEq)]
pub struct NextStep {
    /// What the step asks for (normally [`Action::Extend`]).
    pub action: Action,
    /// Its request, already carrying the parent's `video_id`.
    pub params: Value,
}

impl NextStep {
    /// The record of this step after `parent`, as created at `now`: queued.
    pub fn into_job(self, parent: &Job, now: DateTime<Utc>) -> Job {
        let step = parent.step + 1;
        Job {
            id: JobId::for_step(&parent.root_id, step),
            batch_id: parent.batch_id.clone(),
            parent_id: Some(parent.id.clone()),
            root_id: parent.root_id.clone(),
            step,
            chain_len: parent.chain_len,
            children: Vec::new(),
            action: self.action,
            params: self.params,
            state: JobState::Queued,
            waiting_reason: None,
            attempts: 0,
            run_at: None,
            upstream: Upstream::default(),
            result: None,
            late_result: None,
            error: None,
            metadata: parent.metadata.clone(),
            webhook_url: parent.webhook_url.clone(),
            created_at: now,
            updated_at: now,
            finished_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_derive_from_the_root() {
        let root = JobId::from("job_abc");
        assert_eq!(JobId::for_step(&root, 0), root);
        assert_eq!(JobId::for_step(&root, 2).as_str(), "job_abc.s2");
    }

    #[test]
    fn generated_ids_are_distinct_and_prefixed() {
        let (a, b) = (JobId::generate(), JobId::generate());
        assert_ne!(a, b);
        assert!(
            a.as_str().starts_with("job_") && a.as_str().len() == 36,
            "{a}"
        );
        assert!(BatchId::generate().as_str().starts_with("batch_"));
    }

    #[test]
    fn next_step_inherits_place_and_user_fields() {
        let root = NewJob::new(Action::Generate, serde_json::json!({"prompt": "a"}))
            .in_batch(BatchId::from("batch_1"))
            .with_metadata(serde_json::json!({"k": 1}))
            .with_webhook("https://example.com/hook")
            .into_job(Utc::now());
        let child = NextStep {
            action: Action::Extend,
            params: serde_json::json!({"video_id": 1}),
        }
        .into_job(&root, Utc::now());
        assert_eq!(child.id, JobId::for_step(&root.id, 1));
        assert_eq!(child.parent_id.as_ref(), Some(&root.id));
        assert_eq!((child.step, &child.root_id), (1, &root.id));
        assert_eq!(child.batch_id, root.batch_id);
        assert_eq!(child.metadata, root.metadata);
        assert_eq!(child.webhook_url, root.webhook_url);
    }

    #[test]
    fn job_round_trips_through_json_with_video_id_as_integer() {
        let mut job = NewJob::new(Action::Generate, serde_json::json!({})).into_job(Utc::now());
        job.result = Some(JobResult {
            video_id: pixverse::VideoId(317982208110208),
            video_url: "https://cdn/x.mp4".into(),
            width: Some(1280),
            height: None,
            first_frame: None,
            last_frame: None,
            seed: Some(7),
            duration: Some(5),
            model: None,
            quality: None,
        });
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.contains("\"video_id\":317982208110208"), "{text}");
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
    }
}
