//! [`SqliteBackend`]: the suite against the embedded backend, each test in its own temporary
//! `data_dir`. Reaching under the store goes through a second connection to the same file,
//! as an operator with the `sqlite3` shell would.

use std::sync::Arc;
use std::time::Duration;

use pixq_core::job::{Job, JobId};
use pixq_core::sqlite::{DB_FILE, SqliteStore};
use pixq_core::store::SharedStore;
use pixq_testkit::data_dir::TempDataDir;
use rusqlite::{Connection, params};

use crate::Backend;

/// Long enough that nothing expires during a test that does not ask for it.
const RETENTION: Duration = Duration::from_secs(3600);

pub struct SqliteBackend {
    dir: TempDataDir,
    sqlite: SqliteStore,
    store: SharedStore,
}

impl SqliteBackend {
    /// A connection of the test's own to the store's file.
    fn under(&self) -> Connection {
        let conn = Connection::open(self.dir.path().join(DB_FILE)).expect("the database");
        conn.busy_timeout(Duration::from_secs(5))
            .expect("a busy timeout");
        conn
    }
}

impl Backend for SqliteBackend {
    async fn setup() -> Self {
        let dir = TempDataDir::new("store");
        let sqlite = SqliteStore::open(dir.path(), RETENTION)
            .await
            .expect("the embedded store opens");
        SqliteBackend {
            store: Arc::new(sqlite.clone()),
            sqlite,
            dir,
        }
    }

    async fn teardown(&self) {}

    fn store(&self) -> &SharedStore {
        &self.store
    }

    fn with_retention(&self, retention: Duration) -> SharedStore {
        Arc::new(self.sqlite.with_retention(retention))
    }

    async fn force(&self, job: &Job) {
        let json = serde_json::to_string(job).expect("a job encodes");
        self.under()
            .execute(
                "UPDATE jobs SET json = ?2, state = ?3, version = version + 1, expire_at_ms = NULL
                 WHERE id = ?1",
                params![job.id.as_str(), json, job.state.as_str()],
            )
            .expect("forcing a record");
    }

    async fn write_raw(&self, id: &JobId, text: &str) {
        self.under()
            .execute(
                "UPDATE jobs SET json = ?2 WHERE id = ?1",
                params![id.as_str(), text],
            )
            .expect("writing a record by hand");
    }

    async fn leftovers(&self, job: &Job) -> Vec<String> {
        let conn = self.under();
        let id = job.id.as_str();
        let mut out = Vec::new();
        for (table, column) in [
            ("jobs", "id"),
            ("tasks", "job_id"),
            ("idempotency", "job_id"),
            ("schedule", "job_id"),
        ] {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?1"),
                    [id],
                    |row| row.get(0),
                )
                .expect("a count");
            if n > 0 {
                out.push(table.to_owned());
            }
        }
        out
    }
}
