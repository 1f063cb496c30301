//! A configured secret (an API bearer token, the webhook signing secret, the upstream token)
//! that never shows in `Debug`, `Display`, logs, errors or `pixq config`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::raw::Scalar;

/// What is printed in place of a secret.
pub const MASK: &str = "***";

/// A secret string from the configuration.
///
/// `Debug`, `Display` and `Serialize` all print [`MASK`], so a secret cannot leak through a log
/// line, an error or `pixq config` by accident; read it with [`Secret::expose`]. There is no
/// `PartialEq`: compare a presented credential with [`Secret::matches`], whose time does not
/// depend on where the strings differ.
///
/// It deserializes from the plain string (or a number, as an environment variable may look), so
/// configuration can hold it directly; serializing it back gives only the mask.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that needs it (an auth header, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short, stable label that does not reveal the secret: the first 8 hex digits of its
    /// SHA-256, computed as [`pixverse::Token::alias`] does, so metrics and logs can tell
    /// tokens apart.
    pub fn alias(&self) -> String {
        self.to_token().alias()
    }

    /// The secret as an upstream API token, for building a `pixverse` client.
    pub fn to_token(&self) -> pixverse::Token {
        pixverse::Token::new(self.0.clone())
    }

    /// Whether `candidate` equals the secret, in time that depends only on the lengths, so a
    /// caller cannot learn a bearer token byte by byte.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, x) in a.iter().enumerate() {
            let y = b.get(i).copied().unwrap_or(!*x);
            diff |= usize::from(x ^ y);
        }
        diff == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Scalar::deserialize(deserializer).map(|scalar| Secret(scalar.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_secret() {
        let secret = Secret::new("s3cret");
        assert!(secret.matches("s3cret"));
        assert!(!secret.matches("s3cre"));
        assert!(!secret.matches("s3cret!"));
        assert!(!secret.matches("S3cret"));
        assert!(!secret.matches(""));
    }

    #[test]
    fn debug_display_and_serialize_print_the_mask_only() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(format!("{secret:?}"), MASK);
        assert_eq!(format!("{secret}"), MASK);
        assert_eq!(
            serde_json::to_string(&secret).expect("serialize"),
            format!("\"{MASK}\"")
        );
        assert_eq!(secret.expose(), "sk-very-secret");
    }

    #[test]
    fn alias_is_the_upstream_token_alias_and_hides_the_secret() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(
            secret.alias(),
            pixverse::Token::new("sk-very-secret").alias()
        );
        assert_eq!(secret.alias().len(), 8);
        assert!(!secret.alias().contains("secret"));
    }

    #[test]
    fn deserializes_from_the_plain_string() {
        let secret: Secret = serde_json::from_str("\"tok\"").expect("deserialize");
        assert_eq!(secret.expose(), "tok");
    }
}
