//! `.csv` prompt files: a header row, then one job a row.
//!
//! Quoting is RFC 4180's (the `csv` crate's): a quoted cell may hold commas, doubled quotes and
//! line breaks. Header names are matched after trimming, ignoring case and reading `-` or a
//! space as `_` (`Aspect Ratio` is `aspect_ratio`). Cells are trimmed, and an empty cell is an
//! absent field, so the command line's default applies to it.

use ::csv::{ErrorKind, ReaderBuilder, StringRecord, Trim};
use serde_json::{Map, Number, Value};

use super::{Entry, Errors, LineError};

/// How a column's cells become a job field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sent as a string; the API checks the value.
    Text,
    /// A whole number, sent as a JSON number.
    Integer,
    /// A PixVerse id: digits are sent as a number, anything else as a string (for `asset_id`,
    /// a character's pixq name, which the API resolves).
    Id,
    /// Free JSON; a cell that is not JSON is sent as a string.
    Json,
    /// The number of extend steps, 0 to 10.
    ExtendSteps,
    /// The extend steps' prompt.
    ExtendPrompt,
}

/// Every column a prompt CSV may have, and how its cells are read. `prompt` is required.
pub const COLUMNS: &[&str] = &[
    "prompt",
    "model",
    "quality",
    "duration",
    "aspect_ratio",
    "style",
    "motion",
    "seed",
    "image_url",
    "template_id",
    "asset_id",
    "webhook_url",
    "metadata",
    "extend",
    "extend_prompt",
];

fn kind(column: &str) -> Kind {
    match column {
        "duration" | "seed" => Kind::Integer,
        "template_id" | "asset_id" => Kind::Id,
        "metadata" => Kind::Json,
        "extend" => Kind::ExtendSteps,
        "extend_prompt" => Kind::ExtendPrompt,
        _ => Kind::Text,
    }
}

/// Reads every row of a CSV prompt file.
pub(super) fn parse(text: &str) -> Result<Vec<Entry>, Vec<LineError>> {
    let mut reader = ReaderBuilder::new()
        .trim(Trim::All)
        .from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(err) => return Err(vec![LineError::at(1, None, err.to_string())]),
    };
    let columns = columns(&header).map_err(|err| vec![err])?;

    let mut entries = Vec::new();
    let mut errors = Errors::default();
    for record in reader.records() {
        let outcome = match record {
            Ok(record) => {
                let line = record.position().map_or(0, |at| line_at(text, at.byte()));
                row(&columns, &record, line).map(|entry| entries.push(entry))
            }
            Err(err) => Err(row_error(text, &err, header.len())),
        };
        if let Err(error) = outcome
            && !errors.push(error)
        {
            break;
        }
    }
    errors.or(entries)
}

/// The header's columns, each checked against [`COLUMNS`].
fn columns(header: &StringRecord) -> Result<Vec<&'static str>, LineError> {
    let mut columns: Vec<&'static str> = Vec::with_capacity(header.len());
    for name in header {
        let normal = name.to_lowercase().replace(['-', ' '], "_");
        let Some(&column) = COLUMNS.iter().find(|&&known| known == normal) else {
            let shown = if name.is_empty() { "(empty)" } else { name };
            return Err(LineError::at(
                1,
                Some(shown),
                format!(
                    "unknown column `{shown}`; the columns are {}",
                    COLUMNS.join(", ")
                ),
            ));
        };
        if columns.contains(&column) {
            return Err(LineError::at(
                1,
                Some(column),
                format!("the column `{column}` appears twice; keep one"),
            ));
        }
        columns.push(column);
    }
    if !columns.contains(&"prompt") {
        return Err(LineError::at(
            1,
            Some("prompt"),
            "the header row has no `prompt` column; the first line names the columns, e.g. \
             prompt,quality,duration",
        ));
    }
    Ok(columns)
}

/// One row as an entry.
fn row(columns: &[&'static str], record: &StringRecord, line: u64) -> Result<Entry, LineError> {
    let mut entry = Entry::new(line, Map::new());
    for (&column, cell) in columns.iter().zip(record) {
        if cell.is_empty() {
            continue;
        }
        let value = match kind(column) {
            Kind::Text => Value::String(cell.to_owned()),
            Kind::Integer => match cell.parse::<i64>() {
                Ok(number) => Value::Number(number.into()),
                Err(_) => {
                    return Err(LineError::at(
                        line,
                        Some(column),
                        format!("`{column}` must be a whole number, not {cell:?}"),
                    ));
                }
            },
            Kind::Id => match cell.parse::<u64>() {
                Ok(id) => Value::Number(Number::from(id)),
                Err(_) => Value::String(cell.to_owned()),
            },
            Kind::Json => {
                serde_json::from_str(cell).unwrap_or_else(|_| Value::String(cell.to_owned()))
            }
            Kind::ExtendSteps => {
                match cell
                    .parse::<u8>()
                    .ok()
                    .filter(|&steps| usize::from(steps) <= pixq_core::spec::MAX_EXTEND_STEPS)
                {
                    Some(steps) => {
                        entry.extend.steps = Some(steps);
                        continue;
                    }
                    None => {
                        return Err(LineError::at(
                            line,
                            Some(column),
                            format!(
                                "`extend` is a number of steps from 0 to {}, not {cell:?}",
                                pixq_core::spec::MAX_EXTEND_STEPS
                            ),
                        ));
                    }
                }
            }
            Kind::ExtendPrompt => {
                entry.extend.prompt = Some(cell.to_owned());
                continue;
            }
        };
        entry.body.insert(column.to_owned(), value);
    }
    Ok(entry)
}

/// A row the CSV reader refused, with the line it starts on.
fn row_error(text: &str, err: &::csv::Error, columns: usize) -> LineError {
    let line = err.position().map_or(0, |at| line_at(text, at.byte()));
    let message = match err.kind() {
        ErrorKind::UnequalLengths { len, .. } => format!(
            "this row has {len} cells but the header has {columns}; quote a cell that holds \
             a comma (\"like, this\")"
        ),
        _ => err.to_string(),
    };
    LineError::at(line, None, message)
}

/// The line a record starts on. The reader's own line count and byte offset point at the end
/// of the record before, so skip the line ends from there.
fn line_at(text: &str, byte: u64) -> u64 {
    let from = usize::try_from(byte).unwrap_or(text.len()).min(text.len());
    let start = text[from..]
        .find(|c| c != '\r' && c != '\n')
        .map_or(text.len(), |skip| from + skip);
    1 + text.as_bytes()[..start]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count() as u64
}
