//! The simulator's shared state: settings, the one mutex over everything that changes, the
//! HTTP client for callbacks and the shutdown token. Handlers and runners hold a cheap [`Sim`].

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    io,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio_util::sync::CancellationToken;

use crate::{
    config::{Latency, SimConfig},
    fault::{Dice, FaultRates},
    ledger::Ledger,
    stats::Stats,
    store::TaskStore,
    token::{TokenState, Tokens},
};

/// Where video and asset ids start: the upstream's are integers around 3.18e14.
const FIRST_ID: i64 = 317_980_000_000_000;

/// A handle on the running simulator, cloned into every handler and task runner.
#[derive(Debug, Clone)]
pub(crate) struct Sim(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    config: SimConfig,
    /// The public base URL, without a trailing slash, that media URLs are built on.
    public_base: String,
    state: Mutex<State>,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

/// A token's generations: how many are unfinished now and the most there ever were.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) in_flight: u32,
    pub(crate) max_seen: u32,
}

/// Everything that changes while the simulator runs.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) tokens: Tokens,
    pub(crate) loads: BTreeMap<String, Load>,
    pub(crate) store: TaskStore,
    pub(crate) ledger: Ledger,
    pub(crate) stats: Stats,
    pub(crate) faults: FaultRates,
    pub(crate) latency: Latency,
    pub(crate) dice: Dice,
    pub(crate) assets: Assets,
    last_id: i64,
}

impl State {
    /// A fresh video or asset id, larger than every one before.
    pub(crate) fn next_id(&mut self) -> i64 {
        self.last_id += self.dice.id_step();
        self.last_id
    }
}

/// Characters made through `/pixverse/character`: asset id to the `asset_name` results echo.
/// Bounded like the tasks; the oldest are forgotten first.
#[derive(Debug, Default)]
pub(crate) struct Assets {
    names: HashMap<i64, String>,
    order: VecDeque<i64>,
}

impl Assets {
    /// Remembers a character, forgetting the oldest beyond `max`.
    pub(crate) fn insert(&mut self, asset_id: i64, name: String, max: usize) {
        while self.order.len() >= max.max(1) {
            if let Some(oldest) = self.order.pop_front() {
                self.names.remove(&oldest);
            }
        }
        self.names.insert(asset_id, name);
        self.order.push_back(asset_id);
    }

    /// The name of a character, `""` when unknown (an id from elsewhere is accepted).
    pub(crate) fn name(&self, asset_id: i64) -> &str {
        self.names.get(&asset_id).map_or("", String::as_str)
    }
}

impl Sim {
    /// Builds the state from the settings; `public_base` is where clients reach it (see
    /// [`SimConfig::public_base`]).
    ///
    /// # Errors
    ///
    /// When the HTTP client for callbacks cannot be built (e.g. no TLS backend).
    pub(crate) fn new(
        config: SimConfig,
        public_base: String,
        shutdown: CancellationToken,
    ) -> io::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.callback_timeout)
            .user_agent(concat!("pixverse-sim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(io::Error::other)?;
        let mut tokens = Tokens::new();
        for token in &config.tokens {
            tokens.set(token, TokenState::Ok);
        }
        for token in &config.used_up_tokens {
            tokens.set(token, TokenState::UsedUp);
        }
        let state = State {
            tokens,
            loads: BTreeMap::new(),
            store: TaskStore::default(),
            ledger: Ledger::default(),
            stats: Stats::default(),
            faults: config.faults,
            latency: config.latency,
            dice: Dice::new(config.seed),
            assets: Assets::default(),
            last_id: FIRST_ID,
        };
        Ok(Self(Arc::new(Shared {
            config,
            public_base,
            state: Mutex::new(state),
            http,
            shutdown,
        })))
    }

    /// The settings the simulator started with.
    pub(crate) fn config(&self) -> &SimConfig {
        &self.0.config
    }

    /// The public base URL, without a trailing slash: results' media URLs start with it.
    pub(crate) fn public_base(&self) -> &str {
        &self.0.public_base
    }

    /// The client that POSTs callbacks.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// Cancelled when the simulator shuts down; every wait selects on it.
    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    /// The state. Held briefly and never across an await. A panic while holding it cannot leave
    /// a half-made change that matters here, so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
