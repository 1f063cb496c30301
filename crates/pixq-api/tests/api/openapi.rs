//! `GET /openapi.json`: a valid OpenAPI 3.1 document that lists exactly the routes the router
//! serves, each `/v1` route behind the bearer scheme and with the error shape.
//!
//! `tests/fixtures/openapi-3.1-schema.json` is the OpenAPI Initiative's JSON Schema of 3.1
//! documents (id `https://spec.openapis.org/oas/3.1/schema/2022-10-07`, Apache-2.0); the
//! schemas inside the document are checked against the JSON Schema 2020-12 meta-schema.

use std::collections::BTreeSet;

use pixq_core::job::JobId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::setup::{Api, Backend, read_json};

/// Every route of INTERFACE.md's HTTP API, and nothing else. A route added to the router
/// must be added here and to the document (with `#[utoipa::path]` and `routes!`).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/readyz"),
    ("GET", "/v1/batches"),
    ("GET", "/v1/batches/{id}"),
    ("GET", "/v1/batches/{id}/results"),
    ("GET", "/v1/characters"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/overview"),
    ("GET", "/v1/pipelines"),
    ("GET", "/v1/queue"),
    ("GET", "/v1/templates"),
    ("GET", "/v1/webhooks/dead"),
    ("POST", "/v1/batches"),
    ("POST", "/v1/batches/{id}/cancel"),
    ("POST", "/v1/batches/{id}/retry"),
    ("POST", "/v1/characters"),
    ("POST", "/v1/jobs"),
    ("POST", "/v1/jobs/{id}/cancel"),
    ("POST", "/v1/jobs/{id}/retry"),
    ("POST", "/v1/queue/pause"),
    ("POST", "/v1/queue/resume"),
    ("POST", "/v1/upstream/callback/{job_id}/{secret}"),
    ("POST", "/v1/webhooks/{id}/resend"),
];

/// The dashboard's pages, forms and assets: HTML for browsers, served beside the API but not
/// part of it, so not in the document. Listed here so that nothing else is served unlisted.
const DASHBOARD: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/assets/dashboard.css"),
    ("GET", "/assets/dashboard.js"),
    ("GET", "/batches/{id}"),
    ("GET", "/login"),
    ("POST", "/dash/batches/{id}/cancel"),
    ("POST", "/dash/batches/{id}/retry"),
    ("POST", "/dash/jobs/{id}/cancel"),
    ("POST", "/dash/jobs/{id}/retry"),
    ("POST", "/dash/queue/{action}"),
    ("POST", "/login"),
    ("POST", "/logout"),
];

/// Methods probed on every path.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Paths that routes in the making may take (batch listing, the dashboard, the webhook dead
/// list and resend): probed too, so one served without a description fails here.
const CANDIDATES: &[&str] = &[
    "/",
    "/dashboard",
    "/ui",
    "/v1/dashboard",
    "/v1/events",
    "/v1/stats",
    "/v1/webhooks",
    "/v1/webhooks/dead",
    "/v1/webhooks/x",
    "/v1/jobs/x/webhook",
    "/v1/batches/x/webhook",
    "/v1/jobs/x/resend",
    "/v1/batches/x/resend",
    "/v1/pipelines/x",
    "/v1/characters/x",
    "/v1/templates/x",
];

async fn secured_api() -> Api {
    Api::start_with(
        Backend::Sqlite,
        pixq_api::ApiConfig {
            tokens: vec!["openapi-token".into()],
            ..pixq_api::ApiConfig::default()
        },
    )
    .await
}

