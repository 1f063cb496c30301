//! Every validation rule of `POST /v1/jobs` answers 4xx with the JSON envelope naming the
//! field, never 5xx.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend};

on_each_backend!(
    each_invalid_body_gets_a_4xx_naming_the_field,
    the_limits_themselves_are_accepted,
    a_created_job_is_the_job_object_and_is_due_now,
    an_unknown_job_is_404,
);

/// A template of the catalog that renders only at 360p and 540p.
const TEMPLATE_360_540: u64 = 303_624_537_709_312;

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
}

/// Bodies that are JSON objects but not acceptable jobs: 422, naming the field.
#[rustfmt::skip]
fn unacceptable_jobs() -> Vec<(&'static str, Value, &'static str, Option<&'static str>)> {
    let steps = |n: usize| -> Value { (0..n).map(|i| json!({"prompt": format!("step {i}")})).collect() };
    let https = "https://example.com/a.png";
    vec![
        ("extend without video_id", json!({"action": "extend", "prompt": "more"}), "missing_field", Some("video_id")),
        ("video_id on a generation", json!({"prompt": "a", "video_id": 5}), "not_allowed", Some("video_id")),
        ("11 extend steps", json!({"prompt": "a", "extend": steps(11)}), "invalid_value", Some("extend")),
        ("duration 7", json!({"prompt": "a", "duration": 7}), "invalid_value", Some("duration")),
        ("fast motion with 8 s", json!({"prompt": "a", "motion": "fast", "duration": 8}), "invalid_value", Some("motion")),
        ("1080p with 8 s", json!({"prompt": "a", "quality": "1080p", "duration": 8}), "invalid_value", Some("quality")),
        ("1080p with fast", json!({"prompt": "a", "quality": "1080p", "motion": "fast"}), "invalid_value", Some("quality")),
        ("a step at 1080p inheriting 8 s", json!({"prompt": "a", "duration": 8, "extend": [{"prompt": "b", "quality": "1080p"}]}), "invalid_value", Some("extend[0].quality")),
        ("template without the quality", json!({"prompt": "a", "template_id": TEMPLATE_360_540, "quality": "720p"}), "invalid_value", Some("quality")),
        ("ftp image_url", json!({"prompt": "a", "image_url": "ftp://example.com/a.png"}), "invalid_value", Some("image_url")),
        ("relative image_url", json!({"prompt": "a", "image_url": "/a.png"}), "invalid_value", Some("image_url")),
        ("file frame", json!({"prompt": "a", "frame": [https, "file:///etc/passwd"]}), "invalid_value", Some("frame[1]")),
        ("javascript webhook_url", json!({"prompt": "a", "webhook_url": "javascript:alert(1)"}), "invalid_value", Some("webhook_url")),
        ("blank prompt", json!({"prompt": " \t\n "}), "invalid_value", Some("prompt")),
        ("missing prompt", json!({"quality": "540p"}), "missing_field", Some("prompt")),
        ("prompt of 2049 chars", json!({"prompt": "x".repeat(2049)}), "invalid_value", Some("prompt")),
        ("unknown field", json!({"prompt": "a", "colour": "red"}), "unknown_field", Some("colour")),
        ("unknown field in a step", json!({"prompt": "a", "extend": [{"prompt": "b", "zoom": 2}]}), "unknown_field", Some("extend[0].zoom")),
        ("image_url in a step", json!({"prompt": "a", "extend": [{"prompt": "b", "image_url": https}]}), "not_allowed", Some("extend[0].image_url")),
        ("duration as a string", json!({"prompt": "a", "duration": "5"}), "invalid_type", Some("duration")),
        ("prompt as a number", json!({"prompt": 5}), "invalid_type", Some("prompt")),
        ("seed as a fraction", json!({"prompt": "a", "seed": 1.5}), "invalid_type", Some("seed")),
        ("extend as an object", json!({"prompt": "a", "extend": {"prompt": "b"}}), "invalid_type", Some("extend")),
        ("body as an array", json!([{"prompt": "a"}]), "invalid_type", None),
    ]
}

