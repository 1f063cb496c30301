//! `GET /v1/batches`: accepted batches newest first, each once across pages, and the limits
//! of its query.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend};

on_each_backend!(
    batches_are_listed_newest_first_each_once_across_pages,
    bad_batch_list_parameters_are_400_naming_them,
);

async fn post_batch(api: &Api, name: &str) -> String {
    let (status, body) = api
        .post("/v1/batches", &json!({"name": name, "prompts": ["a", "b"]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

async fn batches_are_listed_newest_first_each_once_across_pages(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, empty) = api.get("/v1/batches").await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty, json!({"batches": [], "next_cursor": null}));

    let mut made = Vec::new();
    for i in 0..7 {
        made.push(post_batch(&api, &format!("batch {i}")).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = "/v1/batches?limit=3".to_owned();
        if let Some(c) = &cursor {
            let encoded: String = url::form_urlencoded::byte_serialize(c.as_bytes()).collect();
            path.push_str(&format!("&cursor={encoded}"));
        }
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let batches = page["batches"].as_array().expect("batches");
        assert!(batches.len() <= 3, "{page}");
        for b in batches {
            assert_eq!(b["total"], 2, "{b}");
            assert_eq!(b["counts"]["queued"], 2, "{b}");
            seen.push(b["id"].as_str().expect("an id").to_owned());
        }
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(next) => cursor = Some(next.clone()),
            other => panic!("next_cursor is {other}"),
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);

    let (_, first) = api.get("/v1/batches").await;
    assert_eq!(
        first["batches"].as_array().map(Vec::len),
        Some(7),
        "default limit 50"
    );
    assert_eq!(first["batches"][0]["name"], "batch 6");
}

async fn bad_batch_list_parameters_are_400_naming_them(backend: Backend) {
    let api = Api::start(backend).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("state=queued", "state"),
        ("cursor=garbage", "cursor"),
    ] {
        let (status, body) = api.get(&format!("/v1/batches?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(
            code_and_field(&body).1.as_deref(),
            Some(field),
            "{query}: {body}"
        );
    }
    let (status, _) = api.get("/v1/batches?limit=500").await;
    assert_eq!(status, StatusCode::OK);
}
