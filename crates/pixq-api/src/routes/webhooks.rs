//! `GET /v1/webhooks/dead` and `POST /v1/webhooks/{id}/resend`: the events no attempt
//! delivered (given up after `webhooks.give_up_after`, or refused by the outbound policy),
//! and sending one again under the same `webhook-id` and body.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use pixq_core::outbox::{DeliveryState, Event, EventId, EventKind, Resent};
use serde::Serialize;

use super::listing::{parse_limit, query_pairs};
use crate::error::{ApiError, ErrorEnvelope};
use crate::openapi::V1Errors;
use crate::state::AppState;

/// How many dead events are listed when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// An event as the API shows it: everything but its body (the job or batch object, which
/// its own route shows).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEvent)]
pub(super) struct EventView {
    /// The event's id: the `webhook-id` header.
    id: EventId,
    /// `job.finished` or `batch.finished`.
    #[serde(rename = "type")]
    kind: EventKind,
    /// The job or batch it is about.
    subject: String,
    /// Where it goes.
    url: String,
    /// Where it stands.
    state: DeliveryState,
    /// Attempts made since it was written or last re-sent.
    attempts: u32,
    /// Why the last attempt failed, if one did.
    #[schema(required = true)]
    last_error: Option<String>,
    /// When it was written.
    created_at: DateTime<Utc>,
    /// When it was delivered or died.
    #[schema(required = true)]
    ended_at: Option<DateTime<Utc>>,
}

impl From<Event> for EventView {
    fn from(event: Event) -> Self {
        EventView {
            id: event.id,
            kind: event.kind,
            subject: event.subject,
            url: event.url,
            state: event.state,
            attempts: event.attempts,
            last_error: event.last_error,
            created_at: event.created_at,
            ended_at: event.ended_at,
        }
    }
}

/// The answer of `GET /v1/webhooks/dead`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DeadWebhooks)]
pub(super) struct DeadList {
    /// The dead events, the latest to die first.
    events: Vec<EventView>,
}

/// Dead events, the latest to die first; `?limit=` up to 500.
#[utoipa::path(
    get,
    path = "/v1/webhooks/dead",
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Events listed, 50 when not given"),
    ),
    responses(
        (status = 200, description = "Events no attempt delivered (given up or refused)", body = DeadList),
        (status = 400, description = "A parameter is unknown, repeated or invalid; `field` names it", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn dead(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeadList>, ApiError> {
    let limit = limit(query.as_deref().unwrap_or_default())?;
    let events = state.store().outbox().dead(limit).await?;
    Ok(Json(DeadList {
        events: events.into_iter().map(EventView::from).collect(),
    }))
}

/// Makes a dead event pending again, due now, with a fresh day of attempts: 202 with the
/// event. 404 for an unknown one, 409 for one that is not dead.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/resend",
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The event's id (`webhook-id`)")),
    responses(
        (status = 202, description = "The event, pending again under the same id and body", body = EventView),
        (status = 404, description = "No such event (or it expired)", body = ErrorEnvelope),
        (status = 409, description = "The event is not dead", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EventView>), ApiError> {
    let id = EventId::from(id);
    let outbox = state.store().outbox();
    match outbox.resend(&id).await? {
        Resent::Resent => {
            tracing::info!(event = %id, "webhook event re-sent");
            let event = outbox
                .get(&id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("webhook event {id} does not exist")))?;
            Ok((StatusCode::ACCEPTED, Json(EventView::from(event))))
        }
        Resent::NotDead(current) => Err(ApiError::conflict(format!(
            "webhook event {id} is {}: only a failed or refused event can be re-sent",
            current.as_str()
        ))),
        Resent::Unknown => Err(ApiError::not_found(format!(
            "webhook event {id} does not exist"
        ))),
    }
}

/// `limit=N` (1 to 500, as the jobs' listing); nothing else is accepted.
fn limit(query: &str) -> Result<usize, ApiError> {
    match query_pairs(query, &["limit"])?.pop() {
        Some((_, value)) => parse_limit(&value),
        None => Ok(DEFAULT_LIMIT),
    }
}
