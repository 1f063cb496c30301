//! The shared Redis, and a key prefix per test.
//!
//! Tests share one Redis (`PIXQ_TEST_REDIS_URL`, by default `redis://127.0.0.1:6379`). Each
//! gets its own prefix and deletes only the keys under it: never `FLUSHALL`.

/// The shared Redis of the machine, unless `PIXQ_TEST_REDIS_URL` names another.
pub fn url() -> String {
    std::env::var("PIXQ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix `pixq-test-<family>-<uuid>` of one test. Its keys are deleted when it is
/// dropped (with a blocking connection, so that it also happens when the test panics), or
/// earlier with [`TestPrefix::clean`].
#[derive(Debug)]
pub struct TestPrefix {
    name: String,
    url: String,
}

impl TestPrefix {
    /// A fresh prefix for a test of `family` on the shared Redis.
    pub fn new(family: &str) -> TestPrefix {
        TestPrefix::on(family, &url())
    }

    /// A fresh prefix on the Redis at `url`.
    pub fn on(family: &str, url: &str) -> TestPrefix {
        TestPrefix {
            name: format!("pixq-test-{family}-{}", uuid::Uuid::new_v4().simple()),
            url: url.to_owned(),
        }
    }

    /// The prefix, without a trailing colon.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A multiplexed connection to this prefix's Redis, for a test to look under the store.
    pub async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url.as_str())
            .expect("a valid Redis URL")
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("Redis at {} must be up for this test: {e}", self.url))
    }

    /// Every key under the prefix.
    pub fn keys(&self) -> Vec<String> {
        let Ok(mut conn) =
            ::redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return Vec::new();
        };
        scan(&mut conn, &format!("{}:*", self.name))
    }

    /// Deletes every key under the prefix now.
    pub fn clean(&self) {
        let Ok(mut conn) =
            ::redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        let keys = scan(&mut conn, &format!("{}:*", self.name));
        for chunk in keys.chunks(500) {
            let _: ::redis::RedisResult<()> = ::redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

impl Drop for TestPrefix {
    fn drop(&mut self) {
        self.clean();
    }
}

/// Every key matching `pattern`, by SCAN (never KEYS: the Redis is shared).
fn scan(conn: &mut ::redis::Connection, pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): ::redis::RedisResult<(u64, Vec<String>)> = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(conn)
        else {
            return out;
        };
        out.extend(keys);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}
