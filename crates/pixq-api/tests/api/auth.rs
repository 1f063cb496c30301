//! Bearer tokens on `/v1` (but not on the callback, health, readiness and metrics).

use reqwest::StatusCode;
use serde_json::json;

use crate::setup::{Api, Backend, code_and_field, on_each_backend, read};

on_each_backend!(
    v1_needs_one_of_the_tokens,
    any_configured_token_passes_with_a_case_insensitive_scheme,
    health_readiness_and_metrics_need_no_token,
);

async fn auth_api(backend: Backend) -> Api {
    Api::start_with(
        backend,
        pixq_api::ApiConfig {
            tokens: vec!["token-one".into(), "token-two".into()],
            ..pixq_api::ApiConfig::default()
        },
    )
    .await
}

async fn v1_needs_one_of_the_tokens(backend: Backend) {
    let api = auth_api(backend).await;
    let job = json!({"prompt": "a"});
    for (method, path) in [
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/job_x"),
        ("POST", "/v1/jobs/job_x/cancel"),
        ("POST", "/v1/jobs/job_x/retry"),
    ] {
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("Bearer token-on"),
            Some("Basic token-one"),
            Some("token-one"),
        ] {
            let mut request = match method {
                "POST" => api.http.post(api.url(path)).json(&job),
                _ => api.http.get(api.url(path)),
            };
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.expect("request");
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (status, body) = read(response).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {authorization:?}: {body}"
            );
            assert_eq!(code_and_field(&body).0, "unauthorized");
            assert_eq!(challenge.as_deref(), Some("Bearer"));
        }
    }
}

async fn any_configured_token_passes_with_a_case_insensitive_scheme(backend: Backend) {
    let api = auth_api(backend).await;
    let (status, job) = read(
        api.http
            .post(api.url("/v1/jobs"))
            .bearer_auth("token-two")
            .json(&json!({"prompt": "a"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().expect("id");
    for token in ["token-one", "token-two"] {
        let (status, shown) = read(
            api.http
                .get(api.url(&format!("/v1/jobs/{id}")))
                .bearer_auth(token)
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["id"], id);
    }
    let (status, _) = read(
        api.http
            .get(api.url("/v1/jobs"))
            .header("authorization", "bearer token-one")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the scheme is case-insensitive");
}

async fn health_readiness_and_metrics_need_no_token(backend: Backend) {
    let api = auth_api(backend).await;
    for path in ["/healthz", "/readyz"] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let response = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}
