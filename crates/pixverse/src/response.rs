//! Turning what came back over HTTP into a JSON value or an [`Error`].
//!
//! Every error made here goes through [`classify`], and every text taken from the wire goes
//! through [`Token::redact`], so a server that echoes the authorization header cannot leak the
//! token into a message.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::classify::{Answer, classify, classify_transport};
use crate::error::{Endpoint, Error, ErrorKind};
use crate::result::UpstreamErrorBody;
use crate::token::Token;

/// How much of a body that is not JSON an error message quotes.
const SNIPPET_CHARS: usize = 200;

/// A 2xx answer whose JSON body reports no failure.
pub(crate) struct Answered {
    pub(crate) value: Value,
    pub(crate) status: u16,
    pub(crate) trace_id: Option<String>,
}

/// Reads the body of an answer and decides whether it is a success.
///
/// # Errors
///
/// Any status that is not 2xx, a body that is not JSON or breaks off, and a 2xx body that
/// reports a failure (`success: false`, or an `error` without `success: true`).
pub(crate) async fn read(
    endpoint: Endpoint,
    response: reqwest::Response,
    token: &Token,
) -> Result<Answered, Error> {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            let kind = classify(endpoint, status, Answer::Unreadable, retry_after);
            let message = format!("the body broke off while being read: {}", cause(&e));
            return Err(Error::new(kind, Some(endpoint), token.redact(&message))
                .with_status(status)
                .with_source(e));
        }
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => {
            let kind = classify(endpoint, status, Answer::Unreadable, retry_after);
            let message = format!("the body is not JSON: {}", snippet(&bytes));
            return Err(
                Error::new(kind, Some(endpoint), token.redact(&message)).with_status(status)
            );
        }
    };
    let trace_id = value
        .get("trace_id")
        .and_then(Value::as_str)
        .map(|t| token.redact(t));
    let error = value.get("error").and_then(UpstreamErrorBody::from_value);
    let failed = match value.get("success").and_then(Value::as_bool) {
        Some(false) => true,
        Some(true) => false,
        None => error.as_ref().is_some_and(|e| !e.is_empty()),
    };
    if (200..300).contains(&status) && !failed {
        return Ok(Answered {
            value,
            status,
            trace_id,
        });
    }
    let code = error
        .as_ref()
        .and_then(|e| e.code())
        .map(|c| token.redact(c));
    let kind = classify(endpoint, status, Answer::Json(code.as_deref()), retry_after);
    let message = match error.as_ref().and_then(|e| e.message()) {
        Some(message) => token.redact(message),
        None if failed => "the upstream reported a failure without a message".to_owned(),
        None => format!("unexpected answer: {}", token.redact(&snippet(&bytes))),
    };
    Err(Error::new(kind, Some(endpoint), message)
        .with_status(status)
        .with_code(code)
        .with_trace_id(trace_id))
}

/// The error of a 2xx answer whose JSON does not fit what `endpoint` should answer.
pub(crate) fn unexpected(
    endpoint: Endpoint,
    answered: &Answered,
    what: &str,
    token: &Token,
) -> Error {
    let kind = classify(endpoint, answered.status, Answer::Unexpected, None);
    Error::new(
        kind,
        Some(endpoint),
        token.redact(&format!("unexpected answer: {what}")),
    )
    .with_status(answered.status)
    .with_trace_id(answered.trace_id.clone())
}

/// The error of a call that got no HTTP answer.
pub(crate) fn transport(
    endpoint: Endpoint,
    e: reqwest::Error,
    timeout: Duration,
    token: &Token,
) -> Error {
    if e.is_builder() {
        let message = format!("the request could not be built: {}", cause(&e));
        return Error::new(ErrorKind::Config, Some(endpoint), token.redact(&message))
            .with_source(e);
    }
    let before_sending = e.is_connect();
    let kind = classify_transport(endpoint, before_sending);
    let message = if before_sending {
        format!("could not connect, nothing was sent: {}", cause(&e))
    } else if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else {
        format!("the connection failed after sending: {}", cause(&e))
    };
    Error::new(kind, Some(endpoint), token.redact(&message)).with_source(e)
}

/// The innermost cause of a transport error: the most specific text, and free of URLs.
fn cause(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// `Retry-After` as seconds (`"5"`, `"1.5"`) or an HTTP date, as a delay from `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The start of a body, printable, for an error message.
fn snippet(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty body)".to_owned();
    }
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    format!("{:?}", out.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("5"), now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after(&headers(" 1.5 "), now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn snippet_is_short_printable_and_marked_when_cut() {
        assert_eq!(snippet(b""), "(empty body)");
        assert_eq!(snippet(b"<html>\n502</html>"), "\"<html> 502</html>\"");
        let long = "x".repeat(1000);
        let s = snippet(long.as_bytes());
        assert!(s.chars().count() < 210 && s.contains('…'), "{s}");
    }
}
