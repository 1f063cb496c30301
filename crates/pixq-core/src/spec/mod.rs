//! What a user asks for, validated at the door: the body of `POST /v1/jobs` as a [`JobSpec`].
//!
//! A `JobSpec` is one generation (or an extend of an existing video) plus an optional chain of
//! up to [`MAX_EXTEND_STEPS`] extend steps, each running off the video the step before
//! returned. Its fields are private and its only constructors validate, so every `JobSpec` in
//! the program is one the upstream will accept as far as pixq can tell.
//!
//! ```
//! use pixq_core::spec::{JobSpec, StepRequest};
//! use pixverse::VideoId;
//!
//! let spec = JobSpec::from_json(br#"{"prompt": "a lighthouse", "quality": "720p",
//!     "extend": [{"prompt": "the storm breaks", "duration": 8}]}"#)?;
//! assert_eq!(spec.steps(), 2);
//! let StepRequest::Extend(next) = spec.request_for_step(1, Some(VideoId(317982208110208)))?
//! else { unreachable!() };
//! assert_eq!(next.quality, Some(pixverse::Quality::P720)); // inherited from the job
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The body
//!
//! The upstream's fields `action` (`generate`, the default, or `extend`), `prompt`, `model`,
//! `style`, `motion`, `quality`, `duration`, `aspect_ratio`, `seed`, `image_url`, `frame`,
//! `template_id`, `asset_id`, `video_id`; and pixq's `extend` (a list of steps
//! `{prompt, model?, quality?, duration?, motion?, style?, seed?}`), `webhook_url` and
//! `metadata`. Any other field is `unknown_field`.
//!
//! # Decisions
//!
//! - **Errors.** The first problem found, as a [`SpecError`] with a JSON path (`prompt`,
//!   `frame[1]`, `extend[2].duration`) and a [`SpecErrorCode`]. Checks run in a fixed order
//!   (see the `parse` module), so a body always gets the same error.
//! - **`null` is absent**, for every field. A `null` prompt is `missing_field`.
//! - **Strict types.** `duration` and `seed` are JSON integers: `"5"`, `5.0` and `5e0` are
//!   `invalid_type` (the message suggests dropping the quotes). Choices are spelled exactly as
//!   the upstream does, case included (`v4.5`, `1080p`, `16:9`).
//! - **Ids** (`video_id`, `template_id`, `asset_id`) are positive integers, given as a number
//!   or as a string of digits, since the upstream's own web app spells ids as strings. They are
//!   written back as numbers.
//! - **Prompt.** Trimmed of outer whitespace, then 1 to [`MAX_PROMPT_CHARS`] characters
//!   (Unicode scalar values, not bytes). The trimmed text is stored and sent.
//! - **URLs** (`image_url`, `frame[i]`, `webhook_url`) are absolute `http`/`https` URLs of at
//!   most [`MAX_URL_LEN`] bytes, stored normalized. Whether a webhook may target a private
//!   address is the webhook sender's call, not checked here.
//! - **Action.** An extend needs `video_id` and takes no `image_url`, `frame`, `template_id`,
//!   `asset_id` or `aspect_ratio` (`not_allowed`): it starts from a video, which fixes those. A
//!   generation takes no `video_id`. `image_url` and `frame` together are `not_allowed` on
//!   `frame`: both would give the first frame.
//! - **Steps.** Each needs its own `prompt` and may override `model`, `quality`, `duration`,
//!   `motion`, `style`, `seed`; the rest is inherited from the job, not from the step before.
//!   A step carrying `image_url`, `frame`, `template_id`, `asset_id`, `video_id` or
//!   `aspect_ratio` is `not_allowed`; anything else unknown is `unknown_field`. `"extend": []`
//!   is the same as no chain; more than [`MAX_EXTEND_STEPS`] steps is `invalid_value` on
//!   `extend`.
//! - **Motion, duration, quality.** `fast` only with 5 s; 1080p with neither 8 s nor `fast`.
//!   Checked on the values in effect (after the upstream's defaults `normal`, 5 s, 540p) for
//!   the job and for every step after inheritance; the error names the field the job or step
//!   set itself (see the `rules` module).
//! - **Templates.** A `template_id` in the embedded catalog ([`templates`]) must render at the
//!   quality in effect (540p when none is given); the error is on `quality`. An id outside the
//!   catalog is accepted, since the catalog changes.
//! - **Metadata.** Any JSON value, at most [`MAX_METADATA_DEPTH`] levels of arrays and objects
//!   and [`MAX_METADATA_BYTES`] bytes of compact JSON; stored and returned as given.
//! - **Deep nesting.** [`JobSpec::from_json`] relies on serde_json's limit of 128 levels and
//!   reports it as `invalid_json` with line and column. [`JobSpec::from_value`] never recurses
//!   into a value it has not bounded, so a value built in code of any depth gets an error.
//! - **Canonical form and fingerprint.** [`JobSpec::to_value`] is the canonical body (see the
//!   `canonical` module); [`fingerprint`] hashes a body with sorted keys for `Idempotency-Key`
//!   comparison. Fingerprint the spec ([`JobSpec::fingerprint`]) rather than the raw body, so
//!   that a retry which only reorders keys or spells a default still matches.

mod canonical;
mod catalog;
mod error;
mod fields;
mod http_url;
mod metadata;
mod parse;
mod prompt;
mod request;
mod rules;
mod seed;
mod step;

