//! The gateway's token checks, and token states changed at run time through `/_sim/tokens`.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

const USED_UP_MESSAGE: &str = "Your balance is not sufficient for current request, please buy more in Ace Data Cloud https://platform.acedata.cloud";

#[tokio::test]
async fn a_request_without_a_token_gets_no_token() {
    let t = setup(fast()).await;
    let reply = t
        .post_raw("/pixverse/videos", None, json!({"prompt": "p"}).to_string())
        .await;
    assert_gateway_error(&reply, 400, "no_token");
    let reply = t
        .post_raw(
            "/pixverse/tasks",
            None,
            json!({"action": "retrieve", "id": "x"}).to_string(),
        )
        .await;
    assert_gateway_error(&reply, 400, "no_token");
}

#[tokio::test]
async fn an_unknown_token_gets_invalid_token() {
    let t = setup(fast()).await;
    let reply = t
        .post_as("/pixverse/videos", "nope", json!({"prompt": "p"}))
        .await;
    assert_gateway_error(&reply, 401, "invalid_token");
    assert_eq!(
        reply.json()["error"]["message"],
        "The specified token is invalid or wrong."
    );
    let lookup = t
        .post_as(
            "/pixverse/tasks",
            "nope",
            json!({"action": "retrieve", "id": "x"}),
        )
        .await;
    assert_gateway_error(&lookup, 401, "invalid_token");
}

#[tokio::test]
async fn auth_comes_before_validation() {
    let t = setup(fast()).await;
    assert_gateway_error(
        &t.post_raw("/pixverse/videos", Some("nope"), "{broken")
            .await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn a_used_up_token_cannot_submit_but_can_still_look_up() {
    let t = setup(
        fast()
            .with_tokens(["sim-token", "spender"])
            .with_used_up_token("dry"),
    )
    .await;
    let dry = t
        .post_as(
            "/pixverse/videos",
            "dry",
            json!({"prompt": "p", "async": true}),
        )
        .await;
    assert_gateway_error(&dry, 403, "used_up");
    assert_eq!(dry.json()["error"]["message"], USED_UP_MESSAGE);

    let task_id = t.submit_async_as("spender", json!({"prompt": "p"})).await;
    let set = t
        .admin(
            "/_sim/tokens",
            json!({"token": "spender", "state": "used_up"}),
        )
        .await;
    assert_eq!(set.json(), json!({"token": "spender", "state": "used_up"}));
    assert_gateway_error(
        &t.post_as("/pixverse/videos", "spender", json!({"prompt": "p"}))
            .await,
        403,
        "used_up",
    );
    assert_gateway_error(
        &t.post_as(
            "/pixverse/character",
            "spender",
            json!({"images": ["https://cdn.example/a.png"]}),
        )
        .await,
        403,
        "used_up",
    );
    let lookup = t
        .post_as(
            "/pixverse/tasks",
            "spender",
            json!({"action": "retrieve", "id": task_id}),
        )
        .await;
    assert_eq!(lookup.status, StatusCode::OK);
    assert_eq!(lookup.json()["id"], task_id.as_str());
    let listing = t.batch_as("spender", json!({})).await;
    assert_eq!(listing.json()["count"], 1);

    t.admin("/_sim/tokens", json!({"token": "spender", "state": "ok"}))
        .await;
    t.submit_async_as("spender", json!({"prompt": "topped up"}))
        .await;
}

#[tokio::test]
async fn other_token_states_refuse_everything() {
    let t = setup(fast()).await;
    for (state, status, code) in [
        ("disabled", 403, "disabled"),
        ("invalid", 401, "invalid_token"),
        ("expired", 401, "token_expired"),
        ("mismatched", 400, "token_mismatched"),
    ] {
        let reply = t
            .admin("/_sim/tokens", json!({"token": state, "state": state}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_gateway_error(
            &t.post_as("/pixverse/videos", state, json!({"prompt": "p"}))
                .await,
            status,
            code,
        );
        let lookup = t
            .post_as(
                "/pixverse/tasks",
                state,
                json!({"action": "retrieve_batch"}),
            )
            .await;
        assert_gateway_error(&lookup, status, code);
    }
}

#[tokio::test]
async fn a_token_added_at_run_time_is_accepted() {
    let t = setup(fast()).await;
    assert_gateway_error(
        &t.post_as("/pixverse/videos", "late", json!({"prompt": "p"}))
            .await,
        401,
        "invalid_token",
    );
    t.admin("/_sim/tokens", json!({"token": "late", "state": "ok"}))
        .await;
    t.submit_async_as("late", json!({"prompt": "p"})).await;
}

#[tokio::test]
async fn bad_token_changes_are_refused() {
    let t = setup(fast()).await;
    assert_gateway_error(
        &t.admin("/_sim/tokens", json!({"token": "x", "state": "rich"}))
            .await,
        400,
        "bad_request",
    );
    assert_gateway_error(
        &t.admin("/_sim/tokens", json!({"state": "ok"})).await,
        400,
        "bad_request",
    );
    assert_gateway_error(
        &t.admin("/_sim/tokens", json!({"token": "x"})).await,
        400,
        "bad_request",
    );
}
