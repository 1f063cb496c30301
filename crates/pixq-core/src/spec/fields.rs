//! Typed reads of one JSON object's fields, each error naming the field's path.
//!
//! Reading goes through `serde_json::Value` by hand rather than `#[derive(Deserialize)]` so
//! that every error carries a JSON path and one of the [`SpecErrorCode`]s; serde's derive
//! reports neither. `null` reads as absent everywhere.

use std::fmt::Display;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::error::{SpecError, SpecErrorCode, index_path, key_path};
use super::http_url::HttpUrl;
use super::prompt::Prompt;
use super::seed::Seed;
use pixverse::VideoDuration;

/// The fields of the JSON object found at `path`.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Fields<'a> {
    /// Reads `value` as an object, or says what it is instead. `path` is `""` for the body.
    pub(crate) fn of(value: &'a Value, path: &'a str) -> Result<Self, SpecError> {
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            other if path.is_empty() => Err(SpecError::body(
                SpecErrorCode::InvalidType,
                format!(
                    "the body must be a JSON object such as {{\"prompt\": \"a cat surfing\"}}, \
                     not {}",
                    describe(other)
                ),
            )),
            other => Err(SpecError::at(
                path.to_owned(),
                SpecErrorCode::InvalidType,
                format!("expected an object, got {}", describe(other)),
            )),
        }
    }

    /// The path of `key` in this object.
    pub(crate) fn path(&self, key: &str) -> String {
        key_path(self.path, key)
    }

    /// Every key, in the map's order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.map.keys().map(String::as_str)
    }

    /// The value of `key`, with `null` read as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An error about `key`.
    pub(crate) fn error(&self, key: &str, code: SpecErrorCode, message: String) -> SpecError {
        SpecError::at(self.path(key), code, message)
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> SpecError {
        let mut message = format!("expected {expected}, got {}", describe(got));
        if let Value::String(s) = got
            && s.trim().parse::<f64>().is_ok()
        {
            message.push_str(": write the number without quotes");
        }
        self.error(key, SpecErrorCode::InvalidType, message)
    }

    /// A string field.
    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// A string field that must be one of the values `T` parses.
    pub(crate) fn choice<T>(&self, key: &str) -> Result<Option<T>, SpecError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        text.parse::<T>()
            .map(Some)
            .map_err(|e| self.error(key, SpecErrorCode::InvalidValue, e.to_string()))
    }

    /// The required prompt.
    pub(crate) fn prompt(&self, key: &str) -> Result<Prompt, SpecError> {
        let Some(text) = self.string(key)? else {
            return Err(self.error(
                key,
                SpecErrorCode::MissingField,
                format!("{key} is required: describe what the video should show"),
            ));
        };
        Prompt::new(text).map_err(|e| self.error(key, SpecErrorCode::InvalidValue, e.to_string()))
    }

    /// A JSON integer; a fraction, an exponent form or a numeric string is the wrong type.
    fn integer(&self, key: &str, expected: &str) -> Result<Option<i128>, SpecError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                match n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)) {
                    Some(i) => Ok(Some(i)),
                    None => Err(self.wrong_type(key, expected, &Value::Number(n.clone()))),
                }
            }
            Some(other) => Err(self.wrong_type(key, expected, other)),
        }
    }

    /// `duration`: the JSON number 5 or 8.
    pub(crate) fn duration(&self, key: &str) -> Result<Option<VideoDuration>, SpecError> {
        let Some(n) = self.integer(key, "the number 5 or 8")? else {
            return Ok(None);
        };
        i64::try_from(n)
            .ok()
            .and_then(VideoDuration::from_seconds)
            .map(Some)
            .ok_or_else(|| {
                self.error(
                    key,
                    SpecErrorCode::InvalidValue,
                    format!("duration {n} is not offered: use 5 or 8 (seconds)"),
                )
            })
    }

    /// `seed`: a JSON integer in `0..=2147483647`.
    pub(crate) fn seed(&self, key: &str) -> Result<Option<Seed>, SpecError> {
        let Some(n) = self.integer(key, "an integer from 0 to 2147483647")? else {
            return Ok(None);
        };
        u32::try_from(n)
            .ok()
            .and_then(Seed::new)
            .map(Some)
            .ok_or_else(|| {
                self.error(
                    key,
                    SpecErrorCode::InvalidValue,
                    format!("seed {n} is out of range: use 0 to {}", Seed::MAX),
                )
            })
    }

    /// An upstream id: a positive integer, given as a number or as a string of digits (the
    /// upstream's own web app spells ids as strings).
    pub(crate) fn id<T: From<i64>>(&self, key: &str) -> Result<Option<T>, SpecError> {
        let expected = "a positive integer id such as 317982208110208";
        let n = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => {
                let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                return match s.parse::<i64>() {
                    Ok(id) if digits && id > 0 => Ok(Some(T::from(id))),
                    _ => Err(self.error(
                        key,
                        SpecErrorCode::InvalidValue,
                        format!("{} is not {expected}", describe(&Value::String(s.clone()))),
                    )),
                };
            }
            Some(_) => self.integer(key, expected)?.unwrap_or_default(),
        };
        match i64::try_from(n) {
            Ok(id) if id > 0 => Ok(Some(T::from(id))),
            _ => Err(self.error(
                key,
                SpecErrorCode::InvalidValue,
                format!("{n} is not {expected}"),
            )),
        }
    }

    /// An `http(s)` URL.
    pub(crate) fn url(&self, key: &str) -> Result<Option<HttpUrl>, SpecError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        url_at(self.path(key), text).map(Some)
    }

    /// `frame`: exactly two `http(s)` URLs, first and last frame.
    pub(crate) fn frame(&self, key: &str) -> Result<Option<[HttpUrl; 2]>, SpecError> {
        let items = match self.get(key) {
            None => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(self.wrong_type(key, "an array of two URLs", other)),
        };
        let [first, last] = items.as_slice() else {
            return Err(self.error(
                key,
                SpecErrorCode::InvalidValue,
                format!(
                    "frame takes exactly two URLs, the first and the last frame; got {}",
                    items.len()
                ),
            ));
        };
        let base = self.path(key);
        let read = |i: usize, v: &Value| match v {
            Value::String(text) => url_at(index_path(&base, i), text),
            other => Err(SpecError::at(
                index_path(&base, i),
                SpecErrorCode::InvalidType,
                format!("expected a URL string, got {}", describe(other)),
            )),
        };
        Ok(Some([read(0, first)?, read(1, last)?]))
    }
}

