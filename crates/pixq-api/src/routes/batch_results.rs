//! `GET /v1/batches/{id}/results`: NDJSON, one line per chain in the order submitted, each
//! with its final video or its error.
//!
//! It streams: a page of chains is read, written out and dropped before the next is read,
//! so a batch of 100,000 never sits in memory whole. A store failure mid-way ends the
//! response early (the client sees a truncated body, and the failure is logged).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pixq_core::job::BatchId;

use super::batches::{BatchPath, found, ndjson_chunk};
use crate::batch_view::ResultLine;
use crate::chains;
use crate::error::{ApiError, ErrorEnvelope};
use crate::openapi::V1Errors;
use crate::state::AppState;

/// Chains read per page of the stream.
const PAGE: usize = 500;

/// The results, streamed; 404 for an unknown batch.
#[utoipa::path(
    get,
    path = "/v1/batches/{id}/results",
    tag = "batches",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "NDJSON: one ResultLine a line, in the order submitted (described as the array of the lines)", content_type = "application/x-ndjson", body = [ResultLine]),
        (status = 404, description = "No such batch", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn results(
    State(state): State<AppState>,
    BatchPath(id): BatchPath,
) -> Result<Response, ApiError> {
    found(&state, &id).await?;
    let pages = futures::stream::try_unfold(
        (state, id, 0usize),
        |(state, id, offset)| async move {
            let page = page(&state, &id, offset).await.map_err(|e| {
            tracing::warn!(batch = %id, offset, error = %e.message(), "the results stream ended early");
            std::io::Error::other(e.message().to_owned())
        })?;
            Ok::<_, std::io::Error>(page.map(|(bytes, read)| (bytes, (state, id, offset + read))))
        },
    );
    let mut response = Body::from_stream(pages).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

/// The lines of the page of chains from `offset`, and how many chains it read; `None` past
/// the last.
async fn page(
    state: &AppState,
    batch: &BatchId,
    offset: usize,
) -> Result<Option<(Bytes, usize)>, ApiError> {
    let roots = state.store().batches().roots(batch, offset, PAGE).await?;
    if roots.is_empty() {
        return Ok(None);
    }
    let chains = chains::read(state.store(), &roots).await?;
    let lines: Vec<ResultLine> = chains
        .iter()
        .enumerate()
        .map(|(i, chain)| ResultLine::of(offset + i, chain))
        .collect();
    Ok(Some((ndjson_chunk(&lines)?, roots.len())))
}
