//! Turning the `[[pipelines]]` tables of the configuration into checked [`Pipeline`]s. Every
//! error is a [`SettingsError`] naming the pipeline and the key, as
//! `pipelines[daily].schedule`, so a bad pipeline fails the start with a message to act on.
//!
//! A table holds the pipeline's own keys (`name`, `schedule`, `timezone`, `prompts` or
//! `prompts_file`, `catch_up`, `webhook_url`); every other key is a job field that each prompt
//! gets unless it sets it itself (`model`, `quality`, `duration`, `extend`, …), checked with
//! the rules of `POST /v1/jobs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::ticks::CRON_FORMAT;
use super::{CatchUp, Cron, CronError, MAX_JOBS, MAX_NAME_CHARS, Pipeline, PromptSource};
use crate::settings::SettingsError;
use crate::spec::{HttpUrl, JobSpec, SpecError};

/// The keys of a pipeline table that are the pipeline's own, not job fields.
pub const OWN_KEYS: [&str; 7] = [
    "name",
    "schedule",
    "timezone",
    "prompts",
    "prompts_file",
    "catch_up",
    "webhook_url",
];

/// One job read from a prompt file, with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// The line, from 1.
    pub line: u64,
    /// The job body the line gives, before the pipeline's defaults.
    pub body: Map<String, Value>,
}

/// Reads a pipeline's `prompts_file`. The pixq binary implements it with the parser of
/// `pixq submit`, so a pipeline reads exactly the files `pixq submit` reads; this crate only
/// applies the defaults and checks the jobs.
pub trait PromptFiles {
    /// The file's jobs, in order.
    ///
    /// # Errors
    ///
    /// What is wrong with the file, naming it and the line: unreadable, an unknown format, a
    /// bad line, no jobs at all.
    fn read(&self, path: &Path) -> Result<Vec<FileEntry>, String>;
}

/// Reads no file: for settings loaded without the pixq binary (a pipeline with a
/// `prompts_file` is then refused, saying so).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPromptFiles;

impl PromptFiles for NoPromptFiles {
    fn read(&self, path: &Path) -> Result<Vec<FileEntry>, String> {
        Err(format!(
            "{} cannot be read here: prompt files are read by the pixq binary",
            path.display()
        ))
    }
}

/// Checks every `[[pipelines]]` table (as the layers wrote them) and reads their prompts.
/// `webhook_secret` says whether `api.webhook_secret` is set: a pipeline's batch webhook needs
/// it, as a batch's does.
///
/// # Errors
///
/// The first unusable key, naming the pipeline (`pipelines[daily].schedule`, or
/// `pipelines[2].name` before the name is known).
pub fn pipelines(
    raw: Vec<Value>,
    webhook_secret: bool,
    files: &dyn PromptFiles,
) -> Result<Vec<Pipeline>, SettingsError> {
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (index, table) in raw.into_iter().enumerate() {
        let Value::Object(table) = table else {
            return Err(SettingsError::new(
                format!("pipelines[{index}]"),
                "it is not a table",
                "a [[pipelines]] table with name, schedule and prompts",
            ));
        };
        let pipeline = one(index, table, webhook_secret, files)?;
        if !names.insert(pipeline.name.clone()) {
            return Err(SettingsError::new(
                format!("pipelines[{}].name", pipeline.name),
                "another pipeline has this name",
                "a name unique among the pipelines",
            ));
        }
        out.push(pipeline);
    }
    Ok(out)
}

/// Checks a job body as `POST /v1/jobs` does, except that an `asset_id` naming a character by
/// its pixq name is left as it is, to be resolved when the job is submitted (characters are
/// made while pixq runs).
///
/// # Errors
///
/// The first problem, as the API would report it.
pub fn check_job(body: &Value) -> Result<(), SpecError> {
    if character_name(body).is_some() {
        let mut without = body.clone();
        if let Some(fields) = without.as_object_mut() {
            fields.remove("asset_id");
        }
        JobSpec::from_value(&without).map(drop)
    } else {
        JobSpec::from_value(body).map(drop)
    }
}

