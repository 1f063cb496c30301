//! The bodies `/pixverse/videos` and `/pixverse/character` answer with.
//!
//! One [`VideoResult`] type covers every body that carries a result or a failure: the sync
//! answer, the callback body, the `response` of a finished task, the immediate
//! `{"task_id"}` / `{"success":true,"task_id"}` of an async submit, and both error envelopes
//! (the gateway's `{"error","trace_id"}` and the task's `{"success":false,"error",…}`).
//! Every field may be missing and unknown fields are kept in `extra`, because the upstream's
//! bodies differ between its docs, its web app and time.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::id::{self, AssetId, TemplateId, VideoId};
use crate::number;

/// A result or failure body: sync answer, callback body, a task's `response`, an async
/// acceptance or an error envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoResult {
    /// `true` on success, `false` on a task failure; absent in gateway errors and in the
    /// Pixverse-documented async acceptance.
    #[serde(default)]
    pub success: Option<bool>,
    /// The Ace Data Cloud task id: the key for `/pixverse/tasks`.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The upstream's request trace id; quote it when reporting a problem.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The videos; one in every documented example. Missing or `null` reads as empty and a
    /// single object as a one-item list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub data: Vec<VideoItem>,
    /// Why the task or request failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<UpstreamErrorBody>,
    /// Fields this client does not know, kept so nothing the upstream said is lost.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VideoResult {
    /// The first video, which is the one a generation or extend produced.
    pub fn first(&self) -> Option<&VideoItem> {
        self.data.first()
    }

    /// Whether the body reports a failure: `success: false`, or an `error` without
    /// `success: true`.
    pub fn is_failure(&self) -> bool {
        match self.success {
            Some(false) => true,
            Some(true) => false,
            None => self.error.as_ref().is_some_and(|e| !e.is_empty()),
        }
    }
}

/// One video of a result. Every field is optional; the upstream echoes the effective request
/// parameters as plain strings, so they stay strings here rather than failing on a new value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoItem {
    /// The PixVerse video id: what an extend continues from.
    #[serde(default, deserialize_with = "id::opt")]
    pub id: Option<VideoId>,
    /// Where the MP4 lives, on PixVerse's CDN for a limited time: download it promptly.
    #[serde(default)]
    pub video_url: Option<String>,
    /// The first frame's image URL; often `""`.
    #[serde(default)]
    pub first_frame: Option<String>,
    /// The last frame's image URL; often `""`.
    #[serde(default)]
    pub last_frame: Option<String>,
    /// Width in pixels; often `0`, meaning not reported.
    #[serde(default, deserialize_with = "number::opt_i64")]
    pub video_width: Option<i64>,
    /// Height in pixels; often `0`, meaning not reported.
    #[serde(default, deserialize_with = "number::opt_i64")]
    pub video_height: Option<i64>,
    /// The prompt, as echoed.
    #[serde(default)]
    pub prompt: Option<String>,
    /// The model used, e.g. `v3.5`.
    #[serde(default)]
    pub model: Option<String>,
    /// The quality used, e.g. `360p`.
    #[serde(default)]
    pub quality: Option<String>,
    /// The motion mode used.
    #[serde(default)]
    pub motion: Option<String>,
    /// The style used; `""` for none.
    #[serde(default)]
    pub style: Option<String>,
    /// The aspect ratio used, e.g. `16:9`.
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    /// Length in seconds.
    #[serde(default, deserialize_with = "number::opt_i64")]
    pub duration: Option<i64>,
    /// The seed used; fixing it reproduces a result.
    #[serde(default, deserialize_with = "number::opt_i64")]
    pub seed: Option<i64>,
    /// `1` when the video came from an extend.
    #[serde(default, deserialize_with = "number::opt_i64")]
    pub extended: Option<i64>,
    /// The effect template applied; `0` for none.
    #[serde(default, deserialize_with = "id::opt")]
    pub template_id: Option<TemplateId>,
    /// The template's name, e.g. `Zombie Mode`; `""` for none.
    #[serde(default)]
    pub template_name: Option<String>,
    /// The character used; `0` for none.
    #[serde(default, deserialize_with = "id::opt")]
    pub asset_id: Option<AssetId>,
    /// The character's name; `""` for none.
    #[serde(default)]
    pub asset_name: Option<String>,
    /// `pending` / `processing` inside unfinished task responses (seen in the web app).
    #[serde(default)]
    pub state: Option<String>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `error` of a body: an object `{code?, message?}` or, sometimes, a bare string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum UpstreamErrorBody {
    /// The documented form.
    Detail {
        /// A machine-readable code such as `used_up` or `forbidden`.
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// A human-readable explanation.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A bare string: a message without a code.
    Text(String),
}

impl UpstreamErrorBody {
    /// The error code, when the upstream gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            UpstreamErrorBody::Detail { code, .. } => code.as_deref().filter(|c| !c.is_empty()),
            UpstreamErrorBody::Text(_) => None,
        }
    }

    /// The explanation: the `message`, or the bare string.
    pub fn message(&self) -> Option<&str> {
        match self {
            UpstreamErrorBody::Detail { message, .. } => message.as_deref(),
            UpstreamErrorBody::Text(text) => Some(text.as_str()),
        }
        .filter(|m| !m.is_empty())
    }

    /// Whether it says nothing at all (`""` or `{}`).
    pub fn is_empty(&self) -> bool {
        self.code().is_none() && self.message().is_none()
    }

    /// Reads `error` from any JSON value; `None` for `null`. Codes given as numbers become
    /// text, and any other value becomes its JSON text, so reading an error never fails.
    pub(crate) fn from_value(value: &Value) -> Option<Self> {
        fn text(v: &Value) -> Option<String> {
            match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        }
        match value {
            Value::Null => None,
            Value::String(s) => Some(UpstreamErrorBody::Text(s.clone())),
            Value::Object(map) => Some(UpstreamErrorBody::Detail {
                code: map.get("code").and_then(text),
                message: map.get("message").and_then(text),
            }),
            other => Some(UpstreamErrorBody::Text(other.to_string())),
        }
    }
}

