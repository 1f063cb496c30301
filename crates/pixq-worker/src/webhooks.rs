//! [`Deliverer`]: the delivery service of webhooks, one in every worker process.
//!
//! Events wait in the store's outbox, written with the transitions that cause them. The
//! service takes due ones with a lease (as many as it has requests free), and sends each on a
//! task of its own: at most `concurrency` requests in flight, at most `per_host` to one
//! receiver. An event whose receiver is busy is handed back untried (`Postponed`), so a
//! receiver that hangs holds only its own deliveries. Requests never touch the upstream or its
//! slots, and run beside the job handlers, not in them.
//!
//! A failed attempt (no 2xx, a timeout, no connection) is tried again after an exponential
//! backoff with jitter, until the next attempt would start after `webhooks.give_up_after`:
//! then the event is dead (`failed`). A receiver whose addresses the outbound policy refuses
//! is dead at once (`refused`), with the reason in the job's `webhook.last_error`. A service
//! killed mid-attempt records nothing: the lease runs out and another takes the event.

mod attempt;
mod hosts;
mod resolver;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{counter, gauge};
use pixq_core::metrics::{WEBHOOK_DELIVERIES, WEBHOOK_IN_FLIGHT};
use pixq_core::outage;
use pixq_core::outbox::{Attempt, Event};
use pixq_core::store::SharedStore;
use pixq_core::webhook::{AddressPolicy, SigningKey};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::attempt::{Outcome, attempt};
use self::hosts::{HostPermit, Hosts};
use crate::backoff::{backoff, jittered};
use crate::config::WebhookConfig;
use crate::names;

/// How long a postponed event waits before it is taken again.
const POSTPONE: Duration = Duration::from_secs(1);

/// What every delivery task shares.
struct Shared {
    store: SharedStore,
    config: WebhookConfig,
    key: SigningKey,
    policy: AddressPolicy,
    client: reqwest::Client,
    /// This service's name in the events' leases.
    holder: String,
}

/// The delivery service of one worker process.
pub(crate) struct Deliverer {
    shared: Arc<Shared>,
    hosts: Hosts,
}

impl Deliverer {
    /// A delivery service over `store`'s outbox, or `None` without a signing key (nothing to
    /// sign with: the API refuses webhook URLs then).
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built (its TLS backend).
    pub(crate) fn new(
        store: SharedStore,
        config: &WebhookConfig,
    ) -> Result<Option<Self>, reqwest::Error> {
        let Some(key) = config.key.clone() else {
            return Ok(None);
        };
        let policy = config.policy.clone();
        let client = resolver::client(Arc::new(policy.clone()), config.timeout)?;
        let holder = names::deliverer();
        Ok(Some(Deliverer {
            hosts: Hosts::new(config.per_host),
            shared: Arc::new(Shared {
                store,
                config: config.clone(),
                key,
                policy,
                client,
                holder,
            }),
        }))
    }

    /// Delivers until `shutdown`, then lets the requests in flight finish (each is bounded
    /// by `webhooks.timeout`).
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let config = &self.shared.config;
        info!(
            service = "webhooks",
            holder = %self.shared.holder,
            allow_networks = ?self.shared.policy.allowed(),
            "started"
        );
        let mut tasks = JoinSet::new();
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let free = config.concurrency.saturating_sub(tasks.len());
            if free > 0 {
                let taken = self
                    .shared
                    .store
                    .outbox()
                    .take(free, &self.shared.holder, config.lease())
                    .await;
                match taken {
                    Ok(events) => {
                        outage::recovered("webhooks");
                        for event in events {
                            self.dispatch(event, &mut tasks);
                        }
                    }
                    Err(e) => {
                        outage::failed("webhooks", &e);
                    }
                }
            }
            gauge!(WEBHOOK_IN_FLIGHT).set(tasks.len() as f64);
            // Again after a while, or as soon as a request ends when all were in flight.
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(jittered(config.fetch_every)) => {}
                Some(_) = tasks.join_next(), if tasks.len() >= config.concurrency => {}
            }
        }
        let drain = config.timeout.saturating_add(Duration::from_secs(1));
        let drained =
            tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            // Their leases run out and another deliverer takes the events again.
            warn!(
                service = "webhooks",
                left = tasks.len(),
                "stopped with deliveries in flight"
            );
        }
        gauge!(WEBHOOK_IN_FLIGHT).set(0.0);
        info!(service = "webhooks", "stopped");
    }

    /// Starts the attempt at `event` on a task of its own, or hands it back for later when
    /// its receiver has all its requests in flight.
    fn dispatch(&self, event: Event, tasks: &mut JoinSet<()>) {
        let shared = self.shared.clone();
        match self.hosts.try_acquire(&event.url) {
            Some(permit) => {
                tasks.spawn(deliver(shared, event, permit));
            }
            None => {
                tasks.spawn(async move {
                    let retry_in = jittered(POSTPONE);
                    shared.record(&event, Attempt::Postponed { retry_in }).await;
                    counter!(WEBHOOK_DELIVERIES, "outcome" => "postponed").increment(1);
                });
            }
        }
    }
}

