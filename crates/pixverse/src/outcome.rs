//! Reducing a task record or a result body to running, succeeded or failed.
//!
//! The upstream has no status field; a record's state is read from which fields are present.
//! The rules, applied in order:
//!
//! 1. A record without `response` is **running**.
//! 2. `response.success == false`, or an `error` without `success: true`, is **failed**, with
//!    `error.code` (`"unknown"` when the error is a bare string or missing) and `error.message`
//!    (or the bare string).
//! 3. `data[0].state` of `pending` or `processing` is **running**.
//! 4. A first video with a non-empty `video_url` and an `id` is **succeeded** (`success` is
//!    expected to be `true`; a missing `success` does not veto a delivered video).
//! 5. Otherwise, when the record has `finished_at`, the task ended without a video: **failed**
//!    with code [`NO_VIDEO`]. Without `finished_at` it is **running**: keep polling.
//!
//! A result body on its own (a callback or a sync answer) has no `finished_at`, so rule 5 reads
//! it as running: poll the task, whose record settles the matter.

use crate::id::VideoId;
use crate::result::{VideoItem, VideoResult};
use crate::task::TaskRecord;

/// The code of a failure whose error gave none.
pub const UNKNOWN_CODE: &str = "unknown";

/// The code of a task that finished without an error and without a video.
pub const NO_VIDEO: &str = "no_video";

/// Where a task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// Not finished: poll again later.
    Running,
    /// Done, with a video.
    Succeeded(Video),
    /// Done, without a video. Failed tasks are not billed.
    Failed {
        /// The upstream's `error.code` (e.g. `forbidden` for moderation, `api_error`,
        /// `timeout`), [`UNKNOWN_CODE`] or [`NO_VIDEO`].
        code: String,
        /// The upstream's explanation.
        message: String,
    },
}

impl TaskOutcome {
    /// Whether the task has ended, either way.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, TaskOutcome::Running)
    }
}

/// A finished video, normalized: `""` and `0` placeholders read as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    /// The task that made it.
    pub task_id: Option<String>,
    /// The PixVerse video id, which an extend continues from.
    pub video_id: VideoId,
    /// Where the MP4 lives; PixVerse's CDN keeps it for a limited time.
    pub video_url: String,
    /// Width in pixels, when reported.
    pub width: Option<u32>,
    /// Height in pixels, when reported.
    pub height: Option<u32>,
    /// First frame image URL, when given.
    pub first_frame: Option<String>,
    /// Last frame image URL, when given.
    pub last_frame: Option<String>,
    /// The seed used, when reported.
    pub seed: Option<i64>,
    /// Length in seconds, when reported.
    pub duration: Option<u32>,
    /// Whether it came from an extend.
    pub extended: bool,
    /// The model used, e.g. `v3.5`.
    pub model: Option<String>,
    /// The quality used, e.g. `540p`.
    pub quality: Option<String>,
}

impl Video {
    fn from_item(task_id: Option<&str>, item: &VideoItem) -> Option<Self> {
        let video_url = non_empty(item.video_url.as_deref())?;
        Some(Video {
            task_id: task_id.map(str::to_owned),
            video_id: item.id?,
            video_url,
            width: positive(item.video_width),
            height: positive(item.video_height),
            first_frame: non_empty(item.first_frame.as_deref()),
            last_frame: non_empty(item.last_frame.as_deref()),
            seed: item.seed,
            duration: positive(item.duration),
            extended: item.extended.is_some_and(|e| e != 0),
            model: non_empty(item.model.as_deref()),
            quality: non_empty(item.quality.as_deref()),
        })
    }
}

impl TaskRecord {
    /// Where this task stands, by the rules in the [module docs](crate::outcome).
    pub fn outcome(&self) -> TaskOutcome {
        match &self.response {
            None => TaskOutcome::Running,
            Some(response) => reduce(response, self.id.as_deref(), self.finished_at.is_some()),
        }
    }
}

impl VideoResult {
    /// Where the task of this body stands (for callback bodies and sync answers). A body that
    /// carries neither a failure nor a video reads as running; see the
    /// [module docs](crate::outcome).
    pub fn outcome(&self) -> TaskOutcome {
        reduce(self, None, false)
    }
}

