//! [`Outbox`] on Redis: `{p}:event:{id}` (each event), `{p}:events-due` (pending events by
//! next attempt or lease end), `{p}:events-dead` and `{p}:webhook-of:{subject}`.
//!
//! Events are written by `commit.lua` (a job's, with its body) and by the batch `move` of
//! `prelude.lua` (a batch's, with a snapshot of its record, since only the script knows when
//! a batch finishes); the first take of a batch's event renders its body from the snapshot
//! and freezes it (`HSETNX`), so every attempt after sends the same bytes. Taking, recording
//! and re-sending are one script each (`outbox_take.lua`, `outbox_record.lua`,
//! `outbox_resend.lua`) on the server's clock.

use std::collections::HashMap;
use std::time::Duration;

use ::redis::AsyncCommands;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::batches::batch_from;
use super::{RedisStore, from_millis, millis};
use crate::job::BatchId;
use crate::outbox::{
    self, Attempt, DeliveryState, DeliveryStatus, Event, EventId, EventKind, Outbox, Resent,
};
use crate::store::StoreError;

/// Values per event in the reply of `outbox_take.lua`.
const TAKE_FIELDS: usize = 10;

impl RedisStore {
    /// The body of a batch's event, rendered from the snapshot its `move` took when the batch
    /// finished.
    fn render_snapshot(
        &self,
        id: &EventId,
        subject: &str,
        snapshot: &str,
    ) -> Result<String, StoreError> {
        let what = self.keys.event(id.as_str());
        let fields: HashMap<String, String> = serde_json::from_str(snapshot)
            .map_err(|e| StoreError::corrupt(&what, e.to_string()))?;
        let batch = batch_from(&BatchId::from(subject), &fields)?
            .ok_or_else(|| StoreError::corrupt(&what, "the snapshot is of a batch not accepted"))?;
        outbox::batch_finished(id.clone(), &batch)?
            .map(|event| event.body)
            .ok_or_else(|| {
                StoreError::corrupt(&what, "the snapshot is of a batch without a webhook")
            })
    }

    /// The body of an event whose `body` field is empty: rendered from its snapshot, and
    /// frozen there unless another taker froze it first (then that one).
    async fn freeze(
        &self,
        id: &EventId,
        subject: &str,
        snapshot: &str,
    ) -> Result<String, StoreError> {
        let body = self.render_snapshot(id, subject, snapshot)?;
        let key = self.keys.event(id.as_str());
        let mut conn = self.conn();
        let set: bool = conn.hset_nx(&key, "body", &body).await?;
        if set {
            return Ok(body);
        }
        let frozen: Option<String> = conn.hget(&key, "body").await?;
        Ok(frozen.unwrap_or(body))
    }

    /// An event read back from its hash; `None` when the hash is gone.
    fn event_from(
        &self,
        id: &EventId,
        mut f: HashMap<String, String>,
    ) -> Result<Option<Event>, StoreError> {
        if f.is_empty() {
            return Ok(None);
        }
        let what = self.keys.event(id.as_str());
        let mut take = |name: &str| f.remove(name).filter(|v| !v.is_empty());
        let subject = take("subject").unwrap_or_default();
        let body = match (take("body"), take("snapshot")) {
            (Some(body), _) => body,
            (None, Some(snapshot)) => self.render_snapshot(id, &subject, &snapshot)?,
            (None, None) => return Err(StoreError::corrupt(&what, "the event has no body")),
        };
        let time = |text: Option<String>| -> Result<Option<DateTime<Utc>>, StoreError> {
            text.map(|t| {
                let ms = t
                    .parse::<i64>()
                    .map_err(|_| StoreError::corrupt(&what, format!("time {t:?}")))?;
                from_millis(ms, &what)
            })
            .transpose()
        };
        let created_at = time(take("created"))?.unwrap_or_default();
        Ok(Some(Event {
            id: id.clone(),
            kind: take("kind").unwrap_or_default().parse::<EventKind>()?,
            url: take("url").unwrap_or_default(),
            body,
            state: take("state").unwrap_or_default().parse::<DeliveryState>()?,
            attempts: take("attempts").and_then(|a| a.parse().ok()).unwrap_or(0),
            last_error: take("last_error"),
            since: time(take("since"))?.unwrap_or(created_at),
            ended_at: time(take("ended"))?,
            created_at,
            subject,
        }))
    }

    /// The hashes of `ids`, in one round trip.
    async fn events(
        &self,
        ids: &[String],
    ) -> Result<Vec<(EventId, HashMap<String, String>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.event(id));
        }
        let mut conn = self.conn();
        let found: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(ids
            .iter()
            .map(|id| EventId::from(id.as_str()))
            .zip(found)
            .collect())
    }
}

/// The `op` argument of `outbox_record.lua`, its error and its delay.
fn op(attempt: &Attempt) -> (&'static str, &str, Duration) {
    match attempt {
        Attempt::Delivered => ("delivered", "", Duration::ZERO),
        Attempt::Failed { error, retry_in } => ("failed", error, *retry_in),
        Attempt::GaveUp { error } => ("gave_up", error, Duration::ZERO),
        Attempt::Refused { reason } => ("refused", reason, Duration::ZERO),
        Attempt::Postponed { retry_in } => ("postponed", "", *retry_in),
    }
}

