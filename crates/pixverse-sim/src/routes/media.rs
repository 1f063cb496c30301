//! The media a finished task's result points at, served by the simulator itself and needing no
//! token: `GET /_sim/media/{task_id}.mp4` (with single byte ranges, as `<video>` asks for) and
//! `GET /_sim/media/{task_id}.svg[?frame=last]`. A task that is unknown, deleted, evicted,
//! unfinished or failed has no media: 404.

use std::time::Instant;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::Value;

use crate::{
    media::{ByteRange, Frame, MEDIA_PATH, Poster, SAMPLE_MP4, byte_range},
    state::Sim,
    task,
};

/// Media never changes for a task id.
const CACHE: HeaderValue = HeaderValue::from_static("public, max-age=86400, immutable");

/// The media routes, merged outside the request counting.
pub(super) fn router() -> Router<Sim> {
    Router::new().route(&format!("{MEDIA_PATH}/{{file}}"), get(media))
}

async fn media(
    State(sim): State<Sim>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(task_id) = file.strip_suffix(".mp4") {
        if result_item(&sim, task_id).is_none() {
            return not_found();
        }
        return video(&headers);
    }
    if let Some(task_id) = file.strip_suffix(".svg") {
        let Some(item) = result_item(&sim, task_id) else {
            return not_found();
        };
        let svg = Poster::from_item(task_id, &item).svg(Frame::from_query(query.as_deref()));
        return poster(svg);
    }
    not_found()
}

/// The first video item of a task that succeeded, if the task is still kept and not deleted.
fn result_item(sim: &Sim, task_id: &str) -> Option<Value> {
    let config = sim.config();
    let mut state = sim.lock();
    state
        .store
        .prune(config.max_tasks, config.retention, Instant::now(), 0);
    let task = state.store.find(task_id)?;
    let response = task
        .response
        .as_ref()
        .filter(|body| task::succeeded(body))?;
    response.get("data")?.get(0).cloned()
}

/// The MP4 fixture, whole or the one byte range asked for.
fn video(request: &HeaderMap) -> Response {
    let len = SAMPLE_MP4.len();
    let range = request
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .map_or(ByteRange::Full, |value| byte_range(value, len));
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, CACHE);
    let (status, body, content_range) = match range {
        ByteRange::Full => (StatusCode::OK, SAMPLE_MP4, None),
        ByteRange::Part { start, end } => (
            StatusCode::PARTIAL_CONTENT,
            &SAMPLE_MP4[start..=end],
            Some(format!("bytes {start}-{end}/{len}")),
        ),
        ByteRange::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            &[][..],
            Some(format!("bytes */{len}")),
        ),
    };
    if let Some(value) = content_range.and_then(|value| HeaderValue::from_str(&value).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    (status, headers, Bytes::from_static(body)).into_response()
}

/// An SVG poster; no script could run in it, and the policy says so too.
fn poster(svg: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (header::CACHE_CONTROL, CACHE),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'"),
            ),
        ],
        svg,
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        "no media: the task is unknown, not finished, failed or gone\n",
    )
        .into_response()
}