fn reduce(result: &VideoResult, record_id: Option<&str>, finished: bool) -> TaskOutcome {
    if result.is_failure() {
        let error = result.error.as_ref();
        return TaskOutcome::Failed {
            code: error
                .and_then(|e| e.code())
                .unwrap_or(UNKNOWN_CODE)
                .to_owned(),
            message: error
                .and_then(|e| e.message())
                .unwrap_or("the upstream reported a failure without a message")
                .to_owned(),
        };
    }
    let first = result.first();
    let state = first
        .and_then(|item| item.state.as_deref())
        .map(str::to_ascii_lowercase);
    if matches!(state.as_deref(), Some("pending" | "processing")) {
        return TaskOutcome::Running;
    }
    let task_id = result.task_id.as_deref().or(record_id);
    if let Some(video) = first.and_then(|item| Video::from_item(task_id, item)) {
        return TaskOutcome::Succeeded(video);
    }
    if finished {
        TaskOutcome::Failed {
            code: NO_VIDEO.to_owned(),
            message: "the task finished without an error and without a video".to_owned(),
        }
    } else {
        TaskOutcome::Running
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn positive(n: Option<i64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn record(v: Value) -> TaskRecord {
        serde_json::from_value(v).unwrap()
    }

    fn failed(code: &str, message: &str) -> TaskOutcome {
        TaskOutcome::Failed {
            code: code.into(),
            message: message.into(),
        }
    }

    const VIDEO: &str = "https://media.pixverse.ai/x.mp4";

    #[test]
    fn record_without_response_is_running_even_with_finished_at() {
        assert_eq!(record(json!({"id": "t"})).outcome(), TaskOutcome::Running);
        assert_eq!(
            record(json!({"id": "t", "finished_at": 1.0})).outcome(),
            TaskOutcome::Running
        );
    }

    #[test]
    fn success_with_url_and_id_is_succeeded_with_placeholders_dropped() {
        let r = record(json!({"id": "t", "response": {"success": true, "data": [
            {"id": "42", "video_url": VIDEO, "video_width": 0, "video_height": 720,
             "first_frame": "", "seed": 7, "duration": 5, "extended": 1}]}}));
        let TaskOutcome::Succeeded(v) = r.outcome() else {
            panic!("{:?}", r.outcome())
        };
        assert_eq!(v.task_id.as_deref(), Some("t"));
        assert_eq!(v.video_id, VideoId(42));
        assert_eq!(v.video_url, VIDEO);
        assert_eq!((v.width, v.height), (None, Some(720)));
        assert_eq!(v.first_frame, None);
        assert_eq!((v.seed, v.duration, v.extended), (Some(7), Some(5), true));
    }

    #[test]
    fn success_false_fails_with_the_code_or_unknown() {
        let obj = json!({"response": {"success": false, "error": {"code": "forbidden", "message": "no"}}});
        assert_eq!(record(obj).outcome(), failed("forbidden", "no"));
        let bare = json!({"response": {"success": false, "error": "boom"}});
        assert_eq!(record(bare).outcome(), failed(UNKNOWN_CODE, "boom"));
        let TaskOutcome::Failed { code, .. } =
            record(json!({"response": {"success": false}})).outcome()
        else {
            panic!("expected failure")
        };
        assert_eq!(code, UNKNOWN_CODE);
    }

    #[test]
    fn error_without_success_fails() {
        let r = record(json!({"response": {"error": {"code": "timeout", "message": "slow"}}}));
        assert_eq!(r.outcome(), failed("timeout", "slow"));
    }

    #[test]
    fn pending_or_processing_state_is_running_even_with_a_url() {
        for state in ["pending", "processing", "Processing"] {
            let r = record(json!({"response": {"success": true, "data": [
                {"id": 1, "video_url": VIDEO, "state": state}]}}));
            assert_eq!(r.outcome(), TaskOutcome::Running, "{state}");
        }
    }

    #[test]
    fn success_without_video_is_running_until_finished_at_then_no_video() {
        let body = json!({"success": true, "data": [{"id": 1, "video_url": ""}]});
        assert_eq!(
            record(json!({"response": body})).outcome(),
            TaskOutcome::Running
        );
        let done = record(json!({"response": body, "finished_at": 2.0})).outcome();
        assert!(
            matches!(done, TaskOutcome::Failed { ref code, .. } if code == NO_VIDEO),
            "{done:?}"
        );
    }

    #[test]
    fn video_without_id_is_not_a_success() {
        let r = record(
            json!({"finished_at": 2.0, "response": {"success": true, "data": [{"video_url": VIDEO}]}}),
        );
        assert!(matches!(r.outcome(), TaskOutcome::Failed { ref code, .. } if code == NO_VIDEO));
    }

    #[test]
    fn callback_body_without_video_reads_as_running() {
        let body: VideoResult =
            serde_json::from_value(json!({"success": true, "task_id": "t"})).unwrap();
        assert_eq!(body.outcome(), TaskOutcome::Running);
        assert!(!body.outcome().is_terminal());
    }
}