/// One attempt at `event`, and its record.
async fn deliver(shared: Arc<Shared>, event: Event, permit: HostPermit) {
    let config = &shared.config;
    let outcome = attempt(
        &shared.client,
        &shared.key,
        &shared.policy,
        config.timeout,
        &event,
    )
    .await;
    drop(permit);
    let recorded = match outcome {
        Outcome::Delivered => {
            debug!(service = "webhooks", event = %event.id, subject = %event.subject, "delivered");
            Attempt::Delivered
        }
        Outcome::Refused(reason) => {
            warn!(service = "webhooks", event = %event.id, subject = %event.subject, %reason, "refused by the outbound policy");
            Attempt::Refused { reason }
        }
        Outcome::Failed(error) => {
            let next = after_failure(&event, config, error, Utc::now());
            match &next {
                Attempt::GaveUp { error } => {
                    warn!(service = "webhooks", event = %event.id, subject = %event.subject, %error, attempts = event.attempts + 1, "gave up");
                }
                Attempt::Failed { error, retry_in } => {
                    debug!(service = "webhooks", event = %event.id, %error, ?retry_in, "attempt failed");
                }
                _ => {}
            }
            next
        }
    };
    let outcome = match &recorded {
        Attempt::Delivered => "delivered",
        Attempt::Failed { .. } => "failed",
        Attempt::GaveUp { .. } => "gave_up",
        Attempt::Refused { .. } => "refused",
        Attempt::Postponed { .. } => "postponed",
    };
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
    shared.record(&event, recorded).await;
}

/// What follows a failed attempt at `event` at `now`: another after the backoff of its
/// attempts so far, or none when that one would start after `webhooks.give_up_after`.
fn after_failure(
    event: &Event,
    config: &WebhookConfig,
    error: String,
    now: DateTime<Utc>,
) -> Attempt {
    let retry_in = backoff(event.attempts, config.backoff_base, config.backoff_max);
    if now + retry_in > event.since + config.give_up_after {
        Attempt::GaveUp { error }
    } else {
        Attempt::Failed { error, retry_in }
    }
}

impl Shared {
    /// Records what became of an attempt; a record refused (the lease ran out and another
    /// deliverer took the event) or failed (the store) is logged: the event is taken again.
    async fn record(&self, event: &Event, attempt: Attempt) {
        match self
            .store
            .outbox()
            .record(&event.id, &self.holder, attempt)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                debug!(service = "webhooks", event = %event.id, "the lease ran out before the record");
            }
            Err(e) => {
                warn!(service = "webhooks", event = %event.id, error = %e, "could not record an attempt; the event will be taken again");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use pixq_core::outbox::{DeliveryState, EventId, EventKind};

    use super::*;

    fn event(attempts: u32, since: DateTime<Utc>) -> Event {
        Event {
            id: EventId::generate(),
            kind: EventKind::JobFinished,
            subject: "job_1".into(),
            url: "https://hooks.example/x".into(),
            body: "{}".into(),
            state: DeliveryState::Pending,
            attempts,
            last_error: None,
            created_at: since,
            since,
            ended_at: None,
        }
    }

    #[test]
    fn a_failure_backs_off_exponentially_until_the_give_up_time() {
        let config = WebhookConfig::default();
        let since = Utc::now();
        for attempts in 0..6 {
            let full = config.backoff_base * 2u32.pow(attempts);
            match after_failure(&event(attempts, since), &config, "500".into(), since) {
                Attempt::Failed { retry_in, .. } => {
                    assert!(
                        retry_in >= full / 2 && retry_in <= full,
                        "{attempts}: {retry_in:?}"
                    );
                }
                other => panic!("{attempts}: {other:?}"),
            }
        }
        let capped = after_failure(&event(40, since), &config, "500".into(), since);
        assert!(
            matches!(capped, Attempt::Failed { retry_in, .. } if retry_in <= config.backoff_max),
            "{capped:?}"
        );
        let late = since + config.give_up_after - chrono::Duration::seconds(1);
        assert_eq!(
            after_failure(&event(3, since), &config, "timeout".into(), late),
            Attempt::GaveUp {
                error: "timeout".into()
            }
        );
    }
}
