//! The flags of `pixq submit` that set a job field for every line (`--model`, `--extend N`, …),
//! and the check that turns a line into a job body the API will accept.
//!
//! A field the line gives wins over a flag; `null` counts as not given, as the API reads it.
//! Each job is then checked with the API's own rules ([`JobSpec`]), so a bad line is reported
//! with its number before anything is sent. One exception: an `asset_id` that is not a number
//! names a character by its pixq name, which only the API can resolve.

use clap::builder::PossibleValuesParser;
use pixq_core::spec::{JobSpec, MAX_EXTEND_STEPS, SpecError};
use pixverse::{AspectRatio, Model, Motion, Quality, Style};
use serde_json::{Map, Value, json};

use super::prompt_file::{Entry, LineError};

/// Job fields for every line of a prompt file that does not set them itself.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct JobDefaults {
    /// The model for every job.
    #[arg(long, value_name = "MODEL", value_parser = PossibleValuesParser::new(Model::ALL.iter().map(|v| v.as_str())))]
    pub model: Option<String>,

    /// The resolution for every job.
    #[arg(long, value_name = "QUALITY", value_parser = PossibleValuesParser::new(Quality::ALL.iter().map(|v| v.as_str())))]
    pub quality: Option<String>,

    /// The length in seconds of every video.
    #[arg(long, value_name = "SECONDS", value_parser = PossibleValuesParser::new(["5", "8"]))]
    pub duration: Option<String>,

    /// The frame shape for every job.
    #[arg(long, value_name = "RATIO", value_parser = PossibleValuesParser::new(AspectRatio::ALL.iter().map(|v| v.as_str())))]
    pub aspect_ratio: Option<String>,

    /// The visual style for every job.
    #[arg(long, value_name = "STYLE", value_parser = PossibleValuesParser::new(Style::ALL.iter().map(|v| v.as_str())))]
    pub style: Option<String>,

    /// The motion mode for every job.
    #[arg(long, value_name = "MOTION", value_parser = PossibleValuesParser::new(Motion::ALL.iter().map(|v| v.as_str())))]
    pub motion: Option<String>,

    /// Extend every video N times, each step continuing the one before (0 to 10).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=MAX_EXTEND_STEPS as i64))]
    pub extend: Option<u8>,

    /// The extend steps' prompt (default: the line's own prompt). Alone, it means --extend 1.
    #[arg(long, value_name = "TEXT")]
    pub extend_prompt: Option<String>,

    /// Where the API posts each job when it ends (needs api.webhook_secret on the server).
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
}

