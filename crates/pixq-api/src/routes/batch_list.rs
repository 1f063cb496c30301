//! `GET /v1/batches?limit=&cursor=`: accepted batches newest first, a page at a time, as
//! `GET /v1/jobs` pages jobs.

use axum::Json;
use axum::extract::{RawQuery, State};
use pixq_core::store::Cursor;
use serde::Serialize;

use super::listing::{DEFAULT_LIMIT, parse_limit, query_pairs};
use crate::error::{ApiError, ErrorEnvelope};
use crate::openapi::V1Errors;
use crate::state::AppState;
use crate::webhooks::batch_views;
use pixq_core::view::BatchView;

/// One page of batches.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = BatchListPage)]
pub(super) struct BatchListPage {
    /// The batches, newest first.
    batches: Vec<BatchView>,
    /// Where the next page starts; `null` when the listing is complete.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Lists batches newest first. As with jobs, a page may hold fewer than `limit` while
/// `next_cursor` is set; the listing is complete only when `next_cursor` is null.
#[utoipa::path(
    get,
    path = "/v1/batches",
    tag = "batches",
    security(("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Batches a page, 50 when not given"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "A page of batches, newest first", body = BatchListPage),
        (status = 400, description = "A parameter is unknown, repeated or invalid; `field` names it", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<BatchListPage>, ApiError> {
    let (limit, cursor) = parse(query.as_deref().unwrap_or_default())?;
    let page = state
        .store()
        .batches()
        .list(cursor.as_ref(), limit.unwrap_or(DEFAULT_LIMIT))
        .await?;
    Ok(Json(BatchListPage {
        batches: batch_views(&state, page.batches).await?,
        next_cursor: page.next_cursor.map(|c| c.as_str().to_owned()),
    }))
}

/// `limit` and `cursor`, each at most once; an empty value is the same as none.
fn parse(query: &str) -> Result<(Option<usize>, Option<Cursor>), ApiError> {
    let (mut limit, mut cursor) = (None, None);
    for (name, value) in query_pairs(query, &["limit", "cursor"])? {
        if name == "limit" {
            limit = Some(parse_limit(&value)?);
        } else {
            cursor = Some(Cursor::new(value.as_str()));
        }
    }
    Ok((limit, cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limit_and_cursor_and_names_a_bad_parameter() {
        let (limit, cursor) = parse("limit=7&cursor=abc").unwrap();
        assert_eq!((limit, cursor), (Some(7), Some(Cursor::new("abc"))));
        assert_eq!(parse("limit=&cursor=").unwrap(), (None, None));
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("state=failed", "state"),
            ("cursor=a&cursor=b", "cursor"),
        ] {
            assert_eq!(parse(query).unwrap_err().field(), Some(field), "{query}");
        }
    }
}
