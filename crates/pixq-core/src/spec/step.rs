//! [`ExtendStep`]: one link of a job's extend chain.
//!
//! A step continues the video the step before it returned. It has its own prompt and may
//! override `model`, `quality`, `duration`, `motion`, `style` and `seed`; whatever it leaves
//! out it inherits from the job (not from the step before). It never carries `image_url`,
//! `frame`, `template_id`, `asset_id`, `video_id` or `aspect_ratio`: an extend starts from a
//! video, which fixes all of those.

use pixverse::{Model, Motion, Quality, Style, VideoDuration};
use serde_json::Value;

use super::error::{SpecError, SpecErrorCode, quoted_key};
use super::fields::Fields;
use super::prompt::Prompt;
use super::rules::{self, Effective, Setting};
use super::seed::Seed;

/// The fields a step may carry.
pub(crate) const STEP_FIELDS: &[&str] = &[
    "prompt", "model", "quality", "duration", "motion", "style", "seed",
];

/// Job fields that a step may not carry, and why.
const NOT_IN_STEPS: &[(&str, &str)] = &[
    (
        "image_url",
        "it continues the video of the step before; put image_url on the job",
    ),
    (
        "frame",
        "it continues the video of the step before; put frame on the job",
    ),
    (
        "template_id",
        "templates apply to the first generation only; put template_id on the job",
    ),
    (
        "asset_id",
        "characters apply to the first generation only; put asset_id on the job",
    ),
    (
        "video_id",
        "it continues the video the step before returned, which pixq fills in",
    ),
    (
        "aspect_ratio",
        "an extend keeps the aspect ratio of the video it continues",
    ),
];

/// One extend step: a prompt and optional overrides of the job's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendStep {
    pub(crate) prompt: Prompt,
    pub(crate) model: Option<Model>,
    pub(crate) quality: Option<Quality>,
    pub(crate) duration: Option<VideoDuration>,
    pub(crate) motion: Option<Motion>,
    pub(crate) style: Option<Style>,
    pub(crate) seed: Option<Seed>,
}

impl ExtendStep {
    /// What happens next in the video.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// The step's own model, if it overrides the job's.
    pub fn model(&self) -> Option<Model> {
        self.model
    }

    /// The step's own quality, if it overrides the job's.
    pub fn quality(&self) -> Option<Quality> {
        self.quality
    }

    /// The step's own duration, if it overrides the job's.
    pub fn duration(&self) -> Option<VideoDuration> {
        self.duration
    }

    /// The step's own motion, if it overrides the job's.
    pub fn motion(&self) -> Option<Motion> {
        self.motion
    }

    /// The step's own style, if it overrides the job's.
    pub fn style(&self) -> Option<Style> {
        self.style
    }

    /// The step's own seed, if it overrides the job's.
    pub fn seed(&self) -> Option<Seed> {
        self.seed
    }

    /// Reads the step at `path` (`extend[2]`) and checks it against the settings it inherits.
    pub(crate) fn parse(
        value: &Value,
        path: &str,
        job: &Inherited,
    ) -> Result<ExtendStep, SpecError> {
        let f = Fields::of(value, path)?;
        for key in f.keys() {
            if STEP_FIELDS.contains(&key) {
                continue;
            }
            if let Some((_, why)) = NOT_IN_STEPS.iter().find(|(name, _)| *name == key) {
                return Err(f.error(
                    key,
                    SpecErrorCode::NotAllowed,
                    format!("extend steps never carry {key}: {why}"),
                ));
            }
            return Err(f.error(
                key,
                SpecErrorCode::UnknownField,
                format!(
                    "unknown field {}: an extend step takes {}",
                    quoted_key(key),
                    STEP_FIELDS.join(", ")
                ),
            ));
        }
        let step = ExtendStep {
            prompt: f.prompt("prompt")?,
            model: f.choice("model")?,
            quality: f.choice("quality")?,
            duration: f.duration("duration")?,
            motion: f.choice("motion")?,
            style: f.choice("style")?,
            seed: f.seed("seed")?,
        };
        rules::check_combination(
            path,
            &Effective {
                motion: Setting::resolve(step.motion, job.motion, rules::DEFAULT_MOTION),
                duration: Setting::resolve(step.duration, job.duration, rules::DEFAULT_DURATION),
                quality: Setting::resolve(step.quality, job.quality, rules::DEFAULT_QUALITY),
            },
        )?;
        Ok(step)
    }
}

/// The job's settings that a step inherits.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Inherited {
    pub(crate) model: Option<Model>,
    pub(crate) quality: Option<Quality>,
    pub(crate) duration: Option<VideoDuration>,
    pub(crate) motion: Option<Motion>,
    pub(crate) style: Option<Style>,
    pub(crate) seed: Option<Seed>,
}

impl Inherited {
    /// `step`'s overrides over these settings.
    pub(crate) fn merged(&self, step: &ExtendStep) -> Inherited {
        Inherited {
            model: step.model.or(self.model),
            quality: step.quality.or(self.quality),
            duration: step.duration.or(self.duration),
            motion: step.motion.or(self.motion),
            style: step.style.or(self.style),
            seed: step.seed.or(self.seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, job: Inherited) -> Result<ExtendStep, SpecError> {
        ExtendStep::parse(&v, "extend[4]", &job)
    }

    #[test]
    fn a_step_with_only_a_prompt_inherits_everything() {
        let job = Inherited {
            model: Some(Model::V4),
            seed: Seed::new(7),
            ..Inherited::default()
        };
        let step = parse(json!({"prompt": "then it rains"}), job).unwrap();
        let merged = job.merged(&step);
        assert_eq!(merged.model, Some(Model::V4));
        assert_eq!(merged.seed, Seed::new(7));
        assert_eq!(step.model(), None);
    }

    #[test]
    fn overrides_win_over_the_job() {
        let job = Inherited {
            model: Some(Model::V4),
            quality: Some(Quality::P360),
            ..Inherited::default()
        };
        let step = parse(json!({"prompt": "p", "model": "v4.5"}), job).unwrap();
        let merged = job.merged(&step);
        assert_eq!(merged.model, Some(Model::V4_5));
        assert_eq!(merged.quality, Some(Quality::P360));
    }

    #[test]
    fn job_only_fields_are_not_allowed_and_strangers_unknown() {
        let e = parse(
            json!({"prompt": "p", "template_id": 1}),
            Inherited::default(),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extend[4].template_id"));
        assert_eq!(e.code, SpecErrorCode::NotAllowed);
        assert!(
            e.message.contains("never carry template_id"),
            "{}",
            e.message
        );
        let e = parse(
            json!({"prompt": "p", "webhook_url": "x"}),
            Inherited::default(),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extend[4].webhook_url"));
        assert_eq!(e.code, SpecErrorCode::UnknownField);
    }

    #[test]
    fn the_prompt_is_required() {
        let e = parse(json!({"model": "v4"}), Inherited::default()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extend[4].prompt"));
        assert_eq!(e.code, SpecErrorCode::MissingField);
    }
}
