//! [`Settings::to_masked_toml`]: the effective configuration as `pixq config` prints it.
//!
//! It is written by hand rather than serialized because TOML has no "unset": an unset key is
//! shown as a comment saying what unset means, which a serializer would silently drop.

use std::fmt::Write as _;
use std::net::SocketAddr;

use url::Url;

use super::value::{format_duration, format_size, masked_url};
use super::*;

impl Settings {
    /// The effective configuration as TOML, in the layout of `deploy/pixq.example.toml`, with
    /// every secret printed as [`MASK`] and every URL password masked. An unset key is a
    /// comment. Apart from the masked values, the output loads back to the same settings.
    pub fn to_masked_toml(&self) -> String {
        let mut out = Toml::default();
        out.comment("The effective configuration of pixq. Secrets are shown as \"***\".");
        out.line("data_dir", quote(&self.data_dir.to_string_lossy()));

        out.table("redis");
        out.url(
            "url",
            self.redis.url.as_ref(),
            "pixq run uses the embedded backend; pixq api and pixq worker use redis://127.0.0.1:6379",
        );
        out.line("prefix", quote(&self.redis.prefix));

        out.table("api");
        out.line("listen", quote(&self.api.listen.to_string()));
        let tokens: Vec<String> = self.api.tokens.iter().map(|_| quote(MASK)).collect();
        out.line("tokens", format!("[{}]", tokens.join(", ")));
        out.url(
            "public_url",
            self.api.public_url.as_ref(),
            "no callbacks from the upstream: poll only",
        );
        out.line("max_body", quote(&format_size(self.api.max_body)));
        out.line(
            "max_batch_body",
            quote(&format_size(self.api.max_batch_body)),
        );
        out.secret(
            "webhook_secret",
            self.api.webhook_secret.as_ref(),
            "jobs and batches with a webhook_url are refused",
        );

        out.table("upstream");
        out.line("base_url", quote(&masked_url(&self.upstream.base_url)));
        out.secret(
            "token",
            self.upstream.token.as_ref(),
            "neither upstream.token nor ACEDATACLOUD_API_TOKEN is set",
        );
        out.line("max_in_flight", self.upstream.max_in_flight.to_string());
        out.line("timeout", quote(&format_duration(self.upstream.timeout)));

        out.table("worker");
        out.line("concurrency", self.worker.concurrency.to_string());
        out.addr(
            "metrics_listen",
            self.worker.metrics_listen,
            "a worker serves no /metrics of its own",
        );

        out.table("poll");
        out.line(
            "first_after",
            quote(&format_duration(self.poll.first_after)),
        );
        out.line("interval", quote(&format_duration(self.poll.interval)));
        out.line(
            "give_up_after",
            quote(&format_duration(self.poll.give_up_after)),
        );

        out.table("retry");
        out.line("max_attempts", self.retry.max_attempts.to_string());

        out.table("retention");
        out.line("finished", quote(&format_duration(self.retention.finished)));

        out.table("webhooks");
        let allowed: Vec<String> = self
            .webhooks
            .allow_networks
            .iter()
            .map(|net| quote(&net.to_string()))
            .collect();
        out.line("allow_networks", format!("[{}]", allowed.join(", ")));
        out.line(
            "give_up_after",
            quote(&format_duration(self.webhooks.give_up_after)),
        );
        out.line("timeout", quote(&format_duration(self.webhooks.timeout)));

        out.table("log");
        out.line("format", quote(self.log.format.as_str()));
        for pipeline in &self.pipelines {
            out.0.push_str(&pipeline.to_toml());
        }
        out.0
    }
}

/// A TOML document being written.
#[derive(Default)]
struct Toml(String);

impl Toml {
    fn comment(&mut self, text: &str) {
        let _ = writeln!(self.0, "# {text}");
    }

    fn table(&mut self, name: &str) {
        let _ = writeln!(self.0, "\n[{name}]");
    }

    fn line(&mut self, key: &str, value: String) {
        let _ = writeln!(self.0, "{key} = {value}");
    }

    fn unset(&mut self, key: &str, meaning: &str) {
        let _ = writeln!(self.0, "# {key} is unset: {meaning}");
    }

    fn url(&mut self, key: &str, value: Option<&Url>, meaning: &str) {
        match value {
            Some(url) => self.line(key, quote(&masked_url(url))),
            None => self.unset(key, meaning),
        }
    }

    fn secret(&mut self, key: &str, value: Option<&Secret>, meaning: &str) {
        match value {
            Some(_) => self.line(key, quote(MASK)),
            None => self.unset(key, meaning),
        }
    }

    fn addr(&mut self, key: &str, value: Option<SocketAddr>, meaning: &str) {
        match value {
            Some(addr) => self.line(key, quote(&addr.to_string())),
            None => self.unset(key, meaning),
        }
    }
}

/// `text` as a TOML basic string.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_what_toml_requires() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("line\nbreak\u{1}"), "\"line\\nbreak\\u0001\"");
    }
}
