use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::client::defaults::JobDefaults;

fn prompts(entries: &[Entry]) -> Vec<(u64, &str)> {
    entries
        .iter()
        .map(|entry| (entry.line, entry.body["prompt"].as_str().unwrap_or("-")))
        .collect()
}

fn only_error(result: Result<Vec<Entry>, Vec<LineError>>) -> LineError {
    let errors = result.unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn txt_skips_blank_lines_and_comments_and_keeps_line_numbers() {
    let text = "# my prompts\n\na paper boat\n   \n  # indented comment\n  a fox in snow  \n";
    let entries = parse(Format::Txt, text).unwrap();
    assert_eq!(
        prompts(&entries),
        [(3, "a paper boat"), (6, "a fox in snow")]
    );
}

#[test]
fn a_bom_and_crlf_line_ends_are_invisible() {
    let bytes = b"\xEF\xBB\xBFfirst\r\n# note\r\nsecond\r\n".to_vec();
    let text = decode(bytes).unwrap();
    let entries = parse(Format::Txt, &text).unwrap();
    assert_eq!(prompts(&entries), [(1, "first"), (3, "second")]);

    let text = decode(b"\xEF\xBB\xBF{\"prompt\": \"a\"}\r\n\r\n{\"prompt\": \"b\"}\r\n".to_vec());
    let entries = parse(Format::Jsonl, &text.unwrap()).unwrap();
    assert_eq!(prompts(&entries), [(1, "a"), (3, "b")]);

    let text = decode(b"\xEF\xBB\xBFprompt,duration\r\nc,5\r\n\r\nd,8\r\n".to_vec());
    let entries = parse(Format::Csv, &text.unwrap()).unwrap();
    assert_eq!(prompts(&entries), [(2, "c"), (4, "d")]);
    assert_eq!(entries[1].body["duration"], json!(8));
}

#[test]
fn bytes_that_are_not_utf8_name_their_line() {
    let err = decode(b"ok\nstill ok\nbad \xFF here\n".to_vec()).unwrap_err();
    assert_eq!(err.line, Some(3));
    assert!(err.message.contains("UTF-8"), "{err:?}");
}

#[test]
fn jsonl_bad_lines_name_their_number_and_column_and_all_are_reported() {
    let text = "{\"prompt\": \"a\"}\n{\"prompt\": \"b\",}\n\n[1, 2]\n{\"prompt\": \"c\"}\n";
    let errors = parse(Format::Jsonl, text).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, Some(2));
    assert!(
        errors[0]
            .message
            .starts_with("not JSON at column 16: trailing comma"),
        "{errors:?}"
    );
    assert!(!errors[0].message.contains("line 1"), "{errors:?}");
    assert_eq!(errors[1].line, Some(4));
    assert!(errors[1].message.contains("one job object"), "{errors:?}");
    assert_eq!(
        errors[0].in_file("jobs.jsonl").to_string(),
        format!("jobs.jsonl line 2: {}", errors[0].message)
    );
}

#[test]
fn csv_quoting_holds_commas_quotes_and_line_breaks() {
    let text = "prompt,style,extend_prompt\n\
                \"a boat, \"\"small\"\", red\",anime,\n\
                \"two\nlines\",,then it sails\n\
                third,,\n";
    let entries = parse(Format::Csv, text).unwrap();
    assert_eq!(
        prompts(&entries),
        [
            (2, "a boat, \"small\", red"),
            (3, "two\nlines"),
            (5, "third")
        ]
    );
    assert_eq!(entries[0].body["style"], json!("anime"));
    assert!(
        !entries[1].body.contains_key("style"),
        "an empty cell is absent"
    );
    assert_eq!(entries[1].extend.prompt.as_deref(), Some("then it sails"));
}

