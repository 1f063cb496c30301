//! The outbound policy at connect time: [`client`] builds the HTTP client of webhooks, whose
//! DNS resolver hands the connector only the addresses [`AddressPolicy`] allows. The
//! addresses checked are the very ones connected to, so a DNS answer that changes between a
//! check and the connection cannot slip past. A URL naming an address itself never reaches a
//! resolver: [`check_literal`] judges it before the request.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pixq_core::webhook::{AddressPolicy, Refused};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Every address a host resolved to is refused by the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) struct RefusedHost {
    /// The host as the URL names it.
    pub(crate) host: String,
    /// The first refused address, and why.
    pub(crate) refused: Refused,
}

impl fmt::Display for RefusedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host == self.refused.addr.to_string() {
            write!(f, "refused: {}", self.refused)
        } else {
            write!(f, "refused: {} resolves to {}", self.host, self.refused)
        }
    }
}

/// Resolves with the system's resolver, then keeps the addresses the policy allows.
struct PolicyResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut allowed = Vec::with_capacity(found.len());
            let mut first_refused = None;
            for addr in found {
                match policy.check(addr.ip()) {
                    Ok(()) => allowed.push(addr),
                    Err(refused) => {
                        first_refused.get_or_insert(refused);
                    }
                }
            }
            match (allowed.is_empty(), first_refused) {
                (true, Some(refused)) => Err(RefusedHost { host, refused }.into()),
                _ => {
                    let addrs: Addrs = Box::new(allowed.into_iter());
                    Ok(addrs)
                }
            }
        })
    }
}

/// The client every webhook goes through: the policy's resolver, `timeout` for a whole
/// attempt, no redirects (a 3xx is a failed attempt: following it would reach an address
/// nobody checked), no proxy from the environment (it would connect in pixq's place).
///
/// # Errors
///
/// When the TLS backend cannot start.
pub(crate) fn client(
    policy: Arc<AddressPolicy>,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("pixq-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The policy's verdict on a URL whose host is an address (which no resolver sees); `Ok` for
/// a name, left to the resolver.
///
/// # Errors
///
/// [`RefusedHost`] when the address is refused.
pub(crate) fn check_literal(policy: &AddressPolicy, url: &Url) -> Result<(), RefusedHost> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    policy.check(ip).map_err(|refused| RefusedHost {
        host: ip.to_string(),
        refused,
    })
}

/// The refusal in an error's chain of causes, if the policy was why it failed.
pub(crate) fn refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a RefusedHost> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<RefusedHost>() {
            return Some(refused);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_when_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = client(Arc::default(), Duration::from_secs(5)).unwrap();
        let err = client
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        let refused = refusal(&err).unwrap_or_else(|| panic!("not refused: {err:?}"));
        assert_eq!(refused.host, "localhost");
        let text = refused.to_string();
        assert!(
            text.contains("localhost resolves to") && text.contains("loopback"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_allow_list_opens_a_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            axum::serve(listener, app).await.unwrap();
        });
        let policy = AddressPolicy::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        let client = client(Arc::new(policy), Duration::from_secs(5)).unwrap();
        let answer = client
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
        server.abort();
    }

    #[test]
    fn an_address_in_the_url_is_judged_before_the_request() {
        let policy = AddressPolicy::default();
        let url = Url::parse("http://10.0.0.1:8080/hook").unwrap();
        let refused = check_literal(&policy, &url).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "refused: 10.0.0.1 is a private address; webhooks.allow_networks does not cover it"
        );
        let v6 = Url::parse("http://[::1]/hook").unwrap();
        assert!(check_literal(&policy, &v6).is_err());
        let name = Url::parse("https://hooks.example/x").unwrap();
        assert!(check_literal(&policy, &name).is_ok());
    }
}
