//! Webhooks to users, as they leave pixq: what is signed and how ([`SigningKey`], Standard
//! Webhooks), and which addresses a webhook may reach ([`AddressPolicy`]).
//!
//! Both are pure: the worker's delivery service sends, the store's outbox
//! ([`crate::outbox`]) keeps the events, and settings check the configured secret and allow
//! list with the same types, so a bad `api.webhook_secret` or `webhooks.allow_networks` fails
//! at start, naming the key.
//!
//! ```
//! use pixq_core::webhook::{AddressPolicy, SigningKey};
//!
//! let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let signature = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
//! assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//!
//! let policy = AddressPolicy::default();
//! assert!(policy.check("127.0.0.1".parse()?).is_err());
//! assert!(policy.check("93.184.215.14".parse()?).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod policy;
mod signature;

pub use policy::{AddressClass, AddressPolicy, Refused};
pub use signature::{KeyError, MIN_KEY_BYTES, SECRET_PREFIX, SigningKey};

/// The header carrying the event's id, the same on every attempt (receivers de-duplicate by
/// it).
pub const HEADER_ID: &str = "webhook-id";

/// The header carrying the attempt's time, in seconds since the epoch; part of what is signed,
/// so a receiver can refuse a replayed old request.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";

/// The header carrying `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
