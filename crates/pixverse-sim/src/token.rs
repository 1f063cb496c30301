//! Bearer tokens: the state of each, the account identity its task records carry, and the
//! gateway's decision for a request.

use std::{collections::HashMap, fmt, str::FromStr};

use axum::http::{HeaderMap, header};
use uuid::Uuid;

use crate::envelope::GatewayError;

/// What the gateway thinks of a token. Set at start from the config and at run time through
/// `POST /_sim/tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    /// Accepted everywhere.
    Ok,
    /// Balance exhausted: submits get 403 `used_up`, lookups still work.
    UsedUp,
    /// Revoked: 401 `invalid_token`, like an unknown token.
    Invalid,
    /// Application disabled: 403 `disabled`.
    Disabled,
    /// Expired (extension): 401 `token_expired`.
    Expired,
    /// Bound to another service (extension): 400 `token_mismatched`.
    Mismatched,
}

impl TokenState {
    /// The name `POST /_sim/tokens` takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::UsedUp => "used_up",
            Self::Invalid => "invalid",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::Mismatched => "mismatched",
        }
    }
}

impl fmt::Display for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(Self::Ok),
            "used_up" => Ok(Self::UsedUp),
            "invalid" => Ok(Self::Invalid),
            "disabled" => Ok(Self::Disabled),
            "expired" => Ok(Self::Expired),
            "mismatched" => Ok(Self::Mismatched),
            other => Err(format!(
                "unknown token state `{other}`; expected ok, used_up, invalid, disabled, expired or mismatched"
            )),
        }
    }
}

/// What a request wants to do with its token: spending (submits) or looking up (free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A generation or a character: refused to a used-up token.
    Spend,
    /// A task lookup: allowed to a used-up token.
    Lookup,
}

/// The account ids a token's task records carry; stable per token, as on the real platform.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// The Pixverse API's id on the platform: the same for every token.
    pub(crate) api_id: String,
    pub(crate) application_id: String,
    pub(crate) credential_id: String,
    pub(crate) user_id: String,
}

impl Identity {
    fn fresh(api_id: &str) -> Self {
        Self {
            api_id: api_id.to_owned(),
            application_id: Uuid::new_v4().to_string(),
            credential_id: Uuid::new_v4().to_string(),
            user_id: Uuid::new_v4().to_string(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    state: TokenState,
    identity: Identity,
}

/// Every token the simulator knows, with its state and identity.
#[derive(Debug)]
pub(crate) struct Tokens {
    api_id: String,
    entries: HashMap<String, Entry>,
}

impl Tokens {
    /// No tokens yet; every token added later shares this simulator's api id.
    pub(crate) fn new() -> Self {
        Self {
            api_id: Uuid::new_v4().to_string(),
            entries: HashMap::new(),
        }
    }

    /// Adds a token or changes its state; a token keeps its identity across state changes.
    pub(crate) fn set(&mut self, token: &str, state: TokenState) {
        self.entries
            .entry(token.to_owned())
            .and_modify(|entry| entry.state = state)
            .or_insert_with(|| Entry {
                state,
                identity: Identity::fresh(&self.api_id),
            });
    }

    /// The gateway's decision for a request bearing `token`.
    ///
    /// # Errors
    ///
    /// The gateway error for an unknown token or one whose state refuses this access.
    pub(crate) fn admit(&self, token: &str, access: Access) -> Result<Identity, GatewayError> {
        let entry = self
            .entries
            .get(token)
            .ok_or_else(GatewayError::invalid_token)?;
        match (entry.state, access) {
            (TokenState::Ok, _) | (TokenState::UsedUp, Access::Lookup) => {
                Ok(entry.identity.clone())
            }
            (TokenState::UsedUp, Access::Spend) => Err(GatewayError::used_up()),
            (TokenState::Invalid, _) => Err(GatewayError::invalid_token()),
            (TokenState::Disabled, _) => Err(GatewayError::disabled()),
            (TokenState::Expired, _) => Err(GatewayError::token_expired()),
            (TokenState::Mismatched, _) => Err(GatewayError::token_mismatched()),
        }
    }
}

/// The bearer token of a request.
///
/// # Errors
///
/// `no_token` without an `authorization` header (or an empty one), `invalid_token` when it is
/// not `Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<String, GatewayError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(GatewayError::no_token());
    };
    let value = value
        .to_str()
        .map_err(|_| GatewayError::invalid_token())?
        .trim();
    if value.is_empty() {
        return Err(GatewayError::no_token());
    }
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(GatewayError::invalid_token)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(GatewayError::invalid_token());
    }
    Ok(token.to_owned())
}

/// A token as logs may show it: its first three characters, never the whole secret.
pub(crate) fn alias(token: &str) -> String {
    let head: String = token.chars().take(3).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn states_decide_by_access() {
        let mut tokens = Tokens::new();
        tokens.set("t", TokenState::UsedUp);
        assert!(tokens.admit("t", Access::Lookup).is_ok());
        assert!(tokens.admit("t", Access::Spend).is_err());
        assert!(tokens.admit("other", Access::Lookup).is_err());
        let before = tokens.admit("t", Access::Lookup).unwrap().user_id;
        tokens.set("t", TokenState::Ok);
        assert_eq!(tokens.admit("t", Access::Spend).unwrap().user_id, before);
    }

    #[test]
    fn bearer_header_forms() {
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&headers).unwrap(), "abc");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer(&headers).is_err());
    }

    #[test]
    fn alias_hides_the_token() {
        assert_eq!(alias("sim-token"), "sim…");
    }
}
