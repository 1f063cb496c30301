//! Callbacks: the finished body POSTed unsigned to `callback_url`, in each mode, and counted.

mod common;

use std::time::Duration;

use common::*;
use pixverse_sim::{CallbackMode, Fault};
use serde_json::json;

#[tokio::test]
async fn a_finished_task_posts_its_result_once_unsigned() {
    let t = setup(fast()).await;
    let mut receiver = callback_receiver().await;
    let task_id = t
        .submit_async(json!({"prompt": "p", "callback_url": receiver.url}))
        .await;
    let delivery = receiver.next().await;
    let record = t.wait_finished(&task_id).await;
    assert_eq!(
        delivery.body, record["response"],
        "the callback body is the task's response"
    );
    assert_eq!(delivery.body["success"], true);
    assert_eq!(delivery.body["task_id"], task_id.as_str());
    assert_eq!(
        delivery
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let signed = delivery
        .headers
        .keys()
        .any(|name| name.as_str().contains("signature"));
    assert!(!signed, "callbacks are unsigned: {:?}", delivery.headers);

    let stats = t.wait_stats(|stats| stats["callbacks"]["sent"] == 1).await;
    assert_eq!(
        stats["callbacks"],
        json!({"sent": 1, "failed": 0, "dropped": 0, "duplicated": 0})
    );
    assert!(receiver.try_next().is_none(), "normal mode posts once");
}

#[tokio::test]
async fn a_failed_task_posts_its_failure_body() {
    let t = setup(fast().with_fault(Fault::GenerationFailed, 1.0)).await;
    let mut receiver = callback_receiver().await;
    let task_id = t
        .submit_async(json!({"prompt": "p", "callback_url": receiver.url}))
        .await;
    let body = receiver.next().await.body;
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "api_error");
    assert_eq!(body["task_id"], task_id.as_str());
}

#[tokio::test]
async fn drop_mode_never_posts_and_counts_it() {
    let t = setup(fast().with_callbacks(CallbackMode::Drop)).await;
    let mut receiver = callback_receiver().await;
    let task_id = t
        .submit_async(json!({"prompt": "p", "callback_url": receiver.url}))
        .await;
    let stats = t
        .wait_stats(|stats| stats["callbacks"]["dropped"] == 1)
        .await;
    assert_eq!(stats["callbacks"]["sent"], 0);
    assert!(
        t.wait_finished(&task_id).await["response"]["success"] == true,
        "polling still finds the result"
    );
    assert!(receiver.try_next().is_none());
}

#[tokio::test]
async fn duplicate_mode_posts_the_same_body_twice() {
    let t = setup(fast().with_callbacks(CallbackMode::Duplicate)).await;
    let mut receiver = callback_receiver().await;
    t.submit_async(json!({"prompt": "p", "callback_url": receiver.url}))
        .await;
    let first = receiver.next().await;
    let second = receiver.next().await;
    assert_eq!(first.body, second.body);
    let stats = t
        .wait_stats(|stats| stats["callbacks"]["duplicated"] == 1)
        .await;
    assert_eq!(stats["callbacks"]["sent"], 2);
}

#[tokio::test]
async fn late_mode_posts_well_after_the_task_finished() {
    let delay = Duration::from_millis(1200);
    let t = setup(
        fast()
            .with_callbacks(CallbackMode::Late)
            .with_late_callback_delay(delay),
    )
    .await;
    let mut receiver = callback_receiver().await;
    let task_id = t
        .submit_async(json!({"prompt": "p", "callback_url": receiver.url}))
        .await;
    let delivery = receiver.next().await;
    let finished_at = t.retrieve(&task_id).await.json()["finished_at"]
        .as_f64()
        .expect("finished");
    let lag = delivery.at - finished_at;
    assert!(
        lag >= 1.1,
        "the callback came {lag:.3}s after the task finished"
    );
    assert_eq!(t.stats().await["callbacks"]["sent"], 1);
}

#[tokio::test]
async fn a_callback_the_receiver_refuses_counts_as_failed() {
    let t = setup(fast()).await;
    let mut receiver = callback_receiver().await;
    receiver
        .status
        .store(500, std::sync::atomic::Ordering::SeqCst);
    t.submit_async(json!({"prompt": "p", "callback_url": receiver.url}))
        .await;
    receiver.next().await;
    let stats = t
        .wait_stats(|stats| stats["callbacks"]["failed"] == 1)
        .await;
    assert_eq!(stats["callbacks"]["sent"], 0);

    t.submit_async(json!({"prompt": "p", "callback_url": "http://127.0.0.1:9/nobody-listens"}))
        .await;
    t.wait_stats(|stats| stats["callbacks"]["failed"] == 2)
        .await;
}
