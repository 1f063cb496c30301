//! Callback delivery: the finished task's body POSTed as JSON to its `callback_url`, unsigned,
//! once, never, twice or late, as the configured mode says. Every outcome is counted.

use serde_json::Value;

use crate::{config::CallbackMode, state::Sim};

/// Delivers one task's callback according to the mode; returns when done or on shutdown.
pub(crate) async fn deliver(sim: &Sim, url: &str, body: &Value) {
    match sim.config().callbacks {
        CallbackMode::Normal => post(sim, url, body).await,
        CallbackMode::Drop => sim.lock().stats.callbacks.dropped += 1,
        CallbackMode::Duplicate => {
            post(sim, url, body).await;
            post(sim, url, body).await;
            sim.lock().stats.callbacks.duplicated += 1;
        }
        CallbackMode::Late => {
            tokio::select! {
                () = tokio::time::sleep(sim.config().late_callback_delay) => post(sim, url, body).await,
                () = sim.shutdown().cancelled() => {}
            }
        }
    }
}

/// One POST; a 2xx counts as sent, anything else (or no answer) as failed. Not retried: the
/// upstream documents callbacks as possibly lost.
async fn post(sim: &Sim, url: &str, body: &Value) {
    let sent = tokio::select! {
        result = sim.http().post(url).json(body).send() => result,
        () = sim.shutdown().cancelled() => return,
    };
    let delivered = match sent {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::debug!(status = %response.status(), "callback refused");
            false
        }
        Err(err) => {
            tracing::debug!(error = %err, "callback failed");
            false
        }
    };
    let mut state = sim.lock();
    if delivered {
        state.stats.callbacks.sent += 1;
    } else {
        state.stats.callbacks.failed += 1;
    }
}
