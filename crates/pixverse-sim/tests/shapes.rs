//! Every body the simulator sends has the upstream's shape: keys, types and values, field by
//! field, against UPSTREAM.md and the fixtures.

mod common;

use std::time::Duration;

use common::*;
use pixverse_sim::{Fault, Latency};
use reqwest::StatusCode;
use serde_json::{Value, json};

const RECORD_KEYS: &[&str] = &[
    "_id",
    "id",
    "api_id",
    "application_id",
    "credential_id",
    "user_id",
    "created_at",
    "request",
    "trace_id",
];
const ITEM_KEYS: &[&str] = &[
    "id",
    "first_frame",
    "video_width",
    "video_height",
    "prompt",
    "model",
    "quality",
    "motion",
    "video_url",
    "template_id",
    "template_name",
    "style",
    "aspect_ratio",
    "duration",
    "extended",
    "last_frame",
    "seed",
    "asset_id",
    "asset_name",
];

fn with(extra: &[&str]) -> Vec<String> {
    let mut all: Vec<&str> = RECORD_KEYS.to_vec();
    all.extend_from_slice(extra);
    sorted(&all)
}

fn assert_millis(value: &Value) {
    let seconds = value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"));
    assert!(
        (seconds * 1000.0 - (seconds * 1000.0).round()).abs() < 1e-3,
        "{seconds} has more than ms precision"
    );
    assert!(
        (epoch_now() - seconds).abs() < 600.0,
        "{seconds} is not epoch seconds of now"
    );
}

fn assert_common_record(record: &Value, task_id: &str) {
    let object_id = record["_id"].as_str().expect("_id is a string");
    assert_eq!(object_id.len(), 24);
    assert!(object_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(record["id"], task_id);
    for key in [
        "api_id",
        "application_id",
        "credential_id",
        "user_id",
        "trace_id",
    ] {
        assert!(is_uuid(&record[key]), "{key}: {record}");
    }
    assert_millis(&record["created_at"]);
    assert!(record["request"].is_object());
}

fn assert_result_item(item: &Value) {
    assert_eq!(keys(item), sorted(ITEM_KEYS), "{item}");
    let id = item["id"].as_i64().expect("data[].id is an integer");
    assert!(
        (300_000_000_000_000..350_000_000_000_000).contains(&id),
        "{id} is not around 3.18e14"
    );
    for key in [
        "first_frame",
        "last_frame",
        "prompt",
        "model",
        "quality",
        "motion",
        "style",
        "aspect_ratio",
        "template_name",
        "asset_name",
    ] {
        assert!(item[key].is_string(), "{key}: {item}");
    }
    for key in [
        "video_width",
        "video_height",
        "template_id",
        "duration",
        "extended",
        "seed",
        "asset_id",
    ] {
        assert!(item[key].is_i64(), "{key}: {item}");
    }
    // The media point at the simulator itself (tests/media.rs checks what they serve).
    for (key, suffix) in [
        ("video_url", ".mp4"),
        ("first_frame", ".svg"),
        ("last_frame", ".svg?frame=last"),
    ] {
        let url = item[key].as_str().unwrap_or_default();
        let task_id = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.split_once("/_sim/media/"))
            .and_then(|(_, file)| file.strip_suffix(suffix));
        assert!(
            task_id.is_some_and(|id| is_uuid(&json!(id))),
            "{key}: {url}"
        );
    }
}

#[tokio::test]
async fn async_submit_answers_exactly_a_task_id() {
    let t = setup(slow()).await;
    let reply = t.submit(json!({"prompt": "quiver", "async": true})).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(keys(&body), sorted(&["task_id"]), "{body}");
    assert!(is_uuid(&body["task_id"]));

    let receiver = callback_receiver().await;
    let reply = t
        .submit(json!({"prompt": "quiver", "callback_url": receiver.url}))
        .await;
    assert_eq!(keys(&reply.json()), sorted(&["task_id"]));
}

