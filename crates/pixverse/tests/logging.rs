//! The client logs each call at debug level with endpoint, status and the token's alias, and
//! never the token. Alone in its test binary: tracing caches per-callsite interest globally,
//! so a scoped subscriber can miss events that other tests' threads registered first.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pixverse::{Client, ClientConfig, Token};
use support::{Raw, TOKEN, fixture, serve_echoing_auth, serve_json, serve_raw};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[test]
fn logs_carry_endpoint_status_and_alias_but_never_the_token() {
    let logs = Arc::new(Mutex::new(String::new()));
    let subscriber = Capture(logs.clone());
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let ok = serve_json(200, &fixture("task-record-done.json")).await;
            ok.client().retrieve("t").await.unwrap();
            let bad = serve_echoing_auth(401).await;
            bad.client().retrieve("t").await.unwrap_err();
            let slow = serve_raw(Raw::Hang(Duration::from_secs(5))).await;
            let client = Client::new(
                ClientConfig::new(Token::new(TOKEN))
                    .with_base_url(slow.base.clone())
                    .with_request_timeout(Duration::from_millis(200)),
            )
            .unwrap();
            client.retrieve("t").await.unwrap_err();
        });
    });
    let logs = logs.lock().unwrap().clone();
    assert!(
        !logs.contains(TOKEN) && !logs.contains("SECRET"),
        "the token is in the logs: {logs}"
    );
    assert!(logs.contains("pixverse/tasks"), "{logs}");
    assert!(logs.contains("status=200"), "{logs}");
    assert!(
        logs.contains("status=401") && logs.contains("kind=account"),
        "{logs}"
    );
    assert!(
        logs.contains("kind=transient"),
        "the timeout was not logged: {logs}"
    );
    assert!(logs.contains(&Token::new(TOKEN).alias()), "{logs}");
}

/// Writes every field of every event and span into a string.
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Fields(&mut self.0.lock().unwrap()));
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut logs = self.0.lock().unwrap();
        event.record(&mut Fields(&mut logs));
        logs.push('\n');
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
