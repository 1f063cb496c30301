//! [`Overview`]: how busy pixq is right now, read from the store: the schedule's depth, and
//! per upstream token the generations in flight against the cap and any pause. Served as
//! `GET /v1/overview` and drawn at the top of the dashboard.

use chrono::{DateTime, Utc};
use pixq_core::limits::Pause;
use pixq_core::store::StoreError;
use serde::Serialize;

use crate::state::AppState;

/// The body of `GET /v1/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// The schedule's entries, as `pixq_queue_depth{queue}` counts them.
    pub queue_depth: QueueDepth,
    /// Whether the queue is paused (`POST /v1/queue/pause`): no worker starts a new look.
    pub queue_paused: bool,
    /// Every token the workers have used or paused, sorted by alias.
    pub tokens: Vec<TokenLoad>,
}

/// The schedule's size: looks booked (due now or later) and looks a worker holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueDepth {
    /// Jobs with a look booked and no worker on them (`pixq_queue_depth{queue="due"}`).
    pub due: u64,
    /// Jobs a worker is looking at now (`pixq_queue_depth{queue="leased"}`).
    pub leased: u64,
}

/// One upstream token, by its alias (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenLoad {
    /// The token's alias: the first eight hex digits of its SHA-256.
    pub token: String,
    /// Generations holding a slot on it now, across all workers.
    pub in_flight: u32,
    /// The cap, `upstream.max_in_flight` as this process is configured.
    pub max_in_flight: u32,
    /// Why submission on it is paused, when it is.
    #[schema(required = true)]
    pub paused: Option<PauseView>,
}

/// A pause as shown: why, since when, and when the next waiting job may probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PauseView {
    /// The account-level error that paused it, e.g. `used_up`.
    pub reason: String,
    /// When it was first paused.
    pub since: DateTime<Utc>,
    /// When the next probe may go.
    pub until: DateTime<Utc>,
}

impl From<Pause> for PauseView {
    fn from(p: Pause) -> Self {
        PauseView {
            reason: p.reason,
            since: p.since,
            until: p.until,
        }
    }
}

/// Reads the overview from the store.
///
/// # Errors
///
/// Store failures.
pub(crate) async fn read(state: &AppState) -> Result<Overview, StoreError> {
    let store = state.store();
    let schedule = store.schedule();
    let (len, leased) = (schedule.len().await?, schedule.leased_count().await?);
    let queue_depth = QueueDepth { due: len, leased };
    let queue_paused = schedule.is_paused().await?;
    let mut paused = store.pauses().paused_aliases().await?;
    let mut aliases = store.slots().aliases().await?;
    aliases.extend(paused.iter().map(|(alias, _)| alias.clone()));
    aliases.sort_unstable();
    aliases.dedup();
    let mut tokens = Vec::with_capacity(aliases.len());
    for alias in aliases {
        let in_flight = store.slots().held(&alias).await?;
        let pause = paused
            .iter()
            .position(|(a, _)| *a == alias)
            .map(|i| paused.swap_remove(i).1);
        tokens.push(TokenLoad {
            token: alias,
            in_flight,
            max_in_flight: state.config().max_in_flight,
            paused: pause.map(PauseView::from),
        });
    }
    Ok(Overview {
        queue_depth,
        queue_paused,
        tokens,
    })
}
