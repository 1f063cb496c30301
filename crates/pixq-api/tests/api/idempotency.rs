//! `Idempotency-Key`: the same key and body replay the first job with 200; another body is
//! 409; a key over 255 characters is 400.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend, read};

on_each_backend!(
    same_key_same_body_replays_the_first_job,
    same_key_other_body_is_409,
    a_key_longer_than_255_is_400,
);

async fn post_with_key(api: &Api, key: &str, body: &str) -> (StatusCode, Value) {
    let response = api
        .http
        .post(api.url("/v1/jobs"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    read(response).await
}

async fn same_key_same_body_replays_the_first_job(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, first) =
        post_with_key(&api, "order-42", r#"{"prompt": "a cat", "duration": 5}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    // Reordered keys and padding are the same request.
    let (status, again) = post_with_key(
        &api,
        "order-42",
        r#"{ "duration": 5, "prompt": "  a cat " }"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    let (status, other) =
        post_with_key(&api, "order-43", r#"{"prompt": "a cat", "duration": 5}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(other["id"], first["id"], "another key is another job");
}

async fn same_key_other_body_is_409(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, first) = post_with_key(&api, "k1", r#"{"prompt": "a cat"}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, body) = post_with_key(&api, "k1", r#"{"prompt": "a dog"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code_and_field(&body).0, "idempotency_conflict");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(first["id"].as_str().unwrap_or("?")),
        "{message}"
    );
}

async fn a_key_longer_than_255_is_400(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = post_with_key(&api, &"k".repeat(256), r#"{"prompt": "a"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        code_and_field(&body),
        (
            "invalid_value".to_owned(),
            Some("Idempotency-Key".to_owned())
        )
    );
    let (status, body) = post_with_key(&api, &"k".repeat(255), r#"{"prompt": "a"}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _) = api.post("/v1/jobs", &json!({"prompt": "no key"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}
