//! [`Receiver`]: a webhook receiver on loopback, as a user would write one. It checks every
//! request's Standard Webhooks signature itself (HMAC-SHA256 with the shared secret, not
//! pixq's code), keeps every request, and answers as the test set it up: failing the first
//! attempts of each event, hanging, or holding the first request it gets.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::task::JoinHandle;

/// The secret every test signs with: `whsec_` + base64 of 32 bytes.
pub const SECRET: &str = "whsec_cGl4cS13ZWJob29rLXRlc3Qtc2VjcmV0LTMyYnl0ZXM=";

/// How a receiver answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Each event's first this many attempts get 500.
    pub fail_first: u32,
    /// Every request waits this long before its answer (200).
    pub hang: Option<Duration>,
    /// The first request is held this long and then answered 503; the others as usual.
    pub hold_first: Option<Duration>,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// What it was answered.
    pub answered: u16,
}

impl Request {
    /// The event's body.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Log {
    /// Requests whose signature checked, in arrival order (answered or not yet).
    requests: Vec<Request>,
    /// Requests arrived, including those still held.
    arrived: usize,
    /// Why requests were refused for their signature.
    bad: Vec<String>,
    attempts: BTreeMap<String, u32>,
}

struct Shared {
    key: Vec<u8>,
    behaviour: Behaviour,
    /// While set, every request gets 500.
    failing: AtomicBool,
    log: Mutex<Log>,
}

/// A receiver on `127.0.0.1`, stopped when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Receiver {
    /// Starts one answering as `behaviour` says.
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let encoded = SECRET.strip_prefix("whsec_").expect("a whsec_ secret");
        let key = STANDARD.decode(encoded).expect("base64");
        let shared = Arc::new(Shared {
            key,
            behaviour,
            failing: AtomicBool::new(false),
            log: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("an address");
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the receiver serves");
        });
        Receiver {
            addr,
            shared,
            server,
        }
    }

    /// A URL of this receiver, as `host` names it (`127.0.0.1`, `localhost`).
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}/{path}", self.addr.port())
    }

    /// While `failing`, every request is answered 500.
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// Every request whose signature checked, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().expect("the log").requests.clone()
    }

    /// How many requests arrived, held ones included.
    pub fn arrived(&self) -> usize {
        self.shared.log.lock().expect("the log").arrived
    }

    /// Why requests were refused for their signature (empty when every one checked).
    pub fn bad_signatures(&self) -> Vec<String> {
        self.shared.log.lock().expect("the log").bad.clone()
    }

    /// The events answered 2xx, de-duplicated by `webhook-id`: the first 2xx of each.
    pub fn delivered(&self) -> BTreeMap<String, Request> {
        let mut out = BTreeMap::new();
        for r in self.requests() {
            if (200..300).contains(&r.answered) {
                out.entry(r.id.clone()).or_insert(r);
            }
        }
        out
    }

    /// The distinct `webhook-id`s delivered for each subject (`data.id`).
    pub fn events_by_subject(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, r) in self.delivered() {
            let subject = r.json()["data"]["id"].as_str().expect("data.id").to_owned();
            out.entry(subject).or_default().insert(id);
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let first = {
        let mut log = shared.log.lock().expect("the log");
        log.arrived += 1;
        log.arrived == 1
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Err(why) = verify(&shared.key, &id, &timestamp, &signature, &body) {
        shared.log.lock().expect("the log").bad.push(why);
        return StatusCode::BAD_REQUEST;
    }
    let attempt = {
        let mut log = shared.log.lock().expect("the log");
        let n = log.attempts.entry(id.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let behaviour = shared.behaviour;
    let answer = if let (true, Some(hold)) = (first, behaviour.hold_first) {
        tokio::time::sleep(hold).await;
        StatusCode::SERVICE_UNAVAILABLE
    } else if attempt <= behaviour.fail_first || shared.failing.load(Ordering::SeqCst) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        if let Some(hang) = behaviour.hang {
            tokio::time::sleep(hang).await;
        }
        StatusCode::OK
    };
    shared.log.lock().expect("the log").requests.push(Request {
        id,
        timestamp,
        signature,
        body: text,
        answered: answer.as_u16(),
    });
    answer
}

/// Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, among the
/// space-separated signatures of the header; the timestamp within 5 minutes of now.
fn verify(key: &[u8], id: &str, timestamp: &str, header: &str, body: &[u8]) -> Result<(), String> {
    if id.is_empty() {
        return Err("no webhook-id".into());
    }
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| format!("webhook-timestamp {timestamp:?}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs() as i64;
    if (now - seconds).abs() > 300 {
        return Err(format!(
            "webhook-timestamp {seconds} is {}s off",
            now - seconds
        ));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let found = header.split(' ').any(|part| {
        part.strip_prefix("v1,")
            .is_some_and(|sig| sig.as_bytes() == expected.as_bytes())
    });
    if found {
        Ok(())
    } else {
        Err(format!("signature {header:?} of {id} does not match"))
    }
}