impl<'de> Deserialize<'de> for UpstreamErrorBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(
            UpstreamErrorBody::from_value(&value).unwrap_or(UpstreamErrorBody::Detail {
                code: None,
                message: None,
            }),
        )
    }
}

/// The answer of `/pixverse/character`: `{"success":true,"task_id","data":{"asset_id"}}`.
/// Unlike a video result, `data` is an object here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Character {
    /// `true` when the character was made.
    #[serde(default)]
    pub success: Option<bool>,
    /// The upstream's task id for the request.
    #[serde(default)]
    pub task_id: Option<String>,
    /// The request trace id, when given.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The character.
    #[serde(default)]
    pub data: Option<CharacterData>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Character {
    /// The id to pass as `asset_id` to a generation.
    pub fn asset_id(&self) -> Option<AssetId> {
        self.data.as_ref().and_then(|d| d.asset_id)
    }
}

/// The `data` object of a [`Character`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CharacterData {
    /// The character id.
    #[serde(default, deserialize_with = "id::opt")]
    pub asset_id: Option<AssetId>,
    /// Fields this client does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<VideoItem>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<VideoItem>),
        One(Box<VideoItem>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::Many(items)) => items,
        Some(OneOrMany::One(item)) => vec![*item],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> VideoResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn data_may_be_missing_null_or_a_single_object() {
        assert!(parse(json!({"task_id": "t"})).data.is_empty());
        assert!(parse(json!({"data": null})).data.is_empty());
        let one = parse(json!({"data": {"id": "5", "video_url": "u"}}));
        assert_eq!(one.data.len(), 1);
        assert_eq!(one.data[0].id, Some(VideoId(5)));
    }

    #[test]
    fn error_reads_object_bare_string_null_and_numeric_code() {
        let obj = parse(json!({"error": {"code": "used_up", "message": "top up"}}));
        let err = obj.error.unwrap();
        assert_eq!(
            (err.code(), err.message()),
            (Some("used_up"), Some("top up"))
        );

        let bare = parse(json!({"error": "upstream said no"})).error.unwrap();
        assert_eq!(
            (bare.code(), bare.message()),
            (None, Some("upstream said no"))
        );

        assert!(parse(json!({"error": null})).error.is_none());
        let numeric = parse(json!({"error": {"code": 500044}})).error.unwrap();
        assert_eq!(numeric.code(), Some("500044"));
    }

    #[test]
    fn failure_is_success_false_or_an_error_without_success() {
        assert!(parse(json!({"success": false})).is_failure());
        assert!(parse(json!({"error": {"code": "x"}})).is_failure());
        assert!(parse(json!({"error": "x"})).is_failure());
        assert!(!parse(json!({"error": ""})).is_failure());
        assert!(!parse(json!({"success": true, "error": {"code": "x"}})).is_failure());
        assert!(!parse(json!({"task_id": "t"})).is_failure());
    }

    #[test]
    fn null_and_empty_numbers_read_as_absent() {
        let r = parse(
            json!({"data": [{"id": null, "seed": "", "video_width": "720",
            "template_id": "302325299651648", "asset_id": null}]}),
        );
        let item = &r.data[0];
        assert_eq!(item.id, None);
        assert_eq!(item.seed, None);
        assert_eq!(item.video_width, Some(720));
        assert_eq!(item.template_id, Some(TemplateId(302325299651648)));
        assert_eq!(item.asset_id, None);
    }
}
