//! The body of `POST /v1/batches`, in its four forms, read into one list of job bodies, each
//! with where it came from so an error can point at it:
//!
//! - `application/json` `{"jobs": [{…}, …]}`: job objects, as `POST /v1/jobs` takes them;
//! - `application/json` `{"prompts": ["…", …], "defaults": {…}}`: prompts, each made a job
//!   from the defaults;
//! - `text/plain`: a prompt a line (blank lines and lines starting with `#` are skipped);
//! - `application/x-ndjson`: a job object a line (blank lines skipped).
//!
//! The JSON forms may also carry `defaults` (with `jobs`, the entries' own fields win),
//! `name` and `webhook_url` (the batch's). A UTF-8 byte order mark and CRLF line ends are
//! accepted. Validating each job is the caller's part; this module only finds the entries.

use serde_json::{Map, Value};

use crate::error::{ApiError, EntryError};
use pixq_core::spec::SpecErrorCode;

/// Where an entry is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// Its index in `jobs`.
    Job(usize),
    /// Its index in `prompts`.
    Prompt(usize),
    /// Its line in a text or NDJSON body, from 1.
    Line(usize),
}

impl Position {
    /// An error about this entry.
    pub(crate) fn error(
        self,
        field: Option<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> EntryError {
        let (index, line) = match self {
            Position::Job(i) | Position::Prompt(i) => (Some(i), None),
            Position::Line(n) => (None, Some(n)),
        };
        EntryError {
            index,
            line,
            field,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// One job of the batch, as a body `POST /v1/jobs` would take, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// Where it is.
    pub position: Position,
    /// The job body.
    pub body: Value,
}

/// A batch body as read: its entries, the ones that could not even be read, and the batch's
/// own fields.
#[derive(Debug, Default)]
pub(crate) struct BatchBody {
    /// The job bodies, in order.
    pub entries: Vec<Entry>,
    /// Entries that are not job bodies at all (a line that is not JSON).
    pub unreadable: Vec<EntryError>,
    /// The defaults every entry started from; empty when none were given.
    pub defaults: Map<String, Value>,
    /// The batch's name.
    pub name: Option<String>,
    /// Where to POST the batch when it ends.
    pub webhook_url: Option<String>,
}

/// The content types a batch may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `application/json`.
    Json,
    /// `text/plain`.
    Text,
    /// `application/x-ndjson` (also `application/ndjson`, `application/jsonl`).
    Ndjson,
}

impl Form {
    /// The form of a `Content-Type` value, ignoring its parameters.
    pub(crate) fn of(content_type: &str) -> Option<Form> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Form::Json),
            "text/plain" => Some(Form::Text),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Form::Ndjson),
            _ => None,
        }
    }
}

/// The top-level fields of the JSON forms.
const JSON_FIELDS: [&str; 5] = ["jobs", "prompts", "defaults", "name", "webhook_url"];