#[test]
fn csv_headers_are_forgiving_but_unknown_columns_are_named() {
    let entries = parse(
        Format::Csv,
        "Prompt, Aspect Ratio ,asset-id\na,9:16,hero\nb,,42\n",
    );
    let entries = entries.unwrap();
    assert_eq!(entries[0].body["aspect_ratio"], json!("9:16"));
    assert_eq!(
        entries[0].body["asset_id"],
        json!("hero"),
        "a character's name"
    );
    assert_eq!(entries[1].body["asset_id"], json!(42));

    let err = only_error(parse(Format::Csv, "prompt,colour\na,red\n"));
    assert_eq!((err.line, err.field.as_deref()), (Some(1), Some("colour")));
    assert!(err.message.contains("unknown column `colour`"), "{err:?}");
    assert!(
        err.message.contains("extend_prompt"),
        "lists the columns: {err:?}"
    );

    let err = only_error(parse(Format::Csv, "style\nanime\n"));
    assert_eq!(err.field.as_deref(), Some("prompt"));
    let err = only_error(parse(Format::Csv, "prompt,model,Model\na,v4,v4\n"));
    assert!(err.message.contains("twice"), "{err:?}");
}

#[test]
fn csv_numbers_that_are_not_numbers_name_line_and_column() {
    let text =
        "prompt,duration,seed,extend\na,5,1,1\nb,five,2,0\nc,8,x,11\n\"d, with a comma\",5,3\n";
    let errors = parse(Format::Csv, text).unwrap_err();
    let found: Vec<_> = errors
        .iter()
        .map(|err| (err.line, err.field.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(3), Some("duration")),
            (Some(4), Some("seed")),
            (Some(5), None)
        ]
    );
    assert!(errors[0].message.contains("\"five\""), "{errors:?}");
    assert!(
        errors[2].message.contains("3 cells but the header has 4"),
        "{errors:?}"
    );
}

#[test]
fn a_100_kb_line_is_read_whole_and_refused_by_its_number() {
    let long = "x".repeat(100 * 1024);
    let text = format!("short\n{long}\r\nlast\n");
    let entries = parse(Format::Txt, &text).unwrap();
    assert_eq!(
        entries[1].body["prompt"].as_str().map(str::len),
        Some(long.len())
    );
    let errors: Vec<LineError> = entries
        .into_iter()
        .filter_map(|entry| JobDefaults::default().job(entry).err())
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].field.as_deref()),
        (Some(2), Some("prompt"))
    );

    let metadata = "m".repeat(100 * 1024);
    let line = json!({"prompt": "a", "metadata": {"note": metadata}}).to_string();
    let entries = parse(Format::Jsonl, &format!("{line}\n")).unwrap();
    assert_eq!(
        entries[0].body["metadata"]["note"].as_str().map(str::len),
        Some(102_400)
    );
}

#[test]
fn a_file_without_jobs_is_an_error() {
    for (format, text) in [
        (Format::Txt, "# only a comment\n\n"),
        (Format::Jsonl, "\n \n"),
        (Format::Csv, "prompt,model\n"),
    ] {
        let err = only_error(parse(format, text));
        assert_eq!(err.line, None, "{format:?}");
    }
}

#[test]
fn the_format_comes_from_the_extension() {
    let format = |path: &str| Format::from_path(Path::new(path));
    assert_eq!(format("p.txt"), Ok(Format::Txt));
    assert_eq!(format("prompts"), Ok(Format::Txt));
    assert_eq!(format("P.JSONL"), Ok(Format::Jsonl));
    assert_eq!(format("p.ndjson"), Ok(Format::Jsonl));
    assert_eq!(format("dir/p.csv"), Ok(Format::Csv));
    let err = format("p.json").unwrap_err();
    assert!(err.contains("--format"), "{err}");
}

#[test]
fn metadata_cells_are_json_when_they_parse() {
    let text = "prompt,metadata\na,\"{\"\"shot\"\": 3}\"\nb,plain words\n";
    let entries = parse(Format::Csv, text).unwrap();
    assert_eq!(entries[0].body["metadata"], json!({"shot": 3}));
    assert_eq!(
        entries[1].body["metadata"],
        Value::String("plain words".into())
    );
}
