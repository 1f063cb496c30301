//! A submit's way in, in the upstream's order: faults that create no task, the token's
//! in-flight limit, the task itself (with its whole plan drawn at once), and the faults that
//! answer badly for a task that does exist. Auth and validation come before, in the route.

use std::time::Instant;

use serde_json::{Value, value::RawValue};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{
    envelope::{self, FETCH_FAILED},
    fault::Fault,
    ledger::LedgerEntry,
    lifecycle::{self, Plan},
    media::MediaUrls,
    state::Sim,
    task::{self, Task, epoch_now},
    token::Identity,
    validate::{Mode, VideoParams},
};

/// Faults that refuse a submit before any task exists, in the order they are drawn.
const REFUSING: [Fault; 4] = [
    Fault::ApiError,
    Fault::RateLimit,
    Fault::Moderation,
    Fault::BareError,
];
/// Faults that garble the answer to a submit whose task was created, in the order drawn.
const GARBLING: [Fault; 3] = [Fault::Timeout, Fault::NotJson, Fault::DropAfterSubmit];

/// A valid, authorized submit.
#[derive(Debug)]
pub(crate) struct Submit {
    pub(crate) token: String,
    pub(crate) identity: Identity,
    pub(crate) params: VideoParams,
    /// The body as sent, kept byte for byte.
    pub(crate) request: Box<RawValue>,
}

/// Why no task was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// One of the [`REFUSING`] faults struck.
    Fault(Fault),
    /// The token already has `max_in_flight` generations unfinished.
    Busy,
}

/// A created task and how to answer its submit.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub(crate) task_id: String,
    /// `None` for a normal answer, else the [`GARBLING`] fault that struck.
    pub(crate) garbled: Option<Fault>,
    /// For a sync submit answered normally: the task's final body.
    pub(crate) done: Option<oneshot::Receiver<Value>>,
}

/// Decides a submit and, when it is admitted, creates its task and starts its runner.
///
/// # Errors
///
/// A [`Refusal`] when a refusing fault strikes or the token is at its in-flight limit.
pub(crate) fn admit(sim: &Sim, submit: Submit) -> Result<Admitted, Refusal> {
    let config = sim.config();
    let mut guard = sim.lock();
    let state = &mut *guard;
    for fault in REFUSING {
        if state.dice.strikes(state.faults.get(fault)) {
            return Err(Refusal::Fault(fault));
        }
    }
    let load = state.loads.entry(submit.token.clone()).or_default();
    if load.in_flight >= config.max_in_flight {
        return Err(Refusal::Busy);
    }
    load.in_flight += 1;
    load.max_seen = load.max_seen.max(load.in_flight);

    let params = &submit.params;
    let task_id = Uuid::new_v4().to_string();
    let trace_id = Uuid::new_v4().to_string();
    let fails = state
        .dice
        .strikes(state.faults.get(Fault::GenerationFailed));
    let total = state
        .dice
        .duration(state.latency)
        .mul_f64(params.latency_factor());
    let queue = total.mul_f64(state.dice.fraction(0.02, 0.1));
    let (response, video_id) = if fails {
        let body = envelope::task_failure("api_error", FETCH_FAILED, &trace_id, Some(&task_id));
        (body, None)
    } else {
        let seed = match params.seed {
            Some(seed) => seed,
            None => state.dice.seed(),
        };
        let video_id = state.next_id();
        let media = MediaUrls::new(sim.public_base(), &task_id);
        let item = task::video_item(
            params,
            video_id,
            seed,
            state.assets.name(params.asset_id),
            media,
        );
        (task::success(&task_id, &trace_id, item), Some(video_id))
    };

    let now = Instant::now();
    let created_at = epoch_now();
    state
        .store
        .prune(config.max_tasks, config.retention, now, 1);
    let seq = state.store.insert(Task {
        id: task_id.clone(),
        object_id: task::object_id(),
        token: submit.token.clone(),
        identity: submit.identity,
        created_at,
        created: now,
        request: submit.request.clone(),
        trace_id,
        started_at: None,
        finished_at: None,
        elapsed: None,
        response: None,
        last_poll: None,
        video_id: None,
        deleted: false,
    });
    let entry = LedgerEntry {
        task_id: task_id.clone(),
        created_at,
        token: submit.token.clone(),
        request: submit.request,
        created: now,
    };
    state.ledger.push(entry, config.max_tasks, config.retention);
    let garbled = GARBLING
        .into_iter()
        .find(|fault| state.dice.strikes(state.faults.get(*fault)));
    drop(guard);

    let (done, waiter) = match (&params.mode, garbled) {
        (Mode::Sync, None) => {
            let (sender, receiver) = oneshot::channel();
            (Some(sender), Some(receiver))
        }
        _ => (None, None),
    };
    let callback_url = match &params.mode {
        Mode::Callback(url) => Some(url.clone()),
        Mode::Sync | Mode::Async => None,
    };
    tracing::debug!(%task_id, ?garbled, fails, total_ms = total.as_millis() as u64, "task created");
    let plan = Plan {
        seq,
        task_id: task_id.clone(),
        token: submit.token,
        queue,
        total,
        response,
        video_id,
        callback_url,
        done,
    };
    tokio::spawn(lifecycle::run(sim.clone(), plan));
    Ok(Admitted {
        task_id,
        garbled,
        done: waiter,
    })
}
