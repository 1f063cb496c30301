//! Tests of [`Settings::from_raw`], [`Settings::check_api_auth`] and
//! [`Settings::to_masked_toml`] over raw settings built as JSON, as the layers would give them.

use std::time::Duration;

use super::*;

fn raw(json: &str) -> RawSettings {
    serde_json::from_str(json).expect("raw settings")
}

fn settings(json: &str) -> Settings {
    Settings::from_raw(raw(json)).expect("valid settings")
}

fn error(json: &str) -> SettingsError {
    Settings::from_raw(raw(json)).expect_err("invalid settings")
}

#[test]
fn nothing_set_gives_every_default() {
    let s = Settings::from_raw(RawSettings::default()).expect("defaults are valid");
    assert!(s.redis.url.is_none());
    assert_eq!(s.redis.url_or_local(), LOCAL_REDIS_URL);
    assert_eq!(s.redis.prefix, DEFAULT_REDIS_PREFIX);
    assert_eq!(s.data_dir, std::path::PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(s.api.listen, DEFAULT_API_LISTEN);
    assert!(s.api.tokens.is_empty());
    assert!(s.api.public_url.is_none());
    assert_eq!(s.api.max_body, DEFAULT_API_MAX_BODY);
    assert_eq!(s.api.max_batch_body, DEFAULT_API_MAX_BATCH_BODY);
    assert!(s.api.webhook_secret.is_none());
    assert_eq!(s.upstream.base_url.as_str(), "https://api.acedata.cloud/");
    assert!(s.upstream.token.is_none());
    assert_eq!(s.upstream.max_in_flight, 5);
    assert_eq!(s.upstream.timeout, Duration::from_secs(30));
    assert_eq!(s.worker.concurrency, 64);
    assert!(s.worker.metrics_listen.is_none());
    assert_eq!(s.poll.first_after, Duration::from_secs(60));
    assert_eq!(s.poll.interval, Duration::from_secs(10));
    assert_eq!(s.poll.give_up_after, Duration::from_secs(900));
    assert_eq!(s.retry.max_attempts, 10);
    assert_eq!(s.retention.finished, Duration::from_secs(7 * 86_400));
    assert_eq!(DEFAULT_API_MAX_BODY, bytesize::ByteSize::kib(256));
    assert_eq!(DEFAULT_API_MAX_BATCH_BODY, bytesize::ByteSize::mib(16));
}

#[test]
fn every_key_is_read() {
    let s = settings(
        r#"{
        "redis": {"url": "rediss://:pw@db:6380/2", "prefix": "pixq-staging"},
        "data_dir": "/var/lib/pixq",
        "api": {"listen": "0.0.0.0:9000", "tokens": ["t1", " t2 "], "public_url": "https://pixq.example.com",
                "max_body": "1MiB", "max_batch_body": "32MiB", "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        "upstream": {"base_url": "http://127.0.0.1:18080", "token": "up", "max_in_flight": 2, "timeout": "5s"},
        "worker": {"concurrency": "8", "metrics_listen": "[::1]:9100"},
        "poll": {"first_after": "30s", "interval": "2s", "give_up_after": "1h"},
        "retry": {"max_attempts": 3},
        "retention": {"finished": "1d"}
    }"#,
    );
    assert_eq!(s.redis.url_or_local(), "rediss://:pw@db:6380/2");
    assert_eq!(s.redis.prefix, "pixq-staging");
    assert_eq!(s.data_dir, std::path::PathBuf::from("/var/lib/pixq"));
    assert_eq!(s.api.listen.to_string(), "0.0.0.0:9000");
    let tokens: Vec<&str> = s.api.tokens.iter().map(Secret::expose).collect();
    assert_eq!(tokens, ["t1", "t2"]);
    assert_eq!(
        s.api.public_url.as_ref().map(Url::as_str),
        Some("https://pixq.example.com/")
    );
    assert_eq!(s.api.max_body, bytesize::ByteSize::mib(1));
    assert_eq!(s.api.max_batch_body, bytesize::ByteSize::mib(32));
    assert_eq!(
        s.api.webhook_secret.as_ref().map(Secret::expose),
        Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    );
    assert_eq!(s.upstream.base_url.as_str(), "http://127.0.0.1:18080/");
    assert_eq!(s.upstream.token.as_ref().map(Secret::expose), Some("up"));
    assert_eq!(s.upstream.max_in_flight, 2);
    assert_eq!(s.upstream.timeout, Duration::from_secs(5));
    assert_eq!(s.worker.concurrency, 8);
    assert_eq!(
        s.worker.metrics_listen.map(|a| a.to_string()).as_deref(),
        Some("[::1]:9100")
    );
    assert_eq!(s.poll.first_after, Duration::from_secs(30));
    assert_eq!(s.poll.interval, Duration::from_secs(2));
    assert_eq!(s.poll.give_up_after, Duration::from_secs(3600));
    assert_eq!(s.retry.max_attempts, 3);
    assert_eq!(s.retention.finished, Duration::from_secs(86_400));
}

#[test]
fn each_bad_value_is_reported_under_its_key() {
    let cases = [
        (r#"{"redis": {"url": "http://db:6379"}}"#, "redis.url"),
        (r#"{"redis": {"prefix": ""}}"#, "redis.prefix"),
        (r#"{"redis": {"prefix": "my pixq"}}"#, "redis.prefix"),
        (r#"{"data_dir": " "}"#, "data_dir"),
        (r#"{"api": {"listen": "localhost:8080"}}"#, "api.listen"),
        (r#"{"api": {"tokens": ["ok", ""]}}"#, "api.tokens[1]"),
        (r#"{"api": {"tokens": "a,b c"}}"#, "api.tokens[1]"),
        (r#"{"api": {"public_url": "ftp://x"}}"#, "api.public_url"),
        (r#"{"api": {"max_body": "huge"}}"#, "api.max_body"),
        (
            r#"{"api": {"max_body": "1MiB", "max_batch_body": "512KiB"}}"#,
            "api.max_batch_body",
        ),
        (
            r#"{"upstream": {"base_url": "api.acedata.cloud"}}"#,
            "upstream.base_url",
        ),
        (
            r#"{"upstream": {"max_in_flight": 0}}"#,
            "upstream.max_in_flight",
        ),
        (r#"{"upstream": {"timeout": "0s"}}"#, "upstream.timeout"),
        (r#"{"worker": {"concurrency": "0"}}"#, "worker.concurrency"),
        (
            r#"{"worker": {"metrics_listen": "9100"}}"#,
            "worker.metrics_listen",
        ),
        (r#"{"poll": {"interval": "500ms"}}"#, "poll.interval"),
        (r#"{"poll": {"first_after": "soon"}}"#, "poll.first_after"),
        (r#"{"poll": {"first_after": "20m"}}"#, "poll.give_up_after"),
        (r#"{"retry": {"max_attempts": 0}}"#, "retry.max_attempts"),
        (r#"{"retention": {"finished": "0s"}}"#, "retention.finished"),
        (
            r#"{"pipelines": [{"name": "daily"}]}"#,
            "pipelines[daily].schedule",
        ),
    ];
    for (json, key) in cases {
        let err = error(json);
        assert_eq!(err.key, key, "{json}: {err}");
        assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
    }
}

#[test]
fn poll_interval_of_one_second_is_the_upstream_minimum() {
    let s = settings(r#"{"poll": {"interval": "1s"}}"#);
    assert_eq!(s.poll.interval, MIN_POLL_INTERVAL);
    let err = error(r#"{"poll": {"interval": "999ms"}}"#);
    assert_eq!(
        err.to_string(),
        "poll.interval: \"999ms\" is too short; expected at least 1s"
    );
}

#[test]
fn blank_values_mean_unset() {
    let s = settings(
        r#"{"redis": {"url": ""}, "api": {"tokens": "", "webhook_secret": " "},
            "upstream": {"token": "", "base_url": ""}, "poll": {"interval": ""}}"#,
    );
    assert!(s.redis.url.is_none());
    assert!(s.api.tokens.is_empty());
    assert!(s.api.webhook_secret.is_none());
    assert!(s.upstream.token.is_none());
    assert_eq!(s.upstream.base_url.as_str(), "https://api.acedata.cloud/");
    assert_eq!(s.poll.interval, DEFAULT_POLL_INTERVAL);
}

#[test]
fn errors_never_repeat_a_redis_password() {
    let err = error(r#"{"redis": {"url": "redis://:hunter2@db:6379:99999"}}"#);
    assert_eq!(err.key, "redis.url");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn an_api_without_tokens_must_listen_on_loopback() {
    let loopback = [
        "127.0.0.1:8080",
        "127.0.0.2:8080",
        "[::1]:8080",
        "[::ffff:127.0.0.1]:8080",
    ];
    for listen in loopback {
        let s = settings(&format!(r#"{{"api": {{"listen": "{listen}"}}}}"#));
        assert_eq!(s.check_api_auth(), Ok(()), "{listen}");
    }
    for listen in ["0.0.0.0:8080", "[::]:8080", "10.0.0.5:8080"] {
        let s = settings(&format!(r#"{{"api": {{"listen": "{listen}"}}}}"#));
        let err = s.check_api_auth().expect_err(listen);
        assert_eq!(err.key, "api.tokens", "{err}");
        let s = settings(&format!(
            r#"{{"api": {{"listen": "{listen}", "tokens": ["t"]}}}}"#
        ));
        assert_eq!(s.check_api_auth(), Ok(()), "{listen} with a token");
    }
}

#[test]
fn masked_toml_hides_every_secret() {
    let s = settings(
        r#"{"redis": {"url": "redis://user:hunter2@db:6379/0"},
            "api": {"tokens": ["tok-one", "tok-two"], "webhook_secret": "whsec_c2VjcmV0LWtleS1vbmUtMTIzNDU2Nzg5MA=="},
            "upstream": {"token": "sk-upstream", "base_url": "https://u:basicpw@proxy.example"}}"#,
    );
    let text = s.to_masked_toml();
    for secret in [
        "hunter2",
        "tok-one",
        "tok-two",
        "whsec_c2VjcmV0LWtleS1vbmUtMTIzNDU2Nzg5MA==",
        "sk-upstream",
        "basicpw",
    ] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("tokens = [\"***\", \"***\"]"), "{text}");
    assert!(
        text.contains("url = \"redis://user:***@db:6379/0\""),
        "{text}"
    );
    assert!(text.contains("token = \"***\""), "{text}");
    let debug = format!("{s:?}");
    for secret in [
        "hunter2",
        "tok-one",
        "whsec_c2VjcmV0LWtleS1vbmUtMTIzNDU2Nzg5MA==",
        "sk-upstream",
        "basicpw",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked:\n{debug}");
    }
}

#[test]
fn masked_toml_of_the_defaults_shows_defaults_and_unset_keys() {
    let text = Settings::from_raw(RawSettings::default())
        .expect("defaults")
        .to_masked_toml();
    for line in [
        "data_dir = \"./pixq-data\"",
        "[redis]",
        "# url is unset: ",
        "prefix = \"pixq\"",
        "listen = \"127.0.0.1:8080\"",
        "tokens = []",
        "max_body = \"256KiB\"",
        "max_batch_body = \"16MiB\"",
        "base_url = \"https://api.acedata.cloud/\"",
        "# token is unset: ",
        "max_in_flight = 5",
        "timeout = \"30s\"",
        "concurrency = 64",
        "first_after = \"1m\"",
        "interval = \"10s\"",
        "give_up_after = \"15m\"",
        "max_attempts = 10",
        "finished = \"7days\"",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn webhooks_default_to_public_addresses_a_day_of_retries_and_ten_second_attempts() {
    let s = Settings::from_raw(RawSettings::default()).expect("defaults");
    assert!(s.webhooks.allow_networks.is_empty());
    assert_eq!(s.webhooks.give_up_after, Duration::from_secs(86_400));
    assert_eq!(s.webhooks.timeout, Duration::from_secs(10));
    let text = s.to_masked_toml();
    assert!(
        text.contains(
            "[webhooks]\nallow_networks = []\ngive_up_after = \"1day\"\ntimeout = \"10s\""
        ),
        "{text}"
    );
}

#[test]
fn allow_networks_are_cidr_blocks_from_an_array_or_a_comma_separated_string() {
    let from_array = settings(
        r#"{"webhooks": {"allow_networks": ["127.0.0.1/32", "10.0.0.0/8"], "give_up_after": "2h", "timeout": "3s"}}"#,
    );
    let from_env = settings(r#"{"webhooks": {"allow_networks": "127.0.0.1/32, 10.0.0.0/8"}}"#);
    for s in [&from_array, &from_env] {
        let nets: Vec<String> = s
            .webhooks
            .allow_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8"]);
    }
    assert_eq!(from_array.webhooks.give_up_after, Duration::from_secs(7200));
    assert_eq!(from_array.webhooks.timeout, Duration::from_secs(3));
    let bare = settings(r#"{"webhooks": {"allow_networks": ["::1"]}}"#);
    assert_eq!(bare.webhooks.allow_networks[0].to_string(), "::1/128");
    let err = error(r#"{"webhooks": {"allow_networks": ["127.0.0.1/32", "intranet"]}}"#);
    assert!(
        err.to_string().starts_with("webhooks.allow_networks[1]: "),
        "{err}"
    );
    let err = error(r#"{"webhooks": {"timeout": "0s"}}"#);
    assert!(err.to_string().starts_with("webhooks.timeout: "), "{err}");
}

#[test]
fn a_webhook_secret_that_cannot_sign_fails_at_start_without_showing_it() {
    for bad in ["change-me", "whsec_c2hvcnQ="] {
        let err = error(&format!(r#"{{"api": {{"webhook_secret": "{bad}"}}}}"#)).to_string();
        assert!(err.starts_with("api.webhook_secret: "), "{err}");
        assert!(!err.contains(bad), "{err}");
    }
}

#[test]
fn log_format_is_text_or_json() {
    assert_eq!(settings("{}").log.format, LogFormat::Text);
    assert_eq!(
        settings(r#"{"log": {"format": "json"}}"#).log.format,
        LogFormat::Json
    );
    assert_eq!(
        settings(r#"{"log": {"format": " JSON "}}"#).log.format,
        LogFormat::Json
    );
    assert_eq!(
        settings(r#"{"log": {"format": ""}}"#).log.format,
        LogFormat::Text
    );
    let e = error(r#"{"log": {"format": "yaml"}}"#);
    assert_eq!(e.key, "log.format", "{e}");
    assert_eq!(
        LogFormat::of(&raw(r#"{"log": {"format": "json"}}"#)).unwrap(),
        LogFormat::Json
    );
    assert!(
        settings(r#"{"log": {"format": "json"}}"#)
            .to_masked_toml()
            .contains("[log]\nformat = \"json\"")
    );
}
