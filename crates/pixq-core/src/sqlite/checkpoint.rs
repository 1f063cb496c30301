//! [`Checkpointer`]: keeps the write-ahead log short, on a thread of its own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that
//! commit copies the log into the database and syncs both, and every call waiting on the one
//! writer thread waits with it. Measured on the pipeline workload, that was an eighth of the
//! writer's time. So the writer's connection never checkpoints; this thread does, with a
//! connection of its own, in `PASSIVE` mode, which never blocks the writer: it copies what
//! it can, and the log starts over from its beginning once a checkpoint has caught up.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::Connection;

use super::{BUSY_TIMEOUT, failure};
use crate::store::StoreError;

/// How often the log is checkpointed while the store is open.
const EVERY: Duration = Duration::from_millis(500);

/// The checkpoint thread of one open store; it stops when this is dropped.
pub(super) struct Checkpointer {
    /// Dropping it tells the thread to stop.
    _stop: Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (already in WAL mode) every [`EVERY`].
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let (stop, stopped) = mpsc::channel();
        std::thread::Builder::new()
            .name("pixq-checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| failure(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(conn: &Connection, stopped: &Receiver<()>) {
    loop {
        match stopped.recv_timeout(EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        // The answer (busy, frames in the log, frames copied) only matters to a person
        // debugging; a failure is tried again at the next turn.
        let done: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            });
        match done {
            Ok((_, log, copied)) => tracing::trace!(log, copied, "checkpointed the log"),
            Err(e) => tracing::debug!(error = %e, "a checkpoint failed; trying again"),
        }
    }
}
