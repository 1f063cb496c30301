//! Turning one step of a job into the upstream request that runs it.
//!
//! Step 0 is the job's own action: a generation with every field of the job, or an extend of
//! the job's `video_id`. Step `k ≥ 1` is an extend of the video that step `k - 1` returned,
//! with `extend[k - 1]`'s prompt and its overrides merged over the job's `model`, `quality`,
//! `duration`, `motion`, `style` and `seed`. Images, template and character belong to the
//! first generation only.

use pixverse::{ExtendRequest, GenerateRequest, SubmitBody, SubmitMode, VideoId};

use super::step::Inherited;
use super::{Action, JobSpec};

/// The upstream request of one step.
// One per step being submitted, never stored in bulk: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRequest {
    /// A new video (step 0 of a generation job).
    Generate(GenerateRequest),
    /// A continuation (step 0 of an extend job, and every later step).
    Extend(ExtendRequest),
}

impl StepRequest {
    /// The exact body to submit in `mode`.
    pub fn submit_body(&self, mode: &SubmitMode) -> SubmitBody {
        match self {
            StepRequest::Generate(r) => SubmitBody::generate(r, mode),
            StepRequest::Extend(r) => SubmitBody::extend(r, mode),
        }
    }
}

/// A step that cannot be built with the arguments given: a caller's bug, not the user's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The job has fewer steps.
    #[error("step {step} does not exist: this job has {steps} steps, numbered from 0")]
    NoSuchStep {
        /// The step asked for.
        step: usize,
        /// [`JobSpec::steps`].
        steps: usize,
    },
    /// A later step needs the video the step before returned.
    #[error("step {step} extends the video of step {}: pass that video's id", step - 1)]
    MissingParent {
        /// The step asked for (at least 1).
        step: usize,
    },
    /// Step 0 runs off the job's own fields and takes no parent video.
    #[error("step 0 takes no parent video: it runs the job's own action")]
    UnexpectedParent,
}

impl JobSpec {
    /// The upstream request for `step`: 0 is the job's own action, `k ≥ 1` extends
    /// `parent_video`, the video that step `k - 1` returned.
    ///
    /// # Errors
    ///
    /// [`StepError::NoSuchStep`] when `step >= self.steps()`,
    /// [`StepError::MissingParent`] when `step ≥ 1` comes without `parent_video`, and
    /// [`StepError::UnexpectedParent`] when step 0 comes with one.
    pub fn request_for_step(
        &self,
        step: usize,
        parent_video: Option<VideoId>,
    ) -> Result<StepRequest, StepError> {
        let steps = self.steps();
        if step >= steps {
            return Err(StepError::NoSuchStep { step, steps });
        }
        let job = self.inherited();
        let Some(index) = step.checked_sub(1) else {
            if parent_video.is_some() {
                return Err(StepError::UnexpectedParent);
            }
            return Ok(self.first_request(&job));
        };
        let parent = parent_video.ok_or(StepError::MissingParent { step })?;
        let (prompt, settings) = match self.extend.get(index) {
            Some(s) => (s.prompt.as_str(), job.merged(s)),
            None => return Err(StepError::NoSuchStep { step, steps }),
        };
        Ok(StepRequest::Extend(extend_request(
            parent, prompt, &settings,
        )))
    }

    fn first_request(&self, job: &Inherited) -> StepRequest {
        let video_id = match self.action {
            Action::Extend { video_id } => video_id,
            Action::Generate => {
                let mut r = GenerateRequest::new(self.prompt.as_str());
                r.model = job.model;
                r.style = job.style;
                r.motion = job.motion;
                r.quality = job.quality;
                r.duration = job.duration;
                r.aspect_ratio = self.aspect_ratio;
                r.seed = job.seed.map(|s| s.get());
                r.image_url = self.image_url.clone().map(Into::into);
                r.frame = self.frame.clone().map(|f| f.map(Into::into));
                r.template_id = self.template_id;
                r.asset_id = self.asset_id;
                return StepRequest::Generate(r);
            }
        };
        StepRequest::Extend(extend_request(video_id, self.prompt.as_str(), job))
    }

    /// The job's settings that its steps inherit.
    pub(crate) fn inherited(&self) -> Inherited {
        Inherited {
            model: self.model,
            quality: self.quality,
            duration: self.duration,
            motion: self.motion,
            style: self.style,
            seed: self.seed,
        }
    }
}

fn extend_request(video_id: VideoId, prompt: &str, s: &Inherited) -> ExtendRequest {
    let mut r = ExtendRequest::new(video_id, prompt);
    r.model = s.model;
    r.style = s.style;
    r.motion = s.motion;
    r.quality = s.quality;
    r.duration = s.duration;
    r.seed = s.seed.map(|s| s.get());
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixverse::{Model, Quality};
    use serde_json::json;

    fn spec(v: serde_json::Value) -> JobSpec {
        JobSpec::from_value(&v).unwrap()
    }

    #[test]
    fn step_zero_of_an_extend_job_extends_its_video_id() {
        let s = spec(json!({"action": "extend", "video_id": 5, "prompt": "on", "model": "v4"}));
        let StepRequest::Extend(r) = s.request_for_step(0, None).unwrap() else {
            panic!("expected an extend");
        };
        assert_eq!(r.video_id, VideoId(5));
        assert_eq!(r.prompt, "on");
        assert_eq!(r.model, Some(Model::V4));
    }

    #[test]
    fn wrong_arguments_are_refused() {
        let s = spec(json!({"prompt": "a", "extend": [{"prompt": "b"}]}));
        assert_eq!(s.steps(), 2);
        assert_eq!(
            s.request_for_step(2, Some(VideoId(1))),
            Err(StepError::NoSuchStep { step: 2, steps: 2 })
        );
        assert_eq!(
            s.request_for_step(1, None),
            Err(StepError::MissingParent { step: 1 })
        );
        assert_eq!(
            s.request_for_step(0, Some(VideoId(1))),
            Err(StepError::UnexpectedParent)
        );
    }

    #[test]
    fn submit_body_carries_the_action() {
        let s = spec(json!({"prompt": "a", "quality": "360p", "extend": [{"prompt": "b"}]}));
        let body = s
            .request_for_step(1, Some(VideoId(9)))
            .unwrap()
            .submit_body(&SubmitMode::Async);
        let v = body.as_value();
        assert_eq!(v["action"], "extend");
        assert_eq!(v["video_id"], 9);
        assert_eq!(v["quality"], Quality::P360.as_str());
    }
}
