//! A task's life after its submit: queued, started, finished, and reported to its callback.
//! Each task has one runner; every timing was drawn at submit, so runners draw nothing.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::{
    callback,
    state::Sim,
    task::{epoch_now, round_ms},
};

/// Everything a runner needs, decided at submit.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The task's sequence number in the store.
    pub(crate) seq: u64,
    /// The task id, for logs.
    pub(crate) task_id: String,
    /// The token whose in-flight count the task holds until it ends.
    pub(crate) token: String,
    /// From submit to `started_at`.
    pub(crate) queue: Duration,
    /// From submit to `finished_at`; never shorter than `queue`.
    pub(crate) total: Duration,
    /// The success or failure body the task ends with.
    pub(crate) response: Value,
    /// The video a success produces, which `extend` may then use.
    pub(crate) video_id: Option<i64>,
    /// Where to POST the response, if the submit asked for it.
    pub(crate) callback_url: Option<String>,
    /// A sync submit waiting for the response.
    pub(crate) done: Option<oneshot::Sender<Value>>,
}

/// Runs one task to its end, then delivers its callback. Returns early on shutdown.
pub(crate) async fn run(sim: Sim, mut plan: Plan) {
    if !pause(&sim, plan.queue).await {
        return;
    }
    if let Some(task) = sim.lock().store.get_mut(plan.seq) {
        task.started_at = Some(epoch_now());
    }
    if !pause(&sim, plan.total.saturating_sub(plan.queue)).await {
        return;
    }
    finish(&sim, &plan);
    if let Some(done) = plan.done.take() {
        // A sync client that hung up no longer listens; the task is finished all the same.
        let _ = done.send(plan.response.clone());
    }
    if let Some(url) = &plan.callback_url {
        callback::deliver(&sim, url, &plan.response).await;
    }
}

/// Waits `duration`; `false` when the simulator shuts down first.
async fn pause(sim: &Sim, duration: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        () = sim.shutdown().cancelled() => false,
    }
}

/// Stamps the end on the record (if it was not evicted), releases the token's in-flight slot
/// and registers the produced video.
fn finish(sim: &Sim, plan: &Plan) {
    let mut state = sim.lock();
    if let Some(task) = state.store.get_mut(plan.seq) {
        let now = epoch_now();
        task.finished_at = Some(now);
        task.elapsed = Some(round_ms(now - task.started_at.unwrap_or(task.created_at)));
        task.response = Some(plan.response.clone());
    }
    if let Some(video_id) = plan.video_id {
        state.store.add_video(plan.seq, video_id);
    }
    if let Some(load) = state.loads.get_mut(&plan.token) {
        load.in_flight = load.in_flight.saturating_sub(1);
    }
    tracing::debug!(task_id = %plan.task_id, success = plan.video_id.is_some(), "task finished");
}
