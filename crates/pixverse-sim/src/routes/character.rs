//! `POST /pixverse/character`: a character (asset) from reference images, synchronously.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{authorize, json_object};
use crate::{
    envelope::{GatewayError, Rejection},
    state::Sim,
    token::Access,
    validate,
};

/// Answers `{"success":true,"task_id","data":{"asset_id"}}`; a later generate with that
/// `asset_id` echoes the character's `asset_name`.
pub(super) async fn create(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    character(&sim, &headers, &body).map_or_else(IntoResponse::into_response, |body| {
        Json(body).into_response()
    })
}

fn character(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Result<Value, Rejection> {
    authorize(sim, headers, Access::Spend)?;
    let fields = json_object(body)?;
    validate::character(&fields).map_err(GatewayError::bad_request)?;
    let mut state = sim.lock();
    let asset_id = state.next_id();
    let name = format!("my-{}", Uuid::new_v4());
    state.assets.insert(asset_id, name, sim.config().max_tasks);
    Ok(json!({
        "success": true,
        "task_id": Uuid::new_v4().to_string(),
        "data": {"asset_id": asset_id},
    }))
}
