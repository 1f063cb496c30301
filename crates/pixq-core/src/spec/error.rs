//! What was wrong with a job body, where, and a machine-readable code.
//!
//! `field` is a JSON path into the body as the user sent it: `prompt`, `frame[1]`,
//! `extend[2].duration`. A key that is not a plain identifier is quoted in brackets
//! (`["my key"]`) and cut to [`MAX_KEY_IN_PATH`] characters, so an error never echoes a huge
//! key back.

use std::fmt;

use serde::{Serialize, Serializer};

/// The longest key, in characters, that a path or a message repeats before cutting it short.
pub const MAX_KEY_IN_PATH: usize = 64;

/// The kind of problem a [`SpecError`] reports. Serializes as [`as_str`](Self::as_str).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpecErrorCode {
    /// The body is not JSON (or nests deeper than serde_json's 128 levels); `field` is `None`.
    InvalidJson,
    /// A value has the wrong JSON type: a string where a number belongs, a body that is not an
    /// object, a fraction where an integer belongs.
    InvalidType,
    /// A field pixq does not know.
    UnknownField,
    /// A required field is absent or `null`.
    MissingField,
    /// The type is right but the value is not accepted: not one of the choices, out of range,
    /// too long, or at odds with another field (`fast` motion with 8 s).
    InvalidValue,
    /// A known field where it does not belong: `video_id` on a generation, `image_url` on an
    /// extend or in an extend step, `frame` together with `image_url`.
    NotAllowed,
}

impl SpecErrorCode {
    /// The code as the API reports it, e.g. `invalid_value`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecErrorCode::InvalidJson => "invalid_json",
            SpecErrorCode::InvalidType => "invalid_type",
            SpecErrorCode::UnknownField => "unknown_field",
            SpecErrorCode::MissingField => "missing_field",
            SpecErrorCode::InvalidValue => "invalid_value",
            SpecErrorCode::NotAllowed => "not_allowed",
        }
    }
}

impl fmt::Display for SpecErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SpecErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A job body that pixq refuses, with the first problem found.
///
/// Displays as `field: message`, or just the message when no field is to blame. The message
/// says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field_prefix(.field))]
#[non_exhaustive]
pub struct SpecError {
    /// The JSON path of the offending value (`extend[2].duration`); `None` when the body as a
    /// whole is at fault (not JSON, not an object).
    pub field: Option<String>,
    /// What kind of problem it is.
    pub code: SpecErrorCode,
    /// What is wrong and what to do instead.
    pub message: String,
}

fn field_prefix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
}

impl SpecError {
    /// An error about the value at `field`.
    pub(crate) fn at(field: String, code: SpecErrorCode, message: impl Into<String>) -> Self {
        SpecError {
            field: Some(field),
            code,
            message: message.into(),
        }
    }

    /// An error about the body as a whole.
    pub(crate) fn body(code: SpecErrorCode, message: impl Into<String>) -> Self {
        SpecError {
            field: None,
            code,
            message: message.into(),
        }
    }

    /// A body that serde_json could not read, with its line and column.
    pub(crate) fn from_json(bytes: &[u8], err: &serde_json::Error) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return SpecError::body(
                SpecErrorCode::InvalidJson,
                "the body is empty: send a JSON object such as {\"prompt\": \"a cat surfing\"}",
            );
        }
        let text = err.to_string();
        // serde_json has no public code for this case; its wording has been stable for years,
        // and if it ever changes the generic message below still carries line and column.
        let message = if text.starts_with("recursion limit exceeded") {
            format!(
                "the body nests arrays and objects deeper than 128 levels (line {}, column {}): \
                 flatten it",
                err.line(),
                err.column()
            )
        } else {
            format!("the body is not valid JSON: {text}")
        };
        SpecError::body(SpecErrorCode::InvalidJson, message)
    }
}

/// The path of `key` inside the object at `parent` (`""` for the body itself).
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().count() <= MAX_KEY_IN_PATH
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (plain, parent.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{parent}.{key}"),
        (false, _) => format!("{parent}[{}]", quoted_key(key)),
    }
}

/// The path of item `index` of the array at `parent`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// `key` as a JSON string, cut to [`MAX_KEY_IN_PATH`] characters.
pub(crate) fn quoted_key(key: &str) -> String {
    let mut cut: String = key.chars().take(MAX_KEY_IN_PATH).collect();
    if cut.len() < key.len() {
        cut.push('…');
    }
    serde_json::Value::String(cut).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_keys_and_indexes() {
        assert_eq!(key_path("", "prompt"), "prompt");
        assert_eq!(
            key_path(&index_path("extend", 2), "duration"),
            "extend[2].duration"
        );
        assert_eq!(index_path("frame", 1), "frame[1]");
    }

    #[test]
    fn odd_keys_are_quoted_and_long_ones_cut() {
        assert_eq!(key_path("", "a b"), r#"["a b"]"#);
        assert_eq!(key_path("extend[0]", ""), r#"extend[0][""]"#);
        let long = "k".repeat(1000);
        let path = key_path("", &long);
        assert!(path.chars().count() < 80, "{path}");
        assert!(path.contains('…'));
    }

    #[test]
    fn display_puts_the_field_first() {
        let e = SpecError::at("seed".into(), SpecErrorCode::InvalidValue, "too big");
        assert_eq!(e.to_string(), "seed: too big");
        let e = SpecError::body(SpecErrorCode::InvalidJson, "not JSON");
        assert_eq!(e.to_string(), "not JSON");
        assert_eq!(
            serde_json::to_string(&SpecErrorCode::NotAllowed).unwrap(),
            "\"not_allowed\""
        );
    }
}
