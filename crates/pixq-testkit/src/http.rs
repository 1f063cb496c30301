//! Reading HTTP answers in tests.

/// The `Content-Type` of `response` as text, empty when it has none (or it is not text).
pub fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