#[async_trait]
impl Outbox for RedisStore {
    async fn take(
        &self,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> Result<Vec<Event>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let flat: Vec<String> = self
            .scripts
            .outbox_take
            .prepare_invoke()
            .arg(&self.keys.outbox_layout()[..])
            .arg(holder)
            .arg(limit)
            .arg(millis(lease))
            .invoke_async(&mut conn)
            .await?;
        if !flat.len().is_multiple_of(TAKE_FIELDS) {
            return Err(StoreError::corrupt(
                "the reply of outbox_take.lua",
                format!("{} values, not a multiple of {TAKE_FIELDS}", flat.len()),
            ));
        }
        let mut out = Vec::with_capacity(flat.len() / TAKE_FIELDS);
        for row in flat.chunks(TAKE_FIELDS) {
            let id = EventId::from(row[0].as_str());
            let names = [
                "kind",
                "subject",
                "url",
                "body",
                "snapshot",
                "attempts",
                "last_error",
                "created",
                "since",
            ];
            let mut fields: HashMap<String, String> = names
                .iter()
                .map(|n| (*n).to_owned())
                .zip(row[1..].iter().cloned())
                .collect();
            fields.insert("state".into(), DeliveryState::Pending.as_str().into());
            if fields.get("body").is_none_or(String::is_empty) {
                let snapshot = fields.remove("snapshot").unwrap_or_default();
                let subject = fields.get("subject").cloned().unwrap_or_default();
                let body = self.freeze(&id, &subject, &snapshot).await?;
                fields.insert("body".into(), body);
            }
            if let Some(event) = self.event_from(&id, fields)? {
                out.push(event);
            }
        }
        Ok(out)
    }

    async fn record(
        &self,
        id: &EventId,
        holder: &str,
        attempt: Attempt,
    ) -> Result<bool, StoreError> {
        let (op, error, delay) = op(&attempt);
        let mut conn = self.conn();
        let recorded: i64 = self
            .scripts
            .outbox_record
            .prepare_invoke()
            .arg(&self.keys.outbox_layout()[..])
            .arg(id.as_str())
            .arg(holder)
            .arg(op)
            .arg(error)
            .arg(millis(delay))
            .arg(millis(self.retention))
            .invoke_async(&mut conn)
            .await?;
        Ok(recorded == 1)
    }

    async fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        let mut conn = self.conn();
        let fields: HashMap<String, String> = conn.hgetall(self.keys.event(id.as_str())).await?;
        self.event_from(id, fields)
    }

    async fn dead(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut conn = self.conn();
        let last = isize::try_from(limit)
            .unwrap_or(isize::MAX)
            .saturating_sub(1);
        if last < 0 {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = conn.zrevrange(self.keys.events_dead(), 0, last).await?;
        let mut out = Vec::with_capacity(ids.len());
        let mut gone = Vec::new();
        for (id, fields) in self.events(&ids).await? {
            match self.event_from(&id, fields)? {
                Some(event) if event.state.is_dead() => out.push(event),
                _ => gone.push(id.to_string()),
            }
        }
        if !gone.is_empty() {
            let _: () = conn.zrem(self.keys.events_dead(), gone).await?;
        }
        Ok(out)
    }

    async fn resend(&self, id: &EventId) -> Result<Resent, StoreError> {
        let mut conn = self.conn();
        let reply: String = self
            .scripts
            .outbox_resend
            .prepare_invoke()
            .arg(&self.keys.outbox_layout()[..])
            .arg(id.as_str())
            .invoke_async(&mut conn)
            .await?;
        match reply.as_str() {
            "resent" => Ok(Resent::Resent),
            "unknown" => Ok(Resent::Unknown),
            state => Ok(Resent::NotDead(state.parse()?)),
        }
    }

    async fn status(&self, subjects: &[String]) -> Result<Vec<Option<DeliveryStatus>>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        let mut pipe = ::redis::pipe();
        for subject in subjects {
            pipe.get(self.keys.webhook_of(subject));
        }
        let latest: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        let mut pipe = ::redis::pipe();
        for id in latest.iter().flatten() {
            pipe.cmd("HMGET")
                .arg(self.keys.event(id))
                .arg(&["state", "attempts", "last_error"]);
        }
        let found: Vec<(Option<String>, Option<String>, Option<String>)> =
            pipe.query_async(&mut conn).await?;
        let mut found = found.into_iter();
        let mut out = Vec::with_capacity(subjects.len());
        for id in latest {
            let Some(id) = id else {
                out.push(None);
                continue;
            };
            let status = match found.next() {
                Some((Some(state), attempts, last_error)) => Some(DeliveryStatus {
                    id: EventId::from(id),
                    state: state.parse()?,
                    attempts: attempts.and_then(|a| a.parse().ok()).unwrap_or(0),
                    last_error: last_error.filter(|e| !e.is_empty()),
                }),
                _ => None,
            };
            out.push(status);
        }
        Ok(out)
    }

    async fn prune(&self, limit: usize) -> Result<usize, StoreError> {
        // The events themselves expire with their keys; the dead index forgets them after.
        let cutoff = Utc::now().timestamp_millis()
            - i64::try_from(millis(self.retention)).unwrap_or(i64::MAX);
        let mut conn = self.conn();
        let ids: Vec<String> = ::redis::cmd("ZRANGE")
            .arg(self.keys.events_dead())
            .arg("-inf")
            .arg(cutoff)
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let removed: usize = conn.zrem(self.keys.events_dead(), ids).await?;
        Ok(removed)
    }
}
