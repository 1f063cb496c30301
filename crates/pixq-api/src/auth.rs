//! Bearer-token auth for the `/v1` routes (except the upstream callback, whose secret is in its
//! path). With no tokens configured every request passes.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::{Choice, ConstantTimeEq};

use crate::error::ApiError;
use crate::state::AppState;

/// Middleware: lets the request through when auth is off or it carries
/// `Authorization: Bearer <token>` with one of the configured tokens; 401 otherwise.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = &state.config().tokens;
    if tokens.is_empty() {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer);
    match given {
        Some(given) if accepts(tokens, given) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `given` is one of `tokens`, comparing each in constant time and all of them always,
/// so that timing does not tell which token, or how much of one, matched.
pub(crate) fn accepts(tokens: &[String], given: &str) -> bool {
    let matched = tokens.iter().fold(Choice::from(0), |found, token| {
        found | token.as_bytes().ct_eq(given.as_bytes())
    });
    matched.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_takes_the_token_after_the_scheme() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn accepts_only_a_configured_token() {
        let tokens = vec!["one".to_owned(), "two".to_owned()];
        assert!(accepts(&tokens, "two"));
        assert!(!accepts(&tokens, "tw"));
        assert!(!accepts(&tokens, "three"));
        assert!(!accepts(&[], "one"));
    }
}
