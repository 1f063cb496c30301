//! [`ApiConfig`]: what the API needs from the settings, and nothing else.

use std::fmt;

use pixq_core::pipeline::Pipeline;
use pixq_core::settings::{
    DEFAULT_API_MAX_BATCH_BODY, DEFAULT_API_MAX_BODY, DEFAULT_UPSTREAM_MAX_IN_FLIGHT, Settings,
};
use url::Url;

/// The default largest body `POST /v1/jobs` accepts: `api.max_body`'s default.
pub const DEFAULT_MAX_BODY: usize = DEFAULT_API_MAX_BODY.as_u64() as usize;

/// The default largest body `POST /v1/batches` accepts: `api.max_batch_body`'s default.
pub const DEFAULT_MAX_BATCH_BODY: usize = DEFAULT_API_MAX_BATCH_BODY.as_u64() as usize;

/// The API's own configuration, taken from the validated settings by the binary.
///
/// Kept apart from `pixq_core::settings::Settings` so that tests can start an API with a
/// handful of fields instead of a whole configuration.
#[derive(Clone)]
pub struct ApiConfig {
    /// Bearer tokens the `/v1` routes accept. Empty means no auth: the binary allows that only
    /// on a loopback listener.
    pub tokens: Vec<String>,
    /// The largest request body, in bytes; a larger one is 413.
    pub max_body: usize,
    /// The largest `POST /v1/batches` body, in bytes (100,000 prompts fit in the default).
    pub max_batch_body: usize,
    /// The base URL the upstream can reach for callbacks; `None` means poll only.
    pub public_url: Option<Url>,
    /// The scheduled pipelines `GET /v1/pipelines` lists (the workers fire them).
    pub pipelines: Vec<Pipeline>,
    /// Whether `api.webhook_secret` is set: without it nothing could sign a webhook, so a
    /// job or batch with a `webhook_url` is refused (400 naming `webhook_url`).
    pub signs_webhooks: bool,
    /// `upstream.max_in_flight`: the cap per token that `GET /v1/overview` and the dashboard
    /// show beside each token's generations in flight (the workers enforce it).
    pub max_in_flight: u32,
}

impl ApiConfig {
    /// The API's part of validated [`Settings`].
    pub fn from_settings(settings: &Settings) -> Self {
        ApiConfig {
            tokens: settings
                .api
                .tokens
                .iter()
                .map(|t| t.expose().to_owned())
                .collect(),
            max_body: usize::try_from(settings.api.max_body.as_u64()).unwrap_or(usize::MAX),
            max_batch_body: usize::try_from(settings.api.max_batch_body.as_u64())
                .unwrap_or(usize::MAX),
            public_url: settings.api.public_url.clone(),
            pipelines: settings.pipelines.clone(),
            signs_webhooks: settings.api.webhook_secret.is_some(),
            max_in_flight: settings.upstream.max_in_flight,
        }
    }
}

impl Default for ApiConfig {
    /// No auth, [`DEFAULT_MAX_BODY`], no callbacks, no webhooks: what a loopback test server
    /// needs.
    fn default() -> Self {
        ApiConfig {
            tokens: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            max_batch_body: DEFAULT_MAX_BATCH_BODY,
            public_url: None,
            pipelines: Vec::new(),
            signs_webhooks: false,
            max_in_flight: DEFAULT_UPSTREAM_MAX_IN_FLIGHT,
        }
    }
}

/// Masks the tokens, so that a logged configuration never carries one.
impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("tokens", &format_args!("[{} masked]", self.tokens.len()))
            .field("max_body", &self.max_body)
            .field("max_batch_body", &self.max_batch_body)
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("pipelines", &self.pipelines.len())
            .field("signs_webhooks", &self.signs_webhooks)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_tokens() {
        let config = ApiConfig {
            tokens: vec!["secret-token".into()],
            ..ApiConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("secret-token"), "{text}");
    }
}