async fn document(api: &Api) -> Value {
    let response = api.http.get(api.url("/openapi.json")).send().await.unwrap();
    let (status, doc) = read_json(response).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// (METHOD, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if METHODS
                .iter()
                .any(|m| m.as_str().eq_ignore_ascii_case(method))
            {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let api = secured_api().await;
    let doc = document(&api).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    // OpenAPI requires operationIds to be unique; clients and Schemathesis's links go by them.
    let mut ids: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(
                !ids.contains(&id),
                "{method} {path}: operationId {id} is taken"
            );
            ids.push(id);
        }
    }

    let meta: Value =
        serde_json::from_str(include_str!("../fixtures/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::draft202012::new(&meta).expect("the 3.1 schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1: {errors:#?}");

    // Each schema is a valid JSON Schema 2020-12 (the 3.1 dialect's base).
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.contains_key("Error"), "{:?}", schemas.keys());
    for (name, schema) in schemas {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            panic!("schema {name} is not valid JSON Schema 2020-12: {e}");
        }
    }

    // Every reference resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"").skip(1) {
        let target = piece.split('"').next().unwrap();
        let pointer = target.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
    }
}

#[tokio::test]
async fn the_document_lists_every_route_the_router_serves() {
    let api = secured_api().await;
    let doc = document(&api).await;
    let documented = operations(&doc);
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, expected,
        "the document's operations differ from INTERFACE.md's routes"
    );
    // The callback URLs the workers hand the upstream are built from this constant.
    assert!(
        documented.contains(&("POST".to_owned(), pixq_core::callback::ROUTE.to_owned())),
        "{}",
        pixq_core::callback::ROUTE
    );

    // Probe every method on every documented path (and on the candidates): what the router
    // serves is exactly what the document lists. Without a token nothing reaches a /v1
    // handler, so the probe changes nothing.
    let mut paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    paths.extend(CANDIDATES.iter().map(|p| (*p).to_owned()));
    paths.extend(DASHBOARD.iter().map(|(_, p)| (*p).to_owned()));
    let dashboard: BTreeSet<(String, String)> = DASHBOARD
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    for template in &paths {
        let concrete = fill(template);
        for method in METHODS {
            let served = served(&api, &method, &concrete).await;
            let route = (method.to_string(), template.clone());
            let listed = documented.contains(&route) || dashboard.contains(&route);
            assert_eq!(
                served, listed,
                "{method} {template}: served {served}, in the document {listed}"
            );
        }
    }
}

#[tokio::test]
async fn v1_operations_need_the_bearer_token_and_answer_the_error_shape_and_no_parameter_is_null() {
    let api = secured_api().await;
    let doc = document(&api).await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let schema = parameter["schema"].to_string();
                assert!(
                    !schema.contains("\"null\""),
                    "{method} {path}: parameter {} may be null: {schema}",
                    parameter["name"]
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            let errors: Vec<&String> = responses
                .keys()
                .filter(|s| s.starts_with('4') || s.starts_with('5'))
                .collect();
            for status in &errors {
                let schema = &responses[status.as_str()]["content"]["application/json"]["schema"];
                if path.starts_with("/v1") {
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
            if path.starts_with("/v1/") && !path.starts_with("/v1/upstream/callback") {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{"bearer": []}]),
                    "{method} {path}"
                );
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} lacks 401: {errors:?}"
                );
                assert!(
                    responses.contains_key("503"),
                    "{method} {path} lacks 503: {errors:?}"
                );
            }
        }
    }
}