/// Reads `bytes` in `form`.
///
/// # Errors
///
/// 400 when the body is not UTF-8 or (JSON form) not JSON; 422 when the JSON form has neither
/// `jobs` nor `prompts`, both, an unknown field, or a field of the wrong type.
pub(crate) fn parse(form: Form, bytes: &[u8]) -> Result<BatchBody, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_input(
            SpecErrorCode::InvalidJson,
            "body",
            format!(
                "the body is not UTF-8 (at byte {}): save the file as UTF-8",
                e.valid_up_to()
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match form {
        Form::Json => parse_json(text),
        Form::Text => Ok(parse_text(text)),
        Form::Ndjson => Ok(parse_ndjson(text)),
    }
}

fn parse_json(text: &str) -> Result<BatchBody, ApiError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_input(
            SpecErrorCode::InvalidJson,
            "body",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(mut top) = value else {
        return Err(invalid(
            "body",
            "send an object: {\"jobs\": [...]} or {\"prompts\": [...], \"defaults\": {...}}",
        ));
    };
    if let Some(unknown) = top.keys().find(|k| !JSON_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            SpecErrorCode::UnknownField.as_str(),
            format!(
                "unknown field `{unknown}`: a batch takes {}",
                JSON_FIELDS.join(", ")
            ),
        )
        .with_field(unknown.clone()));
    }
    let mut body = BatchBody {
        defaults: match top.remove("defaults") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(defaults)) => defaults,
            Some(_) => {
                return Err(invalid(
                    "defaults",
                    "defaults must be an object of job fields",
                ));
            }
        },
        name: optional_text(&mut top, "name")?,
        webhook_url: optional_text(&mut top, "webhook_url")?,
        ..BatchBody::default()
    };
    if body.defaults.contains_key("prompt") && top.contains_key("prompts") {
        return Err(invalid(
            "defaults.prompt",
            "with `prompts`, each prompt comes from the list: leave `prompt` out of the defaults",
        ));
    }
    match (top.remove("jobs"), top.remove("prompts")) {
        (Some(Value::Array(jobs)), None) => {
            for (i, job) in jobs.into_iter().enumerate() {
                let position = Position::Job(i);
                match job {
                    Value::Object(fields) => body.push(position, fields),
                    _ => body.unreadable.push(position.error(
                        None,
                        SpecErrorCode::InvalidType.as_str(),
                        "each job must be an object of job fields",
                    )),
                }
            }
        }
        (None, Some(Value::Array(prompts))) => {
            for (i, prompt) in prompts.into_iter().enumerate() {
                let mut fields = Map::new();
                fields.insert("prompt".into(), prompt);
                body.push(Position::Prompt(i), fields);
            }
        }
        (Some(_), Some(_)) => {
            return Err(invalid("jobs", "send `jobs` or `prompts`, not both"));
        }
        (Some(_), None) => return Err(invalid("jobs", "jobs must be an array of job objects")),
        (None, Some(_)) => {
            return Err(invalid("prompts", "prompts must be an array of strings"));
        }
        (None, None) => {
            return Err(invalid(
                "jobs",
                "the batch has neither `jobs` nor `prompts`: send one of them",
            ));
        }
    }
    Ok(body)
}

fn parse_text(text: &str) -> BatchBody {
    let mut body = BatchBody::default();
    for (n, line) in lines(text) {
        let prompt = line.trim();
        if prompt.is_empty() || prompt.starts_with('#') {
            continue;
        }
        let mut fields = Map::new();
        fields.insert("prompt".into(), Value::from(prompt));
        body.push(Position::Line(n), fields);
    }
    body
}

fn parse_ndjson(text: &str) -> BatchBody {
    let mut body = BatchBody::default();
    for (n, line) in lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        let position = Position::Line(n);
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(fields)) => body.push(position, fields),
            Ok(_) => body.unreadable.push(position.error(
                None,
                SpecErrorCode::InvalidType.as_str(),
                "each line must be a job object",
            )),
            Err(e) => body.unreadable.push(position.error(
                None,
                SpecErrorCode::InvalidJson.as_str(),
                format!("the line is not valid JSON: {e}"),
            )),
        }
    }
    body
}

/// The lines of `text`, numbered from 1, without their `\r\n` or `\n`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, line)| (i + 1, line))
}

impl BatchBody {
    /// Adds an entry: the defaults, with `fields` over them.
    fn push(&mut self, position: Position, fields: Map<String, Value>) {
        let body = if self.defaults.is_empty() {
            fields
        } else {
            let mut merged = self.defaults.clone();
            merged.extend(fields);
            merged
        };
        self.entries.push(Entry {
            position,
            body: Value::Object(body),
        });
    }
}