use pixverse::{
    AspectRatio, AssetId, Model, Motion, Quality, Style, TemplateId, VideoDuration, VideoId,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::Value;

pub use canonical::{canonical_json, fingerprint};
pub use catalog::{Template, templates};
pub use error::{MAX_KEY_IN_PATH, SpecError, SpecErrorCode};
pub use http_url::{HttpUrl, MAX_URL_LEN, UrlError};
pub use metadata::{MAX_METADATA_BYTES, MAX_METADATA_DEPTH};
pub use prompt::{MAX_PROMPT_CHARS, Prompt, PromptError};
pub use request::{StepError, StepRequest};
pub use seed::Seed;
pub use step::ExtendStep;

/// The most extend steps a job may chain.
pub const MAX_EXTEND_STEPS: usize = 10;

/// What step 0 of a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new video from the prompt (and images, template or character).
    Generate,
    /// A continuation of an existing video.
    Extend {
        /// The video to continue: the `data[].id` of an earlier result.
        video_id: VideoId,
    },
}

impl Action {
    /// The action as the upstream spells it: `generate` or `extend`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Generate => "generate",
            Action::Extend { .. } => "extend",
        }
    }

    /// The video an extend continues.
    pub fn video_id(&self) -> Option<VideoId> {
        match self {
            Action::Generate => None,
            Action::Extend { video_id } => Some(*video_id),
        }
    }
}

/// A validated `POST /v1/jobs` body. See the [module docs](self) for the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub(crate) action: Action,
    pub(crate) prompt: Prompt,
    pub(crate) model: Option<Model>,
    pub(crate) style: Option<Style>,
    pub(crate) motion: Option<Motion>,
    pub(crate) quality: Option<Quality>,
    pub(crate) duration: Option<VideoDuration>,
    pub(crate) aspect_ratio: Option<AspectRatio>,
    pub(crate) seed: Option<Seed>,
    pub(crate) image_url: Option<HttpUrl>,
    pub(crate) frame: Option<[HttpUrl; 2]>,
    pub(crate) template_id: Option<TemplateId>,
    pub(crate) asset_id: Option<AssetId>,
    pub(crate) extend: Vec<ExtendStep>,
    pub(crate) webhook_url: Option<HttpUrl>,
    pub(crate) metadata: Option<Value>,
}

impl JobSpec {
    /// Reads and validates a request body.
    ///
    /// # Errors
    ///
    /// [`SpecErrorCode::InvalidJson`] (with no field) when `bytes` are not JSON or nest deeper
    /// than 128 levels; otherwise as [`JobSpec::from_value`].
    pub fn from_json(bytes: &[u8]) -> Result<JobSpec, SpecError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| SpecError::from_json(bytes, &e))?;
        JobSpec::from_value(&value)
    }

    /// Validates a body already parsed as JSON, such as a stored `params`.
    ///
    /// # Errors
    ///
    /// The first problem found, naming its field: see the [module docs](self).
    pub fn from_value(value: &Value) -> Result<JobSpec, SpecError> {
        parse::job(value)
    }

    /// How many upstream videos the job makes: 1 + the extend steps.
    pub fn steps(&self) -> usize {
        1 + self.extend.len()
    }

    /// What step 0 does.
    pub fn action(&self) -> Action {
        self.action
    }

    /// Step 0's prompt.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// The model, if chosen (upstream default `v3.5`).
    pub fn model(&self) -> Option<Model> {
        self.model
    }

    /// The style, if chosen (upstream default none).
    pub fn style(&self) -> Option<Style> {
        self.style
    }

    /// The motion, if chosen (upstream default `normal`).
    pub fn motion(&self) -> Option<Motion> {
        self.motion
    }

    /// The quality, if chosen (upstream default `540p`).
    pub fn quality(&self) -> Option<Quality> {
        self.quality
    }

    /// The duration, if chosen (upstream default 5 s).
    pub fn duration(&self) -> Option<VideoDuration> {
        self.duration
    }

    /// The aspect ratio, if chosen (upstream default `16:9`); generations only.
    pub fn aspect_ratio(&self) -> Option<AspectRatio> {
        self.aspect_ratio
    }

    /// The seed, if fixed (upstream default random).
    pub fn seed(&self) -> Option<Seed> {
        self.seed
    }

    /// The first-frame image; generations only.
    pub fn image_url(&self) -> Option<&HttpUrl> {
        self.image_url.as_ref()
    }

    /// The first and last frame images; generations only, never with `image_url`.
    pub fn frame(&self) -> Option<&[HttpUrl; 2]> {
        self.frame.as_ref()
    }

    /// The effect template; generations only.
    pub fn template_id(&self) -> Option<TemplateId> {
        self.template_id
    }

    /// The character; generations only.
    pub fn asset_id(&self) -> Option<AssetId> {
        self.asset_id
    }

    /// The extend chain after step 0, at most [`MAX_EXTEND_STEPS`] long.
    pub fn extend(&self) -> &[ExtendStep] {
        &self.extend
    }

    /// Where to POST the job when it ends.
    pub fn webhook_url(&self) -> Option<&HttpUrl> {
        self.webhook_url.as_ref()
    }

    /// The user's free JSON, returned as given.
    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }
}

/// Serializes as [`JobSpec::to_value`].
impl Serialize for JobSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// Deserializes and validates as [`JobSpec::from_value`]; the error's text is the
/// [`SpecError`]'s.
impl<'de> Deserialize<'de> for JobSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        JobSpec::from_value(&value).map_err(de::Error::custom)
    }
}
