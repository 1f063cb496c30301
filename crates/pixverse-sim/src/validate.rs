//! Request bodies as the gateway checks them: JSON objects, the `/pixverse/videos` fields with
//! their documented values and PixVerse's combination rules, and character images.
//!
//! Every refusal is a message naming the field, sent back as 400 `bad_request`. Unknown fields
//! are ignored, as the real gateway does; a `null` counts as absent.

use serde_json::{Map, Value};

use crate::{envelope, templates};

/// The documented models.
const MODELS: &[&str] = &["v3.5", "v4", "v4.5"];
/// The documented styles.
const STYLES: &[&str] = &[
    "cyberpunk",
    "anime",
    "comic",
    "clay",
    "3d_animation",
    "realistic",
];
/// The documented motion modes.
const MOTIONS: &[&str] = &["normal", "fast"];
/// The documented qualities.
const QUALITIES: &[&str] = &["360p", "540p", "720p", "1080p"];
/// The documented aspect ratios.
const ASPECT_RATIOS: &[&str] = &["16:9", "4:3", "1:1", "3:4", "9:16"];
/// The largest seed the upstream takes.
const MAX_SEED: i64 = 2_147_483_647;

/// Whether a submit generates a new video or extends one this simulator produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// A new video from the prompt.
    Generate,
    /// A continuation of the video `video_id`.
    Extend,
}

/// How a submit wants its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Hold the request until the task ends and answer with its result.
    Sync,
    /// Answer `{"task_id"}` at once; the client polls.
    Async,
    /// Answer `{"task_id"}` at once and POST the result to this URL.
    Callback(String),
}

/// A valid `/pixverse/videos` body with every default filled in: what the result echoes.
#[derive(Debug, Clone)]
pub(crate) struct VideoParams {
    pub(crate) action: Action,
    pub(crate) prompt: String,
    pub(crate) model: &'static str,
    pub(crate) style: &'static str,
    pub(crate) motion: &'static str,
    pub(crate) quality: &'static str,
    pub(crate) duration: u8,
    pub(crate) aspect_ratio: &'static str,
    pub(crate) seed: Option<u32>,
    pub(crate) template_id: i64,
    pub(crate) template_name: String,
    pub(crate) asset_id: i64,
    pub(crate) mode: Mode,
}

impl VideoParams {
    /// How much longer than the base latency this generation takes; see the crate doc.
    pub(crate) fn latency_factor(&self) -> f64 {
        let quality = match self.quality {
            "360p" => 0.8,
            "720p" => 1.3,
            "1080p" => 1.8,
            _ => 1.0,
        };
        let duration = if self.duration == 8 { 1.5 } else { 1.0 };
        quality * duration
    }
}

/// Parses a request body that must be a JSON object.
///
/// # Errors
///
/// The gateway's invalid-payload message when the body is not a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(envelope::INVALID_JSON.to_owned()),
    }
}

