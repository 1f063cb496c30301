//! [`PromptFileReader`]: reads a pipeline's `prompts_file` with the parser of `pixq submit`,
//! so a pipeline takes exactly the files `pixq submit` takes (`.txt`, `.jsonl`, `.csv`, with
//! the same rules and messages). The pipeline's defaults and the job rules are applied by
//! `pixq_core::pipeline::load`.

use std::path::Path;

use pixq_core::pipeline::{FileEntry, PromptFiles};
use serde_json::{Value, json};

use crate::client::prompt_file::{self, Entry, Format, LineError};

/// Reads prompt files from the file system, relative to the working directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromptFileReader;

impl PromptFiles for PromptFileReader {
    fn read(&self, path: &Path) -> Result<Vec<FileEntry>, String> {
        let format = Format::from_path(path)?;
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
        let text = prompt_file::decode(bytes).map_err(|e| e.in_file(&name).to_string())?;
        let entries = prompt_file::parse(format, &text).map_err(|errors| first(&name, &errors))?;
        Ok(entries.into_iter().map(file_entry).collect())
    }
}

/// The first error of a file, and how many more there are.
fn first(name: &str, errors: &[LineError]) -> String {
    match errors {
        [] => format!("{name} cannot be read"),
        [one] => one.in_file(name).to_string(),
        [one, rest @ ..] => format!("{} (and {} more)", one.in_file(name), rest.len()),
    }
}

/// An entry as a job body: a CSV row's `extend` and `extend_prompt` columns become its
/// `extend` steps, as `pixq submit` makes them; a row that asks for no steps (`extend` 0)
/// keeps the pipeline's default steps off it too.
fn file_entry(entry: Entry) -> FileEntry {
    let mut body = entry.body;
    if body.get("extend").is_none_or(Value::is_null) {
        let ask = entry.extend;
        let steps = ask.steps.unwrap_or(u8::from(ask.prompt.is_some()));
        if steps > 0 {
            let prompt = ask
                .prompt
                .map(Value::String)
                .or_else(|| body.get("prompt").cloned())
                .unwrap_or(Value::Null);
            let step = json!({ "prompt": prompt });
            body.insert(
                "extend".into(),
                Value::Array(vec![step; usize::from(steps)]),
            );
        } else if ask.steps == Some(0) {
            body.insert("extend".into(), Value::Array(Vec::new()));
        }
    }
    FileEntry {
        line: entry.line,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pixq-prompt-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_three_formats_are_read_as_pixq_submit_reads_them() {
        let txt = write("p.txt", "\u{feff}# a comment\r\na boat\r\n\r\na fox\n");
        let read = PromptFileReader.read(&txt).unwrap();
        let lines: Vec<u64> = read.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(
            Value::Object(read[1].body.clone()),
            json!({"prompt": "a fox"})
        );

        let csv = write(
            "p.csv",
            "prompt,quality,extend,extend_prompt\na,720p,2,on\nb,,0,\n",
        );
        let read = PromptFileReader.read(&csv).unwrap();
        assert_eq!(
            Value::Object(read[0].body.clone()),
            json!({"prompt": "a", "quality": "720p",
                "extend": [{"prompt": "on"}, {"prompt": "on"}]})
        );
        assert_eq!(
            read[1].body["extend"],
            json!([]),
            "no steps, not the default's"
        );

        let jsonl = write("p.jsonl", "{\"prompt\": \"a\"}\nnot json\n");
        let err = PromptFileReader.read(&jsonl).unwrap_err();
        assert!(err.contains("p.jsonl line 2"), "{err}");
    }

    #[test]
    fn an_unknown_extension_or_a_missing_file_is_named() {
        let err = PromptFileReader
            .read(Path::new("prompts.docx"))
            .unwrap_err();
        assert!(err.contains("--format") || err.contains(".docx"), "{err}");
        let err = PromptFileReader
            .read(Path::new("/nonexistent/pixq/prompts.txt"))
            .unwrap_err();
        assert!(
            err.contains("cannot read /nonexistent/pixq/prompts.txt"),
            "{err}"
        );
    }
}
