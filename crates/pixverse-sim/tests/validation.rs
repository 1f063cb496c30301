//! `/pixverse/videos` refuses what the upstream refuses, with 400 `bad_request` naming the field,
//! and creates no task for it.

mod common;

use common::*;
use serde_json::{Value, json};

async fn assert_refused(t: &Bundle, body: Value, field: &str) {
    let reply = t.submit(body.clone()).await;
    assert_gateway_error(&reply, 400, "bad_request");
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(field),
        "{body}: `{message}` does not name {field}"
    );
}

#[tokio::test]
async fn each_field_rule_is_enforced() {
    let t = setup(slow()).await;
    let cases = [
        (json!({"async": true}), "prompt"),
        (json!({"prompt": "", "async": true}), "prompt"),
        (json!({"prompt": 5, "async": true}), "prompt"),
        (json!({"prompt": "p", "action": "remix"}), "action"),
        (json!({"prompt": "p", "model": "v5"}), "model"),
        (json!({"prompt": "p", "style": "noir"}), "style"),
        (json!({"prompt": "p", "motion": "slow"}), "motion"),
        (json!({"prompt": "p", "quality": "480p"}), "quality"),
        (json!({"prompt": "p", "duration": 7}), "duration"),
        (
            json!({"prompt": "p", "aspect_ratio": "21:9"}),
            "aspect_ratio",
        ),
        (json!({"prompt": "p", "seed": -1}), "seed"),
        (json!({"prompt": "p", "seed": 2_147_483_648_i64}), "seed"),
        (
            json!({"prompt": "p", "frame": ["https://cdn.example/a.png"]}),
            "frame",
        ),
        (
            json!({"prompt": "p", "image_url": "file:///etc/passwd"}),
            "image_url",
        ),
        (
            json!({"prompt": "p", "callback_url": "localhost/cb"}),
            "callback_url",
        ),
    ];
    for (body, field) in cases {
        assert_refused(&t, body, field).await;
    }
    assert!(
        t.ledger().await.is_empty(),
        "a refused submit created a task"
    );
}

#[tokio::test]
async fn fast_motion_needs_five_seconds() {
    let t = setup(slow()).await;
    assert_refused(
        &t,
        json!({"prompt": "p", "motion": "fast", "duration": 8}),
        "fast",
    )
    .await;
    t.submit_async(json!({"prompt": "p", "motion": "fast", "duration": 5}))
        .await;
}

#[tokio::test]
async fn full_hd_allows_neither_eight_seconds_nor_fast_motion() {
    let t = setup(slow()).await;
    assert_refused(
        &t,
        json!({"prompt": "p", "quality": "1080p", "duration": 8}),
        "1080p",
    )
    .await;
    assert_refused(
        &t,
        json!({"prompt": "p", "quality": "1080p", "motion": "fast"}),
        "1080p",
    )
    .await;
    t.submit_async(json!({"prompt": "p", "quality": "1080p"}))
        .await;
}

#[tokio::test]
async fn a_template_refuses_a_quality_it_lacks() {
    let t = setup(slow()).await;
    // "We Are Venom!" supports only 360p and 540p.
    let venom = 303_624_537_709_312_i64;
    assert_refused(
        &t,
        json!({"prompt": "p", "template_id": venom, "quality": "720p"}),
        "template_id",
    )
    .await;
    t.submit_async(json!({"prompt": "p", "template_id": venom, "quality": "540p"}))
        .await;
    t.submit_async(json!({"prompt": "p", "template_id": 1, "quality": "1080p"}))
        .await;
}

#[tokio::test]
async fn extend_needs_a_video_this_simulator_produced() {
    let t = setup(slow()).await;
    assert_refused(&t, json!({"action": "extend", "prompt": "p"}), "video_id").await;
    assert_refused(
        &t,
        json!({"action": "extend", "prompt": "p", "video_id": 317_989_274_748_288_i64}),
        "video_id",
    )
    .await;
    assert_refused(
        &t,
        json!({"action": "extend", "prompt": "p", "video_id": "abc"}),
        "video_id",
    )
    .await;
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let t = setup(slow()).await;
    t.submit_async(
        json!({"prompt": "p", "camera_movement": "zoom_in", "mode": "x", "nested": {"a": 1}}),
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_a_bad_request() {
    let t = setup(slow()).await;
    for body in ["", "{", "\"prompt\"", "[]", "null"] {
        assert_gateway_error(
            &t.post_raw("/pixverse/videos", Some(TOKEN), body).await,
            400,
            "bad_request",
        );
    }
}
