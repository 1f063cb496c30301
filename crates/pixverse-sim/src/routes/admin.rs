//! The admin endpoints under `/_sim`, which need no token: the ledger, the stats, and run-time
//! changes to faults, tokens and latency.

use std::time::Instant;

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::HeaderValue,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::{json_bytes, json_object};
use crate::{
    config::Latency,
    envelope::GatewayError,
    fault::{Fault, FaultRates},
    state::Sim,
    token::TokenState,
    validate::field,
};

/// The header that tells how many ledger entries were dropped for age or room.
const LEDGER_DROPPED: &str = "x-sim-ledger-dropped";

/// The admin routes, merged outside the request counting.
pub(super) fn router() -> Router<Sim> {
    Router::new()
        .route("/_sim/ledger", get(ledger))
        .route("/_sim/stats", get(stats))
        .route("/_sim/faults", post(set_faults).get(faults))
        .route("/_sim/tokens", post(set_token))
        .route("/_sim/latency", post(set_latency))
        .route("/_sim/healthz", get(healthz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Every task created, oldest first; the header counts the entries no longer kept.
async fn ledger(State(sim): State<Sim>) -> Response {
    let config = sim.config();
    let mut state = sim.lock();
    state
        .ledger
        .prune(config.max_tasks, config.retention, Instant::now(), 0);
    let mut response = json_bytes(serde_json::to_vec(state.ledger.entries()));
    response
        .headers_mut()
        .insert(LEDGER_DROPPED, HeaderValue::from(state.ledger.dropped()));
    response
}

async fn stats(State(sim): State<Sim>) -> Json<Value> {
    let state = sim.lock();
    let in_flight: Map<String, Value> = state
        .loads
        .iter()
        .map(|(token, load)| (token.clone(), Value::from(load.in_flight)))
        .collect();
    let max_seen: Map<String, Value> = state
        .loads
        .iter()
        .map(|(token, load)| (token.clone(), Value::from(load.max_seen)))
        .collect();
    Json(json!({
        "requests": state.stats.requests(),
        "in_flight": in_flight,
        "max_in_flight_seen": max_seen,
        "callbacks": state.stats.callbacks,
        "tasks_stored": state.store.len(),
        "tasks_evicted": state.store.evicted(),
        "ledger_size": state.ledger.entries().len(),
        "ledger_dropped": state.ledger.dropped(),
    }))
}

fn rates_json(rates: &FaultRates) -> Json<Value> {
    let map: Map<String, Value> = rates
        .iter()
        .map(|(fault, rate)| (fault.as_str().to_owned(), Value::from(rate)))
        .collect();
    Json(Value::Object(map))
}

async fn faults(State(sim): State<Sim>) -> Json<Value> {
    rates_json(&sim.lock().faults)
}

/// Sets the rates given and keeps the others; all or nothing: one bad entry changes nothing.
async fn set_faults(State(sim): State<Sim>, body: Bytes) -> Response {
    let fields = match json_object(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let mut rates = sim.lock().faults;
    for (name, value) in &fields {
        let fault = match name.parse::<Fault>() {
            Ok(fault) => fault,
            Err(err) => return GatewayError::bad_request(err.to_string()).into_response(),
        };
        if rates
            .set(fault, value.as_f64().unwrap_or(f64::NAN))
            .is_err()
        {
            let message = format!("the rate of {fault} must be a number from 0 to 1, got {value}");
            return GatewayError::bad_request(message).into_response();
        }
    }
    let mut state = sim.lock();
    state.faults = rates;
    tracing::info!(?rates, "fault rates changed");
    rates_json(&state.faults).into_response()
}

/// Adds a token or changes its state, e.g. tops up a used-up token with `"state":"ok"`.
async fn set_token(State(sim): State<Sim>, body: Bytes) -> Response {
    let fields = match json_object(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let token = match field(&fields, "token").and_then(Value::as_str) {
        Some(token) if !token.trim().is_empty() => token,
        _ => return GatewayError::bad_request("token must be a non-empty string").into_response(),
    };
    let state = match field(&fields, "state")
        .and_then(Value::as_str)
        .map(str::parse::<TokenState>)
    {
        Some(Ok(state)) => state,
        Some(Err(message)) => return GatewayError::bad_request(message).into_response(),
        None => {
            return GatewayError::bad_request(
                "state is required: ok, used_up, invalid, disabled, expired or mismatched",
            )
            .into_response();
        }
    };
    sim.lock().tokens.set(token, state);
    Json(json!({"token": token, "state": state.as_str()})).into_response()
}

/// Changes the latency of tasks submitted from now on: `{"latency":"200ms..300ms"}`.
async fn set_latency(State(sim): State<Sim>, body: Bytes) -> Response {
    let fields = match json_object(&body) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let latency = match field(&fields, "latency")
        .and_then(Value::as_str)
        .map(str::parse::<Latency>)
    {
        Some(Ok(latency)) => latency,
        Some(Err(err)) => {
            return GatewayError::bad_request(format!("latency: {err}")).into_response();
        }
        None => {
            return GatewayError::bad_request("latency is required, e.g. \"2s..3s\"")
                .into_response();
        }
    };
    sim.lock().latency = latency;
    Json(json!({"latency": latency.to_string()})).into_response()
}
