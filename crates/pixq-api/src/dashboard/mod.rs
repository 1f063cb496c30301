//! The dashboard at `/`: server-rendered HTML (maud, which escapes everything it is given),
//! one small script that keeps the page live by polling it every second, and one stylesheet,
//! all embedded in the binary: no build chain, no CDN, nothing fetched from the network.
//!
//! - [`session`]: who may look (the API's tokens, by cookie or header) and the CSRF tokens.
//! - [`login`]: the login form and logout.
//! - [`pages`]: the overview and a batch's page, and how they answer.
//! - [`render`]: the markup.
//! - [`actions`]: the cancel and retry buttons.

mod actions;
mod login;
mod pages;
mod render;
mod session;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::state::AppState;

/// The dashboard's script: live updates and the buttons without a reload.
const SCRIPT: &str = include_str!("assets/dashboard.js");

/// The dashboard's stylesheet.
const STYLE: &str = include_str!("assets/dashboard.css");

/// Every dashboard route. Each checks its own access (see [`session`]); the `/v1` routes
/// never accept the dashboard's cookie.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/batches/{id}", get(pages::batch))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/dash/jobs/{id}/cancel", post(actions::cancel_job))
        .route("/dash/jobs/{id}/retry", post(actions::retry_job))
        .route("/dash/batches/{id}/cancel", post(actions::cancel_batch))
        .route("/dash/batches/{id}/retry", post(actions::retry_batch))
        .route("/dash/queue/{action}", post(actions::queue))
        .route("/assets/dashboard.js", get(script))
        .route("/assets/dashboard.css", get(style))
}

/// `GET /assets/dashboard.js`.
async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /assets/dashboard.css`.
async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// An embedded file, revalidated on every load so that an upgrade shows at once.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
}
