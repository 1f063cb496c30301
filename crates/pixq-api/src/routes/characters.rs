//! `POST /v1/characters` and `GET /v1/characters`.
//!
//! Making a character is the one call the API makes to the upstream itself: it is
//! synchronous and paid, and the upstream has no way to look a character up afterwards. So
//! the store reserves the `Idempotency-Key` and the name first (see
//! [`pixq_core::character`]), the upstream is called in a task of its own that neither the
//! request deadline nor a client hanging up can cut short, and the reservation ends when the
//! upstream has answered:
//!
//! - a character: recorded, 201;
//! - a refusal (any 4xx), or no connection at all: nothing was made, the reservation is
//!   released, and the same key may be used again;
//! - anything else (a timeout, a dropped connection, a 5xx, an answer without `asset_id`):
//!   the upstream may have made (and billed) a character that pixq cannot see, so the key
//!   stays reserved and answers 409 `in_progress` from then on. Use a new key to try again.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use pixq_core::character::{
    Begin, Character, NewCharacter, RESERVATION_STALE_AFTER, Reservation, normalize_name,
};
use pixq_core::metrics::UPSTREAM_REQUESTS;
use pixq_core::spec::{HttpUrl, SpecErrorCode, fingerprint};
use pixq_core::store::{IdempotencyKey, SharedStore};
use pixverse::{AssetId, ErrorKind};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::REQUEST_DEADLINE;
use super::jobs::idempotency_key;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::JsonBody;
use crate::openapi::V1Errors;
use crate::openapi::bodies::CharacterRequest;
use crate::state::AppState;

/// The most reference images one character may be made from.
pub(crate) const MAX_IMAGES: usize = 10;

/// How many characters `GET /v1/characters` lists, newest first.
pub(crate) const MAX_LISTED: usize = 1000;

/// How long a request waits for the upstream before answering that the character is still
/// being made: less than the request deadline, so the answer says what happened.
const WAIT_FOR_UPSTREAM: Duration = REQUEST_DEADLINE.saturating_sub(Duration::from_secs(1));

/// How often recording a paid character is tried before giving up (with doubling pauses
/// from [`RECORD_FIRST_PAUSE`]): the upstream has been paid, so a store blip must not lose it.
const RECORD_TRIES: u32 = 6;

/// The pause after the first failed try to record a paid character.
const RECORD_FIRST_PAUSE: Duration = Duration::from_millis(250);

/// `{"characters": [...]}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CharacterList)]
pub(super) struct Listing {
    /// Newest first.
    characters: Vec<Character>,
}

/// A validated `POST /v1/characters` body.
struct Request {
    images: Vec<HttpUrl>,
    name: Option<String>,
}

impl Request {
    /// The body as it is compared for `Idempotency-Key`: URLs normalized, name trimmed.
    fn fingerprint(&self) -> String {
        let images: Vec<&str> = self.images.iter().map(HttpUrl::as_str).collect();
        fingerprint(&json!({"images": images, "name": self.name}))
    }
}

/// Makes a character from the images, or answers the first one again for a repeated
/// `Idempotency-Key` with the same body (200).
#[utoipa::path(
    post,
    path = "/v1/characters",
    tag = "catalog",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body (1 to 255 printable characters)")),
    request_body(content = CharacterRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The character was made", body = Character),
        (status = 200, description = "A replay: the character first made with this Idempotency-Key", body = Character),
        (status = 400, description = "The body is not JSON, or a header is invalid", body = ErrorEnvelope),
        (status = 402, description = "The upstream account cannot pay for it", body = ErrorEnvelope),
        (status = 409, description = "The Idempotency-Key or the name is taken, or still in progress", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than api.max_body", body = ErrorEnvelope),
        (status = 415, description = "The body is not application/json", body = ErrorEnvelope),
        (status = 422, description = "The body is not acceptable, or the upstream refused the images", body = ErrorEnvelope),
        (status = 429, description = "The upstream is rate limiting: try again later", body = ErrorEnvelope),
        (status = 502, description = "The upstream answered something pixq cannot use", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = parse(&body)?;
    let Some(client) = state.upstream().cloned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_not_configured",
            "this pixq has no upstream client, so it cannot make characters: set \
             upstream.token (or ACEDATACLOUD_API_TOKEN) where the API runs",
        ));
    };
    let new = NewCharacter {
        idempotency: key.map(|key| IdempotencyKey {
            key,
            fingerprint: request.fingerprint(),
        }),
        name: request.name.clone(),
    };
    let reservation = match state
        .store()
        .characters()
        .begin(&new, RESERVATION_STALE_AFTER)
        .await?
    {
        Begin::Reserved(reservation) => reservation,
        Begin::Replay(character) => return Ok(answer(StatusCode::OK, character)),
        Begin::Conflict { key } => return Err(key_conflict(&key)),
        Begin::InProgress { key, since } => return Err(in_progress(&key, since)),
        Begin::NameTaken { name } => return Err(name_taken(&name)),
    };
    // In a task of its own: once the upstream is called, its answer is recorded even when
    // this request is cut short.
    let store = SharedStore::clone(state.store());
    let made = tokio::spawn(make(store, client, reservation, request.images));
    match tokio::time::timeout(WAIT_FOR_UPSTREAM, made).await {
        Ok(Ok(Ok(character))) => Ok(answer(StatusCode::CREATED, character)),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "making a character stopped");
            Err(ApiError::internal())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "in_progress",
            "the upstream is still making the character: it will be listed by GET \
             /v1/characters once made, and the same request with the same Idempotency-Key \
             answers it then",
        )),
    }
}

