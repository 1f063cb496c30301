//! [`Outbox`] on SQLite: the `outbox` table. Events are inserted by [`add_job_event`] and
//! [`add_batch_event`], called inside the transaction of the transition that causes them (a
//! job's in `apply_in`, a batch's in `move_in`), with their bodies rendered there and then:
//! what is signed is frozen from the start. A pending event's `due_ms` is its next attempt,
//! or the end of its lease while one is being attempted.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{Cached, SqliteStore, from_millis, millis, now_ms, optional};
use crate::batch::Batch;
use crate::job::Job;
use crate::outbox::{
    self, Attempt, DeliveryState, DeliveryStatus, Event, EventId, NewEvent, Outbox, Resent,
};
use crate::state::JobState;
use crate::store::StoreError;

/// The columns [`event_from`] reads, in its order.
const EVENT: &str = "SELECT id, kind, subject, url, body, state, attempts, last_error, created_ms,
       since_ms, ended_ms
  FROM outbox";

/// Writes `event`, due now, made at `created` (ms).
fn add(conn: &Connection, event: &NewEvent, created: i64) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO outbox (id, kind, subject, url, body, state, created_ms, since_ms, due_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?7)",
        params![
            event.id.as_str(),
            event.kind.as_str(),
            event.subject,
            event.url,
            event.body,
            created,
            now_ms(),
        ],
    )?;
    Ok(())
}

/// Writes the `job.finished` event of a write that takes a job from `from` to `job`, if it
/// causes one (the job just ended, and has a webhook URL).
pub(super) fn add_job_event(
    conn: &Connection,
    from: JobState,
    job: &Job,
) -> Result<(), StoreError> {
    if let Some(event) = outbox::job_finished(from, job)? {
        let at = job.finished_at.unwrap_or(job.updated_at).timestamp_millis();
        add(conn, &event, at)?;
    }
    Ok(())
}

/// Writes the `batch.finished` event of a batch that has just finished, if it has a webhook.
pub(super) fn add_batch_event(conn: &Connection, batch: &Batch) -> Result<(), StoreError> {
    if let Some(event) = outbox::batch_finished(EventId::generate(), batch)? {
        let at = batch
            .finished_at
            .unwrap_or(batch.created_at)
            .timestamp_millis();
        add(conn, &event, at)?;
    }
    Ok(())
}

/// A row of [`EVENT`], as stored.
struct Stored {
    id: String,
    kind: String,
    subject: String,
    url: String,
    body: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    created: i64,
    since: i64,
    ended: Option<i64>,
}

impl Stored {
    fn read(row: &Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            id: row.get(0)?,
            kind: row.get(1)?,
            subject: row.get(2)?,
            url: row.get(3)?,
            body: row.get(4)?,
            state: row.get(5)?,
            attempts: row.get(6)?,
            last_error: row.get(7)?,
            created: row.get(8)?,
            since: row.get(9)?,
            ended: row.get(10)?,
        })
    }

    fn into_event(self) -> Result<Event, StoreError> {
        let what = format!("webhook event {}", self.id);
        Ok(Event {
            kind: self.kind.parse()?,
            state: self.state.parse()?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            created_at: from_millis(self.created, &what)?,
            since: from_millis(self.since, &what)?,
            ended_at: self.ended.map(|ms| from_millis(ms, &what)).transpose()?,
            id: EventId::from(self.id),
            subject: self.subject,
            url: self.url,
            body: self.body,
            last_error: self.last_error,
        })
    }
}

/// The events `sql` selects (it extends [`EVENT`]) with `params`.
fn select<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> Result<Vec<Event>, StoreError> {
    conn.prepare_cached(&format!("{EVENT} {sql}"))?
        .query_map(params, Stored::read)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(Stored::into_event)
        .collect()
}

/// The op, state and error `record` writes for an attempt.
fn ending(attempt: &Attempt) -> Option<(DeliveryState, Option<&str>)> {
    match attempt {
        Attempt::Delivered => Some((DeliveryState::Delivered, None)),
        Attempt::GaveUp { error } => Some((DeliveryState::Failed, Some(error))),
        Attempt::Refused { reason } => Some((DeliveryState::Refused, Some(reason))),
        Attempt::Failed { .. } | Attempt::Postponed { .. } => None,
    }
}

