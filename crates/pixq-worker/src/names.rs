//! Names: of apalis workers (unique on every start and restart, APALIS-NOTES 3), of lease
//! holders (the webhook deliverer's too), and the secrets in callback URLs.

/// The names of one process's apalis workers: `pixq-worker-<host>-<pid>-<random>-<n>`, where
/// `<n>` counts every start of a worker in this process, so no name is ever reused.
#[derive(Debug, Clone)]
pub(crate) struct WorkerNames {
    stem: String,
}

impl WorkerNames {
    /// Names for this process, with a fresh random part.
    pub(crate) fn new() -> Self {
        WorkerNames {
            stem: format!(
                "pixq-worker-{}-{}-{}",
                hostname(),
                std::process::id(),
                random_hex(4)
            ),
        }
    }

    /// The name of the `n`th worker started by this process.
    pub(crate) fn nth(&self, n: usize) -> String {
        format!("{}-{n}", self.stem)
    }
}

/// A lease holder for one handler run on `worker`: the worker's name and a random suffix, so
/// two runs on the same worker never mistake each other's lease for their own.
pub(crate) fn holder(worker: &str) -> String {
    format!("{worker}/{}", random_hex(4))
}

/// The lease holder of one process's webhook delivery service:
/// `pixq-webhooks-<host>-<pid>-<random>`.
pub(crate) fn deliverer() -> String {
    format!(
        "pixq-webhooks-{}-{}-{}",
        hostname(),
        std::process::id(),
        random_hex(4)
    )
}

/// A callback URL secret: 32 random hex characters.
pub(crate) fn callback_secret() -> String {
    random_hex(16)
}

fn random_hex(bytes: usize) -> String {
    let random: Vec<u8> = (0..bytes).map(|_| rand::random()).collect();
    hex::encode(random)
}

/// The host name, reduced to characters that are safe in a Redis key and a log line.
fn hostname() -> String {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(63)
        .collect();
    if clean.is_empty() {
        "host".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names_differ_per_start_and_per_process_run() {
        let a = WorkerNames::new();
        let b = WorkerNames::new();
        assert_ne!(a.nth(0), a.nth(1));
        assert_ne!(a.nth(0), b.nth(0));
        assert!(a.nth(3).starts_with("pixq-worker-") && a.nth(3).ends_with("-3"));
    }

    #[test]
    fn secrets_are_32_hex_characters() {
        let s = callback_secret();
        assert_eq!(s.len(), 32);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(s, callback_secret());
        assert_ne!(holder("w"), holder("w"));
    }
}
