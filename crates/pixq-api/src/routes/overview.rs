//! `GET /v1/overview`: the schedule's depth and each upstream token's load and pause, for the
//! dashboard and for scripts that want them without parsing `/metrics`.

use axum::Json;
use axum::extract::State;

use crate::error::{ApiError, ErrorEnvelope};
use crate::overview::{self, Overview};
use crate::state::AppState;

/// The overview, read from the store now.
#[utoipa::path(
    get,
    path = "/v1/overview",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The schedule's depth and each upstream token's load and pause", body = Overview),
        (status = 401, description = "No or a wrong bearer token (when api.tokens is set)", body = ErrorEnvelope),
        (status = 500, description = "An internal error; the details are in pixq's log", body = ErrorEnvelope),
        (status = 503, description = "The store is unavailable or slow: try again shortly", body = ErrorEnvelope),
    )
)]
pub(super) async fn show(State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    Ok(Json(overview::read(&state).await?))
}