fn url_at(path: String, text: &str) -> Result<HttpUrl, SpecError> {
    HttpUrl::parse(text)
        .map_err(|e| SpecError::at(path, SpecErrorCode::InvalidValue, e.to_string()))
}

/// A JSON value's type, for messages: `a string ("5")`, `an array`, …
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) if n.is_f64() => format!("a number with a fraction or exponent ({n})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) if s.chars().count() <= 40 => {
            format!("a string ({})", Value::from(s.as_str()))
        }
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixverse::VideoId;
    use serde_json::json;

    fn fields(v: &Value) -> Fields<'_> {
        Fields::of(v, "").unwrap()
    }

    #[test]
    fn null_reads_as_absent() {
        let v = json!({"seed": null, "model": null});
        assert_eq!(fields(&v).seed("seed").unwrap(), None);
        assert_eq!(fields(&v).string("model").unwrap(), None);
    }

    #[test]
    fn integers_are_strict() {
        let v = json!({"a": 5.0, "b": "5", "c": 1e3, "d": true});
        for key in ["a", "b", "c", "d"] {
            let e = fields(&v).duration(key).unwrap_err();
            assert_eq!(e.code, SpecErrorCode::InvalidType, "{key}");
            assert_eq!(e.field.as_deref(), Some(key));
        }
        let e = fields(&v).duration("b").unwrap_err();
        assert!(e.message.contains("without quotes"), "{}", e.message);
    }

    #[test]
    fn ids_take_numbers_and_digit_strings() {
        let v = json!({"a": 317982208110208_i64, "b": "317982208110208", "c": "3e5",
            "d": 0, "e": "99999999999999999999", "f": -4, "g": 1.5, "h": ""});
        let f = fields(&v);
        assert_eq!(
            f.id::<VideoId>("a").unwrap(),
            Some(VideoId(317982208110208))
        );
        assert_eq!(
            f.id::<VideoId>("b").unwrap(),
            Some(VideoId(317982208110208))
        );
        for key in ["c", "d", "e", "f", "h"] {
            let e = f.id::<VideoId>(key).unwrap_err();
            assert_eq!(e.code, SpecErrorCode::InvalidValue, "{key}");
        }
        assert_eq!(
            f.id::<VideoId>("g").unwrap_err().code,
            SpecErrorCode::InvalidType
        );
    }

    #[test]
    fn nested_paths_are_named() {
        let v = json!({"frame": ["https://a.test/1.png", 7]});
        let inner = Fields::of(&v, "extend[3]").unwrap();
        let e = inner.frame("frame").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extend[3].frame[1]"));
        assert_eq!(e.code, SpecErrorCode::InvalidType);
    }

    #[test]
    fn a_non_object_names_its_path_or_the_body() {
        let e = Fields::of(&json!([1]), "").err().unwrap();
        assert_eq!((e.field, e.code), (None, SpecErrorCode::InvalidType));
        let e = Fields::of(&json!("x"), "extend[0]").err().unwrap();
        assert_eq!(e.field.as_deref(), Some("extend[0]"));
    }
}