/// Every character, newest first (at most [`MAX_LISTED`]).
#[utoipa::path(
    get,
    path = "/v1/characters",
    tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every character, newest first", body = Listing),
        V1Errors,
    )
)]
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Listing>, ApiError> {
    let characters = state.store().characters().list(MAX_LISTED).await?;
    Ok(Json(Listing { characters }))
}

fn answer(status: StatusCode, character: Character) -> Response {
    (status, Json(character)).into_response()
}

/// Calls the upstream for `reservation` and ends the reservation as the answer allows (see
/// the [module docs](self)).
async fn make(
    store: SharedStore,
    client: pixverse::Client,
    reservation: Reservation,
    images: Vec<HttpUrl>,
) -> Result<Character, ApiError> {
    let urls: Vec<url::Url> = images.iter().map(|u| u.as_url().clone()).collect();
    let answered = client.create_character(&urls).await;
    count(&answered);
    let error = match answered {
        Ok(answer) => match answer.asset_id() {
            Some(asset_id) => {
                let images = images.iter().map(|u| u.as_str().to_owned()).collect();
                return record(&store, &reservation, asset_id, images).await;
            }
            None => {
                tracing::error!(
                    reservation = %reservation.id,
                    "the upstream answered a character without an asset_id; its key stays \
                     reserved"
                );
                return Err(unknown_outcome());
            }
        },
        Err(e) => e,
    };
    if nothing_was_made(&error) {
        if let Err(e) = store.characters().abandon(&reservation).await {
            // Left reserved: the key answers in_progress, and the name frees itself later.
            tracing::warn!(reservation = %reservation.id, error = %e,
                "could not release a character reservation the upstream refused");
        }
    } else {
        tracing::warn!(reservation = %reservation.id, error = %error,
            "the upstream's answer to a character creation is unknown; its key stays reserved");
    }
    Err(upstream_error(&error))
}

/// Records the paid character, trying again while the store fails: the upstream has made
/// it, and the reservation keeps the key from paying twice meanwhile.
async fn record(
    store: &SharedStore,
    reservation: &Reservation,
    asset_id: AssetId,
    images: Vec<String>,
) -> Result<Character, ApiError> {
    let mut pause = RECORD_FIRST_PAUSE;
    let mut tries = 1;
    loop {
        match store
            .characters()
            .finish(reservation, asset_id, images.clone())
            .await
        {
            Ok(character) => {
                tracing::info!(character = %character.id, %asset_id, "character made");
                return Ok(character);
            }
            Err(e) if tries < RECORD_TRIES => {
                tracing::warn!(reservation = %reservation.id, %asset_id, error = %e,
                    "could not record a paid character yet; trying again");
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
                tries += 1;
            }
            Err(e) => {
                tracing::error!(reservation = %reservation.id, %asset_id, error = %e,
                    "the upstream made a character that could not be recorded; its key stays \
                     reserved");
                return Err(e.into());
            }
        }
    }
}