fn record_in(
    conn: &Connection,
    id: &str,
    holder: &str,
    attempt: &Attempt,
    retention: i64,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let current: Option<Option<String>> = optional(conn.row(
        "SELECT holder FROM outbox WHERE id = ?1 AND state = 'pending'",
        [id],
        |row| row.get(0),
    ))?;
    let Some(held_by) = current else {
        return Ok(false);
    };
    if !matches!(attempt, Attempt::Delivered) && held_by.as_deref() != Some(holder) {
        return Ok(false);
    }
    match attempt {
        Attempt::Postponed { retry_in } => conn.exec(
            "UPDATE outbox SET holder = NULL, due_ms = ?2 WHERE id = ?1",
            params![id, now.saturating_add(millis(*retry_in))],
        )?,
        Attempt::Failed { error, retry_in } => conn.exec(
            "UPDATE outbox SET holder = NULL, attempts = attempts + 1, last_error = ?2, due_ms = ?3
              WHERE id = ?1",
            params![id, error, now.saturating_add(millis(*retry_in))],
        )?,
        ended => {
            let (state, error) = ending(ended).unwrap_or((DeliveryState::Failed, None));
            conn.exec(
                "UPDATE outbox SET holder = NULL, attempts = attempts + 1, state = ?2,
                        last_error = COALESCE(?3, last_error), due_ms = NULL, ended_ms = ?4,
                        expire_at_ms = ?5
                  WHERE id = ?1",
                params![
                    id,
                    state.as_str(),
                    error,
                    now,
                    now.saturating_add(retention)
                ],
            )?
        }
    };
    Ok(true)
}

/// Where live rows are: not past their expiry.
const LIVE: &str = "(expire_at_ms IS NULL OR expire_at_ms > ?1)";

#[async_trait]
impl Outbox for SqliteStore {
    async fn take(
        &self,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> Result<Vec<Event>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (holder, lease) = (holder.to_owned(), millis(lease));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx| {
            let now = now_ms();
            let ids: Vec<String> = tx
                .prepare_cached(
                    "SELECT id FROM outbox WHERE state = 'pending' AND due_ms <= ?1
                      ORDER BY due_ms LIMIT ?2",
                )?
                .query_map(params![now, limit], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                tx.exec(
                    "UPDATE outbox SET holder = ?2, due_ms = ?3 WHERE id = ?1",
                    params![id, holder, now.saturating_add(lease)],
                )?;
                out.extend(select(tx, "WHERE id = ?1", [&id])?);
            }
            Ok(out)
        })
        .await
    }

    async fn record(
        &self,
        id: &EventId,
        holder: &str,
        attempt: Attempt,
    ) -> Result<bool, StoreError> {
        let (id, holder) = (id.to_string(), holder.to_owned());
        let retention = millis(self.retention);
        self.write(move |tx| record_in(tx, &id, &holder, &attempt, retention))
            .await
    }

    async fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            Ok(select(
                conn,
                &format!("WHERE id = ?2 AND {LIVE}"),
                params![now_ms(), id],
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn dead(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            select(
                conn,
                &format!(
                    "WHERE state IN ('failed', 'refused') AND {LIVE}
                     ORDER BY ended_ms DESC, rowid DESC LIMIT ?2"
                ),
                params![now_ms(), limit],
            )
        })
        .await
    }

    async fn resend(&self, id: &EventId) -> Result<Resent, StoreError> {
        let id = id.to_string();
        self.write(move |tx| {
            let now = now_ms();
            let state: Option<String> = optional(tx.row(
                &format!("SELECT state FROM outbox WHERE id = ?2 AND {LIVE}"),
                params![now, id],
                |row| row.get(0),
            ))?;
            let Some(state) = state else {
                return Ok(Resent::Unknown);
            };
            let state: DeliveryState = state.parse()?;
            if !state.is_dead() {
                return Ok(Resent::NotDead(state));
            }
            tx.exec(
                "UPDATE outbox SET state = 'pending', attempts = 0, since_ms = ?2, due_ms = ?2,
                        last_error = NULL, ended_ms = NULL, expire_at_ms = NULL, holder = NULL
                  WHERE id = ?1",
                params![id, now],
            )?;
            Ok(Resent::Resent)
        })
        .await
    }

    async fn status(&self, subjects: &[String]) -> Result<Vec<Option<DeliveryStatus>>, StoreError> {
        let subjects = subjects.to_vec();
        self.read(move |conn| {
            let now = now_ms();
            subjects
                .iter()
                .map(|subject| {
                    let latest = select(
                        conn,
                        &format!(
                            "WHERE subject = ?2 AND {LIVE} ORDER BY created_ms DESC, rowid DESC LIMIT 1"
                        ),
                        params![now, subject],
                    )?;
                    Ok(latest.first().map(Event::status))
                })
                .collect()
        })
        .await
    }

    async fn prune(&self, limit: usize) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx| {
            Ok(tx.exec(
                "DELETE FROM outbox WHERE rowid IN
                   (SELECT rowid FROM outbox WHERE expire_at_ms <= ?1 LIMIT ?2)",
                params![now_ms(), limit],
            )?)
        })
        .await
    }
}