/// Checks a `/pixverse/videos` body. `produced` says whether a video id came from this
/// simulator, which `extend` requires.
///
/// # Errors
///
/// A message naming the first field that is missing, mistyped or not allowed.
pub(crate) fn video(
    body: &Map<String, Value>,
    produced: impl Fn(i64) -> bool,
) -> Result<VideoParams, String> {
    let action = match choice(body, "action", &["generate", "extend"], "generate")? {
        "extend" => Action::Extend,
        _ => Action::Generate,
    };
    let prompt = match field(body, "prompt") {
        Some(Value::String(prompt)) if !prompt.trim().is_empty() => prompt.clone(),
        Some(Value::String(_)) => return Err("prompt must not be empty".to_owned()),
        Some(_) => return Err("prompt must be a string".to_owned()),
        None => return Err("prompt is required".to_owned()),
    };
    let model = choice(body, "model", MODELS, "v3.5")?;
    let style = choice(body, "style", STYLES, "")?;
    let motion = choice(body, "motion", MOTIONS, "normal")?;
    let quality = choice(body, "quality", QUALITIES, "540p")?;
    let aspect_ratio = choice(body, "aspect_ratio", ASPECT_RATIOS, "16:9")?;
    let duration = match field(body, "duration") {
        None => 5,
        Some(value) => match value.as_i64() {
            Some(5) => 5,
            Some(8) => 8,
            _ => return Err(format!("duration must be 5 or 8, got {value}")),
        },
    };
    if motion == "fast" && duration != 5 {
        return Err("motion fast is only allowed with duration 5".to_owned());
    }
    if quality == "1080p" && duration == 8 {
        return Err("quality 1080p does not support duration 8".to_owned());
    }
    if quality == "1080p" && motion == "fast" {
        return Err("quality 1080p does not support motion fast".to_owned());
    }
    let seed = match field(body, "seed") {
        None => None,
        Some(value) => match value.as_i64().filter(|seed| (0..=MAX_SEED).contains(seed)) {
            Some(seed) => u32::try_from(seed).ok(),
            None => {
                return Err(format!(
                    "seed must be an integer from 0 to {MAX_SEED}, got {value}"
                ));
            }
        },
    };
    if let Some(image_url) = field(body, "image_url")
        && !is_http_url(image_url)
    {
        return Err("image_url must be an http(s) URL".to_owned());
    }
    if let Some(frame) = field(body, "frame") {
        match frame.as_array() {
            Some(urls) if urls.len() == 2 && urls.iter().all(is_http_url) => {}
            _ => return Err("frame must be an array of exactly 2 http(s) URLs".to_owned()),
        }
    }
    let template_id = integer(body, "template_id")?.unwrap_or(0);
    let template_name = match templates::lookup(template_id) {
        Some(template) if !template.qualities.iter().any(|q| q == quality) => {
            return Err(format!(
                "template_id {template_id} ({}) does not support quality {quality}; it supports {}",
                template.display_name,
                template.qualities.join(", ")
            ));
        }
        Some(template) => template.display_name.clone(),
        None => String::new(),
    };
    let asset_id = integer(body, "asset_id")?.unwrap_or(0);
    let video_id = integer(body, "video_id")?;
    if action == Action::Extend {
        match video_id {
            None => return Err("video_id is required for action extend".to_owned()),
            Some(id) if !produced(id) => {
                return Err(format!("video_id {id} is not a video that can be extended"));
            }
            Some(_) => {}
        }
    }
    let mode = match (field(body, "callback_url"), field(body, "async")) {
        (Some(url), _) if !is_http_url(url) => {
            return Err("callback_url must be an http(s) URL".to_owned());
        }
        (_, Some(flag)) if !flag.is_boolean() => return Err("async must be a boolean".to_owned()),
        (Some(Value::String(url)), _) => Mode::Callback(url.clone()),
        (None, Some(Value::Bool(true))) => Mode::Async,
        _ => Mode::Sync,
    };
    Ok(VideoParams {
        action,
        prompt,
        model,
        style,
        motion,
        quality,
        duration,
        aspect_ratio,
        seed,
        template_id,
        template_name,
        asset_id,
        mode,
    })
}

/// Checks a `/pixverse/character` body: a non-empty array of http(s) image URLs.
///
/// # Errors
///
/// A message naming `images`.
pub(crate) fn character(body: &Map<String, Value>) -> Result<Vec<String>, String> {
    match field(body, "images").and_then(Value::as_array) {
        Some(images) if !images.is_empty() && images.iter().all(is_http_url) => Ok(images
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()),
        _ => Err("images must be a non-empty array of http(s) URLs".to_owned()),
    }
}

/// A field's value; `null` counts as absent.
pub(crate) fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|value| !value.is_null())
}

/// An int64 field that may also be sent as a numeric string (the vendor's web app does so).
///
/// # Errors
///
/// A message naming the field when it is neither.
pub(crate) fn integer(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    match field(body, name) {
        None => Ok(None),
        Some(Value::Number(number)) if number.as_i64().is_some() => Ok(number.as_i64()),
        Some(Value::String(text)) if text.trim().parse::<i64>().is_ok() => {
            Ok(text.trim().parse().ok())
        }
        Some(value) => Err(format!("{name} must be an integer, got {value}")),
    }
}

fn choice(
    body: &Map<String, Value>,
    name: &str,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'static str, String> {
    match field(body, name) {
        None => Ok(default),
        Some(value) => value
            .as_str()
            .and_then(|given| allowed.iter().copied().find(|choice| *choice == given))
            .ok_or_else(|| format!("{name} must be one of {}, got {value}", allowed.join(", "))),
    }
}

