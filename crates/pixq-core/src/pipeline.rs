//! Scheduled pipelines: a prompt list submitted as one batch on every tick of a cron schedule.
//!
//! A [`Pipeline`] is one `[[pipelines]]` table of the configuration, checked when the
//! configuration loads (see [`load`]): its name, its [`Cron`] schedule (with seconds, in an
//! optional IANA time zone), the job bodies one tick submits (inline `prompts`, or a
//! `prompts_file` read with `pixq submit`'s parser through [`PromptFiles`]), an optional
//! `webhook_url` for the batch, and its [`CatchUp`] policy.
//!
//! **Each tick fires once, however many schedulers run.** Every worker process runs a
//! scheduler, and all of them fire every tick. [`fire`] submits the tick's batch through
//! [`crate::batch::submit`] under an idempotency key derived from the pipeline's name and the
//! tick's time ([`Pipeline::tick_key`]), so the store lets exactly one of the racers write the
//! batch; the others are answered that batch (or that it is being written). The key carries
//! no random bits and no process's identity: any scheduler, started at any time, derives the
//! same key for the same tick.
//!
//! **The last run is kept per pipeline** ([`PipelineRuns`], on both homes): the tick last
//! fired and its batch, moved forward only. At start, a pipeline whose `catch_up` is
//! [`CatchUp::Once`] fires the most recent tick missed since that run ([`plan::missed`]).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use pixq_core::pipeline::Cron;
//!
//! let cron = Cron::new("0 0 9 * * *", Some("Europe/Berlin"))?;
//! let now = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
//! let next = cron.next_after(now).unwrap();
//! assert_eq!(cron.label(next), "2030-01-02T09:00:00+01:00");
//! # Ok::<(), pixq_core::pipeline::CronError>(())
//! ```

mod fire;
pub mod load;
pub mod plan;
mod runs;
mod table;
mod ticks;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use self::fire::{FireError, Fired, fire};
pub use self::load::{FileEntry, NoPromptFiles, PromptFiles};
pub use self::runs::{PipelineRun, PipelineRuns};
pub use self::ticks::{CRON_FIELDS, Cron, CronError};
use crate::store::IdempotencyKey;

/// The longest pipeline name: it is part of Redis keys, idempotency keys and batch names.
pub const MAX_NAME_CHARS: usize = 64;

/// The most jobs one tick may submit: as many as one `POST /v1/batches` takes.
pub const MAX_JOBS: usize = 100_000;

/// What a scheduler does at start about ticks that passed while no scheduler ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CatchUp {
    /// Nothing: the pipeline goes on from its next tick. The default, so that a pipeline
    /// down for a week does not submit a week of batches, nor even one surprise batch.
    #[default]
    Skip,
    /// One batch, for the most recent tick missed since the last recorded run.
    Once,
}

impl CatchUp {
    /// The value as the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::Once => "once",
        }
    }

    /// Reads `skip` or `once`.
    pub fn parse(text: &str) -> Option<CatchUp> {
        match text {
            "skip" => Some(CatchUp::Skip),
            "once" => Some(CatchUp::Once),
            _ => None,
        }
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a pipeline's prompts came from, as the configuration wrote it: kept so that
/// `pixq config` can print the pipeline back, and `GET /v1/pipelines` can say where its prompts
/// live.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptSource {
    /// `prompts = [...]`: each a prompt, or a job table.
    Inline(Vec<Value>),
    /// `prompts_file = "..."`: a `.txt`, `.jsonl` or `.csv` file, read at start.
    File(PathBuf),
}

/// One scheduled pipeline, checked. See the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Its name: unique, 1 to [`MAX_NAME_CHARS`] of `A-Z a-z 0-9 _ - .`.
    pub name: String,
    /// When it fires.
    pub cron: Cron,
    /// What happens at start about ticks missed while no scheduler ran.
    pub catch_up: CatchUp,
    /// Where the batch object is posted when a tick's batch ends.
    pub webhook_url: Option<String>,
    /// Where the prompts came from.
    pub source: PromptSource,
    /// The job fields every prompt gets unless it sets them itself (and `extend`).
    pub defaults: Map<String, Value>,
    /// The job bodies one tick submits, in order: each prompt with the defaults applied,
    /// checked as `POST /v1/jobs` checks a body (a character named in `asset_id` is
    /// resolved at the tick). Shared, since every process holds it twice (API and worker).
    pub jobs: Arc<[Value]>,
}

impl Pipeline {
    /// The name of the batch that tick `tick` submits: `{name} {tick as RFC 3339}`, the tick
    /// written in the pipeline's time zone.
    pub fn batch_name(&self, tick: DateTime<Utc>) -> String {
        format!("{} {}", self.name, self.cron.label(tick))
    }

    /// The idempotency key of tick `tick`'s batch: `pipeline:{name}:{tick, unix seconds}`.
    /// Every scheduler derives the same key for the same tick, so they race for one batch.
    pub fn tick_key(&self, tick: DateTime<Utc>) -> String {
        format!("pipeline:{}:{}", self.name, tick.timestamp())
    }

    /// The idempotency key of tick `tick`, with the fingerprint of what it submits.
    pub fn idempotency(&self, tick: DateTime<Utc>, fingerprint: String) -> IdempotencyKey {
        IdempotencyKey {
            key: self.tick_key(tick),
            fingerprint,
        }
    }

    /// The pipeline as a `[[pipelines]]` table that loads back to the same pipeline.
    pub fn to_toml(&self) -> String {
        table::render(self)
    }
}
