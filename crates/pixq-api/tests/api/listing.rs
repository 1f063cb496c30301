//! `GET /v1/jobs`: newest first, every job exactly once across pages, filters, and the limits
//! of its query.

use std::collections::HashSet;

use pixq_core::job::{Action, BatchId, NewJob};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend};

on_each_backend!(
    paging_returns_every_job_once_newest_first,
    filters_narrow_by_state_and_batch,
    bad_query_parameters_are_400_naming_them,
);

/// Every page of `query`, following `next_cursor`: the ids in order.
async fn all_pages(api: &Api, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/v1/jobs?{query}");
        if let Some(c) = &cursor {
            let encoded: String = url::form_urlencoded::byte_serialize(c.as_bytes()).collect();
            path.push_str(&format!("&cursor={encoded}"));
        }
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let jobs = page["jobs"].as_array().expect("jobs");
        ids.extend(
            jobs.iter()
                .map(|j| j["id"].as_str().expect("id").to_owned()),
        );
        match &page["next_cursor"] {
            Value::Null => return ids,
            Value::String(next) => cursor = Some(next.clone()),
            other => panic!("next_cursor is {other}"),
        }
    }
    panic!("the listing never ended");
}

async fn paging_returns_every_job_once_newest_first(backend: Backend) {
    let api = Api::start(backend).await;
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(api.create_id(&format!("job {i}")).await.to_string());
    }
    let listed = all_pages(&api, "limit=25").await;
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a job listed twice");
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);

    let (status, page) = api.get("/v1/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["jobs"].as_array().map(Vec::len),
        Some(50),
        "default limit"
    );
    assert!(page["next_cursor"].is_string());
    let (_, page) = api.get("/v1/jobs?limit=500").await;
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(120));
    assert_eq!(page["next_cursor"], Value::Null);
}

async fn filters_narrow_by_state_and_batch(backend: Backend) {
    let api = Api::start(backend).await;
    let mut failed = Vec::new();
    for i in 0..12 {
        let id = api.create_id(&format!("job {i}")).await;
        if i % 3 == 0 {
            api.to_failed(&id).await;
            failed.push(id.to_string());
        }
    }
    let listed = all_pages(&api, "state=failed&limit=2").await;
    assert_eq!(listed, failed.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(all_pages(&api, "state=queued").await.len(), 8);
    assert!(all_pages(&api, "state=succeeded").await.is_empty());

    let batch = BatchId::generate();
    let jobs = (0..3)
        .map(|i| {
            NewJob::new(Action::Generate, json!({"prompt": format!("b{i}")}))
                .in_batch(batch.clone())
        })
        .collect();
    let in_batch = api
        .store
        .jobs()
        .create_batch(jobs)
        .await
        .expect("create batch");
    let listed = all_pages(&api, &format!("batch={batch}&limit=1")).await;
    let mut expected: Vec<String> = in_batch.iter().map(|j| j.id.to_string()).collect();
    expected.sort_unstable();
    let mut got = listed.clone();
    got.sort_unstable();
    assert_eq!(got, expected);
    let (_, page) = api
        .get(&format!("/v1/jobs?batch={batch}&state=failed"))
        .await;
    assert_eq!(page["jobs"], json!([]));
}

async fn bad_query_parameters_are_400_naming_them(backend: Backend) {
    let api = Api::start(backend).await;
    for (query, code, field) in [
        ("limit=0", "invalid_value", "limit"),
        ("limit=501", "invalid_value", "limit"),
        ("limit=abc", "invalid_value", "limit"),
        ("state=running", "invalid_value", "state"),
        ("cursor=garbage", "invalid_value", "cursor"),
        ("cursor=12%3A", "invalid_value", "cursor"),
        ("sort=asc", "unknown_field", "sort"),
        ("limit=5&limit=6", "invalid_value", "limit"),
    ] {
        let (status, body) = api.get(&format!("/v1/jobs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(
            code_and_field(&body),
            (code.to_owned(), Some(field.to_owned())),
            "{query}"
        );
    }
}