/// The character name a job body gives as its `asset_id`, if it gives a name rather than an
/// id (a name is never all digits).
pub fn character_name(body: &Value) -> Option<&str> {
    body.get("asset_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty() && !id.bytes().all(|b| b.is_ascii_digit()))
}

/// One table, the `index`-th.
fn one(
    index: usize,
    mut table: Map<String, Value>,
    webhook_secret: bool,
    files: &dyn PromptFiles,
) -> Result<Pipeline, SettingsError> {
    let name = name(index, table.remove("name"))?;
    let at = |key: &str| format!("pipelines[{name}].{key}");
    let text = |key: &str, value: Option<Value>| -> Result<Option<String>, SettingsError> {
        match value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(SettingsError::new(
                at(key),
                format!("{other} is not a string"),
                "a string in quotes",
            )),
        }
    };
    let schedule = text("schedule", table.remove("schedule"))?
        .ok_or_else(|| SettingsError::new(at("schedule"), "it is missing", CRON_FORMAT))?;
    let timezone = text("timezone", table.remove("timezone"))?;
    let cron = Cron::new(&schedule, timezone.as_deref()).map_err(|e| match e {
        CronError::Timezone(_) => SettingsError::new(
            at("timezone"),
            e.to_string(),
            "an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"",
        ),
        CronError::Never(_) => SettingsError::new(
            at("schedule"),
            e.to_string(),
            "a schedule with a tick in the future",
        ),
        _ => SettingsError::new(at("schedule"), e.to_string(), CRON_FORMAT),
    })?;
    let catch_up = match text("catch_up", table.remove("catch_up"))? {
        None => CatchUp::default(),
        Some(value) => CatchUp::parse(value.trim()).ok_or_else(|| {
            SettingsError::new(
                at("catch_up"),
                format!("{value:?} is not a catch-up policy"),
                "\"skip\" (the default: missed ticks are not fired) or \"once\" (the most recent missed tick fires at start)",
            )
        })?,
    };
    let webhook_url = match text("webhook_url", table.remove("webhook_url"))? {
        None => None,
        Some(url) => {
            let url = HttpUrl::parse(url.trim()).map_err(|e| {
                SettingsError::new(
                    at("webhook_url"),
                    e.to_string(),
                    "an http:// or https:// URL",
                )
            })?;
            if !webhook_secret {
                return Err(SettingsError::new(
                    at("webhook_url"),
                    "api.webhook_secret is unset, so the event could not be signed",
                    "api.webhook_secret set, or no webhook_url",
                ));
            }
            Some(url.as_str().to_owned())
        }
    };
    let prompts = table.remove("prompts");
    let prompts_file = text("prompts_file", table.remove("prompts_file"))?;
    let defaults = defaults(&name, table)?;
    let (source, jobs) = match (prompts, prompts_file) {
        (Some(_), Some(_)) => {
            return Err(SettingsError::new(
                at("prompts_file"),
                "prompts is set too",
                "either prompts (a list) or prompts_file (a path), not both",
            ));
        }
        (None, None) => {
            return Err(SettingsError::new(
                at("prompts"),
                "neither prompts nor prompts_file is set",
                "prompts = [\"a prompt\", …] or prompts_file = \"prompts.txt\"",
            ));
        }
        (Some(list), None) => inline(&name, list, &defaults)?,
        (None, Some(path)) => from_file(&name, PathBuf::from(path.trim()), &defaults, files)?,
    };
    Ok(Pipeline {
        name,
        cron,
        catch_up,
        webhook_url,
        source,
        defaults,
        jobs: Arc::from(jobs),
    })
}

/// The pipeline's name, checked; errors name the table by its index.
fn name(index: usize, raw: Option<Value>) -> Result<String, SettingsError> {
    let key = format!("pipelines[{index}].name");
    let expected = format!(
        "1 to {MAX_NAME_CHARS} letters, digits, '_', '-' or '.', e.g. \"daily\" or \"hourly-refresh\""
    );
    let name = match raw {
        None => return Err(SettingsError::new(key, "it is missing", expected)),
        Some(Value::String(name)) => name.trim().to_owned(),
        Some(other) => {
            return Err(SettingsError::new(
                key,
                format!("{other} is not a string"),
                expected,
            ));
        }
    };
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(fine) {
        return Err(SettingsError::new(
            key,
            format!("{name:?} is not a pipeline name"),
            expected,
        ));
    }
    Ok(name)
}

