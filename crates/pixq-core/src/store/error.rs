//! [`StoreError`]: why a store call failed, in words that do not depend on the backend.

use std::fmt;

use crate::job::{BatchId, JobId};

/// Which home the state lives in; named in errors and in `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Redis: many processes on many machines.
    Redis,
    /// SQLite: one process on one machine (`pixq run`).
    Sqlite,
}

impl BackendKind {
    /// The lower-case name, as configuration and `/readyz` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Redis => "redis",
            BackendKind::Sqlite => "sqlite",
        }
    }

    /// What an operator should check when this backend fails.
    pub fn hint(self) -> &'static str {
        match self {
            BackendKind::Redis => "check that Redis is up and redis.url points at it",
            BackendKind::Sqlite => {
                "check that data_dir is on a local, writable disk with free space"
            }
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Redis => "Redis",
            BackendKind::Sqlite => "SQLite",
        })
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no such job.
    #[error(
        "job {0} does not exist: check the id (finished jobs are deleted after retention.finished)"
    )]
    NotFound(JobId),
    /// An idempotency key was reused with a different body.
    #[error(
        "idempotency key {key:?} was first used with another body (job {job}): resend the same body to get that job, or use a new key"
    )]
    Conflict {
        /// The reused key.
        key: String,
        /// The job it names.
        job: JobId,
    },
    /// An idempotency key names a batch already: one made from another body, or one still
    /// being written (answering it now could answer half a batch).
    #[error(
        "idempotency key {key:?} already names batch {batch}{}: use a new key, or wait and resend the same body",
        if *in_progress { ", which is still being written" } else { ", made from another body" }
    )]
    BatchKeyTaken {
        /// The reused key.
        key: String,
        /// The batch it names.
        batch: BatchId,
        /// Whether that batch is still being written.
        in_progress: bool,
    },
    /// A batch with this id exists already.
    #[error("batch {0} already exists: create it under a fresh id")]
    DuplicateBatch(BatchId),
    /// There is no such batch, or not in the state the call needs (a batch that is not
    /// being written cannot be added to).
    #[error("batch {0} does not exist, or is not being written")]
    UnknownBatch(BatchId),
    /// A job with this id already exists.
    #[error("job {0} already exists: create it under a fresh id")]
    Duplicate(JobId),
    /// A listing cursor this store did not issue.
    #[error("cursor {0:?} was not issued by this store: list again without a cursor")]
    InvalidCursor(String),
    /// The job kept changing under a transition; another writer is racing it.
    #[error("job {0} kept changing while a transition was applied: try again")]
    Contended(JobId),
    /// The backend could not be reached, or failed a command.
    #[error("{backend}: {detail} ({})", backend.hint())]
    Unavailable {
        /// Which backend failed.
        backend: BackendKind,
        /// What it said; never a password or a token.
        detail: String,
        /// Whether it could not be reached at all (as opposed to refusing one command): one
        /// outage, logged once.
        unreachable: bool,
    },
    /// Another process (or another open store of this one) owns the embedded store's
    /// `data_dir`: one owner at a time, or they would corrupt each other's view.
    #[error(
        "data_dir {data_dir} is in use by {holder}: stop it, or give this one another data_dir"
    )]
    Locked {
        /// The directory.
        data_dir: String,
        /// Who holds it, as well as known: `another process (pid N)`.
        holder: String,
    },
    /// A stored record does not read back; the data was written by another version or edited
    /// by hand.
    #[error(
        "stored data for {what} is corrupt ({detail}): inspect or delete it, it was not written by this version of pixq"
    )]
    Corrupt {
        /// The record or key.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
}

impl StoreError {
    /// Whether the backend could not be reached: a call that failed this way may succeed as
    /// is once the backend is back.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable {
                unreachable: true,
                ..
            }
        )
    }

    /// A corrupt-data error for `what`.
    pub fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
