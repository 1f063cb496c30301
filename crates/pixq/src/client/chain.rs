//! A job's chain as `pixq watch job_…` walks it: from the first step to the next as each
//! succeeds, until the last one succeeds or one fails or is cancelled. Its progress counts
//! steps, and its result has the shape of a batch's result line, so both print alike.

use serde_json::Value;

use super::batch::{Counts, ResultError, ResultLine};
use super::job::JobView;
use super::progress::Snapshot;
use super::{ApiClient, ApiError};

/// A job's chain as it is being walked: how many steps it has and which one runs.
pub struct Chain {
    root: String,
    current: String,
    steps: u64,
}

impl Chain {
    /// The chain that starts at `root`, walked from there.
    pub fn new(root: &JobView) -> Chain {
        Chain {
            root: root.id.clone(),
            current: root.id.clone(),
            steps: root.params.as_ref().map_or(1, extend_steps),
        }
    }

    /// Reads the current step, moving on past every step that succeeded. Returns where the
    /// chain stands, and its last step once the chain has ended.
    ///
    /// # Errors
    ///
    /// The [`ApiError`] of a read.
    pub async fn look(
        &mut self,
        client: &ApiClient,
    ) -> Result<(Snapshot, Option<JobView>), ApiError> {
        loop {
            let job = client.job(&self.current).await?.job;
            let step = job.step.unwrap_or(0);
            self.steps = self.steps.max(step + 1);
            let snapshot = self.snapshot(step, &job.state);
            match job.state.as_str() {
                "succeeded" if step + 1 < self.steps => {
                    self.current = match job.children.as_deref() {
                        Some([next, ..]) => next.clone(),
                        _ => format!("{}.s{}", self.root, step + 1),
                    };
                }
                "succeeded" | "failed" | "cancelled" => return Ok((snapshot, Some(job))),
                _ => return Ok((snapshot, None)),
            }
        }
    }

    /// The chain's steps by state, when step `step` is in `state`.
    fn snapshot(&self, step: u64, state: &str) -> Snapshot {
        let mut counts = Counts {
            succeeded: step,
            ..Counts::default()
        };
        match state {
            "succeeded" => counts.succeeded += 1,
            "failed" => counts.failed = 1,
            "cancelled" => counts.cancelled = 1,
            "queued" if step == 0 => {}
            _ => counts.running = 1,
        }
        counts.queued = self.steps.saturating_sub(counts.done() + counts.running);
        Snapshot {
            total: self.steps,
            counts,
        }
    }
}

/// The steps a job's request asks for: 1 plus its `extend` steps.
fn extend_steps(params: &Value) -> u64 {
    1 + params
        .get("extend")
        .and_then(Value::as_array)
        .map_or(0, |steps| steps.len() as u64)
}

/// A chain's result in the shape of a batch's result line.
pub fn result(root: &JobView, last: &JobView) -> ResultLine {
    let result = last.result.as_ref();
    ResultLine {
        index: 0,
        job_id: root.id.clone(),
        final_job_id: Some(last.id.clone()),
        state: last.state.clone(),
        prompt: root.prompt().map(str::to_owned),
        video_id: result.and_then(|result| result.video_id.clone()),
        video_url: result.and_then(|result| result.video_url.clone()),
        error: last.error.as_ref().map(|error| ResultError {
            code: error.code.clone(),
            message: error.message.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_counts_its_steps_by_state() {
        let chain = Chain {
            root: "job_a".into(),
            current: "job_a.s1".into(),
            steps: 3,
        };
        let counts = chain.snapshot(1, "generating").counts;
        assert_eq!((counts.succeeded, counts.running, counts.queued), (1, 1, 1));
        let counts = chain.snapshot(0, "queued").counts;
        assert_eq!((counts.queued, counts.running), (3, 0));
        let counts = chain.snapshot(2, "failed").counts;
        assert_eq!((counts.succeeded, counts.failed, counts.queued), (2, 1, 0));
    }
}
