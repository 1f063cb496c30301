//! `GET /v1/jobs?state=&batch=&limit=&cursor=`: jobs newest first, a page at a time.

use axum::Json;
use axum::extract::{RawQuery, State};
use pixq_core::job::BatchId;
use pixq_core::spec::SpecErrorCode;
use pixq_core::state::JobState;
use pixq_core::store::{Cursor, ListFilter};
use serde::Serialize;

use crate::error::{ApiError, ErrorEnvelope};
use crate::openapi::V1Errors;
use crate::state::AppState;
use crate::webhooks::job_views;
use pixq_core::view::JobView;

/// The page size when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;

/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 500;

/// One page of the listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = JobPage)]
pub(super) struct ListPage {
    /// Up to `limit` jobs, newest first.
    jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; `null` when the listing is complete.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// The query, validated: each parameter at most once, none unknown; an empty value is the
/// same as leaving the parameter out.
#[derive(Debug, Default, PartialEq)]
struct ListQuery {
    filter: ListFilter,
    limit: Option<usize>,
    cursor: Option<Cursor>,
}

/// Lists jobs newest first. A page may hold fewer than `limit` jobs while `next_cursor` is
/// set; the listing is complete only when `next_cursor` is null.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "jobs",
    security(("bearer" = [])),
    params(
        ("state" = Option<JobState>, Query, description = "Only jobs in this state"),
        ("batch" = Option<String>, Query, description = "Only jobs of this batch"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Jobs a page, 50 when not given"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "A page of jobs, newest first", body = ListPage),
        (status = 400, description = "A parameter is unknown, repeated or invalid; `field` names it", body = ErrorEnvelope),
        V1Errors,
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListPage>, ApiError> {
    let query = ListQuery::parse(query.as_deref().unwrap_or_default())?;
    let page = state
        .store()
        .jobs()
        .list(
            &query.filter,
            query.cursor.as_ref(),
            query.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(Json(ListPage {
        jobs: job_views(&state, page.jobs).await?,
        next_cursor: page.next_cursor.map(|c| c.as_str().to_owned()),
    }))
}

impl ListQuery {
    fn parse(query: &str) -> Result<ListQuery, ApiError> {
        let mut out = ListQuery::default();
        for (name, value) in query_pairs(query, &["state", "batch", "limit", "cursor"])? {
            match name.as_str() {
                "state" => out.filter.state = Some(parse_state(&value)?),
                "batch" => out.filter.batch = Some(BatchId::from(value.as_str())),
                "limit" => out.limit = Some(parse_limit(&value)?),
                _ => out.cursor = Some(Cursor::new(value.as_str())),
            }
        }
        Ok(out)
    }
}

/// The parameters of a listing's query string, each one of `known` and given at most once;
/// an empty value is the same as none (dropped). Anything else is a 400 naming the parameter.
pub(super) fn query_pairs(query: &str, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !known.contains(&name.as_ref()) {
            let shown: String = name.chars().take(64).collect();
            let listed = match known.split_last() {
                Some((last, [])) => format!("`{last}`"),
                Some((last, rest)) => format!(
                    "{} or `{last}`",
                    rest.iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => "none".to_owned(),
            };
            return Err(ApiError::bad_input(
                SpecErrorCode::UnknownField,
                &shown,
                format!("unknown query parameter `{shown}`: use {listed}"),
            ));
        }
        if seen.iter().any(|s| *s == name) {
            return Err(ApiError::bad_input(
                SpecErrorCode::InvalidValue,
                &name,
                format!("`{name}` is given twice: give it once"),
            ));
        }
        seen.push(name.to_string());
        if !value.is_empty() {
            pairs.push((name.into_owned(), value.into_owned()));
        }
    }
    Ok(pairs)
}

fn parse_state(value: &str) -> Result<JobState, ApiError> {
    value
        .parse::<JobState>()
        .map_err(|e| ApiError::bad_input(SpecErrorCode::InvalidValue, "state", e.to_string()))
}

/// `limit`: a whole number from 1 to [`MAX_LIMIT`] (the dead webhooks' listing takes the same).
pub(super) fn parse_limit(value: &str) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            ApiError::bad_input(
                SpecErrorCode::InvalidValue,
                "limit",
                format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_parameters_and_skips_empty_ones() {
        let q = ListQuery::parse("state=failed&batch=batch_1&limit=7&cursor=1%3Ajob_x").unwrap();
        assert_eq!(q.filter.state, Some(JobState::Failed));
        assert_eq!(q.filter.batch, Some(BatchId::from("batch_1")));
        assert_eq!(q.limit, Some(7));
        assert_eq!(q.cursor, Some(Cursor::new("1:job_x")));
        assert_eq!(
            ListQuery::parse("state=&batch=&limit=&cursor=").unwrap(),
            ListQuery::default()
        );
        assert_eq!(ListQuery::parse("").unwrap(), ListQuery::default());
    }

    #[test]
    fn rejects_bad_values_naming_the_parameter() {
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=-1", "limit"),
            ("limit=ten", "limit"),
            ("state=running", "state"),
            ("color=red", "color"),
            ("color=", "color"),
            ("limit=1&limit=2", "limit"),
        ] {
            let e = ListQuery::parse(query).unwrap_err();
            assert_eq!(e.field(), Some(field), "{query}");
        }
    }
}
