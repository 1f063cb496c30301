//! [`SqliteStore`]: the [`Store`] for one process on one machine, in one SQLite file.
//!
//! `pixq run` keeps everything in `{data_dir}/pixq.db` and needs nothing else running. The
//! promises are Redis's, method for method (the same conformance suite runs against both):
//! conditional transitions answering applied or stale, atomic task-id claims, a chain's next
//! step created in the write that finishes the step before it, idempotency keys, the shared
//! in-flight cap with its wait line, pauses, retention.
//!
//! - **One owner.** `{data_dir}/pixq.lock` is locked (`flock`) for as long as the store is
//!   open, so a second process on the same `data_dir` fails at once with a message naming the
//!   holder, instead of two writers corrupting each other's view.
//! - **Durability.** WAL mode with `synchronous = NORMAL`: a write is in the WAL, in the
//!   operating system's hands, when the call returns, so an accepted job survives a crash or
//!   a SIGKILL of the process. A power loss or kernel crash may lose the last transactions
//!   before the WAL was synced (the file stays consistent); `FULL` would sync every commit.
//!   The writer never checkpoints the WAL itself: a commit that does costs every call
//!   waiting on the writer. A thread of its own checkpoints it twice a second without
//!   blocking the writer ([`checkpoint`]).
//! - **One writer.** One connection, owned by one thread that runs the calls in the order
//!   they come, so a read-plan-write (a transition) runs whole: nothing can change a record
//!   between its read and its conditional write. Each call is atomic (a savepoint); the calls
//!   waiting together share one transaction, and each answers once it is committed, so a busy
//!   process pays one commit for many calls. ADR 004 has the measurements behind rusqlite and
//!   the thread.
//! - **Time** is the process's clock, in milliseconds.
//!
//! ```no_run
//! use std::time::Duration;
//! use pixq_core::sqlite::SqliteStore;
//! use pixq_core::store::Store;
//!
//! # async fn run() -> Result<(), pixq_core::store::StoreError> {
//! let store = SqliteStore::open("./pixq-data".as_ref(), Duration::from_secs(604_800)).await?;
//! store.ping().await?;
//! # Ok(())
//! # }
//! ```

mod batches;
mod characters;
mod checkpoint;
mod dead_letters;
mod jobs;
mod look;
mod outbox;
mod pauses;
mod pipelines;
mod poll_gate;
mod schedule;
mod slots;
mod wait_line;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use self::checkpoint::Checkpointer;
use crate::batch::Batches;
use crate::character::Characters;
use crate::limits::{Pauses, PollGate, Slots, WaitLine};
use crate::outbox::Outbox;
use crate::pipeline::PipelineRuns;
use crate::queue::{DeadLetters, Schedule};
use crate::state::Transition;
use crate::store::{
    BackendKind, Basis, Claim, Committed, Effects, Jobs, SlotRequest, SlotTurn, Store, StoreError,
    SubmitTurn, Wake,
};

/// The database's file name under `data_dir`.
pub const DB_FILE: &str = "pixq.db";

/// The lock file's name under `data_dir`.
pub const LOCK_FILE: &str = "pixq.lock";

/// How long a statement waits for a lock held by a checkpoint before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite-backed [`Store`]. Clones share one connection and its thread.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
    retention: Duration,
    wake: Arc<Wake>,
    gates: Arc<poll_gate::Gates>,
}

/// A unit of work for the connection's thread. It runs in the batch's transaction (in a
/// savepoint of its own when it writes) and says whether to keep its writes, and what to
/// answer once the batch is committed (or failed to commit).
struct Unit {
    /// Whether it may write.
    writes: bool,
    /// The work.
    work: Box<dyn FnOnce(&Connection) -> Done + Send>,
}

/// What a unit left behind.
struct Done {
    /// Keep its writes (false: roll its savepoint back).
    keep: bool,
    /// Sends its answer, given how the commit went.
    reply: Reply,
}

/// Sends a unit's answer once its batch's commit is known.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// At most this many units share one transaction.
const MAX_BATCH: usize = 256;

