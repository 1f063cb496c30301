//! `POST /pixverse/videos`: generate or extend, in sync, async or callback mode.

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json, value::RawValue};

use super::{Dropped, authorize, json_object};
use crate::{
    admission::{self, Admitted, Refusal, Submit},
    envelope::{self, GatewayError, Rejection},
    fault::Fault,
    listener::Connection,
    state::Sim,
    task,
    token::Access,
    validate,
};

/// Auth, validation, admission, then the answer the mode and the faults call for.
pub(super) async fn submit(
    State(sim): State<Sim>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&sim, &headers, &body) {
        Ok(admitted) => answer(&sim, &connection, admitted).await,
        Err(rejection) => rejection.into_response(),
    }
}

fn admit(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Result<Admitted, Rejection> {
    let (token, identity) = authorize(sim, headers, Access::Spend)?;
    let fields = json_object(body)?;
    let request: Box<RawValue> = serde_json::from_slice(body)
        .map_err(|_| GatewayError::bad_request(envelope::INVALID_JSON))?;
    let params = validate::video(&fields, |video_id| sim.lock().store.has_video(video_id))
        .map_err(GatewayError::bad_request)?;
    let submit = Submit {
        token,
        identity,
        params,
        request,
    };
    admission::admit(sim, submit).map_err(|refusal| match refusal {
        Refusal::Busy | Refusal::Fault(Fault::RateLimit) => {
            GatewayError::too_many_requests().into()
        }
        Refusal::Fault(Fault::Moderation) => Rejection::Moderation,
        Refusal::Fault(Fault::BareError) => Rejection::BareError,
        Refusal::Fault(_) => Rejection::ApiError,
    })
}

async fn answer(sim: &Sim, connection: &Connection, admitted: Admitted) -> Response {
    let delay = sim.config().answer_delay;
    if !delay.is_zero() && admitted.done.is_none() {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = sim.shutdown().cancelled() => return GatewayError::timeout().into_response(),
        }
    }
    match admitted.garbled {
        Some(Fault::Timeout) => return GatewayError::timeout().into_response(),
        Some(Fault::NotJson) => return envelope::not_json(),
        Some(_) => {
            tracing::debug!(
                peer = %connection.peer,
                task_id = %admitted.task_id,
                "drop_after_submit: closing without an answer"
            );
            connection.switch.kill();
            let mut response = StatusCode::OK.into_response();
            response.extensions_mut().insert(Dropped);
            return response;
        }
        None => {}
    }
    // Only a sync submit answered normally waits for its task.
    let Some(done) = admitted.done else {
        return Json(json!({"task_id": admitted.task_id})).into_response();
    };
    let body = tokio::select! {
        finished = done => finished.ok(),
        () = sim.shutdown().cancelled() => None,
    };
    match body {
        Some(body) if task::succeeded(&body) => Json(body).into_response(),
        Some(body) => {
            let code = body
                .pointer("/error/code")
                .and_then(Value::as_str)
                .unwrap_or("api_error");
            (envelope::status_of(code), Json(body)).into_response()
        }
        None => GatewayError::timeout().into_response(),
    }
}
