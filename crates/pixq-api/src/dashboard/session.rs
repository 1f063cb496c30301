//! Who may use the dashboard, and the CSRF token of their buttons.
//!
//! The dashboard sits behind the API's bearer tokens (`api.tokens`). A browser logs in once
//! with a token (`POST /login`), which is kept in the `pixq_session` cookie (`HttpOnly`, so no
//! script reads it, and `SameSite=Strict`, so no other site's page sends it). The cookie is
//! honoured on the dashboard's own routes only, never on `/v1`. An `Authorization: Bearer`
//! header works too. With no tokens configured the dashboard is open, as the API is.
//!
//! Every button posts a CSRF token: the HMAC-SHA256 of a fixed label under the session's
//! token (or, when the dashboard is open, under a key drawn once per process). A page of
//! another origin can make the browser post, but cannot read the token to put in the form.

use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::auth::{accepts, bearer};
use crate::state::AppState;

/// The cookie that keeps a logged-in browser's token, hex-encoded.
pub(super) const COOKIE: &str = "pixq_session";

/// The form field (or `X-Pixq-Csrf` header) that carries the CSRF token.
pub(super) const CSRF_FIELD: &str = "csrf";

/// What the CSRF tokens are the HMAC of.
const CSRF_LABEL: &[u8] = b"pixq dashboard csrf v1";

/// A request allowed to see the dashboard, and how.
#[derive(Clone)]
pub(super) enum Access {
    /// No `api.tokens` are configured: anyone who reaches the listener may look.
    Open,
    /// One of `api.tokens`, from the cookie or the `Authorization` header.
    Token(String),
}

impl Access {
    /// The request's access, if it has any: the header's token first, then the cookie's.
    pub(super) fn of(state: &AppState, headers: &HeaderMap) -> Option<Access> {
        let tokens = &state.config().tokens;
        if tokens.is_empty() {
            return Some(Access::Open);
        }
        let from_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .map(str::to_owned);
        from_header
            .into_iter()
            .chain(session_cookie(headers))
            .find(|token| accepts(tokens, token))
            .map(Access::Token)
    }

    /// Whether the viewer logged in (and so has something to log out of).
    pub(super) fn is_session(&self) -> bool {
        matches!(self, Access::Token(_))
    }

    /// The CSRF token this viewer's forms carry.
    pub(super) fn csrf(&self) -> String {
        let key: &[u8] = match self {
            Access::Open => open_key(),
            Access::Token(token) => token.as_bytes(),
        };
        hex::encode(mac(key).finalize().into_bytes())
    }

    /// Whether `given` is this viewer's CSRF token, compared in constant time.
    pub(super) fn csrf_matches(&self, given: &str) -> bool {
        let Ok(given) = hex::decode(given.trim()) else {
            return false;
        };
        let key: &[u8] = match self {
            Access::Open => open_key(),
            Access::Token(token) => token.as_bytes(),
        };
        let expected = mac(key).finalize().into_bytes();
        expected.as_slice().ct_eq(&given).into()
    }
}

/// Rejects a request without access: the page handlers send the browser to `/login`.
impl FromRequestParts<AppState> for Access {
    type Rejection = super::pages::LoginFirst;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Access::of(state, &parts.headers)
            .ok_or_else(|| super::pages::LoginFirst::for_request(parts))
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(CSRF_LABEL);
    mac
}

/// The key of an open dashboard's CSRF tokens: random, drawn once per process.
fn open_key() -> &'static [u8] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// The token in the `pixq_session` cookie, if one decodes.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| hex::decode(value.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// The `Set-Cookie` value that keeps `token` for the browser's session.
pub(super) fn set_cookie(token: &str) -> HeaderValue {
    let value = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        hex::encode(token)
    );
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| unreachable!("hex digits and fixed ASCII make a valid header"))
}

/// The `Set-Cookie` value that forgets the session.
pub(super) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("pixq_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_read_back_among_others() {
        let mut headers = HeaderMap::new();
        let cookie = format!("a=1; {COOKIE}={}; b=2", hex::encode("tok;en"));
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(session_cookie(&headers).as_deref(), Some("tok;en"));
        headers.insert(header::COOKIE, HeaderValue::from_static("pixq_session=zz"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn a_csrf_token_is_the_sessions_own() {
        let one = Access::Token("one".into());
        let two = Access::Token("two".into());
        assert!(one.csrf_matches(&one.csrf()));
        assert!(!one.csrf_matches(&two.csrf()));
        assert!(!one.csrf_matches(""));
        assert!(!one.csrf_matches("not hex"));
        assert!(Access::Open.csrf_matches(&Access::Open.csrf()));
        assert!(!Access::Open.csrf_matches(&one.csrf()));
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let cookie = set_cookie("secret");
        let text = cookie.to_str().unwrap();
        assert!(
            text.contains("HttpOnly") && text.contains("SameSite=Strict"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