/// Real answers, from a job that succeeded and has a next step, a failed one, a batch and its
/// results, a listing, a 404 and a 422, each checked against the schema the document gives
/// its operation and status.
#[tokio::test]
async fn answers_match_the_schemas_the_document_gives_them() {
    let api = Api::start(Backend::Sqlite).await;
    let doc = document(&api).await;

    let (status, created) = api
        .post(
            "/v1/jobs",
            &json!({"prompt": "a crane", "extend": [{"prompt": "it flies"}], "metadata": {"k": 1}}),
        )
        .await;
    conforms(&doc, "post", "/v1/jobs", status, &created);
    let id = JobId::from(created["id"].as_str().unwrap());
    let (_, child) = api.succeed_with_child(&id).await;
    api.to_failed(&child).await;
    for job in [&id, &child] {
        let (status, body) = api.get(&format!("/v1/jobs/{job}")).await;
        conforms(&doc, "get", "/v1/jobs/{id}", status, &body);
    }
    let (status, body) = api.get(&format!("/v1/jobs/{id}")).await;
    assert!(body["result"]["video_id"].is_number(), "{body}");
    conforms(&doc, "get", "/v1/jobs/{id}", status, &body);
    // The check can fail: a job object without its state, or with an unknown one, does not
    // match.
    let mut broken = body.clone();
    broken.as_object_mut().unwrap().remove("state");
    assert!(!schema_errors(&doc, "get", "/v1/jobs/{id}", status, &broken).is_empty());
    broken["state"] = json!("running");
    assert!(!schema_errors(&doc, "get", "/v1/jobs/{id}", status, &broken).is_empty());
    let (status, body) = api.get("/v1/jobs?limit=5").await;
    conforms(&doc, "get", "/v1/jobs", status, &body);
    let (status, body) = api
        .post(&format!("/v1/jobs/{child}/retry"), &json!({}))
        .await;
    conforms(&doc, "post", "/v1/jobs/{id}/retry", status, &body);
    let (status, body) = api
        .post(&format!("/v1/jobs/{child}/cancel"), &json!({}))
        .await;
    conforms(&doc, "post", "/v1/jobs/{id}/cancel", status, &body);

    let response = api
        .http
        .get(api.url("/v1/jobs/job_nope"))
        .send()
        .await
        .unwrap();
    let (status, body) = read_json(response).await;
    conforms(&doc, "get", "/v1/jobs/{id}", status, &body);
    let response = api
        .http
        .post(api.url("/v1/jobs"))
        .json(&json!({"prompt": " "}))
        .send()
        .await
        .unwrap();
    let (status, body) = read_json(response).await;
    conforms(&doc, "post", "/v1/jobs", status, &body);

    let (status, batch) = api
        .post(
            "/v1/batches",
            &json!({"prompts": ["a", "b"], "name": "two"}),
        )
        .await;
    conforms(&doc, "post", "/v1/batches", status, &batch);
    let batch_id = batch["id"].as_str().unwrap();
    let (status, body) = api.get(&format!("/v1/batches/{batch_id}")).await;
    conforms(&doc, "get", "/v1/batches/{id}", status, &body);
    let response = api
        .http
        .get(api.url(&format!("/v1/batches/{batch_id}/results")))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let lines: Vec<Value> = response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    conforms(
        &doc,
        "get",
        "/v1/batches/{id}/results",
        status,
        &Value::Array(lines),
    );

    for (path, name) in [
        ("/v1/templates", "/v1/templates"),
        ("/v1/characters", "/v1/characters"),
        ("/v1/pipelines", "/v1/pipelines"),
        ("/readyz", "/readyz"),
        ("/healthz", "/healthz"),
    ] {
        let (status, body) = api.get(path).await;
        conforms(&doc, "get", name, status, &body);
    }
}

/// Asserts that `body`, answered `status` by `method path`, matches the document's schema for
/// it (references resolved within the document).
fn conforms(doc: &Value, method: &str, path: &str, status: StatusCode, body: &Value) {
    let errors = schema_errors(doc, method, path, status, body);
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:#?}\n{body:#}"
    );
}

/// Why `body` does not match the schema of `method path` for `status`; empty when it does.
fn schema_errors(
    doc: &Value,
    method: &str,
    path: &str,
    status: StatusCode,
    body: &Value,
) -> Vec<String> {
    let response = &doc["paths"][path][method]["responses"][status.as_str()];
    let content = response["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} documents no {status}"));
    let schema = content
        .values()
        .next()
        .and_then(|c| c.get("schema"))
        .expect("a schema");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::draft202012::new(&root).expect("the schema compiles");
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The path with each `{param}` replaced by a sample value.
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router has a route for `method` on `path`: anything but its fallbacks'
/// answers (405 `method_not_allowed`, 404 `no route for …`).
async fn served(api: &Api, method: &Method, path: &str) -> bool {
    let response = api
        .http
        .request(method.clone(), api.url(path))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
    match status {
        StatusCode::METHOD_NOT_ALLOWED => false,
        StatusCode::NOT_FOUND => !body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no route for")),
        _ => true,
    }
}
