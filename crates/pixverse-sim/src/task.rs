//! One generation task as the upstream stores it, and the bodies it produces: the task record of
//! `/pixverse/tasks` and the result body of a finished generation.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json, value::RawValue};
use uuid::Uuid;

use crate::{
    media::MediaUrls,
    token::Identity,
    validate::{Action, VideoParams},
};

/// A stored task. Its record has no `response` (nor `finished_at`, `elapsed`) until it ends.
#[derive(Debug)]
pub(crate) struct Task {
    /// The task id (a UUID), `id` in the record and `task_id` elsewhere.
    pub(crate) id: String,
    /// The record's `_id`, a 24-hex MongoDB ObjectId.
    pub(crate) object_id: String,
    /// The token that submitted it: batch listings are scoped to it.
    pub(crate) token: String,
    /// The account ids of the record.
    pub(crate) identity: Identity,
    /// Epoch seconds with millisecond precision.
    pub(crate) created_at: f64,
    /// When it was created, for retention.
    pub(crate) created: Instant,
    /// The submitted body, byte for byte, defaults not filled in.
    pub(crate) request: Box<RawValue>,
    /// The submit's trace id, echoed by the result.
    pub(crate) trace_id: String,
    pub(crate) started_at: Option<f64>,
    pub(crate) finished_at: Option<f64>,
    pub(crate) elapsed: Option<f64>,
    /// The result or failure body, once the task ended.
    pub(crate) response: Option<Value>,
    /// The last accepted poll, for the one-poll-a-second limit.
    pub(crate) last_poll: Option<Instant>,
    /// The video it produced, once it succeeded: `extend` accepts it.
    pub(crate) video_id: Option<i64>,
    /// Deleted through the API: invisible to lookups, kept for eviction bookkeeping.
    pub(crate) deleted: bool,
}

/// A task record as `/pixverse/tasks` returns it (fixtures `task-record-*.json`).
#[derive(Debug, Serialize)]
pub(crate) struct Record<'a> {
    #[serde(rename = "_id")]
    object_id: &'a str,
    id: &'a str,
    api_id: &'a str,
    application_id: &'a str,
    created_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed: Option<f64>,
    credential_id: &'a str,
    request: &'a RawValue,
    trace_id: &'a str,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<&'a Value>,
}

impl Task {
    /// Its record as the API shows it.
    pub(crate) fn record(&self) -> Record<'_> {
        Record {
            object_id: &self.object_id,
            id: &self.id,
            api_id: &self.identity.api_id,
            application_id: &self.identity.application_id,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            elapsed: self.elapsed,
            credential_id: &self.identity.credential_id,
            request: &self.request,
            trace_id: &self.trace_id,
            user_id: &self.identity.user_id,
            response: self.response.as_ref(),
        }
    }
}

/// Now, in epoch seconds with millisecond precision, as the upstream stamps records.
pub(crate) fn epoch_now() -> f64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    millis as f64 / 1000.0
}

/// Seconds rounded to milliseconds, so `elapsed` reads like the upstream's.
pub(crate) fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// A fresh 24-hex MongoDB-style ObjectId: 4 bytes of epoch seconds, 8 random bytes.
pub(crate) fn object_id() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let random = Uuid::new_v4().simple().to_string();
    format!("{:08x}{}", seconds & 0xffff_ffff, &random[..16])
}

/// The one item of a success body's `data`, every default filled in (fixture
/// `video-result.json`). There is deliberately no `state` key. Its media URLs point at the
/// simulator itself, which serves them (where the upstream leaves the frames empty).
pub(crate) fn video_item(
    params: &VideoParams,
    video_id: i64,
    seed: u32,
    asset_name: &str,
    media: MediaUrls,
) -> Value {
    let (width, height) = dimensions(params.quality, params.aspect_ratio);
    json!({
        "id": video_id,
        "first_frame": media.first_frame,
        "video_width": width,
        "video_height": height,
        "prompt": params.prompt,
        "model": params.model,
        "quality": params.quality,
        "motion": params.motion,
        "video_url": media.video,
        "template_id": params.template_id,
        "template_name": params.template_name,
        "style": params.style,
        "aspect_ratio": params.aspect_ratio,
        "duration": params.duration,
        "extended": u8::from(params.action == Action::Extend),
        "last_frame": media.last_frame,
        "seed": seed,
        "asset_id": params.asset_id,
        "asset_name": asset_name,
    })
}

/// A success body: the sync answer, the callback body and a done task's `response`.
pub(crate) fn success(task_id: &str, trace_id: &str, item: Value) -> Value {
    json!({"success": true, "task_id": task_id, "trace_id": trace_id, "data": [item]})
}

/// Whether a finished task's body is a success.
pub(crate) fn succeeded(response: &Value) -> bool {
    response.get("success").and_then(Value::as_bool) == Some(true)
}

/// Pixel size of a quality at an aspect ratio: the quality is the short side.
fn dimensions(quality: &str, aspect_ratio: &str) -> (u32, u32) {
    let short: u32 = quality.trim_end_matches('p').parse().unwrap_or(540);
    let (w, h) = aspect_ratio
        .split_once(':')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, h)| *w > 0 && *h > 0)
        .unwrap_or((16, 9));
    let long =
        |ratio_long: u32, ratio_short: u32| (short * ratio_long).div_ceil(ratio_short * 2) * 2;
    if w >= h {
        (long(w, h), short)
    } else {
        (short, long(h, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_follow_quality_and_ratio() {
        assert_eq!(dimensions("540p", "16:9"), (960, 540));
        assert_eq!(dimensions("1080p", "16:9"), (1920, 1080));
        assert_eq!(dimensions("360p", "4:3"), (480, 360));
        assert_eq!(dimensions("720p", "9:16"), (720, 1280));
        assert_eq!(dimensions("540p", "1:1"), (540, 540));
    }

    #[test]
    fn object_ids_are_24_hex() {
        let id = object_id();
        assert_eq!(id.len(), 24);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
