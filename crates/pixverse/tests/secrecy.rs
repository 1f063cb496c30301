//! The token never shows: not in Debug output, not in error messages (even when a server
//! echoes it back). Logs are checked in `logging.rs`.

mod support;

use pixverse::{Client, ClientConfig, ErrorKind, GenerateRequest, SubmitMode, Token, Url};
use support::{
    Raw, TOKEN, client, closed_port, fixture, serve_echoing_auth, serve_json, serve_raw,
};

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "{what} shows the token: {text}");
    assert!(
        !text.contains("SECRET"),
        "{what} shows part of the token: {text}"
    );
}

fn assert_error_hidden(e: &pixverse::Error) {
    assert_hidden("Display", &e.to_string());
    assert_hidden("Debug", &format!("{e:?}"));
    assert_hidden("message", e.message());
    assert_hidden("trace_id", e.trace_id().unwrap_or(""));
    assert_hidden("code", e.code().unwrap_or(""));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        assert_hidden("source", &s.to_string());
        source = s.source();
    }
}

#[test]
fn client_and_config_debug_show_only_the_alias() {
    let config = ClientConfig::new(Token::new(TOKEN));
    let alias = config.token.alias();
    let client = Client::new(config.clone()).unwrap();
    for text in [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{:?}", config.token),
    ] {
        assert_hidden("Debug", &text);
        assert!(text.contains(&alias), "{text}");
    }
}

#[test]
fn base_url_with_credentials_is_refused_without_repeating_them() {
    let base = Url::parse("https://alice:hunter2@proxy.test/").unwrap();
    let e = Client::new(ClientConfig::new(Token::new(TOKEN)).with_base_url(base)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains("hunter2") && !text.contains("alice"),
        "{text}"
    );
}

#[tokio::test]
async fn invalid_token_error_does_not_show_the_token() {
    let server = serve_json(401, &fixture("error-invalid-token.json")).await;
    let e = server
        .client()
        .generate(&GenerateRequest::new("x"), SubmitMode::Async)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Account);
    assert_error_hidden(&e);
}

#[tokio::test]
async fn a_server_echoing_the_token_has_it_redacted_from_errors() {
    let server = serve_echoing_auth(401).await;
    let e = server.client().retrieve("t").await.unwrap_err();
    assert!(
        e.message().contains("[redacted token]"),
        "the echo reached the message: {e}"
    );
    assert_error_hidden(&e);
}

#[tokio::test]
async fn transport_errors_do_not_show_the_token_or_the_url() {
    let dropped = serve_raw(Raw::Drop).await;
    let refused = closed_port().await;
    for base in [dropped.base.clone(), refused] {
        let e = client(&base)
            .generate(&GenerateRequest::new("x"), SubmitMode::Async)
            .await
            .unwrap_err();
        assert_error_hidden(&e);
        let text = format!("{e} {e:?}");
        assert!(!text.contains("http://"), "the URL shows: {text}");
    }
}
