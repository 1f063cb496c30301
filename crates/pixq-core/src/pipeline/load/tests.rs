use std::path::Path;

use serde_json::json;

use super::*;

/// Reads every file as the lines it is given.
struct Files(Vec<FileEntry>);

impl PromptFiles for Files {
    fn read(&self, _: &Path) -> Result<Vec<FileEntry>, String> {
        Ok(self.0.clone())
    }
}

fn load(tables: Value) -> Result<Vec<Pipeline>, SettingsError> {
    let Value::Array(tables) = tables else {
        panic!("a list of tables")
    };
    pipelines(tables, false, &NoPromptFiles)
}

fn error(tables: Value) -> SettingsError {
    load(tables).expect_err("an error")
}

#[test]
fn a_pipeline_gets_its_defaults_on_every_prompt_and_the_prompt_wins() {
    let loaded = load(json!([{
        "name": "daily",
        "schedule": "0 0 9 * * *",
        "timezone": "Europe/Berlin",
        "catch_up": "once",
        "quality": "720p",
        "extend": [{"prompt": "later"}],
        "prompts": ["a paper boat", {"prompt": "a fox", "quality": "540p", "extend": []}],
    }]))
    .unwrap();
    let daily = &loaded[0];
    assert_eq!(daily.name, "daily");
    assert_eq!(daily.catch_up, CatchUp::Once);
    assert_eq!(daily.cron.zone_name(), "Europe/Berlin");
    assert_eq!(
        &daily.jobs[..],
        &[
            json!({"prompt": "a paper boat", "quality": "720p", "extend": [{"prompt": "later"}]}),
            json!({"prompt": "a fox", "quality": "540p", "extend": []}),
        ]
    );
}

#[test]
fn every_bad_key_is_named_with_its_pipeline() {
    let base = || json!({"name": "daily", "schedule": "*/1 * * * * *", "prompts": ["a"]});
    let with = |key: &str, value: Value| {
        let mut table = base();
        table[key] = value;
        json!([table])
    };
    let cases = [
        (json!([{"schedule": "* * * * * *"}]), "pipelines[0].name"),
        (with("name", json!("no spaces")), "pipelines[0].name"),
        (
            with("schedule", json!("* * * * *")),
            "pipelines[daily].schedule",
        ),
        (
            with("schedule", json!("0 0 0 30 2 *")),
            "pipelines[daily].schedule",
        ),
        (
            with("timezone", json!("Mars/Base")),
            "pipelines[daily].timezone",
        ),
        (
            with("catch_up", json!("twice")),
            "pipelines[daily].catch_up",
        ),
        (with("quality", json!("4k")), "pipelines[daily].quality"),
        (with("qualty", json!("720p")), "pipelines[daily].qualty"),
        (with("prompt", json!("a")), "pipelines[daily].prompt"),
        (with("prompts", json!([])), "pipelines[daily].prompts"),
        (
            with("prompts", json!(["  "])),
            "pipelines[daily].prompts[0]",
        ),
        (
            with("prompts", json!(["a", {"prompt": "b", "duration": "5"}])),
            "pipelines[daily].prompts[1].duration",
        ),
        (
            with("prompts_file", json!("p.txt")),
            "pipelines[daily].prompts_file",
        ),
        (
            with("webhook_url", json!("https://hooks.example/x")),
            "pipelines[daily].webhook_url",
        ),
        (json!([base(), base()]), "pipelines[daily].name"),
    ];
    for (tables, key) in cases {
        let err = error(tables.clone());
        assert_eq!(err.key, key, "{tables}: {err}");
        assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
    }
    let mut neither = base();
    neither.as_object_mut().unwrap().remove("prompts");
    assert_eq!(error(json!([neither])).key, "pipelines[daily].prompts");
}

#[test]
fn a_prompts_file_is_read_through_the_reader_and_its_bad_line_named() {
    let files = Files(vec![
        FileEntry {
            line: 1,
            body: json!({"prompt": "a"}).as_object().unwrap().clone(),
        },
        FileEntry {
            line: 3,
            body: json!({"prompt": "b", "duration": 8})
                .as_object()
                .unwrap()
                .clone(),
        },
    ]);
    let table = json!({"name": "f", "schedule": "0 * * * * *", "prompts_file": "p.csv",
        "quality": "720p"});
    let loaded = pipelines(vec![table.clone()], false, &files).unwrap();
    assert_eq!(loaded[0].jobs.len(), 2);
    assert_eq!(loaded[0].source, PromptSource::File("p.csv".into()));
    let mut fast = table;
    fast["motion"] = json!("fast");
    let err = pipelines(vec![fast], false, &files).unwrap_err();
    assert_eq!(err.key, "pipelines[f].prompts_file");
    assert!(err.problem.starts_with("p.csv line 3"), "{err}");
}

#[test]
fn a_character_name_is_left_for_the_tick_and_a_webhook_needs_the_secret() {
    let table = json!({"name": "c", "schedule": "0 * * * * *", "prompts": ["a"],
        "asset_id": "hero", "webhook_url": "https://hooks.example/x"});
    let loaded = pipelines(vec![table], true, &NoPromptFiles).unwrap();
    assert_eq!(character_name(&loaded[0].jobs[0]), Some("hero"));
    assert_eq!(
        loaded[0].webhook_url.as_deref(),
        Some("https://hooks.example/x")
    );
    assert_eq!(
        character_name(&json!({"asset_id": "317383895242880"})),
        None
    );
}

#[test]
fn a_pipeline_written_back_as_toml_reads_the_same() {
    let table = json!({"name": "daily", "schedule": "0 0 9 * * *", "timezone": "UTC",
        "prompts": ["a \"quoted\" boat", {"prompt": "b", "seed": 7}], "duration": 5,
        "extend": [{"prompt": "on"}], "metadata": {"team": "x", "n": 1.5}});
    let first = load(json!([table])).unwrap();
    let text = first[0].to_toml();
    assert!(text.contains("[[pipelines]]"), "{text}");
    let mut file: toml::Table = toml::from_str(&text).unwrap();
    let reread = file.remove("pipelines").unwrap();
    let reread: Value = serde_json::to_value(reread).unwrap();
    let second = load(reread).unwrap();
    assert_eq!(first, second);
}
