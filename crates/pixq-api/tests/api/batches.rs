//! `POST /v1/batches` in its four forms, the batch object, its results stream, cancel and
//! retry: a batch is validated whole, counted as its chains move, and read back in order.

use std::time::Instant;

use chrono::Utc;
use pixq_core::job::{BatchId, JobId};
use pixq_core::state::Transition;
use pixq_core::store::ListFilter;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::setup::{Api, Backend, code_and_field, on_each_backend, video};

on_each_backend!(
    a_batch_of_jobs_is_accepted_counted_and_every_chain_made_due,
    prompts_with_defaults_text_and_ndjson_make_the_same_jobs,
    a_batch_with_bad_entries_is_rejected_whole_and_lists_each,
    a_rejection_lists_at_most_a_hundred_entries,
    the_envelope_content_type_and_an_empty_batch_are_refused,
    an_idempotency_key_replays_the_batch_and_conflicts_for_another_body,
    results_stream_each_chain_in_order_with_its_final_video_or_error,
    cancel_stops_unfinished_chains_and_keeps_finished_results,
    retry_re_drives_the_failed_chains,
    unknown_batches_are_404,
    a_batch_of_100k_prompts_is_accepted_and_counted,
    a_batch_over_max_batch_body_is_413_and_a_job_keeps_its_own_limit,
);

async fn post_batch(api: &Api, body: &Value) -> (StatusCode, Value) {
    api.post("/v1/batches", body).await
}

fn batch_id(body: &Value) -> BatchId {
    BatchId::from(body["id"].as_str().expect("a batch id"))
}

async fn roots(api: &Api, batch: &BatchId) -> Vec<JobId> {
    api.store
        .batches()
        .roots(batch, 0, 1_000_000)
        .await
        .expect("roots")
}