fn optional_text(top: &mut Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match top.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(field, &format!("{field} must be a string"))),
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        SpecErrorCode::InvalidValue.as_str(),
        message,
    )
    .with_field(field)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bodies(body: &BatchBody) -> Vec<(Position, Value)> {
        body.entries
            .iter()
            .map(|e| (e.position, e.body.clone()))
            .collect()
    }

    #[test]
    fn jobs_take_the_defaults_under_their_own_fields() {
        let body = parse(
            Form::Json,
            br#"{"jobs":[{"prompt":"a"},{"prompt":"b","quality":"720p"}],
                 "defaults":{"quality":"540p","extend":[{"prompt":"more"}]},"name":"n"}"#,
        )
        .unwrap();
        let got = bodies(&body);
        assert_eq!(got[0].0, Position::Job(0));
        assert_eq!(got[0].1["quality"], "540p");
        assert_eq!(got[1].1["quality"], "720p");
        assert_eq!(got[1].1["extend"], json!([{"prompt": "more"}]));
        assert_eq!(body.name.as_deref(), Some("n"));
    }

    #[test]
    fn prompts_become_jobs_of_the_defaults() {
        let body = parse(
            Form::Json,
            br#"{"prompts":["a","b"],"defaults":{"model":"v4"}}"#,
        )
        .unwrap();
        assert_eq!(
            bodies(&body),
            vec![
                (Position::Prompt(0), json!({"model": "v4", "prompt": "a"})),
                (Position::Prompt(1), json!({"model": "v4", "prompt": "b"})),
            ]
        );
    }

    #[test]
    fn text_skips_blanks_and_comments_and_keeps_line_numbers_through_bom_and_crlf() {
        let body = parse(
            Form::Text,
            "\u{feff}# heading\r\nfirst prompt\r\n\r\n  second  \r\nthird".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            bodies(&body),
            vec![
                (Position::Line(2), json!({"prompt": "first prompt"})),
                (Position::Line(4), json!({"prompt": "second"})),
                (Position::Line(5), json!({"prompt": "third"})),
            ]
        );
    }

    #[test]
    fn ndjson_lines_that_are_not_objects_are_named_by_line() {
        let body = parse(
            Form::Ndjson,
            b"{\"prompt\":\"a\"}\n\n[1]\n{broken\n{\"prompt\":\"b\"}\n",
        )
        .unwrap();
        assert_eq!(body.entries.len(), 2);
        assert_eq!(body.entries[1].position, Position::Line(5));
        let lines: Vec<_> = body.unreadable.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(3), Some(4)]);
        assert_eq!(body.unreadable[1].code, "invalid_json");
    }

    #[test]
    fn the_json_envelope_is_checked_field_by_field() {
        for (body, field) in [
            (&br#"{"jobs":[],"prompts":[]}"#[..], "jobs"),
            (br#"{}"#, "jobs"),
            (br#"{"jobs":{}}"#, "jobs"),
            (br#"{"prompts":"a"}"#, "prompts"),
            (br#"{"jobs":[],"extra":1}"#, "extra"),
            (br#"{"jobs":[],"defaults":[]}"#, "defaults"),
            (
                br#"{"prompts":[],"defaults":{"prompt":"x"}}"#,
                "defaults.prompt",
            ),
            (br#"{"jobs":[],"name":1}"#, "name"),
        ] {
            let e = parse(Form::Json, body).unwrap_err();
            assert_eq!(e.field(), Some(field), "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(parse(Form::Json, b"{").unwrap_err().code(), "invalid_json");
        assert_eq!(
            parse(Form::Text, &[0xff, 0xfe]).unwrap_err().field(),
            Some("body")
        );
    }

    #[test]
    fn content_types_are_read_by_their_essence() {
        assert_eq!(
            Form::of("application/json; charset=utf-8"),
            Some(Form::Json)
        );
        assert_eq!(Form::of("Text/Plain"), Some(Form::Text));
        assert_eq!(Form::of("application/x-ndjson"), Some(Form::Ndjson));
        assert_eq!(Form::of("application/xml"), None);
    }
}