impl JobDefaults {
    /// The plain fields the flags set, by their name in a job body.
    fn fields(&self) -> [(&'static str, Option<Value>); 7] {
        let text = |value: &Option<String>| value.clone().map(Value::String);
        [
            ("model", text(&self.model)),
            ("quality", text(&self.quality)),
            (
                "duration",
                self.duration
                    .as_deref()
                    .and_then(|seconds| seconds.parse::<u64>().ok())
                    .map(Value::from),
            ),
            ("aspect_ratio", text(&self.aspect_ratio)),
            ("style", text(&self.style)),
            ("motion", text(&self.motion)),
            ("webhook_url", text(&self.webhook)),
        ]
    }

    /// The entry's body with the flags filled in where the line left a field out.
    pub fn apply(&self, entry: Entry) -> Map<String, Value> {
        let mut body = entry.body;
        for (key, value) in self.fields() {
            if let Some(value) = value
                && body.get(key).is_none_or(Value::is_null)
            {
                body.insert(key.to_owned(), value);
            }
        }
        if body.get("extend").is_none_or(Value::is_null) {
            let prompt = entry.extend.prompt.or_else(|| self.extend_prompt.clone());
            let steps = entry
                .extend
                .steps
                .or(self.extend)
                .unwrap_or(u8::from(prompt.is_some()));
            if steps > 0 {
                let prompt = prompt
                    .map(Value::String)
                    .or_else(|| body.get("prompt").cloned())
                    .unwrap_or(Value::Null);
                let step = json!({ "prompt": prompt });
                body.insert(
                    "extend".into(),
                    Value::Array(vec![step; usize::from(steps)]),
                );
            }
        }
        body
    }

    /// The job for an entry, checked as the API will check it.
    ///
    /// # Errors
    ///
    /// The first problem, with the entry's line and the field at fault.
    pub fn job(&self, entry: Entry) -> Result<Value, LineError> {
        let line = entry.line;
        let job = Value::Object(self.apply(entry));
        check(&job).map_err(|err| LineError::at(line, err.field.as_deref(), err.message))?;
        Ok(job)
    }

    /// Checks the flags alone, so a bad combination (`--quality 1080p --duration 8`) is
    /// reported once, naming the flag, instead of on every line.
    ///
    /// # Errors
    ///
    /// `--flag: what is wrong`.
    pub fn check_flags(&self) -> Result<(), String> {
        let mut probe = Map::new();
        probe.insert("prompt".into(), Value::String("a probe".into()));
        let entry = Entry {
            line: 0,
            body: probe,
            extend: Default::default(),
        };
        let job = Value::Object(self.apply(entry));
        check(&job).map_err(|err| {
            let flag = flag_for(err.field.as_deref().unwrap_or_default());
            format!("{flag}: {}", err.message)
        })
    }
}

/// The flag that sets a job body's field.
fn flag_for(field: &str) -> &str {
    match field {
        "aspect_ratio" => "--aspect-ratio",
        "webhook_url" => "--webhook",
        "extend" => "--extend",
        "model" => "--model",
        "quality" => "--quality",
        "duration" => "--duration",
        "style" => "--style",
        "motion" => "--motion",
        step if step.starts_with("extend[") && step.ends_with(".prompt") => "--extend-prompt",
        other => other,
    }
}

/// Checks a job body with the API's rules, leaving a character named by its pixq name to the
/// API.
fn check(job: &Value) -> Result<(), SpecError> {
    let by_name = job
        .get("asset_id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.trim().bytes().all(|byte| byte.is_ascii_digit()));
    if by_name {
        let mut without = job.clone();
        if let Some(body) = without.as_object_mut() {
            body.remove("asset_id");
        }
        JobSpec::from_value(&without).map(drop)
    } else {
        JobSpec::from_value(job).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::prompt_file::ExtendAsk;

    fn entry(body: Value) -> Entry {
        Entry {
            line: 7,
            body: body.as_object().unwrap().clone(),
            extend: ExtendAsk::default(),
        }
    }

    #[test]
    fn flags_fill_fields_the_line_leaves_out_and_the_line_wins() {
        let defaults = JobDefaults {
            model: Some("v4.5".into()),
            quality: Some("720p".into()),
            duration: Some("8".into()),
            ..JobDefaults::default()
        };
        let body = defaults.apply(entry(
            json!({"prompt": "a", "quality": "360p", "model": null}),
        ));
        assert_eq!(
            Value::Object(body),
            json!({"prompt": "a", "quality": "360p", "model": "v4.5", "duration": 8})
        );
    }

    #[test]
    fn extend_n_repeats_the_line_prompt_or_the_extend_prompt() {
        let mut defaults = JobDefaults {
            extend: Some(2),
            ..JobDefaults::default()
        };
        let body = defaults.apply(entry(json!({"prompt": "a boat"})));
        assert_eq!(
            body["extend"],
            json!([{"prompt": "a boat"}, {"prompt": "a boat"}])
        );
        defaults.extend_prompt = Some("at sunset".into());
        let body = defaults.apply(entry(json!({"prompt": "a boat"})));
        assert_eq!(
            body["extend"],
            json!([{"prompt": "at sunset"}, {"prompt": "at sunset"}])
        );
        let own = defaults.apply(entry(json!({"prompt": "a", "extend": [{"prompt": "b"}]})));
        assert_eq!(own["extend"], json!([{"prompt": "b"}]), "the line wins");
    }

    #[test]
    fn an_extend_prompt_alone_means_one_step_and_csv_columns_win() {
        let defaults = JobDefaults {
            extend_prompt: Some("later".into()),
            ..JobDefaults::default()
        };
        let body = defaults.apply(entry(json!({"prompt": "a"})));
        assert_eq!(body["extend"], json!([{"prompt": "later"}]));
        let mut row = entry(json!({"prompt": "a"}));
        row.extend = ExtendAsk {
            steps: Some(0),
            prompt: None,
        };
        assert!(!defaults.apply(row).contains_key("extend"));
    }

    #[test]
    fn a_bad_job_names_its_line_and_field() {
        let defaults = JobDefaults::default();
        let err = defaults
            .job(entry(json!({"prompt": "a", "duration": "5"})))
            .unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref()),
            (Some(7), Some("duration"))
        );
        let err = defaults.job(entry(json!({"prompt": "  "}))).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("prompt"));
        let ok = defaults.job(entry(json!({"prompt": "a", "asset_id": "hero"})));
        assert!(ok.is_ok(), "a character's name is the API's to resolve");
    }

    #[test]
    fn bad_flag_combinations_name_the_flag() {
        let defaults = JobDefaults {
            quality: Some("1080p".into()),
            duration: Some("8".into()),
            ..JobDefaults::default()
        };
        let err = defaults.check_flags().unwrap_err();
        assert!(err.starts_with("--"), "{err}");
        let webhook = JobDefaults {
            webhook: Some("ftp://x".into()),
            ..JobDefaults::default()
        };
        assert!(
            webhook
                .check_flags()
                .unwrap_err()
                .starts_with("--webhook: ")
        );
        assert!(JobDefaults::default().check_flags().is_ok());
    }
}