/// The open database: one thread owns the connection (and the lock file), and runs the work
/// sent to it in order. When the last store goes, the thread ends, closing the connection and
/// then the lock.
struct Db {
    work: Sender<Unit>,
    path: PathBuf,
    /// Keeps the log short off the writer's thread; stops with the store.
    _checkpoints: Checkpointer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.db.path)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if need be) `{data_dir}/pixq.db`, locking `data_dir` to this store;
    /// finished jobs expire `retention` after they finish.
    ///
    /// Leases of a process that died are void at once: nobody else can hold them, since only
    /// one process may open the store.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when another process (or another store in this one) holds
    /// `data_dir`; [`StoreError::Unavailable`] when it cannot be created, or the database
    /// cannot be opened or set up.
    pub async fn open(data_dir: &Path, retention: Duration) -> Result<Self, StoreError> {
        let data_dir = data_dir.to_owned();
        let db = tokio::task::spawn_blocking(move || Db::open(&data_dir))
            .await
            .map_err(|e| failure(format!("opening the database stopped: {e}")))??;
        Ok(SqliteStore {
            db: Arc::new(db),
            retention,
            wake: Arc::new(Wake::default()),
            gates: Arc::default(),
        })
    }

    /// The same data, with finished jobs expiring after `retention`.
    pub fn with_retention(&self, retention: Duration) -> Self {
        SqliteStore {
            retention,
            ..self.clone()
        }
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// Runs `work` as one atomic unit on the connection's thread: it is rolled back when it
    /// answers an error, and answers only once it is committed.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(work, true).await
    }

    /// Runs `work`, which only reads, on the connection's thread.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(work, false).await
    }

    /// Sends `work` to the connection's thread and waits for its answer, which comes once
    /// the transaction it ran in is committed.
    async fn run<T, F>(&self, work: F, writes: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let work = Box::new(move |conn: &Connection| {
            let out = work(conn);
            let keep = !writes || out.is_ok();
            let reply: Reply = Box::new(move |committed| {
                let answer = match committed {
                    Ok(()) => out,
                    Err(e) => Err(failure(format!("the transaction did not commit: {e}"))),
                };
                let _ = tx.send(answer);
            });
            Done { keep, reply }
        });
        let unit = Unit { writes, work };
        self.db
            .work
            .send(unit)
            .map_err(|_| failure("the store's thread has stopped".into()))?;
        rx.await
            .map_err(|_| failure("a store call stopped before it answered".into()))?
    }

    /// Wakes a worker waiting in this process when a look is due now or soon.
    fn rang(&self, at_ms: i64) {
        if let Some(at) = DateTime::from_timestamp_millis(at_ms) {
            self.wake.at(at);
        }
    }
}

impl Db {
    fn open(data_dir: &Path) -> Result<Db, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            failure(format!(
                "cannot create data_dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let lock = lock(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let conn = connect(&path)?;
        let (work, queue) = mpsc::channel::<Unit>();
        std::thread::Builder::new()
            .name("pixq-sqlite".into())
            .spawn(move || serve(conn, &queue, lock))
            .map_err(|e| failure(format!("cannot start the store's thread: {e}")))?;
        let checkpoints = Checkpointer::start(&path)?;
        Ok(Db {
            work,
            path,
            _checkpoints: checkpoints,
        })
    }
}

/// Opens the database at `path`, in WAL mode, with pixq's schema, and voids the leases of a
/// process that died.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Plans that never depend on the values bound: otherwise SQLite prepares a statement
    // again whenever a value it planned with changes (a LIMIT, a time), which was a tenth of
    // the store thread's time.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(128);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(failure(format!(
            "{} cannot use WAL mode (it answered {mode:?}): put data_dir on a local disk",
            path.display()
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8000;
         PRAGMA wal_autocheckpoint = 0;",
    )?;
    conn.execute_batch(include_str!("schema.sql"))?;
    conn.execute_batch(
        "DELETE FROM slot_counts;
         INSERT INTO slot_counts (alias, held) SELECT alias, COUNT(*) FROM slots GROUP BY alias;",
    )?;
    // Only this process can hold a lease now: the leases of one that died are void.
    conn.execute(
        "UPDATE schedule SET holder = NULL, lease_until_ms = NULL,
             due_ms = CASE WHEN due_ms IS NULL OR due_ms > ?1 THEN ?1 ELSE due_ms END
         WHERE holder IS NOT NULL",
        [now_ms()],
    )?;
    // The same for webhook deliveries: their attempts died with it, so they are due now.
    conn.execute(
        "UPDATE outbox SET holder = NULL, due_ms = MIN(due_ms, ?1)
         WHERE state = 'pending' AND holder IS NOT NULL",
        [now_ms()],
    )?;
    Ok(conn)
}

/// The connection's thread: runs the units of work in the order they came, as many as are
/// waiting (up to [`MAX_BATCH`]) in one transaction, each in a savepoint of its own, and
/// answers them once that transaction is committed: one commit, one WAL append, for many
/// calls. A unit that panics loses only its own writes and answer.
fn serve(conn: Connection, queue: &Receiver<Unit>, lock: File) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(unit) => batch.push(unit),
                Err(_) => break,
            }
        }
        let replies = run_batch(&conn, batch);
        let committed = conn.exec("COMMIT", []).map(drop).map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = conn.exec("ROLLBACK", []);
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
    drop(conn);
    drop(lock);
}