/// The results, as NDJSON lines read.
async fn results(api: &Api, batch: &BatchId) -> Vec<Value> {
    let response = api
        .http
        .get(api.url(&format!("/v1/batches/{batch}/results")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/x-ndjson",
        "results are NDJSON"
    );
    let text = response.text().await.expect("a body");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

async fn a_batch_of_jobs_is_accepted_counted_and_every_chain_made_due(backend: Backend) {
    let api = Api::start(backend).await;
    let response = api
        .http
        .post(api.url("/v1/batches"))
        .json(&json!({
            "name": "night run",
            "jobs": [
                {"prompt": "a fox", "extend": [{"prompt": "it runs"}], "metadata": {"row": 1}},
                {"prompt": "a hen", "quality": "720p"},
            ],
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let id = batch_id(&body);
    assert!(id.as_str().starts_with("batch_"), "{body}");
    assert_eq!(location, format!("/v1/batches/{id}"));
    assert_eq!(body["total"], 2);
    assert_eq!(body["name"], "night run");
    assert_eq!(
        body["counts"],
        json!({"queued": 2, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0})
    );
    assert!(body["created_at"].is_string() && body["finished_at"].is_null());

    let (status, shown) = api.get(&format!("/v1/batches/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, body);

    let roots = roots(&api, &id).await;
    assert_eq!(roots.len(), 2);
    let first = api.job(&roots[0]).await;
    assert_eq!(first.batch_id.as_ref(), Some(&id));
    assert_eq!(first.params["prompt"], "a fox");
    assert_eq!(first.chain_len, 2, "the extend makes a chain of two");
    assert_eq!(first.metadata, json!({"row": 1}));
    assert_eq!(api.job(&roots[1]).await.params["quality"], "720p");
    for root in &roots {
        assert!(api.due_at(root).await.is_some(), "{root} is due");
    }
    let listed = api
        .store
        .jobs()
        .list(
            &ListFilter {
                batch: Some(id.clone()),
                state: None,
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.jobs.len(), 2);
}

async fn prompts_with_defaults_text_and_ndjson_make_the_same_jobs(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, json_form) = post_batch(
        &api,
        &json!({"prompts": ["one", "two"], "defaults": {"quality": "720p", "duration": 5}}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json_form}");
    let (status, text_form) = api
        .post_raw(
            "/v1/batches",
            Some("text/plain; charset=utf-8"),
            "\u{feff}# my prompts\r\none\r\n\r\ntwo\r\n"
                .as_bytes()
                .to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text_form}");
    let (status, ndjson_form) = api
        .post_raw(
            "/v1/batches",
            Some("application/x-ndjson"),
            b"{\"prompt\":\"one\",\"quality\":\"720p\"}\n\n{\"prompt\":\"two\"}\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ndjson_form}");

    for (form, quality) in [(&json_form, Some("720p")), (&text_form, None)] {
        assert_eq!(form["total"], 2);
        let roots = roots(&api, &batch_id(form)).await;
        let prompts: Vec<Value> = {
            let mut out = Vec::new();
            for root in &roots {
                let job = api.job(root).await;
                assert_eq!(job.params["quality"].as_str(), quality, "{form}");
                out.push(job.params["prompt"].clone());
            }
            out
        };
        assert_eq!(prompts, vec![json!("one"), json!("two")], "in order");
    }
    let roots = roots(&api, &batch_id(&ndjson_form)).await;
    assert_eq!(api.job(&roots[0]).await.params["quality"], "720p");
    assert_eq!(api.job(&roots[1]).await.params["prompt"], "two");
}

async fn a_batch_with_bad_entries_is_rejected_whole_and_lists_each(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = post_batch(
        &api,
        &json!({"jobs": [
            {"prompt": "fine"},
            {"prompt": "   "},
            {"prompt": "fine too"},
            {"prompt": "x", "quality": "4k"},
            "not an object",
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        code_and_field(&body),
        ("invalid_batch".into(), Some("prompt".into()))
    );
    let entries = body["error"]["entries"].as_array().expect("entries");
    let listed: Vec<(u64, Option<&str>)> = entries
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["field"].as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![(1, Some("prompt")), (3, Some("quality")), (4, None)]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["code"].is_string() && e["message"].is_string())
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("3 of 5"), "{message}");

    let (status, body) = api
        .post_raw(
            "/v1/batches",
            Some("application/x-ndjson"),
            b"{\"prompt\":\"ok\"}\n{\"prompt\":\"ok\",\"bogus\":1}\n{oops\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let lines: Vec<(u64, &str)> = body["error"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, vec![(2, "unknown_field"), (3, "invalid_json")]);

    // Nothing of either batch was enqueued.
    let all = api
        .store
        .jobs()
        .list(&ListFilter::default(), None, 10)
        .await
        .unwrap();
    assert!(all.jobs.is_empty(), "{:?}", all.jobs);
    assert!(api.store.schedule().is_empty().await.unwrap());
}

async fn a_rejection_lists_at_most_a_hundred_entries(backend: Backend) {
    let api = Api::start(backend).await;
    let prompts: Vec<Value> = (0..250)
        .map(|i| if i % 2 == 0 { json!(" ") } else { json!("ok") })
        .collect();
    let (status, body) = post_batch(&api, &json!({"prompts": prompts})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let entries = body["error"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 100);
    assert_eq!(entries[0]["index"], 0);
    assert_eq!(entries[99]["index"], 198);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("125 of 250"),
        "{body}"
    );
}

async fn the_envelope_content_type_and_an_empty_batch_are_refused(backend: Backend) {
    let api = Api::start(backend).await;
    let (status, body) = post_batch(&api, &json!({"jobs": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code_and_field(&body).1.as_deref(), Some("jobs"));
    let (status, body) = post_batch(&api, &json!({"jobs": [], "prompts": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api
        .post_raw("/v1/batches", Some("application/xml"), b"<jobs/>".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = api
        .post_raw(
            "/v1/batches",
            Some("text/plain"),
            b"\n# only comments\n\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post_batch(
        &api,
        &json!({"prompts": ["a"], "defaults": {"quality": "4k"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        code_and_field(&body).1.as_deref(),
        Some("defaults.quality"),
        "a bad default is one error, named once"
    );
    let (status, body) = post_batch(
        &api,
        &json!({"prompts": ["a"], "defaults": {"asset_id": "nobody"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        code_and_field(&body).1.as_deref(),
        Some("defaults.asset_id")
    );
}

async fn an_idempotency_key_replays_the_batch_and_conflicts_for_another_body(backend: Backend) {
    let api = Api::start(backend).await;
    let send = |body: Value| {
        let request = api
            .http
            .post(api.url("/v1/batches"))
            .header("Idempotency-Key", "nightly-42")
            .json(&body);
        async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let (status, first) = send(json!({"prompts": ["a", "b"]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, again) = send(json!({"prompts": ["a", "b"]})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    let (status, other) = send(json!({"prompts": ["a", "c"]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{other}");
    assert_eq!(code_and_field(&other).0, "idempotency_conflict");
    let all = api
        .store
        .jobs()
        .list(&ListFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all.jobs.len(), 2, "one batch was written");
}

async fn results_stream_each_chain_in_order_with_its_final_video_or_error(backend: Backend) {
    let api = Api::start(backend).await;
    let (_, body) = post_batch(
        &api,
        &json!({"jobs": [
            {"prompt": "chain", "extend": [{"prompt": "more"}], "metadata": {"k": 1}},
            {"prompt": "fails"},
            {"prompt": "waits"},
        ]}),
    )
    .await;
    let id = batch_id(&body);
    let roots = roots(&api, &id).await;
    let (_, child) = api.succeed_with_child(&roots[0]).await;
    api.to_generating(&child, None).await;
    api.apply(Transition::succeed(child.clone(), video(77), None))
        .await;
    api.to_failed(&roots[1]).await;

    let lines = results(&api, &id).await;
    assert_eq!(lines.len(), 3);
    let indexes: Vec<u64> = lines.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    assert_eq!(lines[0]["job_id"], roots[0].as_str());
    assert_eq!(lines[0]["final_job_id"], child.as_str());
    assert_eq!(lines[0]["state"], "succeeded");
    assert_eq!(lines[0]["prompt"], "chain");
    assert_eq!(
        lines[0]["video_id"], 77,
        "the chain's last video, not its first"
    );
    assert_eq!(lines[0]["video_url"], "https://cdn.example/77.mp4");
    assert_eq!(lines[0]["metadata"], json!({"k": 1}));
    assert_eq!(lines[1]["state"], "failed");
    assert_eq!(lines[1]["error"]["code"], "api_error");
    assert!(lines[1]["video_url"].is_null());
    assert_eq!(lines[2]["state"], "queued");

    let (_, batch) = api.get(&format!("/v1/batches/{id}")).await;
    assert_eq!(
        batch["counts"],
        json!({"queued": 1, "running": 0, "succeeded": 1, "failed": 1, "cancelled": 0})
    );
    assert!(batch["finished_at"].is_null());
}

async fn cancel_stops_unfinished_chains_and_keeps_finished_results(backend: Backend) {
    let api = Api::start(backend).await;
    let (_, body) = post_batch(
        &api,
        &json!({"prompts": ["done", "generating", "queued", "chained"],
                "defaults": {"extend": [{"prompt": "next"}]}}),
    )
    .await;
    let id = batch_id(&body);
    let roots = roots(&api, &id).await;
    let (_, child) = api.succeed_with_child(&roots[0]).await;
    api.to_generating(&child, None).await;
    api.apply(Transition::succeed(child.clone(), video(5), None))
        .await;
    api.to_generating(&roots[1], None).await;
    let (_, queued_child) = api.succeed_with_child(&roots[3]).await;
    api.drain_schedule().await;

    let (status, after) = api
        .post(&format!("/v1/batches/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(
        after["counts"],
        json!({"queued": 0, "running": 0, "succeeded": 1, "failed": 0, "cancelled": 3})
    );
    assert!(after["finished_at"].is_string(), "every chain has ended");
    assert_eq!(api.job(&queued_child).await.state.as_str(), "cancelled");
    assert_eq!(api.job(&roots[3]).await.state.as_str(), "succeeded", "kept");
    assert!(
        api.due_at(&roots[1]).await.is_some(),
        "a cancelled generating step is rung, so its worker gives its slot back"
    );
    let lines = results(&api, &id).await;
    assert_eq!(lines[0]["video_id"], 5, "finished jobs keep their results");
    assert_eq!(lines[2]["state"], "cancelled");
    assert_eq!(lines[3]["final_job_id"], queued_child.as_str());
}

async fn retry_re_drives_the_failed_chains(backend: Backend) {
    let api = Api::start(backend).await;
    let (_, body) = post_batch(&api, &json!({"prompts": ["a", "b", "c"]})).await;
    let id = batch_id(&body);
    let roots = roots(&api, &id).await;
    api.to_failed(&roots[0]).await;
    api.to_failed(&roots[2]).await;
    api.drain_schedule().await;
    let (status, retried) = api
        .post(&format!("/v1/batches/{id}/retry"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_eq!(retried, json!({"id": id.as_str(), "retried": 2}));
    assert!(api.due_at(&roots[0]).await.is_some());
    let (_, batch) = api.get(&format!("/v1/batches/{id}")).await;
    assert_eq!(batch["counts"]["queued"], 3);
    assert_eq!(batch["counts"]["failed"], 0);
}

async fn unknown_batches_are_404(backend: Backend) {
    let api = Api::start(backend).await;
    for path in ["", "/results"] {
        let (status, body) = api.get(&format!("/v1/batches/batch_nope{path}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    for action in ["cancel", "retry"] {
        let (status, body) = api
            .post(&format!("/v1/batches/batch_nope/{action}"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
    }
}

/// 100,000 prompts in one request: accepted whole, counted, every chain due. (How fast is
/// measured by `just bench`; this prints what it took.)
async fn a_batch_of_100k_prompts_is_accepted_and_counted(backend: Backend) {
    const N: usize = 100_000;
    let api = Api::start(backend).await;
    let body: String = (0..N).map(|i| format!("prompt number {i}\n")).collect();
    let started = Instant::now();
    let response = api
        .http
        .post(api.url("/v1/batches"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("request");
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    eprintln!("{backend:?}: {N} prompts accepted in {took:?}");
    assert_eq!(batch["total"], N);
    assert_eq!(batch["counts"]["queued"], N);
    let id = batch_id(&batch);
    let roots = roots(&api, &id).await;
    assert_eq!(roots.len(), N);
    assert_eq!(
        api.job(&roots[N - 1]).await.params["prompt"],
        "prompt number 99999"
    );
    let due = api.store.schedule().due_count(Utc::now()).await.unwrap();
    assert_eq!(due, N as u64, "every chain is due");
}

async fn a_batch_over_max_batch_body_is_413_and_a_job_keeps_its_own_limit(backend: Backend) {
    let api = Api::start_with(
        backend,
        pixq_api::ApiConfig {
            max_body: 600,
            max_batch_body: 4000,
            ..pixq_api::ApiConfig::default()
        },
    )
    .await;
    let fits: String = (0..100).map(|i| format!("p{i}\n")).collect();
    let (status, body) = api
        .post_raw("/v1/batches", Some("text/plain"), fits.into_bytes())
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "over max_body, under max_batch_body: {body}"
    );
    let over: String = (0..1000).map(|i| format!("prompt {i}\n")).collect();
    let (status, body) = api
        .post_raw("/v1/batches", Some("text/plain"), over.into_bytes())
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, _) = api
        .post("/v1/jobs", &json!({"prompt": "x".repeat(1000)}))
        .await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a job is held to api.max_body"
    );
}
