//! [`RedisBackend`]: the suite against the real Redis (`PIXQ_TEST_REDIS_URL`, by default
//! `redis://127.0.0.1:6379`), each test under its own `pixq-test-<uuid>` prefix.

use std::time::Duration;

use pixq_core::job::{Job, JobId};
use pixq_core::redis::RedisStore;
use pixq_core::state::JobState;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::Backend;

/// Long enough that nothing expires during a test that does not ask for it.
const RETENTION: Duration = Duration::from_secs(3600);

pub struct RedisBackend {
    conn: ConnectionManager,
    prefix: String,
    store: RedisStore,
}

impl RedisBackend {
    /// The record key, as `keys.rs` lays it out.
    fn job_key(&self, id: &JobId) -> String {
        format!("{}:job:{id}", self.prefix)
    }
}

impl Backend for RedisBackend {
    type Store = RedisStore;

    async fn setup() -> Self {
        let url = std::env::var("PIXQ_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let client = redis::Client::open(url.as_str()).expect("a valid Redis URL");
        let conn = client
            .get_connection_manager()
            .await
            .unwrap_or_else(|e| panic!("Redis at {url} must be up for the store suite: {e}"));
        let prefix = format!("pixq-test-{}", uuid::Uuid::new_v4().simple());
        let store = RedisStore::new(conn.clone(), &prefix, RETENTION);
        RedisBackend {
            conn,
            prefix,
            store,
        }
    }

    async fn teardown(&self) {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .expect("SCAN");
            if !keys.is_empty() {
                let _: () = conn.del(&keys).await.expect("DEL");
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }

    fn store(&self) -> &RedisStore {
        &self.store
    }

    fn with_retention(&self, retention: Duration) -> RedisStore {
        RedisStore::new(self.conn.clone(), &self.prefix, retention)
    }

    async fn force(&self, job: &Job) {
        let mut conn = self.conn.clone();
        let key = self.job_key(&job.id);
        let json = serde_json::to_string(job).expect("a job encodes");
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[("json", json.as_str()), ("state", job.state.as_str())],
            )
            .ignore()
            .hincr(&key, "version", 1)
            .ignore()
            .persist(&key)
            .ignore()
            .query_async(&mut conn)
            .await
            .expect("forcing a record");
    }

    async fn write_raw(&self, id: &JobId, text: &str) {
        let mut conn = self.conn.clone();
        let _: () = conn
            .hset(self.job_key(id), "json", text)
            .await
            .expect("HSET");
    }

    async fn leftovers(&self, job: &Job) -> Vec<String> {
        let mut conn = self.conn.clone();
        let p = &self.prefix;
        let mut indexes = vec![format!("{p}:jobs"), format!("{p}:unfinished")];
        indexes.extend(JobState::ALL.map(|s| format!("{p}:state:{s}")));
        indexes.extend(job.batch_id.iter().map(|b| format!("{p}:batch:{b}")));
        let mut out = Vec::new();
        let key = self.job_key(&job.id);
        if conn.exists(&key).await.expect("EXISTS") {
            out.push(key);
        }
        for index in indexes {
            let score: Option<f64> = conn.zscore(&index, job.id.as_str()).await.expect("ZSCORE");
            if score.is_some() {
                out.push(index);
            }
        }
        let expiring = format!("{p}:expiring");
        let members: Vec<String> = conn.zrange(&expiring, 0, -1).await.expect("ZRANGE");
        let mine = format!("{}\n", job.id);
        if members.iter().any(|m| m.starts_with(&mine)) {
            out.push(expiring);
        }
        out
    }

    async fn sweep_expired(&self) -> usize {
        self.store
            .prune_expired(10_000)
            .await
            .expect("prune_expired")
    }
}

/// Regression: a hand-edited `version` that is not a number answered a Redis type error
/// ("check that Redis is up") instead of saying the record is corrupt.
#[tokio::test]
async fn record_with_a_garbage_version_is_corrupt() {
    use pixq_core::store::{Store, StoreError};

    crate::run::<RedisBackend, _, _>(|backend| async move {
        let store = backend.store();
        let job = store
            .create(crate::jobs::new_job(), None)
            .await
            .expect("create")
            .job;
        let mut conn = backend.conn.clone();
        let _: () = conn
            .hset(backend.job_key(&job.id), "version", "seven")
            .await
            .expect("HSET");
        match store.get(&job.id).await {
            Err(StoreError::Corrupt { what, detail }) => {
                assert!(what.contains(job.id.as_str()), "{what}");
                assert!(detail.contains("version"), "{detail}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    })
    .await;
}
