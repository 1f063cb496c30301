//! The one place that decides an [`ErrorKind`]: from the endpoint, the HTTP status and what the
//! body said, or from how the transport failed.
//!
//! By the error code first, then by the status. The submit/read split follows one fact: only
//! a 4xx answer (429 included) or a failure before any byte was sent proves that a submit
//! created no task. Everything else after sending leaves the outcome unknown.

use std::time::Duration;

use crate::error::{Endpoint, ErrorKind};

/// What came back with a status that is not a plain success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer<'a> {
    /// A JSON body (a failure envelope, or anything with a non-2xx status), with the
    /// `error.code` it carried, if any.
    Json(Option<&'a str>),
    /// A body that is not JSON, or that broke off while being read.
    Unreadable,
    /// A 2xx JSON body that does not fit the expected shape.
    Unexpected,
}

/// The kind of an HTTP answer that is not a usable success.
pub(crate) fn classify(
    endpoint: Endpoint,
    status: u16,
    answer: Answer<'_>,
    retry_after: Option<Duration>,
) -> ErrorKind {
    let code = match answer {
        Answer::Json(code) => code.filter(|c| !c.is_empty()),
        _ => None,
    };
    if let Some(kind) = code.and_then(|c| by_code(endpoint, c, retry_after)) {
        return kind;
    }
    match status {
        429 => ErrorKind::RateLimited { retry_after },
        200..=299 => match answer {
            Answer::Unexpected if endpoint.is_submit() => ErrorKind::OutcomeUnknown,
            Answer::Unexpected => ErrorKind::Decode,
            // A failure body with an unknown code, or a body we could not read.
            _ => server_failure(endpoint),
        },
        401 => ErrorKind::Account,
        403 if code.is_none() => ErrorKind::Account,
        408 | 409 => ErrorKind::Transient,
        400..=499 => ErrorKind::Permanent,
        500..=599 => server_failure(endpoint),
        // 1xx/3xx (redirects are not followed): the base URL is wrong; nothing was processed.
        _ => ErrorKind::Permanent,
    }
}

/// The kind of a call that got no HTTP answer. `before_sending` is true when the connection
/// could not be made (refused, DNS, connect timeout), so no request reached the upstream.
pub(crate) fn classify_transport(endpoint: Endpoint, before_sending: bool) -> ErrorKind {
    if before_sending {
        ErrorKind::Transient
    } else {
        server_failure(endpoint)
    }
}

fn by_code(endpoint: Endpoint, code: &str, retry_after: Option<Duration>) -> Option<ErrorKind> {
    Some(match code {
        "too_many_requests" => ErrorKind::RateLimited { retry_after },
        "invalid_token" | "token_expired" | "no_token" | "token_mismatched" | "used_up"
        | "disabled" => ErrorKind::Account,
        "bad_request" | "forbidden" | "no_api" | "api_not_implemented" => ErrorKind::Permanent,
        "api_error" | "timeout" => server_failure(endpoint),
        _ => return None,
    })
}

