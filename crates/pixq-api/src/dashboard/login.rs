//! `GET /login`, `POST /login` and `POST /logout`: a browser trades a token for the session
//! cookie, and gives it back.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::secured;
use super::render;
use super::session::{self, Access};
use crate::auth::accepts;
use crate::state::AppState;

/// The login form; straight to the dashboard when the dashboard is open or the browser is
/// logged in already.
pub(super) async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if Access::of(&state, &headers).is_some() {
        return Redirect::to("/").into_response();
    }
    secured(Html(render::login(None).into_string()).into_response())
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct Credentials {
    #[serde(default)]
    token: String,
}

/// Checks the token against `api.tokens` (in constant time): on a match, sets the session
/// cookie and sends the browser to the dashboard; otherwise 401 with the form again.
pub(super) async fn submit(
    State(state): State<AppState>,
    Form(credentials): Form<Credentials>,
) -> Response {
    let tokens = &state.config().tokens;
    if tokens.is_empty() {
        return Redirect::to("/").into_response();
    }
    let token = credentials.token.trim();
    if token.is_empty() || !accepts(tokens, token) {
        tracing::info!("dashboard: a login with a token that is not accepted");
        let page = render::login(Some("That token is not one of api.tokens."));
        return secured((StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response());
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(token));
    response
}

/// The logout button's field.
#[derive(Debug, Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Forgets the session (the button carries the CSRF token, so another site cannot log the
/// browser out) and shows the login form.
pub(super) async fn logout(access: Access, Form(form): Form<LogoutForm>) -> Response {
    if !access.csrf_matches(&form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match",
        )
            .into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    response
}
