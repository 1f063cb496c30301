//! One attempt at an event: sign it, POST it, and say what happened ([`Outcome`]). Deciding
//! what comes next (a retry, giving up) is the delivery service's.

use std::time::{Duration, Instant};

use chrono::Utc;
use pixq_core::metrics::WEBHOOK_REQUEST_DURATION;
use pixq_core::outbox::Event;
use pixq_core::webhook::{
    AddressPolicy, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SigningKey,
};
use reqwest::header::CONTENT_TYPE;
use url::Url;

use super::resolver::{check_literal, refusal};

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// No 2xx: an error status, a timeout, no connection. Worth trying again.
    Failed(String),
    /// The outbound policy refused every address of the receiver: trying again would not
    /// help.
    Refused(String),
}

/// POSTs `event` to its URL through `client`, signed with `key` at this moment.
pub(crate) async fn attempt(
    client: &reqwest::Client,
    key: &SigningKey,
    policy: &AddressPolicy,
    timeout: Duration,
    event: &Event,
) -> Outcome {
    let url = match Url::parse(&event.url) {
        Ok(url) => url,
        // Checked when the job was created; an event that does not parse cannot be sent.
        Err(e) => return Outcome::Refused(format!("webhook_url does not parse: {e}")),
    };
    if let Err(refused) = check_literal(policy, &url) {
        return Outcome::Refused(refused.to_string());
    }
    let timestamp = Utc::now().timestamp();
    let signature = key.sign(event.id.as_str(), timestamp, event.body.as_bytes());
    let started = Instant::now();
    let sent = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(HEADER_ID, event.id.as_str())
        .header(HEADER_TIMESTAMP, timestamp.to_string())
        .header(HEADER_SIGNATURE, signature)
        .body(event.body.clone())
        .send()
        .await;
    metrics::histogram!(WEBHOOK_REQUEST_DURATION).record(started.elapsed().as_secs_f64());
    match sent {
        Ok(answer) if answer.status().is_success() => Outcome::Delivered,
        Ok(answer) => Outcome::Failed(format!("the receiver answered HTTP {}", answer.status())),
        Err(e) => match refusal(&e) {
            Some(refused) => Outcome::Refused(refused.to_string()),
            None => Outcome::Failed(describe(&e, timeout)),
        },
    }
}

/// Why a request got no answer, without its URL (which may carry a receiver's secret).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within webhooks.timeout ({timeout:?})");
    }
    let kind = if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut text = kind.to_owned();
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