/// Counts the upstream call as the worker counts its own.
fn count<T>(answered: &Result<T, pixverse::Error>) {
    let status = match answered {
        Ok(_) => "200".to_owned(),
        Err(e) => e
            .status()
            .map_or_else(|| e.kind().as_str().to_owned(), |s| s.to_string()),
    };
    metrics::counter!(UPSTREAM_REQUESTS, "endpoint" => "character", "status" => status)
        .increment(1);
}

/// Whether the upstream certainly made nothing: it refused (a 4xx, 429 included), the
/// connection could not be made, or the request was never built.
fn nothing_was_made(e: &pixverse::Error) -> bool {
    if e.status().is_some_and(|s| (400..500).contains(&s)) {
        return true;
    }
    if e.kind() == ErrorKind::Config {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(transport) = cause.downcast_ref::<reqwest::Error>() {
            return transport.is_connect();
        }
        source = cause.source();
    }
    false
}

/// The upstream's failure as the client should read it; never the token or the base URL
/// (the client's messages carry neither).
fn upstream_error(e: &pixverse::Error) -> ApiError {
    let said = e.message().trim_end_matches('.');
    match e.kind() {
        ErrorKind::RateLimited { .. } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "the upstream is rate limiting pixq; nothing was made: try again in a few seconds",
        ),
        ErrorKind::Account if e.code() == Some("used_up") => ApiError::new(
            StatusCode::PAYMENT_REQUIRED,
            "used_up",
            "the upstream account's balance is used up; nothing was made: top it up at \
             platform.acedata.cloud, then try again",
        ),
        ErrorKind::Account => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_account",
            format!(
                "the upstream refused pixq's token ({}); nothing was made: an operator must \
                 fix upstream.token",
                e.code().unwrap_or("no code")
            ),
        ),
        ErrorKind::Permanent => {
            let code = e.code().unwrap_or("upstream_rejected").to_owned();
            let refused = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                format!("the upstream refused to make the character: {said}"),
            );
            if e.code() == Some("bad_request") {
                refused.with_field("images")
            } else {
                refused
            }
        }
        _ if nothing_was_made(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream_unavailable",
            "the upstream could not be reached; nothing was made: try again shortly",
        ),
        _ => unknown_outcome(),
    }
}

fn unknown_outcome() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "upstream_outcome_unknown",
        "the upstream did not answer clearly, and may have made the character anyway: pixq \
         cannot tell. This Idempotency-Key stays reserved (409 in_progress); to try again, \
         use a new key",
    )
}

fn key_conflict(key: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_conflict",
        format!(
            "Idempotency-Key {key:?} was first used with another body: resend the same body, \
             or use a new key"
        ),
    )
    .with_field("Idempotency-Key")
}

fn in_progress(key: &str, since: DateTime<Utc>) -> ApiError {
    let age = (Utc::now() - since).to_std().unwrap_or_default();
    let message = if age < RESERVATION_STALE_AFTER {
        format!(
            "a character for Idempotency-Key {key:?} is still being made (since {}): send the \
             same request again shortly to get it",
            since.to_rfc3339()
        )
    } else {
        format!(
            "the character for Idempotency-Key {key:?} was started at {} and never finished: \
             the upstream may have made it, and pixq cannot tell, so this key will not pay \
             again. Use a new key to try again",
            since.to_rfc3339()
        )
    };
    ApiError::new(StatusCode::CONFLICT, "in_progress", message).with_field("Idempotency-Key")
}

fn name_taken(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "name_taken",
        format!(
            "a character named {name:?} exists (or is being made): pick another name, or use \
             that one"
        ),
    )
    .with_field("name")
}

