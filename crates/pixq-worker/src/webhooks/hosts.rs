//! [`Hosts`]: how many webhook requests are in flight to each receiver, so that one slow
//! receiver holds a few of the delivery service's requests and never the others'.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use url::Url;

/// Requests in flight by receiver, each bounded by the same limit.
#[derive(Debug, Clone)]
pub(crate) struct Hosts {
    limit: usize,
    busy: Arc<Mutex<HashMap<String, usize>>>,
}

impl Hosts {
    /// At most `limit` requests in flight to one receiver.
    pub(crate) fn new(limit: usize) -> Self {
        Hosts {
            limit,
            busy: Arc::default(),
        }
    }

    /// A place for one more request to `url`'s receiver, or `None` while it has `limit` in
    /// flight. The place is freed when the permit drops.
    pub(crate) fn try_acquire(&self, url: &str) -> Option<HostPermit> {
        let key = receiver(url);
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let count = busy.entry(key.clone()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(HostPermit {
            key,
            busy: self.busy.clone(),
        })
    }
}

/// One request's place at its receiver; freed on drop.
#[derive(Debug)]
pub(crate) struct HostPermit {
    key: String,
    busy: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = busy.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                busy.remove(&self.key);
            }
        }
    }
}

/// The receiver a URL names: its scheme, host and port (`https://hooks.example:443`). A URL
/// that does not parse is its own receiver (its request fails on its own).
fn receiver(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default(),
            parsed.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_busy_receiver_leaves_the_others_free() {
        let hosts = Hosts::new(2);
        let a1 = hosts.try_acquire("http://slow.example/a").unwrap();
        let _a2 = hosts.try_acquire("http://slow.example:80/b?x=1").unwrap();
        assert!(hosts.try_acquire("http://slow.example/c").is_none());
        assert!(hosts.try_acquire("http://fast.example/a").is_some());
        assert!(
            hosts.try_acquire("https://slow.example/a").is_some(),
            "another port"
        );
        drop(a1);
        assert!(hosts.try_acquire("http://slow.example/c").is_some());
    }
}
