//! [`RawSettings`]: the configuration exactly as the layers (file, environment, flags) wrote
//! it, before any value is checked. Unknown keys are rejected here; everything else is text
//! that [`Settings::from_raw`](super::Settings::from_raw) parses, so every bad value is
//! reported with its key in one place.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::Secret;

/// The whole configuration as written; every key is optional and missing means "default".
///
/// Scalars are kept as text whatever their TOML type (`max_in_flight = 5` and
/// `PIXQ__UPSTREAM__MAX_IN_FLIGHT=5` both arrive as `"5"`), so a file and an environment
/// variable are parsed the same way and fail with the same message.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// `[redis]`.
    #[serde(default)]
    pub redis: Option<RawRedis>,
    /// `data_dir`.
    #[serde(default, deserialize_with = "scalar")]
    pub data_dir: Option<String>,
    /// `[api]`.
    #[serde(default)]
    pub api: Option<RawApi>,
    /// `[upstream]`.
    #[serde(default)]
    pub upstream: Option<RawUpstream>,
    /// `[worker]`.
    #[serde(default)]
    pub worker: Option<RawWorker>,
    /// `[poll]`.
    #[serde(default)]
    pub poll: Option<RawPoll>,
    /// `[retry]`.
    #[serde(default)]
    pub retry: Option<RawRetry>,
    /// `[retention]`.
    #[serde(default)]
    pub retention: Option<RawRetention>,
    /// `[webhooks]`.
    #[serde(default)]
    pub webhooks: Option<RawWebhooks>,
    /// `[log]`.
    #[serde(default)]
    pub log: Option<RawLog>,
    /// `[[pipelines]]`: one table a pipeline, kept as written (its job fields are free-form
    /// job defaults); [`crate::pipeline::load`] checks them.
    #[serde(default)]
    pub pipelines: Option<Vec<serde_json::Value>>,
}

/// `[redis]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// `redis.url`.
    #[serde(default, deserialize_with = "scalar")]
    pub url: Option<String>,
    /// `redis.prefix`.
    #[serde(default, deserialize_with = "scalar")]
    pub prefix: Option<String>,
}

/// `[api]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// `api.listen`.
    #[serde(default, deserialize_with = "scalar")]
    pub listen: Option<String>,
    /// `api.tokens`: a TOML array, or one comma-separated string (how an environment variable
    /// or a flag writes a list).
    #[serde(default, deserialize_with = "secret_list")]
    pub tokens: Option<Vec<Secret>>,
    /// `api.public_url`.
    #[serde(default, deserialize_with = "scalar")]
    pub public_url: Option<String>,
    /// `api.max_body`.
    #[serde(default, deserialize_with = "scalar")]
    pub max_body: Option<String>,
    /// `api.max_batch_body`.
    #[serde(default, deserialize_with = "scalar")]
    pub max_batch_body: Option<String>,
    /// `api.webhook_secret`.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
}

/// `[upstream]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// `upstream.base_url`.
    #[serde(default, deserialize_with = "scalar")]
    pub base_url: Option<String>,
    /// `upstream.token`.
    #[serde(default)]
    pub token: Option<Secret>,
    /// `upstream.max_in_flight`.
    #[serde(default, deserialize_with = "scalar")]
    pub max_in_flight: Option<String>,
    /// `upstream.timeout`.
    #[serde(default, deserialize_with = "scalar")]
    pub timeout: Option<String>,
}

/// `[worker]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorker {
    /// `worker.concurrency`.
    #[serde(default, deserialize_with = "scalar")]
    pub concurrency: Option<String>,
    /// `worker.metrics_listen`.
    #[serde(default, deserialize_with = "scalar")]
    pub metrics_listen: Option<String>,
}

/// `[poll]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    /// `poll.first_after`.
    #[serde(default, deserialize_with = "scalar")]
    pub first_after: Option<String>,
    /// `poll.interval`.
    #[serde(default, deserialize_with = "scalar")]
    pub interval: Option<String>,
    /// `poll.give_up_after`.
    #[serde(default, deserialize_with = "scalar")]
    pub give_up_after: Option<String>,
}

/// `[retry]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// `retry.max_attempts`.
    #[serde(default, deserialize_with = "scalar")]
    pub max_attempts: Option<String>,
}

