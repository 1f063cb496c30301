//! Chains are data: how a stored job becomes an upstream request, and how a finished step
//! becomes the next one.
//!
//! A job's `params` is always a valid `POST /v1/jobs` body:
//! - a chain's first step stores the user's whole spec, in canonical form, with its `extend`
//!   list;
//! - step k ≥ 1 stores its own request as an extend job: `action: extend`, the `video_id`
//!   step k−1 returned, its prompt and the settings in effect for it.
//!
//! So every job is submitted the same way ([`submit_body`]), and the next step is computed
//! from the chain's first step ([`next_step`]), which keeps the rule "a step inherits from the
//! job, not from the step before".

use pixverse::{SubmitBody, SubmitMode, VideoId};
use serde_json::Value;

use crate::job::{Action, Job, NewJob, NextStep};
use crate::spec::{JobSpec, SpecError, StepError, StepRequest};

/// Why a stored job cannot be turned into a request. Only data written by another version of
/// pixq, or edited by hand, gets here: the API validated every spec at the door.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The stored `params` no longer validate.
    #[error("job {job}: stored params do not validate ({source})")]
    Params {
        /// The job.
        job: String,
        /// What is wrong.
        #[source]
        source: SpecError,
    },
    /// The step does not exist in the chain's spec.
    #[error("job {job}: {source}")]
    Step {
        /// The job.
        job: String,
        /// What is wrong.
        #[source]
        source: StepError,
    },
    /// `next_step` was handed a first step that is not the chain's root.
    #[error("job {job} is not the first step of chain {root}")]
    NotTheRoot {
        /// The job handed in as the root.
        job: String,
        /// The chain's root id.
        root: String,
    },
}

/// The job to create for a validated spec: its canonical body as `params`.
pub fn new_job(spec: &JobSpec) -> NewJob {
    let action = match spec.action() {
        crate::spec::Action::Generate => Action::Generate,
        crate::spec::Action::Extend { .. } => Action::Extend,
    };
    let steps = u32::try_from(spec.steps()).unwrap_or(u32::MAX);
    let mut job = NewJob::new(action, spec.to_value()).with_chain_len(steps);
    if let Some(url) = spec.webhook_url() {
        job = job.with_webhook(url.as_str());
    }
    if let Some(metadata) = spec.metadata() {
        job = job.with_metadata(metadata.clone());
    }
    job
}

fn spec_of(job: &Job) -> Result<JobSpec, ChainError> {
    JobSpec::from_value(&job.params).map_err(|source| ChainError::Params {
        job: job.id.to_string(),
        source,
    })
}

/// The exact body to submit for `job` in `mode`.
///
/// # Errors
///
/// [`ChainError`] when the stored params do not validate.
pub fn submit_body(job: &Job, mode: &SubmitMode) -> Result<SubmitBody, ChainError> {
    let request = spec_of(job)?
        .request_for_step(0, None)
        .map_err(|source| ChainError::Step {
            job: job.id.to_string(),
            source,
        })?;
    Ok(request.submit_body(mode))
}

/// The step after `finished`, which returned `video`, or `None` when the chain ends there.
/// `root` is the chain's first step (the same job as `finished` for step 0).
///
/// # Errors
///
/// [`ChainError`] when `root` is not `finished`'s root or its params do not validate.
pub fn next_step(
    root: &Job,
    finished: &Job,
    video: VideoId,
) -> Result<Option<NextStep>, ChainError> {
    if root.id != finished.root_id || root.step != 0 {
        return Err(ChainError::NotTheRoot {
            job: root.id.to_string(),
            root: finished.root_id.to_string(),
        });
    }
    let spec = spec_of(root)?;
    let next = finished.step as usize + 1;
    if next >= spec.steps() {
        return Ok(None);
    }
    let request = spec
        .request_for_step(next, Some(video))
        .map_err(|source| ChainError::Step {
            job: finished.id.to_string(),
            source,
        })?;
    Ok(Some(NextStep {
        action: Action::Extend,
        params: params_of(&request),
    }))
}

/// A step's request as a job body: the submit body without the mode's fields.
fn params_of(request: &StepRequest) -> Value {
    let mut value = request.submit_body(&SubmitMode::Sync).as_value().clone();
    if let Some(map) = value.as_object_mut() {
        map.remove("async");
        map.remove("callback_url");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn root(body: Value) -> Job {
        new_job(&JobSpec::from_value(&body).unwrap()).into_job(Utc::now())
    }

    #[test]
    fn each_step_extends_the_video_before_it_and_inherits_from_the_job() {
        let root = root(json!({
            "prompt": "a lighthouse", "quality": "720p", "model": "v4",
            "extend": [{"prompt": "storm", "duration": 8}, {"prompt": "calm"}]
        }));
        let body = submit_body(&root, &SubmitMode::Async).unwrap();
        assert_eq!(body.as_value()["action"], "generate");
        assert_eq!(body.as_value()["async"], true);

        let s1 = next_step(&root, &root, VideoId(11)).unwrap().unwrap();
        let s1 = s1.into_job(&root, Utc::now());
        let body = submit_body(&s1, &SubmitMode::Async)
            .unwrap()
            .as_value()
            .clone();
        assert_eq!(body["video_id"], 11);
        assert_eq!(body["prompt"], "storm");
        assert_eq!(body["duration"], 8);
        assert_eq!(body["quality"], "720p");

        let s2 = next_step(&root, &s1, VideoId(22)).unwrap().unwrap();
        let s2 = s2.into_job(&s1, Utc::now());
        let body = submit_body(&s2, &SubmitMode::Async)
            .unwrap()
            .as_value()
            .clone();
        assert_eq!(body["video_id"], 22);
        assert_eq!(body["prompt"], "calm");
        assert!(
            body.get("duration").is_none(),
            "not inherited from step 1: {body}"
        );
        assert_eq!(body["model"], "v4");
        assert!(next_step(&root, &s2, VideoId(33)).unwrap().is_none());
    }

    #[test]
    fn the_root_must_be_the_chains_first_step() {
        let root = root(json!({"prompt": "a", "extend": [{"prompt": "b"}, {"prompt": "c"}]}));
        let s1 = next_step(&root, &root, VideoId(1))
            .unwrap()
            .unwrap()
            .into_job(&root, Utc::now());
        assert!(matches!(
            next_step(&s1, &s1, VideoId(2)),
            Err(ChainError::NotTheRoot { .. })
        ));
    }
}
