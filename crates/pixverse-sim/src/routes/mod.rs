//! The HTTP surface: the three upstream endpoints, the gateway's `no_api` for anything else,
//! and the admin and media endpoints under `/_sim`. Every upstream request is counted and logged once,
//! here.

mod admin;
mod character;
mod media;
mod tasks;
mod videos;

use std::time::Instant;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Map, Value};

use crate::{
    envelope::{GatewayError, Rejection},
    state::Sim,
    token::{self, Access, Identity},
};

/// Marks a response whose connection was killed: it is counted as `dropped`, not by status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dropped;

/// The whole application, ready to serve.
pub(crate) fn router(sim: Sim) -> Router {
    Router::new()
        .route("/pixverse/videos", post(videos::submit).fallback(no_api))
        .route("/pixverse/tasks", post(tasks::tasks).fallback(no_api))
        .route(
            "/pixverse/character",
            post(character::create).fallback(no_api),
        )
        .fallback(no_api)
        .layer(middleware::from_fn_with_state(sim.clone(), observe))
        .merge(admin::router())
        .merge(media::router())
        .with_state(sim)
}

async fn no_api() -> Response {
    GatewayError::no_api().into_response()
}

/// The stats name of an upstream path.
fn endpoint_of(path: &str) -> &'static str {
    match path {
        "/pixverse/videos" => "videos",
        "/pixverse/tasks" => "tasks",
        "/pixverse/character" => "character",
        _ => "unknown",
    }
}

/// Counts each upstream request by endpoint and outcome, and logs it with the token's alias.
async fn observe(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let endpoint = endpoint_of(request.uri().path());
    let who =
        token::bearer(request.headers()).map_or_else(|_| "-".to_owned(), |t| token::alias(&t));
    let started = Instant::now();
    let response = next.run(request).await;
    let outcome = if response.extensions().get::<Dropped>().is_some() {
        "dropped".to_owned()
    } else {
        response.status().as_u16().to_string()
    };
    tracing::debug!(
        endpoint,
        %outcome,
        token = %who,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    sim.lock().stats.count_request(endpoint, outcome);
    response
}

/// The token of a request and the identity it may act as.
///
/// # Errors
///
/// The gateway's auth error.
fn authorize(
    sim: &Sim,
    headers: &HeaderMap,
    access: Access,
) -> Result<(String, Identity), GatewayError> {
    let token = token::bearer(headers)?;
    let identity = sim.lock().tokens.admit(&token, access)?;
    Ok((token, identity))
}

/// A request body that must be a JSON object.
///
/// # Errors
///
/// 400 `bad_request`.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    crate::validate::json_object(body).map_err(GatewayError::bad_request)
}

/// A 200 whose JSON was serialized while the state was locked (records borrow from it).
fn json_bytes(body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        Ok(bytes) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot serialize a response");
            Rejection::ApiError.into_response()
        }
    }
}