/// `[retention]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// `retention.finished`.
    #[serde(default, deserialize_with = "scalar")]
    pub finished: Option<String>,
}

/// `[log]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `log.format`.
    #[serde(default, deserialize_with = "scalar")]
    pub format: Option<String>,
}

/// `[webhooks]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhooks {
    /// `webhooks.allow_networks`: a TOML array, or one comma-separated string.
    #[serde(default, deserialize_with = "text_list")]
    pub allow_networks: Option<Vec<String>>,
    /// `webhooks.give_up_after`.
    #[serde(default, deserialize_with = "scalar")]
    pub give_up_after: Option<String>,
    /// `webhooks.timeout`.
    #[serde(default, deserialize_with = "scalar")]
    pub timeout: Option<String>,
}

/// A string, number or boolean, kept as the text a user would type.
pub(crate) struct Scalar(pub(crate) String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
}

/// An optional scalar field, as text.
fn scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<Scalar>::deserialize(deserializer).map(|value| value.map(|s| s.0))
}

/// An optional list of texts: an array, or one comma-separated string (blank: empty).
fn text_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    let secrets = secret_list(deserializer)?;
    Ok(secrets.map(|list| list.iter().map(|s| s.expose().trim().to_owned()).collect()))
}

/// An optional list of secrets: an array, or one comma-separated string.
fn secret_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Secret>>, D::Error> {
    Option::<SecretList>::deserialize(deserializer).map(|value| value.map(|list| list.0))
}

struct SecretList(Vec<Secret>);

impl<'de> Deserialize<'de> for SecretList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretListVisitor)
    }
}

struct SecretListVisitor;

impl<'de> Visitor<'de> for SecretListVisitor {
    type Value = SecretList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of strings, or one comma-separated string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretList, E> {
        // A blank string is an empty list, so `PIXQ__API__TOKENS=` clears the list.
        if v.trim().is_empty() {
            return Ok(SecretList(Vec::new()));
        }
        Ok(SecretList(v.split(',').map(Secret::new).collect()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretList, E> {
        Ok(SecretList(vec![Secret::new(v.to_string())]))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretList, E> {
        Ok(SecretList(vec![Secret::new(v.to_string())]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SecretList, A::Error> {
        let mut list = Vec::new();
        while let Some(secret) = seq.next_element::<Secret>()? {
            list.push(secret);
        }
        Ok(SecretList(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> RawSettings {
        serde_json::from_str(json).expect("raw settings")
    }

    #[test]
    fn numbers_and_strings_both_arrive_as_text() {
        let raw = parse(r#"{"upstream": {"max_in_flight": 7, "timeout": "5s"}}"#);
        let upstream = raw.upstream.expect("upstream");
        assert_eq!(upstream.max_in_flight.as_deref(), Some("7"));
        assert_eq!(upstream.timeout.as_deref(), Some("5s"));
    }

    #[test]
    fn tokens_are_an_array_or_a_comma_separated_string() {
        let from_array = parse(r#"{"api": {"tokens": ["a", "b"]}}"#);
        let from_string = parse(r#"{"api": {"tokens": "a,b"}}"#);
        for raw in [from_array, from_string] {
            let tokens = raw.api.and_then(|api| api.tokens).expect("tokens");
            let exposed: Vec<&str> = tokens.iter().map(Secret::expose).collect();
            assert_eq!(exposed, ["a", "b"]);
        }
        let blank = parse(r#"{"api": {"tokens": ""}}"#);
        assert_eq!(
            blank.api.and_then(|api| api.tokens).map(|t| t.len()),
            Some(0)
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_str::<RawSettings>(r#"{"poll": {"intervall": "3s"}}"#)
            .expect_err("unknown key");
        assert!(err.to_string().contains("intervall"), "{err}");
    }

    #[test]
    fn a_debug_print_masks_the_secrets() {
        let raw = parse(r#"{"api": {"tokens": ["tok-1"], "webhook_secret": "whsec"}}"#);
        let shown = format!("{raw:?}");
        assert!(
            !shown.contains("tok-1") && !shown.contains("whsec"),
            "{shown}"
        );
    }
}
