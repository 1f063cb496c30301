//! The one error a configuration value can fail with: which key, what is wrong with it, and
//! what would be accepted instead.

/// A configuration value that cannot be used.
///
/// Its message reads `poll.interval: "500ms" is too short; expected at least 1s`: the key as
/// written in `pixq.toml` (`api.tokens[1]` for a list entry), the problem, and what the key
/// accepts, so the user can fix it without reading the source. It never repeats a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}; expected {expected}")]
#[non_exhaustive]
pub struct SettingsError {
    /// The dotted key the error is about, e.g. `poll.interval`.
    pub key: String,
    /// What is wrong with the value.
    pub problem: String,
    /// What the key accepts.
    pub expected: String,
}

impl SettingsError {
    /// An error about `key`: `problem` says what is wrong, `expected` what would be accepted.
    pub fn new(
        key: impl Into<String>,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        SettingsError {
            key: key.into(),
            problem: problem.into(),
            expected: expected.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_starts_with_the_key() {
        let err = SettingsError::new("poll.interval", "\"500ms\" is too short", "at least 1s");
        assert_eq!(
            err.to_string(),
            "poll.interval: \"500ms\" is too short; expected at least 1s"
        );
    }
}
