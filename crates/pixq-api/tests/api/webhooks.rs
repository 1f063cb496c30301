//! Webhooks in the API: a `webhook_url` refused while `api.webhook_secret` is unset, the
//! job and batch objects showing how their webhook fared, and the dead events listed and
//! re-sent.

use std::time::Duration;

use pixq_core::outbox::Attempt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend, with_webhooks};

on_each_backend!(
    a_webhook_url_is_refused_while_no_secret_signs_it,
    a_job_shows_its_webhook_once_it_ended,
    a_dead_event_is_listed_and_sent_again_once,
);

const HOOK: &str = "https://hooks.example/pixq";

async fn a_webhook_url_is_refused_while_no_secret_signs_it(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = api
        .post("/v1/jobs", &json!({"prompt": "a", "webhook_url": HOOK}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code_and_field(&body).1.as_deref(), Some("webhook_url"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("api.webhook_secret"),
        "{body}"
    );
    let (status, body) = api
        .post(
            "/v1/batches",
            &json!({"prompts": ["a", "b"], "webhook_url": HOOK}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code_and_field(&body).1.as_deref(), Some("webhook_url"));
    let (status, body) = api
        .post(
            "/v1/batches",
            &json!({"jobs": [{"prompt": "a"}, {"prompt": "b", "webhook_url": HOOK}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        code_and_field(&body).1.as_deref(),
        Some("jobs[1].webhook_url")
    );
    let (_, page) = api.get("/v1/jobs").await;
    assert_eq!(page["jobs"], json!([]), "nothing was created");

    let (status, body) = api.post("/v1/jobs", &json!({"prompt": "a"})).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "no webhook, no secret needed: {body}"
    );
}

async fn a_job_shows_its_webhook_once_it_ended(backend: Backend) {
    let api = Api::start_with(backend, with_webhooks()).await;
    let job = api
        .create(json!({"prompt": "a", "webhook_url": HOOK}))
        .await;
    assert!(
        job.get("webhook").is_none(),
        "no event before it ends: {job}"
    );
    let id = job["id"].as_str().expect("an id").to_owned();
    let plain = api.create_id("no hook").await;

    let (status, cancelled) = api.post(&format!("/v1/jobs/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let webhook = &cancelled["webhook"];
    assert_eq!(webhook["state"], "pending", "{cancelled}");
    assert_eq!(webhook["attempts"], 0);
    assert_eq!(webhook["last_error"], Value::Null);
    let event_id = webhook["id"].as_str().expect("an event id").to_owned();
    assert!(event_id.starts_with("evt_"), "{webhook}");
    assert_eq!(webhook.as_object().map(|o| o.len()), Some(4), "{webhook}");

    // A deliverer fails once, then the policy refuses the receiver.
    let outbox = api.store.outbox();
    let taken = outbox
        .take(10, "test", Duration::from_secs(30))
        .await
        .expect("take");
    assert_eq!(taken.len(), 1);
    let failed = Attempt::Failed {
        error: "the receiver answered HTTP 503".into(),
        retry_in: Duration::ZERO,
    };
    assert!(
        outbox
            .record(&taken[0].id, "test", failed)
            .await
            .expect("record")
    );
    let (_, shown) = api.get(&format!("/v1/jobs/{id}")).await;
    assert_eq!(
        shown["webhook"],
        json!({"id": event_id, "state": "pending", "attempts": 1,
               "last_error": "the receiver answered HTTP 503"})
    );
    let taken = outbox
        .take(10, "test", Duration::from_secs(30))
        .await
        .expect("take");
    let refused = Attempt::Refused {
        reason: "refused: 10.0.0.1 is a private address".into(),
    };
    assert!(
        outbox
            .record(&taken[0].id, "test", refused)
            .await
            .expect("record")
    );
    let (_, page) = api.get("/v1/jobs").await;
    let jobs = page["jobs"].as_array().expect("jobs");
    let listed = jobs
        .iter()
        .find(|j| j["id"] == id.as_str())
        .expect("listed");
    assert_eq!(listed["webhook"]["state"], "refused", "{listed}");
    assert_eq!(
        listed["webhook"]["last_error"],
        "refused: 10.0.0.1 is a private address"
    );
    let other = jobs
        .iter()
        .find(|j| j["id"] == plain.to_string().as_str())
        .expect("listed");
    assert!(other.get("webhook").is_none(), "{other}");
}

async fn a_dead_event_is_listed_and_sent_again_once(backend: Backend) {
    let api = Api::start_with(backend, with_webhooks()).await;
    let (_, listed) = api.get("/v1/webhooks/dead").await;
    assert_eq!(listed, json!({"events": []}));
    let job = api
        .create(json!({"prompt": "a", "webhook_url": HOOK}))
        .await;
    let id = job["id"].as_str().expect("an id").to_owned();
    api.post(&format!("/v1/jobs/{id}/cancel"), &json!({})).await;
    let outbox = api.store.outbox();
    let taken = outbox
        .take(10, "test", Duration::from_secs(30))
        .await
        .expect("take");
    let gave_up = Attempt::GaveUp {
        error: "no answer within webhooks.timeout (10s)".into(),
    };
    assert!(
        outbox
            .record(&taken[0].id, "test", gave_up)
            .await
            .expect("record")
    );
    let event_id = taken[0].id.to_string();

    let (status, listed) = api.get("/v1/webhooks/dead?limit=10").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let events = listed["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{listed}");
    let dead = &events[0];
    assert_eq!(dead["id"], event_id.as_str());
    assert_eq!(dead["type"], "job.finished");
    assert_eq!(dead["subject"], id.as_str());
    assert_eq!(dead["url"], HOOK);
    assert_eq!(dead["state"], "failed");
    assert_eq!(dead["attempts"], 1);
    assert!(dead["ended_at"].is_string(), "{dead}");

    let (status, resent) = api
        .post(&format!("/v1/webhooks/{event_id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{resent}");
    assert_eq!(resent["state"], "pending");
    assert_eq!(resent["attempts"], 0, "a fresh start: {resent}");
    let (_, listed) = api.get("/v1/webhooks/dead").await;
    assert_eq!(listed, json!({"events": []}));
    let again = outbox
        .take(10, "test", Duration::from_secs(30))
        .await
        .expect("take");
    assert_eq!(again.len(), 1, "due again at once");
    assert_eq!(
        (again[0].id.to_string(), &again[0].body),
        (event_id.clone(), &taken[0].body)
    );

    let (status, body) = api
        .post(&format!("/v1/webhooks/{event_id}/resend"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = api
        .post("/v1/webhooks/evt_nothing/resend", &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api.get("/v1/webhooks/dead?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code_and_field(&body).1.as_deref(), Some("limit"));
}
