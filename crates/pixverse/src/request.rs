//! Typed requests for `/pixverse/videos`: a generation and an extend.
//!
//! Only the prompt (and, for an extend, the video id) is required; every other field is
//! `None` unless set, and a `None` field is left out of the body entirely. The upstream stores
//! a request as sent, without filling in defaults, so sending only what was chosen keeps the
//! body that a worker records equal to the one the task record will echo.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use url::Url;

use crate::id::{AssetId, TemplateId, VideoId};
use crate::param::{AspectRatio, Model, Motion, Quality, Style, VideoDuration};

/// A new video from a prompt, optionally guided by images, a template or a character.
///
/// Serializes as the upstream's body, `"action":"generate"` first; deserializing ignores
/// `action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GenerateRequest {
    /// What to show; required. PixVerse caps prompts at 2048 characters.
    pub prompt: String,
    /// The model; upstream default `v3.5`.
    #[serde(default)]
    pub model: Option<Model>,
    /// A visual style; upstream default none.
    #[serde(default)]
    pub style: Option<Style>,
    /// The motion mode; upstream default `normal`.
    #[serde(default)]
    pub motion: Option<Motion>,
    /// The resolution; upstream default `540p`.
    #[serde(default)]
    pub quality: Option<Quality>,
    /// The length; upstream default 5 s.
    #[serde(default)]
    pub duration: Option<VideoDuration>,
    /// The frame shape; upstream default `16:9`.
    #[serde(default)]
    pub aspect_ratio: Option<AspectRatio>,
    /// A fixed seed reproduces a result (0..=2147483647); upstream default random.
    #[serde(default)]
    pub seed: Option<u32>,
    /// A first-frame reference image (image to video).
    #[serde(default)]
    pub image_url: Option<Url>,
    /// First and last frame images.
    #[serde(default)]
    pub frame: Option<[Url; 2]>,
    /// An effect template, usually applied to `image_url`.
    #[serde(default)]
    pub template_id: Option<TemplateId>,
    /// A character made with `/pixverse/character`.
    #[serde(default)]
    pub asset_id: Option<AssetId>,
}

impl GenerateRequest {
    /// A generation of `prompt` with every option left to the upstream's default.
    pub fn new(prompt: impl Into<String>) -> Self {
        GenerateRequest {
            prompt: prompt.into(),
            model: None,
            style: None,
            motion: None,
            quality: None,
            duration: None,
            aspect_ratio: None,
            seed: None,
            image_url: None,
            frame: None,
            template_id: None,
            asset_id: None,
        }
    }

    /// The body's fields in wire order, `action` first, without the `None` ones.
    pub(crate) fn wire_fields(&self) -> Vec<(&'static str, Value)> {
        let mut f = Fields::new("generate", &self.prompt);
        f.opt("model", self.model.map(|v| v.as_str().into()));
        f.opt("style", self.style.map(|v| v.as_str().into()));
        f.opt("motion", self.motion.map(|v| v.as_str().into()));
        f.opt("quality", self.quality.map(|v| v.as_str().into()));
        f.opt("duration", self.duration.map(|v| v.seconds().into()));
        f.opt("aspect_ratio", self.aspect_ratio.map(|v| v.as_str().into()));
        f.opt("seed", self.seed.map(Value::from));
        f.opt("image_url", self.image_url.as_ref().map(url_value));
        f.opt(
            "frame",
            self.frame
                .as_ref()
                .map(|[first, last]| Value::Array(vec![url_value(first), url_value(last)])),
        );
        f.opt("template_id", self.template_id.map(|v| v.get().into()));
        f.opt("asset_id", self.asset_id.map(|v| v.get().into()));
        f.0
    }
}

/// A continuation of an earlier video (`"action":"extend"`), by its `data[].id`.
///
/// Serializes as the upstream's body, `"action":"extend"` first; deserializing ignores
/// `action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ExtendRequest {
    /// The video to continue: the `id` of an earlier result.
    pub video_id: VideoId,
    /// What happens next; required.
    pub prompt: String,
    /// The model; upstream default `v3.5`.
    #[serde(default)]
    pub model: Option<Model>,
    /// A visual style; upstream default none.
    #[serde(default)]
    pub style: Option<Style>,
    /// The motion mode; upstream default `normal`.
    #[serde(default)]
    pub motion: Option<Motion>,
    /// The resolution; upstream default `540p`.
    #[serde(default)]
    pub quality: Option<Quality>,
    /// The length of the continuation; upstream default 5 s.
    #[serde(default)]
    pub duration: Option<VideoDuration>,
    /// A fixed seed (0..=2147483647); upstream default random.
    #[serde(default)]
    pub seed: Option<u32>,
}

