//! [`Poller`]: the polls of every handler of a worker, gathered into `retrieve_batch` calls.
//!
//! The upstream counts each id of a `retrieve_batch` as a poll of its task (at most one a
//! second per task, which the poll gate keeps) but answers up to 100 of them in one request.
//! So a handler does not call the upstream itself: it hands its task id to the poller and
//! waits. The poller takes every id waiting, up to [`MAX_BATCH`], and asks for them in one
//! request (`retrieve` when there is only one). While polls come quickly (hundreds of tasks
//! parked), it lingers a moment for more to gather, so thousands of generations in flight
//! cost a few requests a second; a poll on a quiet worker goes at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pixverse::{BatchQuery, Client, Error, ErrorKind, TaskRecord};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::doorbell::InFlight;
use crate::telemetry;

/// The most ids one `retrieve_batch` asks for: the upstream's limit.
pub(crate) const MAX_BATCH: usize = 100;

/// How long the poller waits for more ids while polls come quickly.
const LINGER: Duration = Duration::from_millis(100);

/// Polls a second above which the poller lingers.
const BUSY_RATE: f64 = 20.0;

/// What one poll of one task gave.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The task's record.
    Record(Box<TaskRecord>),
    /// The upstream does not know the task.
    Gone,
    /// The call failed; the task may be polled again later.
    Failed(Failure),
}

/// Why a poll failed, for every task of its batch.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The upstream answered 429: wait at least this long, when it said.
    pub(crate) rate_limited: Option<Option<Duration>>,
    /// What went wrong, for the log.
    pub(crate) message: String,
}

impl Failure {
    fn of(e: &Error) -> Self {
        Failure {
            rate_limited: match e.kind() {
                ErrorKind::RateLimited { retry_after } => Some(retry_after),
                _ => None,
            },
            message: e.to_string(),
        }
    }

    fn stopped(why: &str) -> Self {
        Failure {
            rate_limited: None,
            message: why.to_owned(),
        }
    }
}

/// A request: a task id and where its answer goes.
type Request = (String, oneshot::Sender<Answer>);

/// The handle handlers poll through. Clones share one poller.
#[derive(Debug, Clone)]
pub(crate) struct Poller {
    requests: mpsc::UnboundedSender<Request>,
}

impl Poller {
    /// A poller calling `client`, running until every handle is dropped.
    pub(crate) fn spawn(client: Client, handlers: InFlight, concurrency: usize) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        let spare = move || handlers.get().saturating_mul(2) < concurrency;
        tokio::spawn(gather(client, queue, spare));
        Poller { requests }
    }

    /// One poll of `task`, with the others that are waiting.
    pub(crate) async fn poll(&self, task: &str) -> Answer {
        let (tx, rx) = oneshot::channel();
        if self.requests.send((task.to_owned(), tx)).is_err() {
            return Answer::Failed(Failure::stopped("the poller has stopped"));
        }
        rx.await
            .unwrap_or_else(|_| Answer::Failed(Failure::stopped("the poller dropped the poll")))
    }
}

/// The poller's loop: gather, ask, answer.
async fn gather(
    client: Client,
    mut queue: mpsc::UnboundedReceiver<Request>,
    spare: impl Fn() -> bool,
) {
    let mut rate = Rate::default();
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let deadline = Instant::now() + LINGER;
        loop {
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            if batch.len() >= MAX_BATCH || !rate.busy() || !spare() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, queue.recv()).await {
                Ok(Some(request)) => batch.push(request),
                Ok(None) | Err(_) => break,
            }
        }
        rate.count(batch.len());
        ask(&client, batch).await;
    }
}

/// One request for `batch`, and every answer sent.
async fn ask(client: &Client, mut batch: Vec<Request>) {
    if batch.len() == 1 {
        let Some((task, reply)) = batch.pop() else {
            return;
        };
        let answer = client.retrieve(&task).await;
        telemetry::upstream_call("retrieve", &answer);
        let _ = reply.send(match answer {
            Ok(record) => Answer::Record(Box::new(record)),
            Err(e) if e.kind() == ErrorKind::NotFound => Answer::Gone,
            Err(e) => Answer::Failed(Failure::of(&e)),
        });
        return;
    }
    let ids: Vec<String> = batch.iter().map(|(task, _)| task.clone()).collect();
    let query = BatchQuery {
        limit: u32::try_from(ids.len()).ok(),
        ..BatchQuery::ids(ids)
    };
    let answer = client.retrieve_batch(&query).await;
    telemetry::upstream_call("retrieve_batch", &answer);
    debug!(tasks = batch.len(), ok = answer.is_ok(), "polled a batch");
    match answer {
        Ok(found) => {
            let mut by_id: HashMap<String, TaskRecord> = found
                .items
                .into_iter()
                .filter_map(|record| record.id.clone().map(|id| (id, record)))
                .collect();
            for (task, reply) in batch {
                let _ = reply.send(match by_id.remove(&task) {
                    Some(record) => Answer::Record(Box::new(record)),
                    None => Answer::Gone,
                });
            }
        }
        Err(e) => {
            let failure = Failure::of(&e);
            for (_, reply) in batch {
                let _ = reply.send(Answer::Failed(failure.clone()));
            }
        }
    }
}

/// Polls a second, smoothed.
#[derive(Debug)]
struct Rate {
    per_second: f64,
    last: Instant,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            per_second: 0.0,
            last: Instant::now(),
        }
    }
}

impl Rate {
    fn count(&mut self, polls: usize) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64().max(0.001);
        self.last = now;
        // Polls in this gap, as a rate, weighed by how much of a second the gap was.
        #[allow(clippy::cast_precision_loss)]
        let instant = polls as f64 / dt;
        let weight = dt.min(1.0);
        self.per_second = self.per_second * (1.0 - weight) + instant * weight;
    }

    fn busy(&self) -> bool {
        let idle = self.last.elapsed().as_secs_f64();
        self.per_second * (-idle).exp() > BUSY_RATE
    }
}
