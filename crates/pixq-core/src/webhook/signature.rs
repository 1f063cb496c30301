//! [`SigningKey`]: Standard Webhooks signatures. The secret is `whsec_` followed by base64 of
//! the key; a signature is `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
//! The timestamp is the attempt's, so every attempt is signed anew over the same body.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix Standard Webhooks secrets carry; a secret without it is read as bare base64.
pub const SECRET_PREFIX: &str = "whsec_";

/// The shortest key accepted, in bytes: 128 bits. Standard Webhooks suggests 24 to 64 random
/// bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// Why a configured secret cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// The key that signs webhooks, decoded from `api.webhook_secret`. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// Decodes a Standard Webhooks secret: `whsec_` + base64 (the prefix may be left out).
    ///
    /// # Errors
    ///
    /// [`KeyError`] saying what is wrong (not base64, or too short), never echoing the secret.
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let text = secret.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let key = STANDARD.decode(encoded).map_err(|_| {
            KeyError(format!(
                "the part after {SECRET_PREFIX} is not base64 (generate one with: echo {SECRET_PREFIX}$(openssl rand -base64 32))"
            ))
        })?;
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError(format!(
                "the key is {} bytes long; at least {MIN_KEY_BYTES} are needed (generate one with: echo {SECRET_PREFIX}$(openssl rand -base64 32))",
                key.len()
            )));
        }
        Ok(SigningKey(key))
    }

    /// The `webhook-signature` header of one attempt: `v1,` and the base64 HMAC-SHA256 of
    /// `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length; new_from_slice cannot fail for it.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and its reference libraries).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_example() {
        let key = SigningKey::from_secret(SECRET).unwrap();
        assert_eq!(key.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    }

    #[test]
    fn the_prefix_is_optional_and_every_part_is_signed() {
        let bare = SigningKey::from_secret(SECRET.trim_start_matches(SECRET_PREFIX)).unwrap();
        assert_eq!(bare.sign(ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        assert_ne!(
            bare.sign("msg_other", TIMESTAMP, BODY.as_bytes()),
            SIGNATURE
        );
        assert_ne!(bare.sign(ID, TIMESTAMP + 1, BODY.as_bytes()), SIGNATURE);
        assert_ne!(bare.sign(ID, TIMESTAMP, b"{\"test\": 1}"), SIGNATURE);
    }

    #[test]
    fn a_bad_secret_is_refused_without_echoing_it() {
        for bad in ["whsec_not base64!", "whsec_c2hvcnQ=", "change-me"] {
            let err = SigningKey::from_secret(bad).unwrap_err().to_string();
            assert!(!err.contains(bad), "{err}");
            assert!(err.contains("openssl rand"), "{err}");
        }
        let key = SigningKey::from_secret(SECRET).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey(***)");
    }
}
