//! The dashboard's pages: what each reads from the store, and how a page answers a browser
//! (the whole document) or the live script (only the `<main>` part, `X-Pixq-Live: 1`).

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::Markup;
use pixq_core::batch::Batch;
use pixq_core::job::{BatchId, Job};
use pixq_core::store::ListFilter;
use serde::Deserialize;

use super::render;
use super::session::Access;
use crate::chains::{self, Chain};
use crate::error::ApiError;
use crate::overview::{self, Overview};
use crate::routes::pipelines::{self, PipelineView};
use crate::state::AppState;

/// The header the live script sends: answer the `<main>` part only, and 401 instead of a
/// redirect when the session is gone.
pub(super) const LIVE_HEADER: &str = "x-pixq-live";

/// Batches listed on the overview.
const BATCHES_SHOWN: usize = 50;

/// Jobs listed on the overview.
const JOBS_SHOWN: usize = 20;

/// Chains shown on one page of a batch.
pub(super) const CHAINS_PER_PAGE: usize = 100;

/// Whether the request comes from the live script.
pub(super) fn is_live(headers: &HeaderMap) -> bool {
    headers.contains_key(LIVE_HEADER)
}

/// What the overview page shows.
pub(super) struct OverviewPage {
    /// The queue and the tokens.
    pub overview: Overview,
    /// The newest batches.
    pub batches: Vec<Batch>,
    /// The newest jobs, of batches or not.
    pub jobs: Vec<Job>,
    /// The configured pipelines with their runs.
    pub pipelines: Vec<PipelineView>,
}

/// What a batch's page shows.
pub(super) struct BatchPage {
    /// The batch with its counts.
    pub batch: Batch,
    /// The first chain's place in the batch.
    pub offset: usize,
    /// A page of its chains, in the order submitted.
    pub chains: Vec<Chain>,
}

/// The viewer as the layout needs it: the CSRF token of the buttons, and whether there is a
/// session to log out of.
pub(super) struct Viewer {
    /// What every button posts.
    pub csrf: String,
    /// Whether to offer Log out.
    pub logged_in: bool,
    /// Whether the dashboard is open to anyone (no `api.tokens`), which the header says.
    pub open: bool,
}

impl From<&Access> for Viewer {
    fn from(access: &Access) -> Self {
        Viewer {
            csrf: access.csrf(),
            logged_in: access.is_session(),
            open: matches!(access, Access::Open),
        }
    }
}

/// `GET /`: queue, tokens, batches, recent jobs, pipelines and the template catalog.
pub(super) async fn overview(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let page = OverviewPage {
        overview: overview::read(&state).await.map_err(ApiError::from)?,
        batches: state
            .store()
            .batches()
            .list(None, BATCHES_SHOWN)
            .await
            .map_err(ApiError::from)?
            .batches,
        jobs: state
            .store()
            .jobs()
            .list(&ListFilter::default(), None, JOBS_SHOWN)
            .await
            .map_err(ApiError::from)?
            .jobs,
        pipelines: pipelines::views(&state).await?,
    };
    let viewer = Viewer::from(&access);
    let main = render::overview(&page, &viewer);
    Ok(respond(&headers, "pixq", &viewer, main))
}

/// Which chains of a batch to show.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ChainsQuery {
    /// The first chain's place in the batch, from 0.
    #[serde(default)]
    offset: usize,
}

/// `GET /batches/{id}`: the batch's counts and a page of its chains, each with its steps,
/// its latest video and its error.
pub(super) async fn batch(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ChainsQuery>,
) -> Result<Response, PageError> {
    let id = BatchId::from(id);
    let offset = query.offset;
    let batch = crate::routes::batches::found(&state, &id).await?;
    let roots = state
        .store()
        .batches()
        .roots(&id, offset, CHAINS_PER_PAGE)
        .await
        .map_err(ApiError::from)?;
    let chains = chains::read(state.store(), &roots)
        .await
        .map_err(ApiError::from)?;
    let page = BatchPage {
        batch,
        offset,
        chains,
    };
    let viewer = Viewer::from(&access);
    let title = format!(
        "pixq: {}",
        page.batch.name.as_deref().unwrap_or(page.batch.id.as_str())
    );
    let main = render::batch(&page, &viewer);
    Ok(respond(&headers, &title, &viewer, main))
}

/// The whole document for a browser, the `<main>` part for the live script; never cached,
/// and under a policy that runs no script but the dashboard's own.
fn respond(headers: &HeaderMap, title: &str, viewer: &Viewer, main: Markup) -> Response {
    let body = if is_live(headers) {
        main
    } else {
        render::layout(title, viewer, main)
    };
    secured(Html(body.into_string()).into_response())
}

/// Adds the headers every dashboard document carries.
pub(super) fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data:; \
             media-src *; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A page that could not be read: its status, and the message in plain words.
#[derive(Debug)]
pub(super) struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = render::error_page(status, self.0.message());
        secured((status, Html(body.into_string())).into_response())
    }
}

/// The answer to a request without access: the browser is sent to the login form, the live
/// script gets 401 (and goes there itself).
#[derive(Debug)]
pub(super) enum LoginFirst {
    /// 303 to `/login`.
    Redirect,
    /// 401 in plain words.
    Unauthorized,
}

impl LoginFirst {
    /// A page loaded by the browser is redirected; the live script and posts get 401.
    pub(super) fn for_request(parts: &Parts) -> Self {
        if is_live(&parts.headers) || parts.method != axum::http::Method::GET {
            LoginFirst::Unauthorized
        } else {
            LoginFirst::Redirect
        }
    }
}

impl IntoResponse for LoginFirst {
    fn into_response(self) -> Response {
        match self {
            LoginFirst::Redirect => Redirect::to("/login").into_response(),
            LoginFirst::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "log in first: the session is missing or its token is no longer accepted",
            )
                .into_response(),
        }
    }
}