/// Runs `batch` in one open transaction; answers the replies to send after the commit.
fn run_batch(conn: &Connection, batch: Vec<Unit>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(batch.len());
    if let Err(e) = conn.exec("BEGIN IMMEDIATE", []) {
        // Nothing runs: dropping the units answers each caller that its call stopped.
        tracing::error!(error = %e, "the store could not begin a transaction");
        return replies;
    }
    for unit in batch {
        // A unit that writes runs in a savepoint, so its error undoes only its own writes.
        let savepoint = if unit.writes {
            Some(conn.exec("SAVEPOINT unit", []))
        } else {
            None
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| (unit.work)(conn))) {
            Ok(done) => {
                if !done.keep && matches!(savepoint, Some(Ok(_))) {
                    let _ = conn.exec("ROLLBACK TO unit", []);
                }
                replies.push(done.reply);
            }
            Err(_) => {
                tracing::error!("a store call panicked; its writes were rolled back");
                if matches!(savepoint, Some(Ok(_))) {
                    let _ = conn.exec("ROLLBACK TO unit", []);
                }
            }
        }
        if matches!(savepoint, Some(Ok(_))) {
            let _ = conn.exec("RELEASE unit", []);
        }
    }
    replies
}

/// Locks `{data_dir}/pixq.lock` for this process, writing its pid into it; fails when another
/// process (or another open store of this one) holds it.
fn lock(data_dir: &Path) -> Result<File, StoreError> {
    let path = data_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| failure(format!("cannot open the lock file {}: {e}", path.display())))?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        let who = if holder.is_empty() {
            "another process".to_owned()
        } else {
            format!("another process (pid {holder})")
        };
        return Err(StoreError::Locked {
            data_dir: data_dir.display().to_string(),
            holder: who,
        });
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| write!(file, "{}", std::process::id()));
    if let Err(e) = written {
        tracing::debug!(error = %e, "could not write the pid into the lock file");
    }
    Ok(file)
}

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn jobs(&self) -> &dyn Jobs {
        self
    }

    fn schedule(&self) -> &dyn Schedule {
        self
    }

    fn slots(&self) -> &dyn Slots {
        self
    }

    fn wait_line(&self) -> &dyn WaitLine {
        self
    }

    fn pauses(&self) -> &dyn Pauses {
        self
    }

    fn poll_gate(&self) -> &dyn PollGate {
        self
    }

    fn dead_letters(&self) -> &dyn DeadLetters {
        self
    }

    fn batches(&self) -> &dyn Batches {
        self
    }

    fn characters(&self) -> &dyn Characters {
        self
    }

    fn pipelines(&self) -> &dyn PipelineRuns {
        self
    }

    fn outbox(&self) -> &dyn Outbox {
        self
    }

    async fn take(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        self.take_claims(now, limit, holder, ttl).await
    }

    async fn commit(
        &self,
        transition: Transition,
        basis: Option<Basis>,
        effects: Effects,
    ) -> Result<Committed, StoreError> {
        self.commit_all(transition, basis, effects).await
    }

    async fn take_slot(&self, request: &SlotRequest) -> Result<SlotTurn, StoreError> {
        self.take_slot_in_turn(request).await
    }

    async fn take_slot_then_commit(
        &self,
        request: &SlotRequest,
        transition: Transition,
        basis: Option<Basis>,
    ) -> Result<SubmitTurn, StoreError> {
        self.take_slot_and_commit(request, transition, basis).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            let _: i64 = conn.row("SELECT 1", [], |row| row.get(0))?;
            Ok(())
        })
        .await
    }

    async fn rung(&self) {
        self.wake.wait().await;
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        failure(e.to_string())
    }
}

/// A failure of the SQLite backend, with what happened.
fn failure(detail: String) -> StoreError {
    StoreError::Unavailable {
        backend: BackendKind::Sqlite,
        detail,
        unreachable: false,
    }
}

/// The process's clock in milliseconds.
fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Whole milliseconds of `d`.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A time in milliseconds read back from the database; `what` names it for the error.
fn from_millis(ms: i64, what: &str) -> Result<chrono::DateTime<Utc>, StoreError> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::corrupt(what, format!("{ms} is not a time in milliseconds")))
}

/// Statements through the connection's statement cache: every statement pixq runs is parsed
/// once per connection, not once per call.
trait Cached {
    /// `execute`, cached.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;

    /// `query_row`, cached.
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// A single optional row.
fn optional<T>(found: rusqlite::Result<T>) -> Result<Option<T>, StoreError> {
    Ok(found.optional()?)
}