/// The job fields of the table (every key that is not the pipeline's own), checked as one job
/// with a stand-in prompt, so a bad default is one error naming its key.
fn defaults(name: &str, table: Map<String, Value>) -> Result<Map<String, Value>, SettingsError> {
    if table.contains_key("prompt") {
        return Err(SettingsError::new(
            format!("pipelines[{name}].prompt"),
            "a pipeline's prompts go in a list",
            "prompts = [\"a prompt\", …] or prompts_file = \"prompts.txt\"",
        ));
    }
    let mut probe = table.clone();
    probe.insert("prompt".into(), Value::from("a prompt"));
    check_job(&Value::Object(probe)).map_err(|e| {
        let key = match &e.field {
            Some(field) => format!("pipelines[{name}].{field}"),
            None => format!("pipelines[{name}]"),
        };
        SettingsError::new(key, e.message, "a job field as POST /v1/jobs takes it")
    })?;
    Ok(table)
}

/// `entry` with every default it does not set itself (`null` counts as not set).
fn with_defaults(defaults: &Map<String, Value>, mut entry: Map<String, Value>) -> Value {
    for (key, value) in defaults {
        if entry.get(key).is_none_or(Value::is_null) {
            entry.insert(key.clone(), value.clone());
        }
    }
    Value::Object(entry)
}

/// `prompts = [...]`: each entry a prompt, or a job table.
fn inline(
    name: &str,
    list: Value,
    defaults: &Map<String, Value>,
) -> Result<(PromptSource, Vec<Value>), SettingsError> {
    let key = format!("pipelines[{name}].prompts");
    let expected = "a list of prompts (or job tables), e.g. [\"a paper boat\", \"a lighthouse\"]";
    let Value::Array(items) = list else {
        return Err(SettingsError::new(key, "it is not a list", expected));
    };
    if items.is_empty() {
        return Err(SettingsError::new(key, "the list is empty", expected));
    }
    too_many(&key, items.len())?;
    let mut jobs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (entry, whole) = match item {
            Value::String(prompt) => {
                let mut entry = Map::new();
                entry.insert("prompt".into(), Value::from(prompt.as_str()));
                (entry, true)
            }
            Value::Object(entry) => (entry.clone(), false),
            other => {
                return Err(SettingsError::new(
                    format!("{key}[{i}]"),
                    format!("{other} is neither a prompt nor a table"),
                    expected,
                ));
            }
        };
        let job = with_defaults(defaults, entry);
        check_job(&job).map_err(|e| {
            let at = match (&e.field, whole) {
                (Some(field), false) => format!("{key}[{i}].{field}"),
                (Some(field), true) if field != "prompt" => format!("pipelines[{name}].{field}"),
                _ => format!("{key}[{i}]"),
            };
            SettingsError::new(at, e.message, "a job POST /v1/jobs accepts")
        })?;
        jobs.push(job);
    }
    Ok((PromptSource::Inline(items), jobs))
}

/// `prompts_file = "..."`, read through `files`.
fn from_file(
    name: &str,
    path: PathBuf,
    defaults: &Map<String, Value>,
    files: &dyn PromptFiles,
) -> Result<(PromptSource, Vec<Value>), SettingsError> {
    let key = format!("pipelines[{name}].prompts_file");
    let expected = "a .txt, .jsonl or .csv prompt file as `pixq submit` reads it";
    let entries = files
        .read(&path)
        .map_err(|problem| SettingsError::new(&key, problem, expected))?;
    too_many(&key, entries.len())?;
    let shown = path.display().to_string();
    let mut jobs = Vec::with_capacity(entries.len());
    for entry in entries {
        let line = entry.line;
        let job = with_defaults(defaults, entry.body);
        check_job(&job).map_err(|e| {
            let field = e
                .field
                .as_ref()
                .map(|f| format!(", field `{f}`"))
                .unwrap_or_default();
            SettingsError::new(
                &key,
                format!("{shown} line {line}{field}: {}", e.message),
                expected,
            )
        })?;
        jobs.push(job);
    }
    Ok((PromptSource::File(path), jobs))
}

fn too_many(key: &str, count: usize) -> Result<(), SettingsError> {
    if count > MAX_JOBS {
        return Err(SettingsError::new(
            key,
            format!("{count} jobs are more than one batch takes"),
            format!("at most {MAX_JOBS} jobs a pipeline"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
