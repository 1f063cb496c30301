//! A key prefix of one test on the shared Redis: its own name, and a clean-up that deletes
//! only its own keys.

use redis::aio::ConnectionManager;

const REDIS_URL: &str = "redis://127.0.0.1:6379";

pub struct Prefix {
    pub conn: ConnectionManager,
    pub name: String,
}

impl Prefix {
    /// A fresh prefix `pixq-test-<family>-<uuid>`.
    pub async fn new(family: &str) -> Prefix {
        let client = redis::Client::open(REDIS_URL).unwrap();
        let conn = client.get_connection_manager().await.unwrap();
        Prefix {
            conn,
            name: format!("pixq-test-{family}-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Deletes every key under the prefix.
    pub async fn clean(self) {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}
