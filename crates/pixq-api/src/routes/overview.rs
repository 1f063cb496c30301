//! `GET /v1/overview`: the schedule's depth and each upstream token's load and pause, for the
//! dashboard and for scripts that want them without parsing `/metrics`.

use axum::Json;
use axum::extract::State;

use crate::error::ApiError;
use crate::openapi::V1Errors;
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
        V1Errors,
    )
)]
pub(super) async fn show(State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    Ok(Json(overview::read(&state).await?))
}