impl ExtendRequest {
    /// An extend of `video_id` with `prompt` and every option left to the upstream's default.
    pub fn new(video_id: VideoId, prompt: impl Into<String>) -> Self {
        ExtendRequest {
            video_id,
            prompt: prompt.into(),
            model: None,
            style: None,
            motion: None,
            quality: None,
            duration: None,
            seed: None,
        }
    }

    /// The body's fields in wire order, `action` first, without the `None` ones.
    pub(crate) fn wire_fields(&self) -> Vec<(&'static str, Value)> {
        let mut f = Fields::new("extend", &self.prompt);
        f.0.push(("video_id", self.video_id.get().into()));
        f.opt("model", self.model.map(|v| v.as_str().into()));
        f.opt("style", self.style.map(|v| v.as_str().into()));
        f.opt("motion", self.motion.map(|v| v.as_str().into()));
        f.opt("quality", self.quality.map(|v| v.as_str().into()));
        f.opt("duration", self.duration.map(|v| v.seconds().into()));
        f.opt("seed", self.seed.map(Value::from));
        f.0
    }
}

impl Serialize for GenerateRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields(&self.wire_fields(), s)
    }
}

impl Serialize for ExtendRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_fields(&self.wire_fields(), s)
    }
}

/// An ordered list of body fields that starts with `action` and `prompt`.
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn new(action: &'static str, prompt: &str) -> Self {
        Fields(vec![("action", action.into()), ("prompt", prompt.into())])
    }

    fn opt(&mut self, key: &'static str, value: Option<Value>) {
        if let Some(value) = value {
            self.0.push((key, value));
        }
    }
}

fn url_value(url: &Url) -> Value {
    Value::String(url.as_str().to_owned())
}

fn serialize_fields<S: Serializer>(
    fields: &[(&'static str, Value)],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(fields.len()))?;
    for (key, value) in fields {
        map.serialize_entry(key, value)?;
    }
    map.end()
}

/// The compact JSON text of an object with these fields, in this order. Infallible, unlike
/// `serde_json::to_string`, because every part is already a `Value`.
pub(crate) fn object_text(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(*key).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn generate_serializes_action_first_and_leaves_out_unset_fields() {
        let text = serde_json::to_string(&GenerateRequest::new("quiver")).unwrap();
        assert_eq!(text, r#"{"action":"generate","prompt":"quiver"}"#);
    }

    #[test]
    fn generate_serializes_every_field_in_the_upstream_spelling() {
        let mut r = GenerateRequest::new("dance");
        r.model = Some(Model::V4_5);
        r.style = Some(Style::ThreeDAnimation);
        r.motion = Some(Motion::Fast);
        r.quality = Some(Quality::P720);
        r.duration = Some(VideoDuration::Eight);
        r.aspect_ratio = Some(AspectRatio::Portrait9x16);
        r.seed = Some(42);
        r.image_url = Some(url("https://cdn.acedata.cloud/n3r1mc.png"));
        r.frame = Some([url("https://a.test/1.png"), url("https://a.test/2.png")]);
        r.template_id = Some(TemplateId(302325299651648));
        r.asset_id = Some(AssetId(317383895242880));
        let value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            value,
            json!({"action": "generate", "prompt": "dance", "model": "v4.5",
                "style": "3d_animation", "motion": "fast", "quality": "720p", "duration": 8,
                "aspect_ratio": "9:16", "seed": 42,
                "image_url": "https://cdn.acedata.cloud/n3r1mc.png",
                "frame": ["https://a.test/1.png", "https://a.test/2.png"],
                "template_id": 302325299651648_i64, "asset_id": 317383895242880_i64})
        );
        let back: GenerateRequest = serde_json::from_value(value).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn extend_serializes_action_extend_with_a_numeric_video_id() {
        let r = ExtendRequest::new(VideoId(317989274748288), "A group of people began to dance");
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"action":"extend","prompt":"A group of people began to dance","video_id":317989274748288}"#
        );
    }

    #[test]
    fn object_text_escapes_and_keeps_order() {
        let text = object_text(&[("z", json!("a\"b")), ("a", json!(1))]);
        assert_eq!(text, r#"{"z":"a\"b","a":1}"#);
    }
}
