//! The batch object and the lines of a batch's results, as the client commands read them.
//!
//! Like [`JobView`](super::job::JobView), these are lenient: missing counts are 0 and unknown
//! fields are ignored, so an older `pixq` can follow a batch from a newer API. `--json` and
//! `--output` never go through them: they write what the API sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApiError;

/// The prefix of every batch id; any other id is a job's.
pub const BATCH_PREFIX: &str = "batch_";

/// Whether `id` names a batch rather than a job.
pub fn is_batch_id(id: &str) -> bool {
    id.trim().starts_with(BATCH_PREFIX)
}

/// The chains of a batch by state. A chain is a job and its extend steps; it is `succeeded`
/// only when every step is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Not started yet.
    pub queued: u64,
    /// Some step is under way.
    pub running: u64,
    /// Every step succeeded.
    pub succeeded: u64,
    /// A step failed; the chain stopped there.
    pub failed: u64,
    /// Cancelled before it ended.
    pub cancelled: u64,
}

impl Counts {
    /// The chains that have ended, whichever way.
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled
    }

    /// `queued 3 · running 2 · succeeded 6 · failed 1 · cancelled 0`, the order a chain moves.
    pub fn summary(&self) -> String {
        format!(
            "queued {} · running {} · succeeded {} · failed {} · cancelled {}",
            self.queued, self.running, self.succeeded, self.failed, self.cancelled
        )
    }
}

/// The fields of a batch object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BatchView {
    /// The batch's id, `batch_…`.
    pub id: String,
    /// How many jobs (chains) it holds.
    #[serde(default)]
    pub total: u64,
    /// Its chains by state.
    #[serde(default)]
    pub counts: Counts,
    /// When it was accepted.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// When its last chain ended; unset while any runs.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl BatchView {
    /// Whether every chain has ended. `finished_at` says so; the counts are the fallback for an
    /// API that sets it a moment late.
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some() || (self.total > 0 && self.counts.done() >= self.total)
    }
}

/// One batch as the API sent it (for `--json`) and as read (for people).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchObject {
    /// The body exactly as received.
    pub text: String,
    /// The fields the human-readable output uses.
    pub batch: BatchView,
}

impl BatchObject {
    /// Reads a batch body, keeping the text as it came.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidResponse`] when the body is not a batch object.
    pub fn parse(text: String) -> Result<Self, ApiError> {
        match serde_json::from_str(&text) {
            Ok(batch) => Ok(BatchObject { text, batch }),
            Err(err) => Err(ApiError::InvalidResponse {
                reason: format!("not a batch object: {err}"),
            }),
        }
    }
}

/// The answer of `POST /v1/batches/{id}/retry`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BatchRetry {
    /// The batch.
    pub id: String,
    /// How many failed jobs were sent round again.
    #[serde(default)]
    pub retried: u64,
}

/// Why a job of a batch failed or was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ResultError {
    /// A machine-readable code, e.g. `poll_timeout`.
    #[serde(default)]
    pub code: String,
    /// A human-readable explanation.
    #[serde(default)]
    pub message: String,
}

/// One line of `GET /v1/batches/{id}/results`: a job's chain and how it ended. It serializes
/// in the same shape, for a job's chain followed by `pixq watch job_…`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ResultLine {
    /// The job's place in the batch, from 0 in submission order.
    #[serde(default)]
    pub index: u64,
    /// The chain's first step.
    #[serde(default)]
    pub job_id: String,
    /// The step the chain got to: its last on success, the one that stopped it otherwise.
    #[serde(default)]
    pub final_job_id: Option<String>,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Step 0's prompt.
    #[serde(default)]
    pub prompt: Option<String>,
    /// The final video's PixVerse id.
    #[serde(default)]
    pub video_id: Option<Value>,
    /// The final video.
    #[serde(default)]
    pub video_url: Option<String>,
    /// Why it did not succeed.
    #[serde(default)]
    pub error: Option<ResultError>,
}

impl ResultLine {
    /// Reads one line of the results.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidResponse`] when it is not a result object.
    pub fn parse(line: &str) -> Result<Self, ApiError> {
        serde_json::from_str(line).map_err(|err| ApiError::InvalidResponse {
            reason: format!("a line of the batch results: {err}"),
        })
    }

    /// Whether the chain made every video it was asked for.
    pub fn succeeded(&self) -> bool {
        self.state == "succeeded"
    }
}

/// A batch's results: the lines as the API sent them (for `--output`), and as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Results {
    /// Each line exactly as received, without its line end.
    pub raw: Vec<String>,
    /// The same lines, read.
    pub lines: Vec<ResultLine>,
}

impl Results {
    /// Reads an NDJSON body, skipping blank lines.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidResponse`] at the first line that is not a result object.
    pub fn parse(body: &str) -> Result<Self, ApiError> {
        let mut results = Results::default();
        for line in body.lines().map(str::trim).filter(|line| !line.is_empty()) {
            results.lines.push(ResultLine::parse(line)?);
            results.raw.push(line.to_owned());
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_ids_are_told_from_job_ids_by_prefix() {
        assert!(is_batch_id("batch_0193"));
        assert!(is_batch_id(" batch_x "));
        assert!(!is_batch_id("job_0193"));
        assert!(!is_batch_id("job_batch_1"));
    }

    #[test]
    fn a_batch_with_every_chain_counted_done_is_finished() {
        let mut batch: BatchView = serde_json::from_str(
            r#"{"id":"batch_1","total":3,"counts":{"queued":0,"running":1,"succeeded":2},"finished_at":null,"extra":1}"#,
        )
        .unwrap();
        assert!(!batch.is_finished());
        batch.counts.running = 0;
        batch.counts.failed = 1;
        assert!(batch.is_finished());
        assert_eq!(batch.counts.done(), 3);
    }

    #[test]
    fn results_keep_the_raw_lines_and_skip_blank_ones() {
        let body = "{\"index\":0,\"job_id\":\"job_a\",\"state\":\"succeeded\",\"video_id\":317982208110208,\"video_url\":\"https://v/1.mp4\",\"error\":null}\r\n\n{\"index\":1,\"job_id\":\"job_b\",\"state\":\"failed\",\"error\":{\"code\":\"x\",\"message\":\"y\"}}\n";
        let results = Results::parse(body).unwrap();
        assert_eq!(results.raw.len(), 2);
        assert!(results.raw[0].ends_with('}'));
        assert!(results.lines[0].succeeded());
        assert_eq!(
            results.lines[0].video_id,
            Some(Value::from(317982208110208_u64))
        );
        assert_eq!(results.lines[1].error.as_ref().unwrap().code, "x");
        assert!(Results::parse("not json\n").is_err());
    }
}
