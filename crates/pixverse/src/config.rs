//! What a [`Client`](crate::Client) needs: where the API is, the token, timeouts, and how it
//! introduces itself.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::token::Token;

/// Ace Data Cloud's API.
pub const DEFAULT_BASE_URL: &str = "https://api.acedata.cloud";

/// How long to wait for a TCP/TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole-call deadline of every call except a sync submit.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole-call deadline of a sync submit, which the upstream holds for 1–2 minutes.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// The `user-agent` sent by default.
pub const DEFAULT_USER_AGENT: &str = concat!("pixq/", env!("CARGO_PKG_VERSION"));

/// Settings of a [`Client`](crate::Client). Start from [`ClientConfig::new`] and change what
/// differs, with the `with_*` methods or the fields.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Where the API lives; a path prefix is kept (`http://host/prefix` calls
    /// `http://host/prefix/pixverse/videos`).
    pub base_url: Url,
    /// The API token.
    pub token: Token,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// The deadline of a call, body included, except a sync submit.
    pub request_timeout: Duration,
    /// The deadline of a sync submit.
    pub sync_timeout: Duration,
    /// The `user-agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// The defaults: Ace Data Cloud's base URL, 10 s connect, 30 s calls, 300 s sync submits,
    /// `user-agent: pixq/<version>`.
    pub fn new(token: Token) -> Self {
        ClientConfig {
            base_url: default_base_url(),
            token,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }

    /// Another API location, e.g. a local simulator.
    pub fn with_base_url(mut self, base_url: Url) -> Self {
        self.base_url = base_url;
        self
    }

    /// Another connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Another call deadline.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Another sync submit deadline.
    pub fn with_sync_timeout(mut self, timeout: Duration) -> Self {
        self.sync_timeout = timeout;
        self
    }

    /// Another `user-agent`.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }
}

/// Shows the base URL without credentials and the token only by its alias.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &redacted_url(&self.base_url))
            .field("token", &self.token)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("sync_timeout", &self.sync_timeout)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// A URL fit for logs: without user, password, query or fragment, any of which may carry
/// credentials.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut url = url.clone();
    // Both fail only for URLs that cannot have credentials, which is fine.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

fn default_base_url() -> Url {
    match Url::parse(DEFAULT_BASE_URL) {
        Ok(url) => url,
        // DEFAULT_BASE_URL is a constant that parses; the unit test below proves it.
        Err(_) => unreachable!("DEFAULT_BASE_URL is a valid URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = ClientConfig::new(Token::new("t"));
        assert_eq!(c.base_url.as_str(), "https://api.acedata.cloud/");
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.sync_timeout, Duration::from_secs(300));
        assert!(c.user_agent.starts_with("pixq/"));
    }

    #[test]
    fn debug_hides_token_and_url_credentials() {
        let url = Url::parse("https://alice:hunter2@proxy.test/api?key=k123").unwrap();
        let c = ClientConfig::new(Token::new("sk-live-abcdef")).with_base_url(url);
        let debug = format!("{c:?}");
        for secret in ["sk-live-abcdef", "hunter2", "alice", "k123"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("proxy.test"), "{debug}");
    }
}