fn server_failure(endpoint: Endpoint) -> ErrorKind {
    if endpoint.is_submit() {
        ErrorKind::OutcomeUnknown
    } else {
        ErrorKind::Transient
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Answer::{Json, Unexpected, Unreadable};
    use Endpoint::{Character, Tasks, Videos};
    use ErrorKind::*;

    const LIMITED: ErrorKind = RateLimited { retry_after: None };

    /// Every code of UPSTREAM.md's table, at each status it is documented with:
    /// (code, status, kind on a submit, kind on a read).
    const BY_CODE: &[(&str, u16, ErrorKind, ErrorKind)] = &[
        ("bad_request", 400, Permanent, Permanent),
        ("no_token", 400, Account, Account),
        ("token_mismatched", 400, Account, Account),
        ("token_mismatched", 401, Account, Account),
        ("api_not_implemented", 400, Permanent, Permanent),
        ("invalid_token", 401, Account, Account),
        ("token_expired", 401, Account, Account),
        ("used_up", 403, Account, Account),
        ("forbidden", 403, Permanent, Permanent),
        ("disabled", 403, Account, Account),
        ("disabled", 400, Account, Account),
        ("no_api", 404, Permanent, Permanent),
        ("too_many_requests", 429, LIMITED, LIMITED),
        ("api_error", 500, OutcomeUnknown, Transient),
        ("timeout", 504, OutcomeUnknown, Transient),
        // A code wins over a status that disagrees with it.
        ("too_many_requests", 400, LIMITED, LIMITED),
        ("used_up", 500, Account, Account),
        ("forbidden", 200, Permanent, Permanent),
        ("api_error", 200, OutcomeUnknown, Transient),
    ];

    #[test]
    fn every_documented_code_is_classified_for_submits_and_reads() {
        for &(code, status, submit, read) in BY_CODE {
            assert_eq!(
                classify(Videos, status, Json(Some(code)), None),
                submit,
                "{code} {status} submit"
            );
            assert_eq!(
                classify(Tasks, status, Json(Some(code)), None),
                read,
                "{code} {status} tasks"
            );
            assert_eq!(
                classify(Character, status, Json(Some(code)), None),
                read,
                "{code} {status} character"
            );
        }
    }

    /// Status fallbacks when the body has no code, an unknown code, or is not JSON:
    /// (status, answer, kind on a submit, kind on a read).
    const BY_STATUS: &[(u16, Answer<'static>, ErrorKind, ErrorKind)] = &[
        (429, Json(None), LIMITED, LIMITED),
        (429, Unreadable, LIMITED, LIMITED),
        (403, Json(None), Account, Account),
        (403, Unreadable, Account, Account),
        (403, Json(Some("brand_new_code")), Permanent, Permanent),
        (401, Json(None), Account, Account),
        (401, Json(Some("brand_new_code")), Account, Account),
        (400, Json(None), Permanent, Permanent),
        (400, Unreadable, Permanent, Permanent),
        (404, Json(None), Permanent, Permanent),
        (422, Json(Some("brand_new_code")), Permanent, Permanent),
        (408, Json(None), Transient, Transient),
        (409, Json(Some("duplication")), Transient, Transient),
        (500, Json(None), OutcomeUnknown, Transient),
        (500, Unreadable, OutcomeUnknown, Transient),
        (502, Unreadable, OutcomeUnknown, Transient),
        (503, Json(Some("busy")), OutcomeUnknown, Transient),
        (504, Json(None), OutcomeUnknown, Transient),
        (200, Unreadable, OutcomeUnknown, Transient),
        (200, Json(Some("brand_new_code")), OutcomeUnknown, Transient),
        (200, Json(None), OutcomeUnknown, Transient),
        (200, Unexpected, OutcomeUnknown, Decode),
        (301, Unreadable, Permanent, Permanent),
    ];

    #[test]
    fn status_decides_when_the_code_does_not() {
        for &(status, answer, submit, read) in BY_STATUS {
            assert_eq!(
                classify(Videos, status, answer, None),
                submit,
                "{status} {answer:?} submit"
            );
            assert_eq!(
                classify(Tasks, status, answer, None),
                read,
                "{status} {answer:?} read"
            );
        }
    }

    #[test]
    fn an_empty_code_counts_as_no_code() {
        assert_eq!(classify(Videos, 403, Json(Some("")), None), Account);
    }

    #[test]
    fn rate_limit_carries_the_retry_after_delay() {
        let delay = Some(Duration::from_secs(7));
        let expected = RateLimited { retry_after: delay };
        assert_eq!(classify(Videos, 429, Json(None), delay), expected);
        assert_eq!(
            classify(Tasks, 400, Json(Some("too_many_requests")), delay),
            expected
        );
    }

    #[test]
    fn transport_failure_is_unknown_on_a_submit_only_after_sending() {
        assert_eq!(classify_transport(Videos, true), Transient);
        assert_eq!(classify_transport(Videos, false), OutcomeUnknown);
        assert_eq!(classify_transport(Tasks, false), Transient);
        assert_eq!(classify_transport(Character, true), Transient);
    }
}
