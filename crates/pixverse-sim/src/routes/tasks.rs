//! `POST /pixverse/tasks`: retrieve one task, retrieve a batch, or delete one. Polls are free
//! but limited to one a second per task.

use std::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{authorize, json_bytes, json_object};
use crate::{
    envelope::{GatewayError, Rejection},
    fault::Fault,
    state::Sim,
    store::{BatchQuery, TooSoon},
    task::Record,
    token::Access,
    validate::field,
};

/// `retrieve_batch` returns 50 records unless told otherwise.
const DEFAULT_LIMIT: usize = 50;
/// ... and never more than 100.
const MAX_LIMIT: usize = 100;

#[derive(Serialize)]
struct Batch<'a> {
    items: Vec<Record<'a>>,
    count: usize,
}

/// Dispatches on `action` (default `retrieve`) after auth and the faults of this endpoint.
pub(super) async fn tasks(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&sim, &headers, &body).unwrap_or_else(IntoResponse::into_response)
}

fn handle(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Result<Response, Rejection> {
    let (token, _) = authorize(sim, headers, Access::Lookup)?;
    let fields = json_object(body)?;
    {
        let mut guard = sim.lock();
        let state = &mut *guard;
        if state.dice.strikes(state.faults.get(Fault::ApiError)) {
            return Err(Rejection::ApiError);
        }
        if state.dice.strikes(state.faults.get(Fault::RateLimit)) {
            return Err(GatewayError::too_many_requests().into());
        }
    }
    let action = match field(&fields, "action") {
        None => "retrieve",
        Some(value) => value.as_str().unwrap_or_default(),
    };
    match action {
        "retrieve" => retrieve(sim, &fields),
        "retrieve_batch" => retrieve_batch(sim, &token, &fields),
        "delete" => delete(sim, &fields),
        _ => Err(GatewayError::api_not_implemented().into()),
    }
}

fn task_id(fields: &Map<String, Value>) -> Result<&str, GatewayError> {
    field(fields, "id")
        .and_then(Value::as_str)
        .ok_or_else(|| GatewayError::bad_request("id is required and must be a task id string"))
}

fn too_soon(_: TooSoon) -> GatewayError {
    GatewayError::too_many_requests()
}

/// The record, or `{}` (a record without `id`) for an unknown id, as the upstream leaves it.
fn retrieve(sim: &Sim, fields: &Map<String, Value>) -> Result<Response, Rejection> {
    let id = task_id(fields)?;
    let mut state = sim.lock();
    let record = state
        .store
        .poll(id, Instant::now(), sim.config())
        .map_err(too_soon)?;
    Ok(match record {
        Some(record) => json_bytes(serde_json::to_vec(&record)),
        None => Json(json!({})).into_response(),
    })
}

fn retrieve_batch(
    sim: &Sim,
    token: &str,
    fields: &Map<String, Value>,
) -> Result<Response, Rejection> {
    let query = batch_query(fields).map_err(GatewayError::bad_request)?;
    let mut state = sim.lock();
    let (items, count) = state
        .store
        .batch(token, &query, Instant::now(), sim.config())
        .map_err(too_soon)?;
    Ok(json_bytes(serde_json::to_vec(&Batch { items, count })))
}

fn delete(sim: &Sim, fields: &Map<String, Value>) -> Result<Response, Rejection> {
    let id = task_id(fields)?;
    let deleted = sim.lock().store.delete(id);
    Ok(Json(json!({"id": id, "deleted": deleted})).into_response())
}

fn batch_query(fields: &Map<String, Value>) -> Result<BatchQuery, String> {
    let ids = match field(fields, "ids") {
        None => None,
        Some(Value::Array(ids)) => Some(
            ids.iter()
                .map(|id| id.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("ids must be an array of task id strings")?,
        ),
        Some(_) => return Err("ids must be an array of task id strings".to_owned()),
    };
    Ok(BatchQuery {
        ids,
        limit: count(fields, "limit")?
            .unwrap_or(DEFAULT_LIMIT)
            .min(MAX_LIMIT),
        offset: count(fields, "offset")?.unwrap_or(0),
        created_at_min: seconds(fields, "created_at_min")?,
        created_at_max: seconds(fields, "created_at_max")?,
    })
}

fn count(fields: &Map<String, Value>, name: &str) -> Result<Option<usize>, String> {
    match field(fields, name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{name} must be a non-negative integer, got {value}")),
    }
}

/// Epoch seconds, as a number (floats allowed) or a numeric string.
fn seconds(fields: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match field(fields, name) {
        None => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(Value::String(text)) if text.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
            Ok(text.trim().parse().ok())
        }
        Some(value) => Err(format!("{name} must be epoch seconds, got {value}")),
    }
}
