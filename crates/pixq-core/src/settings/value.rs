//! Turning the text of a [`RawSettings`](super::RawSettings) into typed values, each failure
//! naming its key; and writing typed values back the way a user would type them.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use bytesize::ByteSize;
use url::Url;

use super::{MASK, SettingsError};

/// How durations are written, for error messages.
const DURATION_FORMAT: &str = "a duration like \"500ms\", \"10s\", \"2m\" or \"7d\"";

/// How sizes are written, for error messages.
const SIZE_FORMAT: &str = "a size like \"256KiB\" or \"16MiB\"";

/// The value with surrounding whitespace removed, or `None` when it is missing or blank: an
/// empty value (e.g. `PIXQ__REDIS__URL=`) means "unset", so an environment variable can clear
/// what a file set.
pub(crate) fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|v| !v.is_empty())
}

/// A duration of at least `min`, or `default` when unset.
pub(crate) fn duration(
    key: &str,
    raw: Option<&str>,
    default: Duration,
    min: Duration,
) -> Result<Duration, SettingsError> {
    let Some(text) = present(raw) else {
        return Ok(default);
    };
    let value = humantime::parse_duration(text).map_err(|err| {
        SettingsError::new(
            key,
            format!("{text:?} is not a duration ({err})"),
            DURATION_FORMAT,
        )
    })?;
    if value < min {
        return Err(SettingsError::new(
            key,
            format!("{text:?} is too short"),
            format!("at least {}", format_duration(min)),
        ));
    }
    Ok(value)
}

/// A byte size of at least one byte, or `default` when unset.
pub(crate) fn size(
    key: &str,
    raw: Option<&str>,
    default: ByteSize,
) -> Result<ByteSize, SettingsError> {
    let Some(text) = present(raw) else {
        return Ok(default);
    };
    match ByteSize::from_str(text) {
        Ok(value) if value.as_u64() > 0 => Ok(value),
        Ok(_) => Err(SettingsError::new(
            key,
            format!("{text:?} is zero"),
            SIZE_FORMAT,
        )),
        Err(err) => Err(SettingsError::new(
            key,
            format!("{text:?} is not a size ({err})"),
            SIZE_FORMAT,
        )),
    }
}

/// A whole number of at least 1, or `default` when unset.
pub(crate) fn count<T>(key: &str, raw: Option<&str>, default: T) -> Result<T, SettingsError>
where
    T: FromStr + PartialOrd + From<u8>,
{
    let Some(text) = present(raw) else {
        return Ok(default);
    };
    let expected = "a whole number of at least 1";
    match text.parse::<T>() {
        Ok(value) if value >= T::from(1) => Ok(value),
        Ok(_) => Err(SettingsError::new(
            key,
            format!("{text} is too small"),
            expected,
        )),
        Err(_) => Err(SettingsError::new(
            key,
            format!("{text:?} is not a whole number in range"),
            expected,
        )),
    }
}

/// An `IP:PORT` socket address, or `None` when unset.
pub(crate) fn socket_addr(
    key: &str,
    raw: Option<&str>,
) -> Result<Option<SocketAddr>, SettingsError> {
    let Some(text) = present(raw) else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        SettingsError::new(
            key,
            format!("{text:?} is not an IP:PORT address"),
            "an address like \"127.0.0.1:8080\" or \"[::1]:8080\" (an IP, not a host name)",
        )
    })
}

/// A URL with one of `schemes`, or `None` when unset. The value is not repeated in the
/// message, since a URL may carry a password.
pub(crate) fn url(
    key: &str,
    raw: Option<&str>,
    schemes: &[&str],
) -> Result<Option<Url>, SettingsError> {
    let Some(text) = present(raw) else {
        return Ok(None);
    };
    let expected = format!(
        "a URL starting with {}",
        schemes
            .iter()
            .map(|s| format!("{s}://"))
            .collect::<Vec<_>>()
            .join(" or ")
    );
    let value = Url::parse(text).map_err(|err| {
        SettingsError::new(key, format!("the value is not a URL ({err})"), &expected)
    })?;
    if !schemes.contains(&value.scheme()) {
        return Err(SettingsError::new(
            key,
            format!("the scheme {:?} is not accepted", value.scheme()),
            expected,
        ));
    }
    if !value.has_host() {
        return Err(SettingsError::new(key, "the URL has no host", expected));
    }
    Ok(Some(value))
}

