//! `GET /v1/templates`: the whole embedded catalog, every field of it, behind `/v1`'s auth.

use pixq_core::spec::templates;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, on_each_backend, read};

on_each_backend!(
    every_template_is_listed_with_its_qualities,
    templates_need_a_token_when_tokens_are_set,
);

async fn every_template_is_listed_with_its_qualities(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = api.get("/v1/templates").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = body["templates"].as_array().expect("a list");
    let catalog = templates();
    assert_eq!(listed.len(), catalog.len());
    assert_eq!(listed.len(), 29);
    for (shown, known) in listed.iter().zip(catalog) {
        let qualities: Vec<&str> = known.qualities.iter().map(|q| q.as_str()).collect();
        let expected = json!({
            "id": known.id.get(),
            "name": known.name,
            "prompt": known.prompt,
            "workflow_tag": known.workflow_tag,
            "marker": known.marker,
            "thumbnail": known.thumbnail,
            "qualities": qualities,
        });
        assert_eq!(shown, &expected);
        assert!(!known.name.is_empty() && !qualities.is_empty(), "{shown}");
    }
    let low_only = listed
        .iter()
        .filter(|t| t["qualities"] == json!(["360p", "540p"]))
        .count();
    assert_eq!(low_only, 6, "six templates render at 360p and 540p only");
    let zombie = listed
        .iter()
        .find(|t| t["id"] == json!(302325299651648_i64))
        .expect("Zombie Mode is in the catalog");
    assert_eq!(zombie["name"], Value::from("Zombie Mode"));
}

async fn templates_need_a_token_when_tokens_are_set(backend: Backend) {
    let api = Api::start_with(
        backend,
        pixq_api::ApiConfig {
            tokens: vec!["t1".into()],
            ..pixq_api::ApiConfig::default()
        },
    )
    .await;
    for path in ["/v1/templates", "/v1/characters"] {
        let (status, _) = api.get(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let response = api
            .http
            .get(api.url(path))
            .bearer_auth("t1")
            .send()
            .await
            .expect("request");
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _) = api
        .post(
            "/v1/characters",
            &json!({"images": ["https://a.test/1.png"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
