//! The API token: a secret that never shows in Debug output, logs or error messages.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The environment variable Ace Data Cloud's own SDKs read the token from.
pub const TOKEN_ENV_VAR: &str = "ACEDATACLOUD_API_TOKEN";

/// An Ace Data Cloud API token.
///
/// `Debug` shows only its [`alias`](Token::alias); there is no `Display`. The client sends it
/// as `authorization: Bearer <token>`, marked sensitive so HTTP layers do not log it.
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Token(SecretString::from(token.into()))
    }

    /// The token from [`TOKEN_ENV_VAR`], if set and not empty.
    pub fn from_env() -> Option<Self> {
        std::env::var(TOKEN_ENV_VAR)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(Token::new)
    }

    /// A short, stable label for the token: the first 8 hex digits of its SHA-256. Safe for
    /// logs and metrics labels; it does not reveal the token.
    pub fn alias(&self) -> String {
        let digest = Sha256::digest(self.0.expose_secret().as_bytes());
        digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the token is empty (or only whitespace).
    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().trim().is_empty()
    }

    /// The secret itself, for the authorization header only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `text` with every occurrence of the token replaced, for messages built from what a
    /// server sent back (a misbehaving proxy may echo the header).
    pub(crate) fn redact(&self, text: &str) -> String {
        let secret = self.expose();
        if secret.is_empty() || !text.contains(secret) {
            return text.to_owned();
        }
        text.replace(secret, "[redacted token]")
    }
}

impl From<String> for Token {
    fn from(token: String) -> Self {
        Token::new(token)
    }
}

impl From<SecretString> for Token {
    fn from(token: SecretString) -> Self {
        Token(token)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(alias {})", self.alias())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_is_the_first_eight_hex_digits_of_sha256() {
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(Token::new("abc").alias(), "ba7816bf");
    }

    #[test]
    fn debug_shows_the_alias_not_the_token() {
        let token = Token::new("sk-very-secret-token");
        let debug = format!("{token:?}");
        assert!(!debug.contains("sk-very-secret-token"), "{debug}");
        assert!(debug.contains(&token.alias()), "{debug}");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let token = Token::new("sk-secret");
        assert_eq!(
            token.redact("a sk-secret b sk-secret"),
            "a [redacted token] b [redacted token]"
        );
        assert_eq!(token.redact("clean"), "clean");
    }
}
