//! [`DeadLetters`]: entries of the schedule that name no job pixq could have written, kept
//! with the reason.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::StoreError;

/// How many dead letters are kept; older ones are dropped first.
pub const MAX_DEAD_LETTERS: usize = 10_000;

/// A payload set aside, with why and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The payload as it was found.
    pub payload: Value,
    /// Why it was set aside.
    pub error: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl DeadLetter {
    /// A letter for `payload`, set aside now because of `error`.
    pub fn new(payload: Value, error: &str) -> Self {
        DeadLetter {
            payload,
            error: error.to_owned(),
            at: Utc::now(),
        }
    }
}

/// Payloads set aside for an operator, newest first, at most [`MAX_DEAD_LETTERS`].
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Sets `payload` aside with `error`.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn put(&self, payload: Value, error: &str) -> Result<(), StoreError>;

    /// The newest `limit` dead letters.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for an entry pixq did not write.
    async fn newest(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;

    /// How many dead letters there are.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn len(&self) -> Result<u64, StoreError>;

    /// Whether there are none.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }
}