#[tokio::test]
async fn a_task_record_goes_from_running_to_done() {
    let t = setup(fast().with_latency(Latency::fixed(Duration::from_millis(1500)))).await;
    let sent = r#"{"zeta": 1, "prompt":"quiver",  "async":true, "alpha":[2, 1]}"#;
    let reply = t.post_raw("/pixverse/videos", Some(TOKEN), sent).await;
    let task_id = reply.json()["task_id"]
        .as_str()
        .expect("a task id")
        .to_owned();

    let first = t.retrieve(&task_id).await;
    assert!(
        first.text.contains(&format!(r#""request":{sent}"#)),
        "the request is not echoed as sent: {}",
        first.text
    );
    let running = first.json();
    assert_common_record(&running, &task_id);
    for key in ["response", "finished_at", "elapsed"] {
        assert!(
            running.get(key).is_none(),
            "a running task has {key}: {running}"
        );
    }

    let started = t
        .wait_record(&task_id, |record| record.get("started_at").is_some())
        .await;
    if started.get("response").is_none() {
        assert_eq!(keys(&started), with(&["started_at"]), "{started}");
    }

    let done = t.wait_finished(&task_id).await;
    assert_eq!(
        keys(&done),
        with(&["started_at", "finished_at", "elapsed", "response"]),
        "{done}"
    );
    assert_common_record(&done, &task_id);
    for key in ["started_at", "finished_at"] {
        assert_millis(&done[key]);
    }
    let (created, started, finished) = (
        done["created_at"].as_f64().unwrap_or_default(),
        done["started_at"].as_f64().unwrap_or_default(),
        done["finished_at"].as_f64().unwrap_or_default(),
    );
    assert!(created <= started && started <= finished, "{done}");
    let elapsed = done["elapsed"].as_f64().expect("elapsed is a number");
    assert!((elapsed - (finished - started)).abs() < 0.01, "{done}");
    assert!(finished - created >= 1.4, "finished too early: {done}");
    assert_eq!(done["created_at"], running["created_at"]);
    assert_eq!(done["_id"], running["_id"]);

    let response = &done["response"];
    assert_eq!(
        keys(response),
        sorted(&["success", "task_id", "trace_id", "data"]),
        "{response}"
    );
    assert_eq!(response["success"], true);
    assert_eq!(response["task_id"], task_id.as_str());
    assert_eq!(response["trace_id"], done["trace_id"]);
    let data = response["data"].as_array().expect("data is an array");
    assert_eq!(data.len(), 1);
    assert_result_item(&data[0]);
}

#[tokio::test]
async fn results_echo_the_parameters_with_defaults_filled_in() {
    let t = setup(fast()).await;
    let plain = t.submit_async(json!({"prompt": "quiver"})).await;
    let item = t.wait_finished(&plain).await["response"]["data"][0].clone();
    assert_result_item(&item);
    let expected = json!({"prompt": "quiver", "model": "v3.5", "quality": "540p", "motion": "normal",
        "aspect_ratio": "16:9", "duration": 5, "style": "", "template_id": 0, "template_name": "",
        "asset_id": 0, "asset_name": "", "extended": 0});
    for (key, value) in expected.as_object().into_iter().flatten() {
        assert_eq!(&item[key], value, "{key}");
    }

    let chosen = t
        .submit_async(
            json!({"prompt": "p", "model": "v4.5", "quality": "720p", "aspect_ratio": "9:16",
            "duration": 8, "style": "anime", "seed": 1234,
            "template_id": 302_325_299_651_648_i64, "image_url": "https://cdn.example/x.png"}),
        )
        .await;
    let other = t.wait_finished(&chosen).await["response"]["data"][0].clone();
    assert_result_item(&other);
    assert_eq!(
        (other["model"].clone(), other["quality"].clone()),
        (json!("v4.5"), json!("720p"))
    );
    assert_eq!(
        (other["aspect_ratio"].clone(), other["duration"].clone()),
        (json!("9:16"), json!(8))
    );
    assert_eq!(
        (other["style"].clone(), other["seed"].clone()),
        (json!("anime"), json!(1234))
    );
    assert_eq!(other["template_name"], "Zombie Mode");
    assert_eq!(
        (other["video_width"].clone(), other["video_height"].clone()),
        (json!(720), json!(1280))
    );
    assert!(
        other["id"].as_i64() > item["id"].as_i64(),
        "video ids increase"
    );
}

#[tokio::test]
async fn extend_produces_an_extended_video_and_needs_a_known_video_id() {
    let t = setup(fast()).await;
    let first = t.submit_async(json!({"prompt": "a boat"})).await;
    let video_id = t.wait_finished(&first).await["response"]["data"][0]["id"].clone();

    let unknown = t.submit(json!({"action": "extend", "prompt": "on", "video_id": 317_000_000_000_001_i64, "async": true})).await;
    assert_gateway_error(&unknown, 400, "bad_request");
    assert!(
        unknown.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("video_id")
    );

    let as_string = video_id.as_i64().expect("an id").to_string();
    for id in [video_id.clone(), json!(as_string)] {
        let extended = t
            .submit_async(json!({"action": "extend", "prompt": "on", "video_id": id}))
            .await;
        let item = t.wait_finished(&extended).await["response"]["data"][0].clone();
        assert_result_item(&item);
        assert_eq!(item["extended"], 1);
    }
}

#[tokio::test]
async fn sync_mode_holds_the_request_and_returns_the_result() {
    let t = setup(fast()).await;
    let reply = t.submit(json!({"prompt": "quiver"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        keys(&body),
        sorted(&["success", "task_id", "trace_id", "data"])
    );
    assert_eq!(body["success"], true);
    assert_result_item(&body["data"][0]);
    let record = t
        .retrieve(body["task_id"].as_str().unwrap_or_default())
        .await
        .json();
    assert_eq!(record["response"], body, "the record keeps the same result");
}

#[tokio::test]
async fn a_failed_task_has_the_task_failure_shape() {
    let t = setup(fast().with_fault(Fault::GenerationFailed, 1.0)).await;
    let task_id = t.submit_async(json!({"prompt": "quiver"})).await;
    let record = t.wait_finished(&task_id).await;
    assert_eq!(
        keys(&record),
        with(&["started_at", "finished_at", "elapsed", "response"])
    );
    let response = &record["response"];
    assert_eq!(
        keys(response),
        sorted(&["success", "error", "trace_id", "task_id"]),
        "{response}"
    );
    assert_eq!(response["success"], false);
    assert_eq!(
        response["error"],
        json!({"code": "api_error", "message": "fetch failed"})
    );
    assert_eq!(response["task_id"], task_id.as_str());
    assert_eq!(response["trace_id"], record["trace_id"]);

    let sync = t.submit(json!({"prompt": "quiver"})).await;
    assert_eq!(sync.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        keys(&sync.json()),
        sorted(&["success", "error", "trace_id", "task_id"])
    );
}

#[tokio::test]
async fn characters_are_created_and_named_in_results() {
    let t = setup(fast()).await;
    let reply = t
        .post_as(
            "/pixverse/character",
            TOKEN,
            json!({"images": ["https://cdn.example/me.png"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(keys(&body), sorted(&["success", "task_id", "data"]));
    assert_eq!(body["success"], true);
    assert!(is_uuid(&body["task_id"]));
    assert_eq!(keys(&body["data"]), sorted(&["asset_id"]));
    let asset_id = body["data"]["asset_id"]
        .as_i64()
        .expect("an int64 asset id");

    let task = t
        .submit_async(json!({"prompt": "me", "asset_id": asset_id}))
        .await;
    let item = t.wait_finished(&task).await["response"]["data"][0].clone();
    assert_eq!(item["asset_id"], asset_id);
    let name = item["asset_name"].as_str().unwrap_or_default();
    assert!(
        name.strip_prefix("my-")
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{name}"
    );

    for bad in [
        json!({}),
        json!({"images": []}),
        json!({"images": ["not a url"]}),
    ] {
        assert_gateway_error(
            &t.post_as("/pixverse/character", TOKEN, bad).await,
            400,
            "bad_request",
        );
    }
}

#[tokio::test]
async fn lookups_of_unknown_things_answer_like_the_gateway() {
    let t = setup(fast()).await;
    let unknown = t.retrieve("00000000-0000-4000-8000-000000000000").await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.json(), json!({}));

    assert_gateway_error(
        &t.post_as("/pixverse/images", TOKEN, json!({})).await,
        404,
        "no_api",
    );
    assert_gateway_error(&t.get("/pixverse/videos").await, 404, "no_api");
    let action = t
        .post_as(
            "/pixverse/tasks",
            TOKEN,
            json!({"action": "explode", "id": "x"}),
        )
        .await;
    assert_gateway_error(&action, 400, "api_not_implemented");
    assert_gateway_error(
        &t.post_raw("/pixverse/videos", Some(TOKEN), "{not json")
            .await,
        400,
        "bad_request",
    );
    assert_gateway_error(
        &t.post_raw("/pixverse/tasks", Some(TOKEN), "[1]").await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn delete_hides_a_task_but_keeps_its_ledger_entry() {
    let t = setup(slow()).await;
    let task_id = t.submit_async(json!({"prompt": "p"})).await;
    let reply = t
        .post_as(
            "/pixverse/tasks",
            TOKEN,
            json!({"action": "delete", "id": task_id}),
        )
        .await;
    assert_eq!(reply.json(), json!({"id": task_id, "deleted": true}));
    assert_eq!(t.retrieve(&task_id).await.json(), json!({}));
    let again = t
        .post_as(
            "/pixverse/tasks",
            TOKEN,
            json!({"action": "delete", "id": task_id}),
        )
        .await;
    assert_eq!(again.json()["deleted"], false);
    assert_eq!(t.ledger().await.len(), 1);
}
