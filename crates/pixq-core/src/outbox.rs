//! The outbox: webhook events waiting to be delivered, written in the same atomic write as the
//! transition that causes them.
//!
//! A job that ends (succeeds, fails, is cancelled, by any path) with a `webhook_url`, and a
//! batch that finishes with one, get an [`Event`] in that very write (`commit.lua` and the
//! batch `move` on Redis, the transition's transaction on SQLite). So an event is never lost
//! between two writes, and never written for a transition that did not apply. Its body is the
//! job or batch object as it was then, frozen: every attempt sends the same bytes under the
//! same `webhook-id`, only the signature's timestamp changes.
//!
//! A delivery service takes due events with a lease ([`Outbox::take`]), like the schedule
//! hands out jobs: a deliverer that dies stops holding them when the lease runs out, and
//! another takes them. What became of an attempt is recorded with [`Outbox::record`]: an
//! [`Attempt`] delivered, failed (with the next try's delay), given up, refused by the
//! outbound policy, or postponed untried. Given-up and refused events are dead: listed by
//! [`Outbox::dead`], sent again by [`Outbox::resend`].

mod build;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use build::{batch_finished, job_finished};

use crate::store::StoreError;

/// An event's id, `evt_<uuidv7>`: the `webhook-id` header, the same on every attempt.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// A fresh id.
    pub fn generate() -> Self {
        EventId(format!("evt_{}", uuid::Uuid::now_v7().simple()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for EventId {
    /// Wraps an id as given (e.g. from a URL path); an unknown one is simply not found.
    fn from(id: String) -> Self {
        EventId(id)
    }
}

impl From<&str> for EventId {
    fn from(id: &str) -> Self {
        EventId(id.to_owned())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event says happened: its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    /// `job.finished`: a job reached `succeeded`, `failed` or `cancelled`.
    #[serde(rename = "job.finished")]
    JobFinished,
    /// `batch.finished`: a batch's last chain ended.
    #[serde(rename = "batch.finished")]
    BatchFinished,
}

impl EventKind {
    /// The wire name, e.g. `job.finished`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::JobFinished => "job.finished",
            EventKind::BatchFinished => "batch.finished",
        }
    }
}

impl FromStr for EventKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "job.finished" => Ok(EventKind::JobFinished),
            "batch.finished" => Ok(EventKind::BatchFinished),
            _ => Err(StoreError::corrupt(
                "a webhook event",
                format!("unknown type {s:?}"),
            )),
        }
    }
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt, or being attempted.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Dead: no attempt succeeded within `webhooks.give_up_after`.
    Failed,
    /// Dead: the outbound policy refused the address (see `last_error`).
    Refused,
}

impl DeliveryState {
    /// The wire name, e.g. `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Refused => "refused",
        }
    }

    /// Whether it is dead: listed by [`Outbox::dead`], and what [`Outbox::resend`] takes.
    pub fn is_dead(self) -> bool {
        matches!(self, DeliveryState::Failed | DeliveryState::Refused)
    }
}

impl FromStr for DeliveryState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
            DeliveryState::Refused,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| StoreError::corrupt("a webhook event", format!("unknown state {s:?}")))
    }
}

/// A new event, written by the transition that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Its id.
    pub id: EventId,
    /// Its type.
    pub kind: EventKind,
    /// The job or batch it is about.
    pub subject: String,
    /// Where it goes.
    pub url: String,
    /// The body, frozen: `{"type", "timestamp", "data"}`.
    pub body: String,
}

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its id, the `webhook-id` header.
    pub id: EventId,
    /// Its type.
    pub kind: EventKind,
    /// The job or batch it is about.
    pub subject: String,
    /// Where it goes.
    pub url: String,
    /// The exact body every attempt sends.
    pub body: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made (refusals included), since it was written or last re-sent.
    pub attempts: u32,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When its tries began: when it was written, or last re-sent. `webhooks.give_up_after`
    /// counts from here.
    pub since: DateTime<Utc>,
    /// When it was delivered or died.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Event {
    /// What the job or batch object shows of it.
    pub fn status(&self) -> DeliveryStatus {
        DeliveryStatus {
            id: self.id.clone(),
            state: self.state,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
        }
    }
}

/// How the latest event of a job or a batch fared, as its object shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// The event.
    pub id: EventId,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
}

/// What became of a taken event: recorded by [`Outbox::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx: the event is done.
    Delivered,
    /// The attempt failed (a non-2xx answer, a timeout, no connection); the next one is due
    /// after `retry_in`.
    Failed {
        /// Why, for the job's `webhook.last_error`; never a secret.
        error: String,
        /// When to try again.
        retry_in: Duration,
    },
    /// The attempt failed and no next one would start within `webhooks.give_up_after`: the
    /// event is dead (`failed`).
    GaveUp {
        /// Why the last attempt failed.
        error: String,
    },
    /// The outbound policy refused every address of the target: dead at once (`refused`).
    Refused {
        /// Which address, and why.
        reason: String,
    },
    /// Not tried (this deliverer had its host's deliveries all busy); due again after
    /// `retry_in`, no attempt counted.
    Postponed {
        /// When to take it again.
        retry_in: Duration,
    },
}

/// The answer of [`Outbox::resend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    /// The dead event is pending again, due now, under the same id and body.
    Resent,
    /// The event is not dead: nothing changed.
    NotDead(DeliveryState),
    /// There is no such event (or it expired after `retention.finished`).
    Unknown,
}

/// Webhook events and their delivery. Every backend keeps the same promises, checked by the
/// conformance suite: a due event is leased to one deliverer at a time; one whose lease ran out
/// is taken again; an attempt's outcome is recorded only by the lease's holder (a delivery is
/// recorded whoever reports it: it happened); delivered and dead events expire after
/// `retention.finished`.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Takes up to `limit` pending events that are due (their next attempt's time has come,
    /// or the lease of a deliverer that never reported has run out), oldest due first, each
    /// leased to `holder` for `lease`.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`] for an event that does not read back.
    async fn take(
        &self,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> Result<Vec<Event>, StoreError>;

    /// Records what became of the attempt at `id` that `holder` took. Answers whether it was
    /// recorded: `false` when the event is not pending or (except for
    /// [`Attempt::Delivered`]) no longer leased to `holder`.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn record(
        &self,
        id: &EventId,
        holder: &str,
        attempt: Attempt,
    ) -> Result<bool, StoreError>;

    /// The event `id`; `None` when unknown or expired.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`].
    async fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError>;

    /// Dead events (given up or refused), the latest to die first, at most `limit`.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`].
    async fn dead(&self, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// Makes a dead event pending again, due now, with its attempts and give-up clock reset;
    /// the same id and body.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn resend(&self, id: &EventId) -> Result<Resent, StoreError>;

    /// How the latest event of each subject (a job or batch id) fared, in the order given;
    /// `None` for a subject that has none.
    ///
    /// # Errors
    ///
    /// Backend failures; [`StoreError::Corrupt`].
    async fn status(&self, subjects: &[String]) -> Result<Vec<Option<DeliveryStatus>>, StoreError>;

    /// Deletes up to `limit` delivered or dead events whose retention has passed; answers
    /// how many.
    ///
    /// # Errors
    ///
    /// Backend failures.
    async fn prune(&self, limit: usize) -> Result<usize, StoreError>;
}
