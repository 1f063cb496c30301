//! [`DeadLetters`] on SQLite: the `dead_letters` table, trimmed to [`MAX_DEAD_LETTERS`].

use async_trait::async_trait;
use serde_json::Value;

use super::{Cached, SqliteStore};
use crate::queue::{DeadLetter, DeadLetters, MAX_DEAD_LETTERS};
use crate::store::StoreError;

#[async_trait]
impl DeadLetters for SqliteStore {
    async fn put(&self, payload: Value, error: &str) -> Result<(), StoreError> {
        let text = serde_json::to_string(&DeadLetter::new(payload, error))
            .map_err(|e| StoreError::corrupt("a dead letter", e.to_string()))?;
        let keep = i64::try_from(MAX_DEAD_LETTERS).unwrap_or(i64::MAX);
        self.write(move |tx| {
            tx.exec("INSERT INTO dead_letters (json) VALUES (?1)", [text])?;
            tx.exec(
                "DELETE FROM dead_letters WHERE seq <= (SELECT MAX(seq) FROM dead_letters) - ?1",
                [keep],
            )?;
            Ok(())
        })
        .await
    }

    async fn newest(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let rows: Vec<String> = conn
                .prepare_cached("SELECT json FROM dead_letters ORDER BY seq DESC LIMIT ?1")?
                .query_map([limit], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            rows.iter()
                .map(|text| {
                    serde_json::from_str(text)
                        .map_err(|e| StoreError::corrupt("a dead letter", e.to_string()))
                })
                .collect()
        })
        .await
    }

    async fn len(&self) -> Result<u64, StoreError> {
        self.count("SELECT COUNT(*) FROM dead_letters", None).await
    }
}
