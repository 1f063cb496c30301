//! A [`Pipeline`] written back as the `[[pipelines]]` table it was read from, for
//! `pixq config`: the output loads back to the same pipeline.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Pipeline, PromptSource};
use crate::settings::quote;

/// The table, starting with a blank line and `[[pipelines]]`.
pub(super) fn render(pipeline: &Pipeline) -> String {
    let mut out = String::from("\n[[pipelines]]\n");
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "{} = {value}", bare_or_quoted(key));
    };
    line("name", quote(&pipeline.name));
    line("schedule", quote(pipeline.cron.text()));
    if let Some(zone) = pipeline.cron.timezone() {
        line("timezone", quote(zone.name()));
    }
    line("catch_up", quote(pipeline.catch_up.as_str()));
    if let Some(url) = &pipeline.webhook_url {
        line("webhook_url", quote(url));
    }
    match &pipeline.source {
        PromptSource::Inline(items) => line("prompts", inline(&Value::Array(items.clone()))),
        PromptSource::File(path) => line("prompts_file", quote(&path.to_string_lossy())),
    }
    for (key, value) in &pipeline.defaults {
        if !value.is_null() {
            line(key, inline(value));
        }
    }
    out
}

/// A JSON value as a TOML inline value. TOML has no null: a null inside a table is left out,
/// as the job rules read a null as absent anyway.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => quote(""),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{} = {}", bare_or_quoted(k), inline(v)))
                .collect();
            if fields.is_empty() {
                "{}".to_owned()
            } else {
                format!("{{ {} }}", fields.join(", "))
            }
        }
    }
}

/// A key as TOML writes it: bare when it can be, quoted otherwise.
fn bare_or_quoted(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_owned() } else { quote(key) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_written_as_toml_inline_values() {
        assert_eq!(inline(&json!("a\"b")), "\"a\\\"b\"");
        assert_eq!(inline(&json!(5)), "5");
        assert_eq!(inline(&json!(2.5)), "2.5");
        assert_eq!(
            inline(&json!([{"prompt": "x", "my key": true, "gone": null}])),
            "[{ \"my key\" = true, prompt = \"x\" }]"
        );
    }
}
