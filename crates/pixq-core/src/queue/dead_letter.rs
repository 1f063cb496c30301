//! [`DeadLetters`]: queue payloads that are not doorbells, kept with the reason.

use ::redis::AsyncCommands;
use ::redis::aio::ConnectionManager;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::StoreError;

/// How many dead letters are kept; older ones are dropped first.
pub const MAX_DEAD_LETTERS: isize = 10_000;

/// A payload set aside, with why and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The payload as the queue delivered it.
    pub payload: Value,
    /// Why it was set aside.
    pub error: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The list `{prefix}:dead_letters`, newest first, at most [`MAX_DEAD_LETTERS`] long.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    conn: ConnectionManager,
    key: String,
}

impl DeadLetters {
    /// The list under `{prefix}:dead_letters`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        DeadLetters {
            conn,
            key: format!("{prefix}:dead_letters"),
        }
    }

    /// Sets `payload` aside with `error`.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn put(&self, payload: Value, error: &str) -> Result<(), StoreError> {
        let letter = DeadLetter {
            payload,
            error: error.to_owned(),
            at: Utc::now(),
        };
        let text = serde_json::to_string(&letter).map_err(|e| StoreError::Corrupt {
            what: "a dead letter".into(),
            detail: e.to_string(),
        })?;
        let mut conn = self.conn.clone();
        let _: () = ::redis::pipe()
            .lpush(&self.key, text)
            .ignore()
            .ltrim(&self.key, 0, MAX_DEAD_LETTERS - 1)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// The newest `limit` dead letters.
    ///
    /// # Errors
    ///
    /// Redis failures; [`StoreError::Corrupt`] for an entry pixq did not write.
    pub async fn newest(&self, limit: isize) -> Result<Vec<DeadLetter>, StoreError> {
        let mut conn = self.conn.clone();
        let items: Vec<String> = conn.lrange(&self.key, 0, limit.max(1) - 1).await?;
        items
            .iter()
            .map(|text| {
                serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
                    what: "a dead letter".into(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Whether there are none.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }

    /// How many dead letters there are.
    ///
    /// # Errors
    ///
    /// Redis failures.
    pub async fn len(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.llen(&self.key).await?)
    }
}
