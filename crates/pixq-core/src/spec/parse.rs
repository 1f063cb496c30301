//! Reading a `POST /v1/jobs` body into a [`JobSpec`], reporting the first problem found.
//!
//! The order of checks is fixed, so the same body always gets the same error: the body's
//! shape, unknown fields (alphabetically), `action` and the fields it allows, `prompt`, the
//! settings, images and ids, the rules across fields, the template's qualities, the extend
//! steps in order, `webhook_url`, and last `metadata`.

use serde_json::Value;

use super::error::{SpecError, SpecErrorCode, index_path, quoted_key};
use super::fields::Fields;
use super::metadata;
use super::rules::{self, Effective, Setting};
use super::step::{ExtendStep, Inherited};
use super::{Action, JobSpec, MAX_EXTEND_STEPS};

/// The fields a job body may carry.
pub(crate) const JOB_FIELDS: &[&str] = &[
    "action",
    "prompt",
    "model",
    "style",
    "motion",
    "quality",
    "duration",
    "aspect_ratio",
    "seed",
    "image_url",
    "frame",
    "template_id",
    "asset_id",
    "video_id",
    "extend",
    "webhook_url",
    "metadata",
];

/// Fields only a generation takes, and why an extend does not.
const GENERATE_ONLY: &[(&str, &str)] = &[
    ("image_url", "it starts from the video, not from an image"),
    ("frame", "it starts from the video, not from frame images"),
    ("template_id", "templates apply to new generations only"),
    ("asset_id", "characters apply to new generations only"),
    (
        "aspect_ratio",
        "it keeps the aspect ratio of the video it continues",
    ),
];

/// Reads a job body.
pub(crate) fn job(value: &Value) -> Result<JobSpec, SpecError> {
    let f = Fields::of(value, "")?;
    reject_unknown(&f)?;
    let is_extend = action_is_extend(&f)?;

    let prompt = f.prompt("prompt")?;
    let model = f.choice("model")?;
    let style = f.choice("style")?;
    let motion = f.choice("motion")?;
    let quality = f.choice("quality")?;
    let duration = f.duration("duration")?;
    let aspect_ratio = f.choice("aspect_ratio")?;
    let seed = f.seed("seed")?;

    let image_url = f.url("image_url")?;
    let frame = f.frame("frame")?;
    if image_url.is_some() && frame.is_some() {
        return Err(f.error(
            "frame",
            SpecErrorCode::NotAllowed,
            "frame cannot be combined with image_url: frame already gives the first image; \
             send one of them"
                .into(),
        ));
    }
    let template_id = f.id("template_id")?;
    let asset_id = f.id("asset_id")?;
    let action = match (is_extend, f.id("video_id")?) {
        (false, _) => Action::Generate,
        (true, Some(video_id)) => Action::Extend { video_id },
        (true, None) => {
            return Err(f.error(
                "video_id",
                SpecErrorCode::MissingField,
                "an extend needs video_id, the id of the video to continue".into(),
            ));
        }
    };

    rules::check_combination(
        "",
        &Effective {
            motion: Setting::resolve(motion, None, rules::DEFAULT_MOTION),
            duration: Setting::resolve(duration, None, rules::DEFAULT_DURATION),
            quality: Setting::resolve(quality, None, rules::DEFAULT_QUALITY),
        },
    )?;
    rules::check_template(template_id, quality)?;

    let inherited = Inherited {
        model,
        quality,
        duration,
        motion,
        style,
        seed,
    };
    let extend = steps(&f, &inherited)?;
    let webhook_url = f.url("webhook_url")?;
    let metadata = match f.get("metadata") {
        Some(value) => {
            metadata::check(value)?;
            Some(value.clone())
        }
        None => None,
    };

    Ok(JobSpec {
        action,
        prompt,
        model,
        style,
        motion,
        quality,
        duration,
        aspect_ratio,
        seed,
        image_url,
        frame,
        template_id,
        asset_id,
        extend,
        webhook_url,
        metadata,
    })
}

fn reject_unknown(f: &Fields<'_>) -> Result<(), SpecError> {
    let Some(key) = f.keys().find(|key| !JOB_FIELDS.contains(key)) else {
        return Ok(());
    };
    let message = match key {
        "callback_url" => {
            "pixq sets the upstream's callback_url itself: give webhook_url to be told when \
             the job ends"
                .to_owned()
        }
        "async" => "pixq always submits asynchronously: leave async out".to_owned(),
        _ => format!(
            "unknown field {}: a job takes {}",
            quoted_key(key),
            JOB_FIELDS.join(", ")
        ),
    };
    Err(f.error(key, SpecErrorCode::UnknownField, message))
}

/// Reads `action` and rejects the fields it does not take; `true` for an extend.
fn action_is_extend(f: &Fields<'_>) -> Result<bool, SpecError> {
    let is_extend = match f.string("action")? {
        None | Some("generate") => false,
        Some("extend") => true,
        Some(other) => {
            return Err(f.error(
                "action",
                SpecErrorCode::InvalidValue,
                format!(
                    "unknown action {}: use \"generate\" (the default) or \"extend\"",
                    quoted_key(other)
                ),
            ));
        }
    };
    if is_extend {
        if let Some((key, why)) = GENERATE_ONLY.iter().find(|(key, _)| f.get(key).is_some()) {
            return Err(f.error(
                key,
                SpecErrorCode::NotAllowed,
                format!("an extend takes no {key}: {why}"),
            ));
        }
    } else if f.get("video_id").is_some() {
        return Err(f.error(
            "video_id",
            SpecErrorCode::NotAllowed,
            "a generation takes no video_id: set \"action\": \"extend\" to continue a video".into(),
        ));
    }
    Ok(is_extend)
}

fn steps(f: &Fields<'_>, inherited: &Inherited) -> Result<Vec<ExtendStep>, SpecError> {
    let items = match f.get("extend") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(f.error(
                "extend",
                SpecErrorCode::InvalidType,
                format!(
                    "expected an array of steps such as [{{\"prompt\": \"…\"}}], got {}",
                    super::fields::describe(other)
                ),
            ));
        }
    };
    if items.len() > MAX_EXTEND_STEPS {
        return Err(f.error(
            "extend",
            SpecErrorCode::InvalidValue,
            format!(
                "extend has {} steps; at most {MAX_EXTEND_STEPS} are allowed: submit the rest as \
                 an extend job of the last video",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| ExtendStep::parse(item, &index_path("extend", i), inherited))
        .collect()
}
