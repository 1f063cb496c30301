//! What goes to `/pixverse/videos` and what comes back.
//!
//! A submit is the one call that can cost money, and a submit that gets no answer may still have
//! created a billed task. So the body is a value of its own, [`SubmitBody`]: a worker builds it,
//! records it, then sends exactly those bytes with [`Client::submit`](crate::Client::submit).
//! If the answer is lost, the task record whose `request` [`matches`](SubmitBody::matches) the
//! recorded body is the task that submit created.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Value};
use url::Url;

use crate::request::{ExtendRequest, GenerateRequest, object_text};
use crate::result::VideoResult;

/// How the upstream should answer a submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitMode {
    /// Answer at once with a task id and POST the result to this URL when the task ends.
    /// Callbacks are unsigned and may be lost: poll as well. A URL unique to the job also
    /// makes a lost answer's task easy to find.
    Callback(Url),
    /// Answer at once with a task id (`"async": true`); poll for the result.
    Async,
    /// Block until the video is ready (1–2 minutes upstream) and answer with the result.
    /// Uses the client's longer sync timeout.
    Sync,
}

/// The exact JSON body of a submit: build it, record it, send it.
///
/// The text is fixed when the body is built and sent byte for byte. Two bodies are compared as
/// JSON values, so key order and number spelling do not matter to [`matches`](Self::matches).
#[derive(Clone, PartialEq)]
pub struct SubmitBody {
    text: String,
    value: Value,
}

impl SubmitBody {
    /// The body of a generation in the given mode: `action` first, unset fields left out,
    /// then `callback_url` or `"async": true`.
    pub fn generate(request: &GenerateRequest, mode: &SubmitMode) -> Self {
        Self::from_fields(request.wire_fields(), mode)
    }

    /// The body of an extend in the given mode.
    pub fn extend(request: &ExtendRequest, mode: &SubmitMode) -> Self {
        Self::from_fields(request.wire_fields(), mode)
    }

    /// A body recorded earlier, kept byte for byte, so a worker can resend exactly what it
    /// recorded.
    ///
    /// # Errors
    ///
    /// When the text is not a JSON object.
    pub fn from_json(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        let value: Value = serde_json::from_str(&text)?;
        if !value.is_object() {
            return Err(de::Error::custom("a submit body must be a JSON object"));
        }
        Ok(SubmitBody { text, value })
    }

    fn from_fields(mut fields: Vec<(&'static str, Value)>, mode: &SubmitMode) -> Self {
        match mode {
            SubmitMode::Callback(url) => fields.push(("callback_url", url.as_str().into())),
            SubmitMode::Async => fields.push(("async", true.into())),
            SubmitMode::Sync => {}
        }
        let text = object_text(&fields);
        let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        SubmitBody {
            text,
            value: Value::Object(map),
        }
    }

    /// The JSON text that is sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The body as a JSON value.
    pub fn as_value(&self) -> &Value {
        &self.value
    }

    /// The `callback_url`, if the body has one.
    pub fn callback_url(&self) -> Option<&str> {
        self.value.get("callback_url").and_then(Value::as_str)
    }

    /// Whether the upstream will hold the connection until the video is ready: no
    /// `callback_url` and no `"async": true`. The client then uses its sync timeout.
    pub fn is_sync(&self) -> bool {
        let is_async = self.value.get("async").and_then(Value::as_bool) == Some(true);
        !is_async && self.callback_url().is_none()
    }

    /// Whether a task record's `request` is this body, compared as JSON (key order ignored,
    /// numbers by value, so `5` equals `5.0`).
    pub fn matches(&self, request: &Value) -> bool {
        same_json(&self.value, request)
    }
}

impl fmt::Debug for SubmitBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SubmitBody").field(&self.text).finish()
    }
}

impl fmt::Display for SubmitBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Serializes as the JSON object itself.
impl Serialize for SubmitBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// Deserializes from a JSON object. The text is rebuilt from the value, so its key order may
/// differ from the original; [`matches`](SubmitBody::matches) does not care.
impl<'de> Deserialize<'de> for SubmitBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if !value.is_object() {
            return Err(de::Error::custom("a submit body must be a JSON object"));
        }
        Ok(SubmitBody {
            text: value.to_string(),
            value,
        })
    }
}

fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The answer to a submit.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// The task was created; the result comes by callback or polling. An async or callback
    /// submit answers `{"task_id"}` or `{"success":true,"task_id"}`.
    Accepted {
        /// The task id, for `/pixverse/tasks`.
        task_id: String,
    },
    /// A sync submit's result. Its [`outcome`](VideoResult::outcome) says whether it holds a
    /// video.
    Finished(VideoResult),
}

impl Submission {
    /// Reads a successful submit answer by its shape rather than the mode asked for: a body
    /// with videos is `Finished`, one with only a task id is `Accepted`, and one with neither
    /// is `None` (the caller cannot tell what happened).
    pub fn from_result(result: VideoResult) -> Option<Self> {
        if !result.data.is_empty() {
            return Some(Submission::Finished(result));
        }
        match result.task_id {
            Some(task_id) if !task_id.is_empty() => Some(Submission::Accepted { task_id }),
            _ => None,
        }
    }

    /// The task id, whichever way the submit was answered.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Submission::Accepted { task_id } => Some(task_id),
            Submission::Finished(result) => result.task_id.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::VideoId;
    use serde_json::json;

    #[test]
    fn callback_mode_adds_callback_url_last() {
        let url = Url::parse("https://hooks.example/pixq/job-1?k=abc").unwrap();
        let body =
            SubmitBody::generate(&GenerateRequest::new("quiver"), &SubmitMode::Callback(url));
        assert_eq!(
            body.as_str(),
            r#"{"action":"generate","prompt":"quiver","callback_url":"https://hooks.example/pixq/job-1?k=abc"}"#
        );
        assert!(!body.is_sync());
        assert_eq!(
            body.callback_url(),
            Some("https://hooks.example/pixq/job-1?k=abc")
        );
    }

    #[test]
    fn async_mode_adds_async_true_and_sync_mode_adds_nothing() {
        let r = ExtendRequest::new(VideoId(7), "more");
        let a = SubmitBody::extend(&r, &SubmitMode::Async);
        assert_eq!(
            a.as_str(),
            r#"{"action":"extend","prompt":"more","video_id":7,"async":true}"#
        );
        assert!(!a.is_sync());
        let s = SubmitBody::extend(&r, &SubmitMode::Sync);
        assert_eq!(
            s.as_str(),
            r#"{"action":"extend","prompt":"more","video_id":7}"#
        );
        assert!(s.is_sync());
    }

    #[test]
    fn body_text_and_value_agree() {
        let body =
            SubmitBody::generate(&GenerateRequest::new("a \"quoted\" é"), &SubmitMode::Async);
        let reparsed: Value = serde_json::from_str(body.as_str()).unwrap();
        assert_eq!(&reparsed, body.as_value());
    }

    #[test]
    fn matches_ignores_key_order_and_number_spelling_but_not_values() {
        let body = SubmitBody::extend(&ExtendRequest::new(VideoId(5), "x"), &SubmitMode::Async);
        assert!(
            body.matches(
                &json!({"async": true, "video_id": 5.0, "prompt": "x", "action": "extend"})
            )
        );
        assert!(
            !body
                .matches(&json!({"async": true, "video_id": 6, "prompt": "x", "action": "extend"}))
        );
        assert!(!body.matches(&json!({"video_id": 5, "prompt": "x", "action": "extend"})));
        assert!(!body.matches(
            &json!({"async": true, "video_id": 5, "prompt": "x", "action": "extend", "seed": 1})
        ));
    }

    #[test]
    fn recorded_body_is_resent_byte_for_byte() {
        let text = r#"{ "prompt":"x",  "action":"generate" }"#;
        let body = SubmitBody::from_json(text).unwrap();
        assert_eq!(body.as_str(), text);
        assert!(body.is_sync());
        assert!(SubmitBody::from_json("[1]").is_err());
        assert!(SubmitBody::from_json("nope").is_err());
    }

    #[test]
    fn submission_is_read_by_shape() {
        let accepted = VideoResult {
            task_id: Some("t1".into()),
            ..Default::default()
        };
        assert_eq!(
            Submission::from_result(accepted),
            Some(Submission::Accepted {
                task_id: "t1".into()
            })
        );
        assert_eq!(Submission::from_result(VideoResult::default()), None);
        let finished: VideoResult =
            serde_json::from_value(json!({"task_id": "t2", "data": [{"id": 1}]})).unwrap();
        let sub = Submission::from_result(finished).unwrap();
        assert!(matches!(sub, Submission::Finished(_)));
        assert_eq!(sub.task_id(), Some("t2"));
    }
}
