//! [`DeadLetters`] on Redis: the list `{p}:dead_letters`, newest first, trimmed to
//! [`MAX_DEAD_LETTERS`].

use ::redis::AsyncCommands;
use async_trait::async_trait;
use serde_json::Value;

use super::RedisStore;
use crate::queue::{DeadLetter, DeadLetters, MAX_DEAD_LETTERS};
use crate::store::StoreError;

#[async_trait]
impl DeadLetters for RedisStore {
    async fn put(&self, payload: Value, error: &str) -> Result<(), StoreError> {
        let text = serde_json::to_string(&DeadLetter::new(payload, error))
            .map_err(|e| StoreError::corrupt("a dead letter", e.to_string()))?;
        let key = self.keys.dead_letters();
        let last = isize::try_from(MAX_DEAD_LETTERS).unwrap_or(isize::MAX) - 1;
        let mut conn = self.conn();
        let _: () = ::redis::pipe()
            .lpush(&key, text)
            .ignore()
            .ltrim(&key, 0, last)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn newest(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let last = isize::try_from(limit.max(1)).unwrap_or(isize::MAX) - 1;
        let mut conn = self.conn();
        let items: Vec<String> = conn.lrange(self.keys.dead_letters(), 0, last).await?;
        items
            .iter()
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|e| StoreError::corrupt("a dead letter", e.to_string()))
            })
            .collect()
    }

    async fn len(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        Ok(conn.llen(self.keys.dead_letters()).await?)
    }
}