fn is_http_url(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|text| url::Url::parse(text).ok())
        .is_some_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(body: Value) -> Result<VideoParams, String> {
        let Value::Object(map) = body else {
            panic!("not an object")
        };
        video(&map, |id| id == 42)
    }

    #[test]
    fn defaults_are_filled_in() {
        let params = check(json!({"prompt": "quiver"})).unwrap();
        assert_eq!(params.action, Action::Generate);
        assert_eq!(
            (params.model, params.quality, params.motion),
            ("v3.5", "540p", "normal")
        );
        assert_eq!(
            (params.duration, params.aspect_ratio, params.style),
            (5, "16:9", "")
        );
        assert_eq!((params.template_id, params.asset_id), (0, 0));
        assert_eq!(params.mode, Mode::Sync);
        assert!((params.latency_factor() - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (json!({}), "prompt"),
            (json!({"prompt": "  "}), "prompt"),
            (json!({"prompt": "p", "action": "remix"}), "action"),
            (json!({"prompt": "p", "model": "v9"}), "model"),
            (json!({"prompt": "p", "style": "noir"}), "style"),
            (json!({"prompt": "p", "motion": "slow"}), "motion"),
            (json!({"prompt": "p", "quality": "4k"}), "quality"),
            (json!({"prompt": "p", "duration": 7}), "duration"),
            (json!({"prompt": "p", "duration": "5"}), "duration"),
            (
                json!({"prompt": "p", "aspect_ratio": "2:1"}),
                "aspect_ratio",
            ),
            (json!({"prompt": "p", "seed": -1}), "seed"),
            (json!({"prompt": "p", "seed": 2_147_483_648_i64}), "seed"),
            (
                json!({"prompt": "p", "motion": "fast", "duration": 8}),
                "motion fast",
            ),
            (
                json!({"prompt": "p", "quality": "1080p", "duration": 8}),
                "1080p",
            ),
            (
                json!({"prompt": "p", "quality": "1080p", "motion": "fast"}),
                "1080p",
            ),
            (
                json!({"prompt": "p", "frame": ["https://a/1.png"]}),
                "frame",
            ),
            (
                json!({"prompt": "p", "image_url": "ftp://a/1.png"}),
                "image_url",
            ),
            (
                json!({"prompt": "p", "template_id": 303_624_537_709_312_i64, "quality": "720p"}),
                "template_id",
            ),
            (json!({"prompt": "p", "action": "extend"}), "video_id"),
            (
                json!({"prompt": "p", "action": "extend", "video_id": 7}),
                "video_id",
            ),
            (
                json!({"prompt": "p", "callback_url": "not a url"}),
                "callback_url",
            ),
            (json!({"prompt": "p", "async": "yes"}), "async"),
        ];
        for (body, field) in cases {
            let error = check(body.clone()).expect_err(&body.to_string());
            assert!(error.contains(field), "{body}: {error}");
        }
    }

    #[test]
    fn accepted_variants() {
        let extend = check(json!({"prompt": "p", "action": "extend", "video_id": "42"})).unwrap();
        assert_eq!(extend.action, Action::Extend);
        let template = check(
            json!({"prompt": "p", "template_id": 302_325_299_651_648_i64, "quality": "1080p"}),
        );
        assert_eq!(template.unwrap().template_name, "Zombie Mode");
        let unknown =
            check(json!({"prompt": "p", "template_id": 1, "unknown_field": true})).unwrap();
        assert_eq!(unknown.template_name, "");
        let callback =
            check(json!({"prompt": "p", "callback_url": "http://127.0.0.1:9/cb", "async": true}));
        assert_eq!(
            callback.unwrap().mode,
            Mode::Callback("http://127.0.0.1:9/cb".to_owned())
        );
        assert_eq!(
            check(json!({"prompt": "p", "async": true})).unwrap().mode,
            Mode::Async
        );
        let slow = check(json!({"prompt": "p", "quality": "1080p", "duration": 5})).unwrap();
        assert!((slow.latency_factor() - 1.8).abs() < 1e-9);
    }

    #[test]
    fn character_needs_image_urls() {
        let Value::Object(ok) = json!({"images": ["https://cdn/x.png"]}) else {
            unreachable!()
        };
        assert_eq!(
            character(&ok).unwrap(),
            vec!["https://cdn/x.png".to_owned()]
        );
        for bad in [
            json!({}),
            json!({"images": []}),
            json!({"images": ["x"]}),
            json!({"images": "https://a/b"}),
        ] {
            let Value::Object(map) = bad else {
                unreachable!()
            };
            assert!(character(&map).unwrap_err().contains("images"));
        }
    }
}
