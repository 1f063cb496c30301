//! How a wait ends: the results table on stdout, a one-line summary, the exit code, and the
//! `--output` file.
//!
//! The table has one row per job: its prompt cut to [`PROMPT_WIDTH`] columns, its state, and
//! the final video's URL or the error. The URL is the last column, so it is never cut and
//! `awk '{print $NF}'` picks it out.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::batch::ResultLine;
use super::progress::human;
use super::{Exit, plain};

/// The widest a prompt is shown, in terminal columns.
pub const PROMPT_WIDTH: usize = 48;

/// The table: `PROMPT  STATE  RESULT`, columns two spaces apart, no trailing blanks.
pub fn render_table(lines: &[ResultLine]) -> String {
    let rows: Vec<[String; 3]> = lines
        .iter()
        .map(|line| {
            let prompt = cut(line.prompt.as_deref().unwrap_or("-"), PROMPT_WIDTH);
            [prompt, plain(&line.state), outcome(line)]
        })
        .collect();
    let header = ["PROMPT", "STATE", "RESULT"].map(str::to_owned);
    let mut widths = [0; 3];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut text = String::new();
        for (cell, width) in row.iter().zip(widths) {
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.width() + 2));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// The video URL of a success, the error of anything else, `-` when there is neither.
fn outcome(line: &ResultLine) -> String {
    if let (true, Some(url)) = (line.succeeded(), &line.video_url) {
        return plain(url);
    }
    match &line.error {
        Some(error) if error.message.is_empty() => plain(&error.code),
        Some(error) => format!("{}: {}", plain(&error.code), plain(&error.message)),
        None => "-".to_owned(),
    }
}

/// `text` on one line, cut to `width` terminal columns with `…` when longer.
fn cut(text: &str, width: usize) -> String {
    let text = plain(text).split_whitespace().collect::<Vec<_>>().join(" ");
    if text.width() <= width {
        return text;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// 0 when every job succeeded, 1 when any failed, was cancelled or has not ended.
pub fn exit_for(lines: &[ResultLine]) -> Exit {
    if lines.iter().all(ResultLine::succeeded) {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// `batch_…: 11 of 12 succeeded, 1 failed, 0 cancelled in 1m 32s`.
pub fn summary(id: &str, lines: &[ResultLine], took: Option<Duration>) -> String {
    let count = |state: &str| lines.iter().filter(|line| line.state == state).count();
    let took = took
        .map(|took| format!(" in {}", human(took)))
        .unwrap_or_default();
    format!(
        "{}: {} of {} succeeded, {} failed, {} cancelled{took}",
        plain(id),
        count("succeeded"),
        lines.len(),
        count("failed"),
        count("cancelled")
    )
}

/// The `--output` file, written whole or not at all: lines go to a temporary file beside it,
/// which replaces it only once complete. It is created before anything is submitted, so a path
/// that cannot be written fails before any video is paid for.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    committed: bool,
}

impl OutputFile {
    /// Creates the temporary file beside `path`.
    ///
    /// # Errors
    ///
    /// When the directory cannot be written.
    pub fn create(path: &Path) -> io::Result<OutputFile> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let file = File::create(&temp)?;
        Ok(OutputFile {
            path: path.to_owned(),
            temp,
            file: Some(file),
            committed: false,
        })
    }

    /// Where the lines end up.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `lines`, one a line, and puts the file in place.
    ///
    /// # Errors
    ///
    /// When writing or renaming fails; the temporary file is then removed.
    pub fn commit(mut self, lines: &[String]) -> io::Result<()> {
        let file = self.file.take().ok_or(io::ErrorKind::NotFound)?;
        let mut out = BufWriter::new(file);
        for line in lines {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.into_inner()
            .map_err(|err| err.into_error())?
            .sync_all()?;
        fs::rename(&self.temp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for OutputFile {
    /// Removes the temporary file of an output never committed (or whose commit failed).
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(
        prompt: &str,
        state: &str,
        url: Option<&str>,
        error: Option<(&str, &str)>,
    ) -> ResultLine {
        serde_json::from_value(json!({
            "index": 0, "job_id": "job_1", "state": state, "prompt": prompt, "video_url": url,
            "error": error.map(|(code, message)| json!({"code": code, "message": message})),
        }))
        .unwrap()
    }

    #[test]
    fn table_cuts_long_prompts_and_shows_urls_or_errors() {
        let lines = [
            line(
                "a paper boat drifting down a rain-slicked street at dusk, neon reflections everywhere",
                "succeeded",
                Some("https://cdn.example/1.mp4"),
                None,
            ),
            line(
                "a fox\tin snow",
                "failed",
                None,
                Some(("forbidden", "refused")),
            ),
            line("雪の中の狐", "cancelled", None, Some(("cancelled", ""))),
        ];
        assert_eq!(
            render_table(&lines),
            "PROMPT                                            STATE      RESULT\n\
             a paper boat drifting down a rain-slicked stree…  succeeded  https://cdn.example/1.mp4\n\
             a fox in snow                                     failed     forbidden: refused\n\
             雪の中の狐                                        cancelled  cancelled\n"
        );
        assert_eq!(exit_for(&lines), Exit::Failed);
        assert_eq!(exit_for(&lines[..1]), Exit::Ok);
        assert_eq!(
            summary("batch_1", &lines, Some(Duration::from_secs(92))),
            "batch_1: 1 of 3 succeeded, 1 failed, 1 cancelled in 1m 32s"
        );
    }

    #[test]
    fn cut_counts_wide_characters_as_two_columns() {
        assert_eq!(cut("狐狐狐狐狐", 6), "狐狐…");
        assert_eq!(cut("short", 6), "short");
    }

    #[test]
    fn output_appears_only_when_committed() {
        let dir = std::env::temp_dir().join(format!("pixq-results-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        let _ = fs::remove_file(&path);
        let output = OutputFile::create(&path).unwrap();
        assert!(!path.exists());
        output
            .commit(&["{\"a\":1}".into(), "{\"b\":2}".into()])
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
        drop(OutputFile::create(&path).unwrap());
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
