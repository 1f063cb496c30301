//! [`HttpUrl`]: an absolute `http` or `https` URL, the only kind the upstream can fetch an image
//! from and the only kind pixq POSTs a webhook to.
//!
//! Parsing follows the WHATWG URL standard (the `url` crate): the scheme and host are
//! lower-cased, a default port is dropped, and an empty path becomes `/`. The normalized text is
//! what pixq stores and sends. A URL longer than [`MAX_URL_LEN`] bytes, as given or as
//! normalized, is refused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use url::Url;

/// The longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// An absolute `http://` or `https://` URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(Url);

/// Why a text is not an [`HttpUrl`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL at all.
    #[error("{text:?} is not a valid URL ({reason}): give an absolute https:// URL")]
    Malformed {
        /// The text, cut to 100 characters.
        text: String,
        /// What the parser objected to.
        reason: String,
    },
    /// A URL, but not one the upstream can fetch.
    #[error("the URL scheme must be http or https, not {scheme:?}")]
    Scheme {
        /// The scheme found, such as `ftp` or `data`.
        scheme: String,
    },
    /// Longer than [`MAX_URL_LEN`] bytes.
    #[error("the URL is {len} bytes long; at most {MAX_URL_LEN} are allowed")]
    TooLong {
        /// The length found, in bytes.
        len: usize,
    },
}

impl HttpUrl {
    /// Parses and checks `text`.
    ///
    /// # Errors
    ///
    /// [`UrlError`] when `text` is too long, is not a URL, or its scheme is neither `http`
    /// nor `https`.
    pub fn parse(text: &str) -> Result<HttpUrl, UrlError> {
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong { len: text.len() });
        }
        let url = Url::parse(text).map_err(|e| UrlError::Malformed {
            text: text.chars().take(100).collect(),
            reason: e.to_string(),
        })?;
        HttpUrl::try_from(url)
    }

    /// The normalized URL text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The parsed URL, owned, as [`pixverse::GenerateRequest`] takes it.
    pub fn into_url(self) -> Url {
        self.0
    }
}

impl TryFrom<Url> for HttpUrl {
    type Error = UrlError;

    fn try_from(url: Url) -> Result<Self, Self::Error> {
        match url.scheme() {
            // Both special schemes require a non-empty host, so the parser has checked it.
            "http" | "https" => {}
            other => {
                return Err(UrlError::Scheme {
                    scheme: other.to_owned(),
                });
            }
        }
        let len = url.as_str().len();
        if len > MAX_URL_LEN {
            return Err(UrlError::TooLong { len });
        }
        Ok(HttpUrl(url))
    }
}

impl From<HttpUrl> for Url {
    fn from(url: HttpUrl) -> Url {
        url.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl FromStr for HttpUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HttpUrl::parse(s)
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HttpUrl::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_are_accepted_and_normalized() {
        let u = HttpUrl::parse("HTTPS://CDN.Example.com:443").unwrap();
        assert_eq!(u.as_str(), "https://cdn.example.com/");
        assert!(HttpUrl::parse("http://127.0.0.1:9000/hook?x=1").is_ok());
    }

    #[test]
    fn other_schemes_are_rejected() {
        for text in [
            "ftp://a.test/x.png",
            "data:image/png;base64,AAAA",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(HttpUrl::parse(text), Err(UrlError::Scheme { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn non_urls_are_rejected() {
        for text in ["", "cat.png", "https://", "http://exa mple.com/"] {
            assert!(
                matches!(HttpUrl::parse(text), Err(UrlError::Malformed { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn long_urls_are_rejected() {
        let ok = format!("https://a.test/{}", "x".repeat(MAX_URL_LEN - 15));
        assert_eq!(ok.len(), MAX_URL_LEN);
        assert!(HttpUrl::parse(&ok).is_ok());
        let long = format!("{ok}x");
        assert_eq!(
            HttpUrl::parse(&long),
            Err(UrlError::TooLong {
                len: MAX_URL_LEN + 1
            })
        );
        // Short as given, long once spaces are percent-encoded.
        let grows = format!("https://a.test/{}", "a b".repeat(500));
        assert!(matches!(
            HttpUrl::parse(&grows),
            Err(UrlError::TooLong { .. })
        ));
    }
}