/// Reads and checks the body: `images` (1 to [`MAX_IMAGES`] http(s) URLs) and an optional
/// `name`; anything else is refused.
fn parse(body: &[u8]) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let message = if body.iter().all(u8::is_ascii_whitespace) {
            "the body is empty: send a JSON object such as {\"images\": [\"https://…/face.png\"]}"
                .to_owned()
        } else {
            format!("the body is not valid JSON: {e}")
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            SpecErrorCode::InvalidJson.as_str(),
            message,
        )
    })?;
    let Value::Object(fields) = value else {
        return Err(invalid(
            SpecErrorCode::InvalidType,
            None,
            "the body must be a JSON object such as {\"images\": [\"https://…/face.png\"]}",
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["images", "name"].contains(&k.as_str()))
    {
        let shown: String = unknown.chars().take(64).collect();
        return Err(invalid(
            SpecErrorCode::UnknownField,
            Some(shown.clone()),
            format!("{shown:?} is not a field of a character: send images and name only"),
        ));
    }
    Ok(Request {
        images: images(&fields)?,
        name: name(&fields)?,
    })
}

fn images(fields: &Map<String, Value>) -> Result<Vec<HttpUrl>, ApiError> {
    let field = "images";
    let items = match fields.get(field) {
        None | Some(Value::Null) => {
            return Err(invalid(
                SpecErrorCode::MissingField,
                Some(field.into()),
                "images is required: the URLs of 1 to 10 reference images",
            ));
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(invalid(
                SpecErrorCode::InvalidType,
                Some(field.into()),
                "images must be an array of image URLs",
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_IMAGES {
        return Err(invalid(
            SpecErrorCode::InvalidValue,
            Some(field.into()),
            format!("images has {} URLs; give 1 to {MAX_IMAGES}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("images[{i}]");
            let text = item.as_str().ok_or_else(|| {
                invalid(
                    SpecErrorCode::InvalidType,
                    Some(at.clone()),
                    "each image must be a URL string",
                )
            })?;
            HttpUrl::parse(text)
                .map_err(|e| invalid(SpecErrorCode::InvalidValue, Some(at), e.to_string()))
        })
        .collect()
}

fn name(fields: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match fields.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => normalize_name(text).map(Some).map_err(|e| {
            invalid(
                SpecErrorCode::InvalidValue,
                Some("name".into()),
                e.to_string(),
            )
        }),
        Some(_) => Err(invalid(
            SpecErrorCode::InvalidType,
            Some("name".into()),
            "name must be a string",
        )),
    }
}

fn invalid(code: SpecErrorCode, field: Option<String>, message: impl Into<String>) -> ApiError {
    let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code.as_str(), message);
    match field {
        Some(field) => error.with_field(field),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_and_field(body: &str) -> (String, Option<String>) {
        let e = parse(body.as_bytes()).err().expect("an error");
        (e.code().to_owned(), e.field().map(str::to_owned))
    }

    #[test]
    fn a_body_is_checked_field_by_field() {
        let ok = parse(br#"{"images": ["HTTPS://A.test/x.png"], "name": " alice "}"#).unwrap();
        assert_eq!(ok.images[0].as_str(), "https://a.test/x.png");
        assert_eq!(ok.name.as_deref(), Some("alice"));
        assert_eq!(code_and_field("{"), ("invalid_json".into(), None));
        assert_eq!(code_and_field("[]"), ("invalid_type".into(), None));
        assert_eq!(
            code_and_field(r#"{}"#),
            ("missing_field".into(), Some("images".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": []}"#),
            ("invalid_value".into(), Some("images".into()))
        );
        let eleven = vec!["https://a.test/x.png"; MAX_IMAGES + 1];
        let body = json!({ "images": eleven }).to_string();
        assert_eq!(
            code_and_field(&body),
            ("invalid_value".into(), Some("images".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": ["https://a.test/1.png", "ftp://a.test/2.png"]}"#),
            ("invalid_value".into(), Some("images[1]".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": [7]}"#),
            ("invalid_type".into(), Some("images[0]".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": ["https://a.test/1.png"], "name": "12345"}"#),
            ("invalid_value".into(), Some("name".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": ["https://a.test/1.png"], "name": "  "}"#),
            ("invalid_value".into(), Some("name".into()))
        );
        let long = json!({"images": ["https://a.test/1.png"], "name": "x".repeat(65)});
        assert_eq!(
            code_and_field(&long.to_string()),
            ("invalid_value".into(), Some("name".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": ["https://a.test/1.png"], "name": 5}"#),
            ("invalid_type".into(), Some("name".into()))
        );
        assert_eq!(
            code_and_field(r#"{"images": ["https://a.test/1.png"], "asset_id": 5}"#),
            ("unknown_field".into(), Some("asset_id".into()))
        );
    }

    #[test]
    fn equal_requests_have_equal_fingerprints() {
        let a = parse(br#"{"name": "alice", "images": ["https://a.test/x.png"]}"#).unwrap();
        let b = parse(br#"{"images": ["HTTPS://a.test/x.png"], "name": "alice  "}"#).unwrap();
        let c = parse(br#"{"images": ["https://a.test/x.png"]}"#).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
