//! `results.jsonl`: one JSON line per scenario run, with the commit, the core count, the
//! parameters and every figure, appended so that runs can be compared over time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// One scenario run, as written.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The scenario's name.
    pub scenario: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took, in seconds.
    pub duration_s: f64,
    /// `git rev-parse HEAD` of the checkout, or `unknown`.
    pub commit: String,
    /// Whether the work tree had changes not committed.
    pub dirty: Option<bool>,
    /// The cores of the machine (available to the bench).
    pub cores: usize,
    /// The bench's version.
    pub bench_version: &'static str,
    /// The scenario's parameters.
    pub params: Value,
    /// One object per system or configuration run, with its figures (or its `error`).
    pub rows: Vec<Value>,
}

/// The commit of the checkout at `repo`, and whether its work tree is dirty.
pub fn git_state(repo: &Path) -> (String, Option<bool>) {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repo)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
    (commit, dirty)
}

/// The results file in `out`.
pub fn path(out: &Path) -> PathBuf {
    out.join("results.jsonl")
}

/// Appends `record` as one line to `out/results.jsonl`.
pub fn append(out: &Path, record: &Record) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let file = path(out);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let mut line = serde_json::to_string(record)?;
    line.push('\n');
    f.write_all(line.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))
}

/// The latest record of `scenario` in `out/results.jsonl`, if any (lines that do not parse are
/// skipped).
pub fn latest(out: &Path, scenario: &str) -> Option<Value> {
    let text = std::fs::read_to_string(path(out)).ok()?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["scenario"] == scenario)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_line_per_record_and_finds_the_latest() -> anyhow::Result<()> {
        let out = std::env::temp_dir().join(format!("pixq-bench-results-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        for n in [1, 2] {
            append(
                &out,
                &Record {
                    scenario: "pipeline".into(),
                    started_at: Utc::now(),
                    duration_s: 1.0,
                    commit: "unknown".into(),
                    dirty: None,
                    cores: 2,
                    bench_version: "0",
                    params: serde_json::json!({"n": n}),
                    rows: vec![],
                },
            )?;
        }
        let text = std::fs::read_to_string(path(&out))?;
        assert_eq!(text.lines().count(), 2);
        assert_eq!(
            latest(&out, "pipeline").map(|v| v["params"]["n"].clone()),
            Some(2.into())
        );
        assert!(latest(&out, "scale").is_none());
        std::fs::remove_dir_all(&out)?;
        Ok(())
    }
}
