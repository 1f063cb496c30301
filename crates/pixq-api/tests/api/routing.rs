//! What axum itself would answer in plain text (unknown path, wrong method, undecodable path)
//! is the JSON envelope too.

use reqwest::{Method, StatusCode};

use crate::setup::{Api, Backend, code_and_field, on_each_backend, read};

on_each_backend!(
    unknown_paths_and_wrong_methods_are_json_errors,
    the_server_stops_on_shutdown,
);

async fn unknown_paths_and_wrong_methods_are_json_errors(backend: Backend) {
    let api = Api::start(backend).await;
    for (method, path, status, code) in [
        (Method::GET, "/nope", StatusCode::NOT_FOUND, "not_found"),
        (
            Method::GET,
            "/v1/jobs/a/b/c",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/batches/x/y/z",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::DELETE,
            "/v1/jobs",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/v1/jobs/job_x/cancel",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::PUT,
            "/v1/jobs/job_x",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::POST,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/v1/upstream/callback/job_x/s",
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/v1/jobs/%FF%FE",
            StatusCode::BAD_REQUEST,
            "invalid_value",
        ),
    ] {
        let response = api
            .http
            .request(method.clone(), api.url(path))
            .send()
            .await
            .expect("request");
        let (got, body) = read(response).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(code_and_field(&body).0, code, "{method} {path}");
    }
}

async fn the_server_stops_on_shutdown(backend: Backend) {
    let mut api = Api::start(backend).await;
    assert_eq!(api.get("/healthz").await.0, StatusCode::OK);
    api.stop().await;
    let refused = reqwest::Client::new().get(api.url("/healthz")).send().await;
    assert!(refused.is_err(), "still serving after shutdown");
}