/// Bodies refused before they are read as a job: not JSON (400), not declared as JSON
/// (415), too large (413).
#[rustfmt::skip]
fn unreadable_bodies() -> Vec<(&'static str, Option<&'static str>, String, StatusCode, &'static str)> {
    const JSON: Option<&str> = Some("application/json");
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const MEDIA: StatusCode = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let job = r#"{"prompt": "a"}"#.to_owned();
    vec![
        ("malformed JSON", JSON, r#"{"prompt": "a""#.to_owned(), BAD, "invalid_json"),
        ("trailing garbage", JSON, r#"{"prompt": "a"} x"#.to_owned(), BAD, "invalid_json"),
        ("empty body", JSON, String::new(), BAD, "invalid_json"),
        ("10,000-deep nesting", JSON, deep(10_000), BAD, "invalid_json"),
        ("10,000-deep metadata", JSON, format!(r#"{{"prompt": "a", "metadata": {}}}"#, deep(10_000)), BAD, "invalid_json"),
        ("text/plain", Some("text/plain"), job.clone(), MEDIA, "unsupported_media_type"),
        ("form", Some("application/x-www-form-urlencoded"), "prompt=a".to_owned(), MEDIA, "unsupported_media_type"),
        ("no content type", None, job, MEDIA, "unsupported_media_type"),
        ("a body over api.max_body", JSON, format!(r#"{{"prompt": "a", "metadata": "{}"}}"#, "x".repeat(300 * 1024)), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ]
}

fn cases() -> Vec<Case> {
    let jobs = unacceptable_jobs()
        .into_iter()
        .map(|(name, body, code, field)| Case {
            name,
            content_type: Some("application/json"),
            body: body.to_string().into_bytes(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            field,
        });
    let bodies = unreadable_bodies()
        .into_iter()
        .map(|(name, content_type, body, status, code)| Case {
            name,
            content_type,
            body: body.into_bytes(),
            status,
            code,
            field: (status == StatusCode::UNSUPPORTED_MEDIA_TYPE).then_some("Content-Type"),
        });
    jobs.chain(bodies).collect()
}

async fn each_invalid_body_gets_a_4xx_naming_the_field(backend: Backend) {
    let api = Api::start(backend).await;
    let mut failures = Vec::new();
    for case in cases() {
        let (status, body) = api.post_raw("/v1/jobs", case.content_type, case.body).await;
        assert!(status.is_client_error(), "{}: {status} {body}", case.name);
        let (code, field) = code_and_field(&body);
        let expected = (case.status, case.code, case.field);
        let got = (status, code.as_str(), field.as_deref());
        if got != expected {
            failures.push(format!(
                "{}: expected {expected:?}, got {got:?}: {body}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    let page = api.store_page_len().await;
    assert_eq!(page, 0, "no invalid body created a job");
}

async fn the_limits_themselves_are_accepted(backend: Backend) {
    let api = Api::start_with(backend, crate::setup::with_webhooks()).await;
    for body in [
        json!({"prompt": "x".repeat(2048)}),
        json!({"prompt": "a", "extend": (0..10).map(|i| json!({"prompt": format!("s{i}")})).collect::<Vec<_>>()}),
        json!({"prompt": "a", "template_id": TEMPLATE_360_540}),
        json!({"prompt": "a", "quality": "1080p", "duration": 5, "motion": "normal"}),
        json!({"prompt": "a", "image_url": "http://example.com/a.png", "webhook_url": "https://hooks.example/x"}),
        json!({"action": "extend", "video_id": "317982208110208", "prompt": "more"}),
    ] {
        let (status, job) = api
            .post_raw(
                "/v1/jobs",
                Some("application/json; charset=utf-8"),
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}: {job}");
    }
}

async fn a_created_job_is_the_job_object_and_is_due_now(backend: Backend) {
    let api = Api::start_with(backend, crate::setup::with_webhooks()).await;
    let body = json!({
        "prompt": "  a lighthouse  ",
        "quality": "720p",
        "extend": [{"prompt": "the storm", "duration": 8}],
        "metadata": {"tag": [1, 2, {"k": null}]},
        "webhook_url": "https://hooks.example/done",
    });
    let response = api
        .http
        .post(api.url("/v1/jobs"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, job) = crate::setup::read(response).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().expect("id");
    assert!(id.starts_with("job_"), "{job}");
    assert_eq!(location.as_deref(), Some(format!("/v1/jobs/{id}").as_str()));
    let keys: Vec<&str> = job
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "batch_id",
        "parent_id",
        "root_id",
        "step",
        "children",
        "action",
        "params",
        "state",
        "waiting_reason",
        "attempts",
        "upstream",
        "result",
        "error",
        "metadata",
        "webhook_url",
        "created_at",
        "updated_at",
        "finished_at",
    ];
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys_sorted, expected, "{job}");
    assert_eq!(job["state"], "queued");
    assert_eq!(job["step"], 0);
    assert_eq!(job["root_id"], job["id"]);
    assert_eq!(job["action"], "generate");
    assert_eq!(job["params"]["prompt"], "a lighthouse", "stored trimmed");
    assert_eq!(job["params"]["extend"][0]["duration"], 8);
    assert_eq!(job["metadata"], body["metadata"]);
    assert_eq!(job["webhook_url"], "https://hooks.example/done");
    assert_eq!(
        job["upstream"],
        json!({"task_id": null, "trace_id": null, "submitted_at": null})
    );

    let (status, shown) = api.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, job);
    let due = api.due_at(&pixq_core::job::JobId::from(id)).await;
    assert!(due.is_some_and(|at| at <= chrono::Utc::now()), "{due:?}");
}

async fn an_unknown_job_is_404(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = api.get("/v1/jobs/job_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code_and_field(&body).0, "not_found");
}

impl Api {
    async fn store_page_len(&self) -> usize {
        use pixq_core::store::ListFilter;
        self.store
            .jobs()
            .list(&ListFilter::default(), None, 10)
            .await
            .expect("list")
            .jobs
            .len()
    }
}
