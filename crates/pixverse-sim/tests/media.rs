//! The media a finished task points at: `video_url`, `first_frame` and `last_frame` are on the
//! simulator's own URL, which serves a playable MP4 (with byte ranges) and an SVG poster per
//! task, without a token.

mod common;

use common::*;
use pixverse_sim::{Fault, SimConfig};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

/// A GET of an absolute URL with optional extra headers: status, headers and raw bytes.
async fn fetch(
    t: &Bundle,
    url: &str,
    range: Option<&str>,
) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let mut request = t.http.get(url);
    if let Some(range) = range {
        request = request.header(header::RANGE, range);
    }
    let response = request.send().await.expect("the simulator answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a readable body").to_vec();
    (status, headers, body)
}

fn header_of(headers: &header::HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
}

/// Submits a prompt, waits for the task to succeed and returns its id and result item.
async fn finished(t: &Bundle, body: Value) -> (String, Value) {
    let task_id = t.submit_async(body).await;
    let record = t.wait_finished(&task_id).await;
    assert_eq!(record["response"]["success"], true, "{record}");
    (task_id, record["response"]["data"][0].clone())
}

#[tokio::test]
async fn a_finished_result_points_at_the_simulators_own_media() {
    let t = setup(fast()).await;
    assert_eq!(t.sim.public_url(), t.base);
    let (task_id, item) = finished(&t, json!({"prompt": "a paper boat"})).await;
    let stem = format!("{}/_sim/media/{task_id}", t.base);
    assert_eq!(item["video_url"], format!("{stem}.mp4"));
    assert_eq!(item["first_frame"], format!("{stem}.svg"));
    assert_eq!(item["last_frame"], format!("{stem}.svg?frame=last"));

    // A sync answer carries the same kind of URLs.
    let reply = t.submit(json!({"prompt": "a red kite"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    let url = body["data"][0]["video_url"].as_str().expect("a video_url");
    assert_eq!(
        url,
        format!(
            "{}/_sim/media/{}.mp4",
            t.base,
            body["task_id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn the_video_is_an_mp4_served_whole_without_a_token() {
    let t = setup(fast()).await;
    let (_, item) = finished(&t, json!({"prompt": "a paper boat"})).await;
    let (status, headers, body) = fetch(&t, item["video_url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "video/mp4");
    assert_eq!(header_of(&headers, header::ACCEPT_RANGES), "bytes");
    assert_eq!(
        header_of(&headers, header::CONTENT_LENGTH),
        body.len().to_string()
    );
    assert!(body.len() > 1000, "{} bytes", body.len());
    assert_eq!(&body[4..8], b"ftyp", "an MP4 starts with its ftyp box");
}

#[tokio::test]
async fn a_byte_range_gets_206_with_exactly_that_slice() {
    let t = setup(fast()).await;
    let (_, item) = finished(&t, json!({"prompt": "a paper boat"})).await;
    let url = item["video_url"].as_str().unwrap();
    let (_, _, whole) = fetch(&t, url, None).await;
    let len = whole.len();

    let (status, headers, part) = fetch(&t, url, Some("bytes=100-199")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_of(&headers, header::CONTENT_RANGE),
        format!("bytes 100-199/{len}")
    );
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "video/mp4");
    assert_eq!(part, whole[100..200]);

    // What browsers send first, an open end, and the last bytes.
    let (status, headers, part) = fetch(&t, url, Some("bytes=0-")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_of(&headers, header::CONTENT_RANGE),
        format!("bytes 0-{}/{len}", len - 1)
    );
    assert_eq!(part, whole);
    let (status, _, part) = fetch(&t, url, Some("bytes=-16")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, whole[len - 16..]);
    // An end past the last byte is cut to it.
    let (status, headers, part) = fetch(&t, url, Some(&format!("bytes={}-99999", len - 10))).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_of(&headers, header::CONTENT_RANGE),
        format!("bytes {}-{}/{len}", len - 10, len - 1)
    );
    assert_eq!(part, whole[len - 10..]);

    let (status, headers, _) = fetch(&t, url, Some(&format!("bytes={len}-"))).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header_of(&headers, header::CONTENT_RANGE),
        format!("bytes */{len}")
    );
    // Several ranges are not supported: the whole body, as RFC 9110 allows.
    let (status, _, body) = fetch(&t, url, Some("bytes=0-1,4-7")).await;
    assert_eq!((status, body.len()), (StatusCode::OK, len));
}

#[tokio::test]
async fn the_poster_shows_the_prompt_escaped_with_model_and_quality() {
    let t = setup(fast()).await;
    let prompt = "<script>alert(1)</script> & \"a boat\"";
    let (task_id, item) = finished(
        &t,
        json!({"prompt": prompt, "model": "v4.5", "quality": "720p", "aspect_ratio": "9:16"}),
    )
    .await;
    let (status, headers, body) = fetch(&t, item["first_frame"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "image/svg+xml");
    let svg = String::from_utf8(body).expect("UTF-8");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    assert!(
        !svg.contains("<script"),
        "markup in the prompt is escaped: {svg}"
    );
    assert!(
        svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{svg}"
    );
    assert!(svg.contains("&amp; &quot;a boat&quot;"), "{svg}");
    assert!(svg.contains("v4.5 · 720p · 5 s"), "{svg}");
    assert!(svg.contains("width=\"720\" height=\"1280\""), "{svg}");
    assert!(svg.contains("first frame"));

    let (status, _, last) = fetch(&t, item["last_frame"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    let last = String::from_utf8(last).expect("UTF-8");
    assert!(
        last.contains("last frame") && last.contains("&lt;script&gt;"),
        "{last}"
    );

    // Another task has another background.
    let (_, other) = finished(
        &t,
        json!({"prompt": prompt, "model": "v4.5", "quality": "720p",
        "aspect_ratio": "9:16"}),
    )
    .await;
    let (_, _, other_svg) = fetch(&t, other["first_frame"].as_str().unwrap(), None).await;
    assert_ne!(String::from_utf8(other_svg).unwrap(), svg, "task {task_id}");
}

#[tokio::test]
async fn tasks_without_a_video_have_no_media() {
    let t = setup(fast()).await;
    let media = |name: &str| format!("{}/_sim/media/{name}", t.base);
    for unknown in [
        "f2a9e0de-0000-4000-8000-000000000000.mp4",
        "f2a9e0de-0000-4000-8000-000000000000.svg",
        "nope.gif",
        "x",
    ] {
        let (status, _, _) = fetch(&t, &media(unknown), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    }

    // A finished task has media until it is deleted; a known extension is needed.
    let (task_id, _) = finished(&t, json!({"prompt": "a paper boat"})).await;
    let (status, _, _) = fetch(&t, &media(&format!("{task_id}.png")), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let deleted = t
        .post_as(
            "/pixverse/tasks",
            TOKEN,
            json!({"action": "delete", "id": task_id}),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    for ext in ["mp4", "svg"] {
        let (status, _, _) = fetch(&t, &media(&format!("{task_id}.{ext}")), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "deleted {ext}");
    }

    // A running task has none yet.
    let slow = setup(slow()).await;
    let running = slow.submit_async(json!({"prompt": "later"})).await;
    let url = format!("{}/_sim/media/{running}.mp4", slow.base);
    assert_eq!(fetch(&slow, &url, None).await.0, StatusCode::NOT_FOUND);

    // Nor does a failed one.
    let failing = setup(fast().with_fault(Fault::GenerationFailed, 1.0)).await;
    let failed = failing.submit_async(json!({"prompt": "doomed"})).await;
    let record = failing.wait_finished(&failed).await;
    assert_eq!(record["response"]["success"], false, "{record}");
    let url = format!("{}/_sim/media/{failed}.svg", failing.base);
    assert_eq!(fetch(&failing, &url, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_public_url_replaces_the_listen_address_in_results() {
    let public = "https://sim.example:8443/upstream/";
    let config: SimConfig = fast().with_public_url(public.parse().expect("a URL"));
    let t = setup(config).await;
    assert_eq!(t.sim.public_url(), "https://sim.example:8443/upstream");
    let (task_id, item) = finished(&t, json!({"prompt": "a paper boat"})).await;
    assert_eq!(
        item["video_url"],
        format!("https://sim.example:8443/upstream/_sim/media/{task_id}.mp4")
    );
    // The simulator still serves them on its own address (a proxy maps the prefix away).
    let (status, _, body) = fetch(&t, &format!("{}/_sim/media/{task_id}.mp4", t.base), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[4..8], b"ftyp");
}