/// `url` with its password, if any, replaced by [`MASK`].
pub(crate) fn masked_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() && shown.set_password(Some(MASK)).is_err() {
        return MASK.to_owned();
    }
    shown.to_string()
}

/// A duration as humantime writes it (`1m`, `10s`, `7days`), which parses back unchanged.
pub(crate) fn format_duration(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

/// A size in the largest binary unit that divides it exactly: `256KiB`, `16MiB`, `1000B`.
pub(crate) fn format_size(value: ByteSize) -> String {
    let bytes = value.as_u64();
    let units = [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    units
        .iter()
        .find(|(_, factor)| bytes >= *factor && bytes.is_multiple_of(*factor))
        .map_or_else(
            || format!("{bytes}B"),
            |(unit, factor)| format!("{}{unit}", bytes / factor),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_humantime_and_respect_the_minimum() {
        let key = "poll.interval";
        let one = Duration::from_secs(1);
        assert_eq!(
            duration(key, Some("2m"), one, one),
            Ok(Duration::from_secs(120))
        );
        assert_eq!(duration(key, None, one, one), Ok(one));
        assert_eq!(duration(key, Some("  "), one, one), Ok(one));
        let err = duration(key, Some("500ms"), one, one).expect_err("too short");
        assert_eq!(err.key, key);
        assert!(err.to_string().contains("at least 1s"), "{err}");
        let err = duration(key, Some("10"), one, one).expect_err("no unit");
        assert!(
            err.to_string().starts_with("poll.interval: \"10\""),
            "{err}"
        );
    }

    #[test]
    fn sizes_parse_binary_units_and_reject_zero() {
        let def = ByteSize::kib(1);
        assert_eq!(
            size("api.max_body", Some("256KiB"), def),
            Ok(ByteSize::kib(256))
        );
        assert_eq!(
            size("api.max_body", Some("1024"), def),
            Ok(ByteSize::kib(1))
        );
        assert!(size("api.max_body", Some("0B"), def).is_err());
        assert!(size("api.max_body", Some("lots"), def).is_err());
    }

    #[test]
    fn counts_must_be_positive_whole_numbers() {
        assert_eq!(count::<u32>("k", Some("3"), 1), Ok(3));
        assert!(count::<u32>("k", Some("0"), 1).is_err());
        assert!(count::<u32>("k", Some("-1"), 1).is_err());
        assert!(count::<u32>("k", Some("2.5"), 1).is_err());
    }

    #[test]
    fn urls_need_an_accepted_scheme_and_never_echo_the_value() {
        let schemes = ["redis", "rediss"];
        assert!(url("redis.url", Some("redis://db:6379"), &schemes).is_ok());
        let err = url("redis.url", Some("http://user:hunter2@db"), &schemes).expect_err("scheme");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("redis://"), "{err}");
        assert!(url("redis.url", Some("not a url"), &schemes).is_err());
        assert_eq!(url("redis.url", Some(""), &schemes), Ok(None));
    }

    #[test]
    fn sizes_are_written_in_the_largest_exact_unit() {
        assert_eq!(format_size(ByteSize::kib(256)), "256KiB");
        assert_eq!(format_size(ByteSize::mib(16)), "16MiB");
        assert_eq!(format_size(ByteSize::b(1000)), "1000B");
        assert_eq!(format_size(ByteSize::b(1536)), "1536B");
    }

    #[test]
    fn durations_are_written_so_they_parse_back() {
        for d in [
            Duration::from_millis(500),
            Duration::from_secs(60),
            Duration::from_secs(7 * 86_400),
            Duration::from_millis(1_500),
        ] {
            let text = format_duration(d);
            assert_eq!(humantime::parse_duration(&text), Ok(d), "{text}");
        }
    }

    #[test]
    fn a_password_in_a_url_is_masked() {
        let url = Url::parse("redis://user:hunter2@db:6379/0").expect("url");
        let shown = masked_url(&url);
        assert_eq!(shown, "redis://user:***@db:6379/0");
    }
}
