//! [`RedisBackend`]: the suite against the real Redis (`PIXQ_TEST_REDIS_URL`, by default
//! `redis://127.0.0.1:6379`), each test under its own `pixq-test-store-<uuid>` prefix.

use std::sync::Arc;
use std::time::Duration;

use pixq_core::job::{Job, JobId};
use pixq_core::redis::RedisStore;
use pixq_core::state::JobState;
use pixq_core::store::SharedStore;
use pixq_testkit::redis::TestPrefix;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use crate::Backend;

/// Long enough that nothing expires during a test that does not ask for it.
const RETENTION: Duration = Duration::from_secs(3600);

pub struct RedisBackend {
    prefix: TestPrefix,
    conn: MultiplexedConnection,
    redis: RedisStore,
    store: SharedStore,
}

impl RedisBackend {
    /// The record key, as `keys.rs` lays it out.
    fn job_key(&self, id: &JobId) -> String {
        format!("{}:job:{id}", self.prefix.name())
    }
}

impl Backend for RedisBackend {
    async fn setup() -> Self {
        let prefix = TestPrefix::new("store");
        let conn = prefix.connection().await;
        let redis = RedisStore::connect(&pixq_testkit::redis::url(), prefix.name(), RETENTION)
            .await
            .expect("Redis must be up for the store suite");
        RedisBackend {
            store: Arc::new(redis.clone()),
            redis,
            conn,
            prefix,
        }
    }

    async fn teardown(&self) {
        self.prefix.clean();
    }

    fn store(&self) -> &SharedStore {
        &self.store
    }

    fn with_retention(&self, retention: Duration) -> SharedStore {
        Arc::new(self.redis.with_retention(retention))
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
        let p = self.prefix.name();
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
}

/// Regression: a hand-edited `version` that is not a number answered a Redis type error
/// ("check that Redis is up") instead of saying the record is corrupt.
#[tokio::test]
async fn record_with_a_garbage_version_is_corrupt() {
    use pixq_core::store::StoreError;

    crate::run::<RedisBackend, _, _>(|backend| async move {
        let store = backend.store().jobs();
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
