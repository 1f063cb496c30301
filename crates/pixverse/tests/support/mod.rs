//! Loopback servers for the client's tests: an axum server that answers every request with
//! one canned response and records what it received, and a raw TCP server that misbehaves in
//! ways axum will not (drop the connection, hang, send a cut-off body). The simulator and its
//! helpers are in [`sim`].

#![allow(dead_code)]

pub mod sim;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pixverse::{Client, ClientConfig, Token, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A token that must never appear in any output.
pub const TOKEN: &str = "sk-test-4f1c9a7e-SECRET-do-not-print";

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the client sent JSON")
    }
}

#[derive(Clone)]
struct Canned {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    echo_auth: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A server on 127.0.0.1:0 that answers everything with one canned response.
pub struct Server {
    pub base: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The only request received.
    pub fn one(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "expected exactly one request, got {seen:?}");
        seen[0].clone()
    }

    pub fn client(&self) -> Client {
        client(&self.base)
    }
}

/// Answers with `status`, `headers` and `body`.
pub async fn serve(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Server {
    start(status, headers, body.into(), false).await
}

/// Answers with `status` and a JSON body.
pub async fn serve_json(status: u16, body: &str) -> Server {
    serve(
        status,
        &[("content-type", "application/json")],
        body.to_owned(),
    )
    .await
}

/// Answers `status` with an error whose message echoes the request's authorization header,
/// as a misbehaving proxy might.
pub async fn serve_echoing_auth(status: u16) -> Server {
    start(status, &[], Bytes::new(), true).await
}

async fn start(status: u16, headers: &[(&str, &str)], body: Bytes, echo_auth: bool) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let canned = Canned {
        status: StatusCode::from_u16(status).unwrap(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect(),
        body,
        echo_auth,
        seen: seen.clone(),
    };
    let app = Router::new().fallback(answer).with_state(canned);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base: Url::parse(&format!("http://{addr}")).unwrap(),
        seen,
    }
}

async fn answer(State(c): State<Canned>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    c.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let mut out_headers = HeaderMap::new();
    for (k, v) in &c.headers {
        out_headers.insert(k.clone(), v.clone());
    }
    let body = if c.echo_auth {
        Bytes::from(
            serde_json::json!({"error": {"code": "invalid_token", "message": format!("bad header: {auth}")},
                "trace_id": format!("trace {auth}")})
            .to_string(),
        )
    } else {
        c.body.clone()
    };
    (c.status, out_headers, body).into_response()
}

/// A client of `base` with the test token and short timeouts.
pub fn client(base: &Url) -> Client {
    Client::new(
        ClientConfig::new(Token::new(TOKEN))
            .with_base_url(base.clone())
            .with_connect_timeout(Duration::from_secs(2))
            .with_request_timeout(Duration::from_secs(5))
            .with_sync_timeout(Duration::from_secs(10)),
    )
    .unwrap()
}

/// How the raw server treats a connection after reading the request.
#[derive(Debug, Clone)]
pub enum Raw {
    /// Close the connection without answering a byte.
    Drop,
    /// Wait this long, then close without answering.
    Hang(Duration),
    /// Wait this long, then send these bytes and close.
    After(Duration, Vec<u8>),
    /// Send these bytes and close.
    Send(Vec<u8>),
}

/// A raw TCP server on 127.0.0.1:0; counts the complete requests it read.
pub struct RawServer {
    pub base: Url,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    /// The requests read, head and body.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

pub async fn serve_raw(behaviour: Raw) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let behaviour = behaviour.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let request = read_request(&mut socket).await;
                seen.lock().unwrap().push(request);
                match behaviour {
                    Raw::Drop => {}
                    Raw::Hang(d) => tokio::time::sleep(d).await,
                    Raw::After(d, bytes) => {
                        tokio::time::sleep(d).await;
                        let _ = socket.write_all(&bytes).await;
                    }
                    Raw::Send(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                    }
                }
                drop(socket);
            });
        }
    });
    RawServer {
        base: Url::parse(&format!("http://{addr}")).unwrap(),
        requests,
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body.
async fn read_request(socket: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return String::from_utf8_lossy(&buf).into_owned();
            }
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An address where nothing listens: bound, then released.
pub async fn closed_port() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    Url::parse(&format!("http://{addr}")).unwrap()
}

/// A fixture's text.
pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Pixverse-documented answer to an async or callback submit.
pub const ACCEPTED: &str = r#"{"task_id":"84acf7e2-66a7-407a-8295-f0cc7a58579b"}"#;

/// The simplest generation.
pub fn quiver() -> pixverse::GenerateRequest {
    pixverse::GenerateRequest::new("quiver")
}
