//! [`open`]: the one constructor of a store, from the settings.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::{SharedStore, StoreError};
use crate::settings::Settings;

/// Where pixq's state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Home {
    /// A Redis shared by every process, every key under `{prefix}:`.
    Redis {
        /// `redis://` or `rediss://`; may carry a password, never shown.
        url: String,
        /// `redis.prefix`.
        prefix: String,
    },
    /// A SQLite file under `data_dir`, owned by one process.
    Sqlite {
        /// `data_dir`: the database and its lock file live here.
        data_dir: PathBuf,
    },
}

impl Home {
    /// For `pixq api` and `pixq worker`, which share state with other processes: Redis, at
    /// `redis.url` or, when it is unset, the local default.
    pub fn shared(settings: &Settings) -> Home {
        Home::Redis {
            url: settings.redis.url_or_local().to_owned(),
            prefix: settings.redis.prefix.clone(),
        }
    }

    /// For `pixq run` and `pixq demo`, which may be alone: Redis when `redis.url` is set,
    /// otherwise SQLite under `data_dir`.
    pub fn standalone(settings: &Settings) -> Home {
        match &settings.redis.url {
            Some(_) => Home::shared(settings),
            None => Home::Sqlite {
                data_dir: settings.data_dir.clone(),
            },
        }
    }
}

/// Shows where, with a Redis password masked.
impl fmt::Debug for Home {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Home::Redis { url, prefix } => {
                let shown = Url::parse(url).map_or_else(
                    |_| "<unparsable URL>".to_owned(),
                    |mut u| {
                        if u.password().is_some() {
                            let _ = u.set_password(Some("***"));
                        }
                        u.to_string()
                    },
                );
                write!(f, "Redis at {shown} under {prefix}:")
            }
            Home::Sqlite { data_dir } => write!(f, "SQLite in {}", data_dir.display()),
        }
    }
}

/// Opens the store at `home`; finished jobs are kept for `retention`.
///
/// # Errors
///
/// [`StoreError::Unavailable`] when Redis cannot be reached, or the SQLite file cannot be
/// opened or is locked by another process (the message says which).
pub async fn open(home: &Home, retention: Duration) -> Result<SharedStore, StoreError> {
    match home {
        Home::Redis { url, prefix } => Ok(Arc::new(
            crate::redis::RedisStore::connect(url, prefix, retention).await?,
        )),
        Home::Sqlite { data_dir } => Ok(Arc::new(
            crate::sqlite::SqliteStore::open(data_dir, retention).await?,
        )),
    }
}
