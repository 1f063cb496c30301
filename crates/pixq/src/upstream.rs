//! The upstream client of a process that calls the upstream (`pixq worker`, `pixq run`).

use anyhow::Context;
use pixq_core::settings::Settings;
use pixverse::{Client, ClientConfig};

use crate::config;

/// The client of `upstream.*`.
///
/// # Errors
///
/// An invalid configuration (exit 2) when no token is set; a client that cannot be built.
pub fn client(settings: &Settings) -> anyhow::Result<Client> {
    let token = settings
        .upstream
        .token
        .as_ref()
        .context("upstream.token is not set: set it, or ACEDATACLOUD_API_TOKEN")
        .context(config::InvalidConfiguration)?;
    Client::new(
        ClientConfig::new(token.to_token())
            .with_base_url(settings.upstream.base_url.clone())
            .with_request_timeout(settings.upstream.timeout),
    )
    .context("cannot build the upstream client")
}
