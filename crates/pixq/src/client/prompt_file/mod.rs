//! Prompt files, as `pixq submit` reads them: each line (or CSV row) becomes an [`Entry`], a job
//! body that still lacks the command line's defaults, with the line it came from.
//!
//! - `.txt`: one prompt a line; blank lines and lines starting with `#` are skipped.
//! - `.jsonl` (or `.ndjson`): one job object a line, as `POST /v1/jobs` takes it; blank lines
//!   are skipped.
//! - `.csv`: a header row naming a `prompt` column and any of the parameter columns in
//!   [`csv::COLUMNS`]; an unknown column is an error naming it.
//!
//! All three cope with a UTF-8 byte order mark, CRLF line ends and lines of any length. Errors
//! are gathered for the whole file (up to [`MAX_ERRORS`]), so one run shows every bad line.

mod csv;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

/// The most bad lines gathered before reading stops: enough to see a pattern, few enough to
/// read.
pub const MAX_ERRORS: usize = 100;

/// What the file name shows for `-`.
pub const STDIN_NAME: &str = "<stdin>";

/// How a prompt file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One prompt a line.
    Txt,
    /// One job object (JSON) a line.
    Jsonl,
    /// A header row with a `prompt` column, then one job a row.
    Csv,
}

impl Format {
    /// The format a path's extension names: `.txt` or none is text, `.jsonl` and `.ndjson`
    /// are JSON lines, `.csv` is CSV. `-` (stdin) is text.
    ///
    /// # Errors
    ///
    /// Any other extension, with a hint to pass `--format`.
    pub fn from_path(path: &Path) -> Result<Format, String> {
        let extension = path
            .extension()
            .map(|ext| ext.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            None | Some("txt") => Ok(Format::Txt),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(format!(
                "cannot tell the format of {} from its extension .{other}; \
                 name it .txt, .jsonl or .csv, or pass --format txt|jsonl|csv",
                path.display()
            )),
        }
    }
}

/// How many extend steps a line asks for, and their prompt, when it says so outside a job
/// body's own `extend` (the CSV columns `extend` and `extend_prompt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendAsk {
    /// The number of steps.
    pub steps: Option<u8>,
    /// Every step's prompt.
    pub prompt: Option<String>,
}

/// One job read from a prompt file, before the command line's defaults apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The line it starts on, from 1.
    pub line: u64,
    /// The job body as the line gives it.
    pub body: Map<String, Value>,
    /// An extend chain the line asks for outside `body`.
    pub extend: ExtendAsk,
}

impl Entry {
    fn new(line: u64, body: Map<String, Value>) -> Entry {
        Entry {
            line,
            body,
            extend: ExtendAsk::default(),
        }
    }
}

/// Something wrong with a prompt file, where it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line, from 1; `None` when the file as a whole is at fault.
    pub line: Option<u64>,
    /// The field (or CSV column) at fault, e.g. `prompt` or `extend[0].duration`.
    pub field: Option<String>,
    /// What is wrong and what to do instead.
    pub message: String,
}

impl LineError {
    /// An error on `line` about `field`.
    pub fn at(line: u64, field: Option<&str>, message: impl Into<String>) -> LineError {
        LineError {
            line: Some(line),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Shows the error with the file's name: `prompts.txt line 37, field `prompt`: …`.
    pub fn in_file<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        InFile { error: self, file }
    }
}

struct InFile<'a> {
    error: &'a LineError,
    file: &'a str,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file)?;
        if let Some(line) = self.error.line {
            write!(f, " line {line}")?;
        }
        if let Some(field) = &self.error.field {
            write!(f, ", field `{}`", super::plain(field))?;
        }
        write!(f, ": {}", super::plain(&self.error.message))
    }
}

/// The errors of one file, at most [`MAX_ERRORS`], in line order.
#[derive(Debug, Default)]
pub struct Errors(Vec<LineError>);

impl Errors {
    /// Records an error; returns `false` once [`MAX_ERRORS`] are recorded, to stop reading.
    pub fn push(&mut self, error: LineError) -> bool {
        if self.0.len() < MAX_ERRORS {
            self.0.push(error);
        }
        self.0.len() < MAX_ERRORS
    }

    /// Entries when nothing was wrong, the errors otherwise.
    ///
    /// # Errors
    ///
    /// The recorded errors, when there are any.
    pub fn or<T>(self, value: T) -> Result<T, Vec<LineError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// Turns a file's bytes into text: UTF-8 without its byte order mark.
///
/// # Errors
///
/// Bytes that are not UTF-8, naming the line they are on.
pub fn decode(bytes: Vec<u8>) -> Result<String, LineError> {
    let mut text = String::from_utf8(bytes).map_err(|err| {
        let valid = err.utf8_error().valid_up_to();
        let line = 1 + err.as_bytes()[..valid]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        LineError::at(
            line as u64,
            None,
            "this line is not UTF-8 text; save the file as UTF-8",
        )
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// Reads every entry of a file's text.
///
/// # Errors
///
/// Every bad line (up to [`MAX_ERRORS`]), or one error when the file holds no job at all.
pub fn parse(format: Format, text: &str) -> Result<Vec<Entry>, Vec<LineError>> {
    let entries = match format {
        Format::Txt => txt(text),
        Format::Jsonl => jsonl(text),
        Format::Csv => csv::parse(text),
    }?;
    if entries.is_empty() {
        let what = match format {
            Format::Txt => "no prompts: every line is blank or a # comment",
            Format::Jsonl => "no jobs: every line is blank",
            Format::Csv => "no jobs: the file has a header row but no rows",
        };
        return Err(vec![LineError {
            line: None,
            field: None,
            message: what.to_owned(),
        }]);
    }
    Ok(entries)
}

/// The lines of `text`, numbered from 1, without their `\n` or `\r\n`.
fn lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.split('\n').zip(1..).map(|(line, number)| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        (number, line)
    })
}

fn txt(text: &str) -> Result<Vec<Entry>, Vec<LineError>> {
    let entries = lines(text)
        .filter(|(_, line)| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#')
        })
        .map(|(number, line)| {
            let mut body = Map::new();
            body.insert("prompt".into(), Value::String(line.trim().to_owned()));
            Entry::new(number, body)
        })
        .collect();
    Ok(entries)
}

fn jsonl(text: &str) -> Result<Vec<Entry>, Vec<LineError>> {
    let mut entries = Vec::new();
    let mut errors = Errors::default();
    for (number, line) in lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        let error = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(body)) => {
                entries.push(Entry::new(number, body));
                continue;
            }
            Ok(_) => LineError::at(
                number,
                None,
                "each line must be one job object, e.g. {\"prompt\": \"a cat surfing\"}",
            ),
            Err(err) => LineError::at(number, None, not_json(&err)),
        };
        if !errors.push(error) {
            break;
        }
    }
    errors.or(entries)
}

/// serde_json's message without its "at line 1 column 7", which would name the wrong line.
fn not_json(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    format!("not JSON at column {}: {text}", err.column())
}
