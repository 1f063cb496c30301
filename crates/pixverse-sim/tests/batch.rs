//! `retrieve_batch`: scoped to the caller, oldest first, with ids, paging and time filters, and
//! `count` the number of matches before paging.

mod common;

use common::*;
use serde_json::json;

fn ids(reply: &Reply) -> Vec<String> {
    reply.json()["items"]
        .as_array()
        .expect("items is an array")
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

async fn five_tasks_and_two_of_another_token(t: &Bundle) -> (Vec<String>, Vec<f64>, Vec<String>) {
    let mut mine = Vec::new();
    for n in 0..5 {
        mine.push(t.submit_async(json!({"prompt": format!("mine {n}")})).await);
        // created_at has millisecond precision: keep the five stamps apart.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut theirs = Vec::new();
    for n in 0..2 {
        theirs.push(
            t.submit_async_as("other", json!({"prompt": format!("theirs {n}")}))
                .await,
        );
    }
    let created: Vec<f64> = t
        .ledger()
        .await
        .iter()
        .filter(|entry| entry["token"] == TOKEN)
        .map(|entry| entry["created_at"].as_f64().expect("created_at"))
        .collect();
    (mine, created, theirs)
}

#[tokio::test]
async fn a_listing_is_the_callers_tasks_oldest_first() {
    let t = setup(slow().with_tokens(["sim-token", "other"])).await;
    let (mine, _, theirs) = five_tasks_and_two_of_another_token(&t).await;
    let listing = t.batch_as(TOKEN, json!({})).await;
    let body = listing.json();
    assert_eq!(keys(&body), sorted(&["items", "count"]));
    assert_eq!(body["count"], 5);
    assert_eq!(ids(&listing), mine);
    let created: Vec<f64> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["created_at"].as_f64().unwrap_or_default())
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "{created:?}");
    assert_eq!(ids(&t.batch_as("other", json!({})).await), theirs);
}

#[tokio::test]
async fn ids_pick_the_callers_known_tasks() {
    let t = setup(slow().with_tokens(["sim-token", "other"])).await;
    let (mine, _, theirs) = five_tasks_and_two_of_another_token(&t).await;
    let picked =
        json!({"ids": [mine[3], "00000000-0000-4000-8000-000000000000", theirs[0], mine[0]]});
    let reply = t.batch_as(TOKEN, picked).await;
    assert_eq!(ids(&reply), vec![mine[0].clone(), mine[3].clone()]);
    assert_eq!(reply.json()["count"], 2);
}

#[tokio::test]
async fn limit_and_offset_page_while_count_stays_the_total() {
    let t = setup(slow().with_tokens(["sim-token", "other"])).await;
    let (mine, _, _) = five_tasks_and_two_of_another_token(&t).await;
    let page = t.batch_as(TOKEN, json!({"limit": 2, "offset": 1})).await;
    assert_eq!(ids(&page), mine[1..3].to_vec());
    assert_eq!(page.json()["count"], 5);
    let past_the_end = t.batch_as(TOKEN, json!({"offset": 10})).await;
    assert_eq!(past_the_end.json(), json!({"items": [], "count": 5}));
    assert_gateway_error(
        &t.batch_as(TOKEN, json!({"limit": -1})).await,
        400,
        "bad_request",
    );
    assert_gateway_error(
        &t.batch_as(TOKEN, json!({"ids": "x"})).await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn created_at_bounds_filter_inclusively() {
    let t = setup(slow().with_tokens(["sim-token", "other"])).await;
    let (mine, created, _) = five_tasks_and_two_of_another_token(&t).await;
    assert!(
        created.windows(2).all(|w| w[0] < w[1]),
        "distinct stamps: {created:?}"
    );
    let (low, high) = (created[2], created[3]);
    let from = t.batch_as(TOKEN, json!({"created_at_min": low})).await;
    assert_eq!(ids(&from), mine[2..].to_vec());
    let until = t.batch_as(TOKEN, json!({"created_at_max": high})).await;
    assert_eq!(ids(&until), mine[..4].to_vec());
    let both = t
        .batch_as(
            TOKEN,
            json!({"created_at_min": low, "created_at_max": high}),
        )
        .await;
    assert_eq!(ids(&both), mine[2..4].to_vec());
    assert_eq!(both.json()["count"], 2);
    let as_text = t
        .batch_as(TOKEN, json!({"created_at_min": low.to_string()}))
        .await;
    assert_eq!(ids(&as_text), ids(&from));
    let future = t
        .batch_as(TOKEN, json!({"created_at_min": epoch_now() + 3600.0}))
        .await;
    assert_eq!(future.json(), json!({"items": [], "count": 0}));
}

#[tokio::test]
async fn batch_limit_defaults_to_50_and_caps_at_100() {
    let t = setup(slow().with_max_in_flight(1000)).await;
    for n in 0..105 {
        t.submit_async(json!({"prompt": format!("p{n}")})).await;
    }
    let default = t.batch_as(TOKEN, json!({})).await;
    assert_eq!(default.json()["items"].as_array().map(Vec::len), Some(50));
    assert_eq!(default.json()["count"], 105);
    let capped = t.batch_as(TOKEN, json!({"limit": 1000})).await;
    assert_eq!(capped.json()["items"].as_array().map(Vec::len), Some(100));
}
