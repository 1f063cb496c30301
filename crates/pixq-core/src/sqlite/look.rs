//! The calls of one look, each one transaction: taking due jobs with their records,
//! committing a look's last transition with what follows from it, and taking a slot in turn
//! behind the pause gate. The same promises as `redis/take.lua`, `commit.lua` and
//! `take_slot.lua`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::jobs::{decode, read_raw};
use super::schedule::{ring, settle_in, take_due_in};
use super::wait_line::{first_in, leave_in, park_in};
use super::{Cached, SqliteStore, from_millis, millis, now_ms, optional, pauses, slots};
use crate::job::JobId;
use crate::limits::Pause;
use crate::queue::Lease;
use crate::state::Transition;
use crate::store::{
    Basis, Claim, Committed, Effects, Outcome, SlotRequest, SlotTurn, StoreError, SubmitTurn,
};

impl SqliteStore {
    /// See [`Store::take`](crate::store::Store::take).
    pub(super) async fn take_claims(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (due_now, holder, ttl) = (now.timestamp_millis(), holder.to_owned(), millis(ttl));
        // The records are read on the store's thread and decoded here, off it: the one
        // writer thread is what every call of the process waits on.
        let taken = self
            .write(move |tx| {
                let now = now_ms();
                let taken = take_due_in(tx, due_now, limit, &holder, ttl)?;
                taken
                    .into_iter()
                    .map(|id| {
                        let record = read_raw(tx, &id, now)?;
                        Ok((id, record))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
                    .map(|taken| (taken, holder))
            })
            .await?;
        let (taken, holder) = taken;
        taken
            .into_iter()
            .map(|(id, record)| claim_of(id, record, &holder))
            .collect()
    }

    /// See [`Store::commit`](crate::store::Store::commit). The record is checked in the same
    /// transaction, under the one connection's lock: a `basis` still current spares reading
    /// and decoding it.
    pub(super) async fn commit_all(
        &self,
        transition: Transition,
        basis: Option<Basis>,
        effects: Effects,
    ) -> Result<Committed, StoreError> {
        let store = self.clone();
        let (committed, wake, next) = self
            .write(move |tx| {
                let (outcome, version) = store.apply_in(tx, &transition, basis)?;
                let Outcome::Applied(job) = &outcome else {
                    let committed = Committed {
                        outcome,
                        version: None,
                        woken: Vec::new(),
                        next: None,
                    };
                    return Ok((committed, None, None));
                };
                let now = now_ms();
                for next in &effects.ring_now {
                    ring(tx, next.as_str(), now)?;
                }
                let mut woken = Vec::new();
                if let Some(slot) = &effects.slot {
                    let mut freed = false;
                    if slot.release {
                        freed |= release_in(tx, &slot.alias, job.id.as_str(), now)?;
                    }
                    if slot.leave_line {
                        freed |= leave_in(tx, &slot.alias, job.id.as_str())?;
                    }
                    if freed {
                        woken = wake_in(tx, &slot.alias, slot.max, now)?;
                    }
                }
                let mut wake = (!woken.is_empty() || !effects.ring_now.is_empty()).then_some(now);
                let mut next = None;
                if let Some((lease, at)) = &effects.settle {
                    let at = at.map(|at| at.timestamp_millis());
                    let (_, booked) = settle_in(tx, lease, at)?;
                    wake = match (wake, booked) {
                        (Some(w), Some(a)) => Some(w.min(a)),
                        (w, a) => w.or(a),
                    };
                    if let Some(ttl) = effects.take_next {
                        let holder = lease.holder.as_str();
                        if let Some(id) = take_due_in(tx, now, 1, holder, millis(ttl))?.pop() {
                            let record = read_raw(tx, &id, now)?;
                            next = Some((id, record, lease.holder.clone()));
                        }
                    }
                }
                let committed = Committed {
                    outcome,
                    version,
                    woken: woken.into_iter().map(JobId::from).collect(),
                    next: None,
                };
                Ok((committed, wake, next))
            })
            .await?;
        if let Some(at) = wake {
            self.rang(at);
        }
        // Decoded here, off the store's thread, as a take's records are.
        let next = next
            .map(|(id, record, holder)| claim_of(id, record, &holder))
            .transpose()?;
        Ok(Committed { next, ..committed })
    }

    /// See [`Store::take_slot`](crate::store::Store::take_slot).
    pub(super) async fn take_slot_in_turn(
        &self,
        request: &SlotRequest,
    ) -> Result<SlotTurn, StoreError> {
        let request = request.clone();
        self.write(move |tx| take_slot_in(tx, &request)).await
    }

    /// See [`Store::take_slot_then_commit`](crate::store::Store::take_slot_then_commit):
    /// both in one unit, so a submit pays one trip through the store's thread, not two.
    pub(super) async fn take_slot_and_commit(
        &self,
        request: &SlotRequest,
        transition: Transition,
        basis: Option<Basis>,
    ) -> Result<SubmitTurn, StoreError> {
        let (request, store) = (request.clone(), self.clone());
        self.write(move |tx| {
            let (held, probe) = match take_slot_in(tx, &request)?.into_taken() {
                Ok(taken) => taken,
                Err(waits) => return Ok(waits),
            };
            let (outcome, version) = store.apply_in(tx, &transition, basis)?;
            let committed = Committed {
                outcome,
                version,
                woken: Vec::new(),
                next: None,
            };
            Ok(SubmitTurn::Taken {
                held,
                probe,
                committed: Box::new(committed),
            })
        })
        .await
    }
}

/// A job taken for `holder`, with its record (read on the store's thread as JSON, decoded
/// here).
fn claim_of(id: String, record: Option<(String, u64)>, holder: &str) -> Result<Claim, StoreError> {
    let record = record
        .map(|(json, version)| {
            Ok::<_, StoreError>(Basis {
                job: decode(&format!("job {id}"), &json)?,
                version,
            })
        })
        .transpose()?;
    Ok(Claim {
        lease: Lease {
            job: JobId::from(id),
            holder: holder.to_owned(),
        },
        record,
    })
}

/// Gives `job`'s slot on `alias` back; whether its lease was still live.
fn release_in(conn: &Connection, alias: &str, job: &str, now: i64) -> Result<bool, StoreError> {
    let expires: Option<i64> = optional(conn.row(
        "DELETE FROM slots WHERE alias = ?1 AND job_id = ?2 RETURNING expires_ms",
        params![alias, job],
        |row| row.get(0),
    ))?;
    Ok(expires.is_some_and(|at| at > now))
}

/// Live slots on `alias`.
fn held_in(conn: &Connection, alias: &str, now: i64) -> Result<i64, StoreError> {
    slots::live(conn, alias, now)
}

/// Rings now the first jobs of `alias`'s line, as many as slots are free of `max`: only the
/// one that will probe while the token is paused and its probe is due, none before that.
fn wake_in(conn: &Connection, alias: &str, max: u32, now: i64) -> Result<Vec<String>, StoreError> {
    if first_in(conn, alias, 1)?.is_empty() {
        return Ok(Vec::new());
    }
    let mut free = i64::from(max) - held_in(conn, alias, now)?;
    if free <= 0 {
        return Ok(Vec::new());
    }
    if let Some(pause) = pauses::read(conn, alias)? {
        if pause.until.timestamp_millis() > now {
            return Ok(Vec::new());
        }
        free = 1;
    }
    let first = first_in(conn, alias, free)?;
    for job in &first {
        ring(conn, job, now)?;
    }
    Ok(first)
}

/// Whether `job` is among the first `max` of `alias`'s line.
fn at_head(conn: &Connection, alias: &str, job: &str, max: u32) -> Result<bool, StoreError> {
    Ok(first_in(conn, alias, i64::from(max))?
        .iter()
        .any(|j| j == job))
}

/// The pause gate, then a slot in the order of the line; see `redis/take_slot.lua`.
fn take_slot_in(conn: &Connection, r: &SlotRequest) -> Result<SlotTurn, StoreError> {
    let now = now_ms();
    let (alias, job) = (r.alias.as_str(), r.job.as_str());
    let mut probe: Option<Pause> = None;
    if let Some(pause) = pauses::read(conn, alias)? {
        if pause.until.timestamp_millis() > now {
            park_in(conn, alias, job)?;
            let at_head = at_head(conn, alias, job, r.max)?;
            return Ok(SlotTurn::Paused { pause, at_head });
        }
        conn.exec(
            "UPDATE pauses SET until_ms = ?2 WHERE alias = ?1",
            params![alias, now.saturating_add(millis(r.probe_window).max(1))],
        )?;
        probe = Some(pause);
    }
    let held = held_in(conn, alias, now)?;
    let mine = optional(conn.row(
        "SELECT 1 FROM slots WHERE alias = ?1 AND job_id = ?2 AND expires_ms > ?3",
        params![alias, job, now],
        |_| Ok(()),
    ))?
    .is_some();
    let free = i64::from(r.max) - held;
    let line_empty = first_in(conn, alias, 1)?.is_empty();
    // A free slot goes to the first `free` jobs of the line; the probe goes out of turn. A job
    // that is not waiting yet takes its place in the line first: batches take turns, so it
    // may come before jobs of a batch that has had many.
    let in_turn = mine || probe.is_some() || line_empty || {
        free > 0 && {
            park_in(conn, alias, job)?;
            first_in(conn, alias, free)?.iter().any(|j| j == job)
        }
    };
    if mine || (in_turn && free > 0) {
        let new_alias = conn.exec(
            "INSERT INTO slots (alias, job_id, expires_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (alias, job_id) DO UPDATE SET expires_ms = excluded.expires_ms",
            params![alias, job, now.saturating_add(millis(r.ttl))],
        )? > 0
            && held == 0;
        if new_alias {
            conn.exec(
                "INSERT OR IGNORE INTO slot_aliases (alias) VALUES (?1)",
                [alias],
            )?;
        }
        if !line_empty {
            leave_in(conn, alias, job)?;
        }
        let held = if mine { held } else { held + 1 };
        return Ok(SlotTurn::Taken {
            held: u32::try_from(held).unwrap_or(u32::MAX),
            probe,
        });
    }
    if probe.is_some() {
        // The probe found no slot: hand it back, so the next job with one probes.
        conn.exec(
            "UPDATE pauses SET until_ms = ?2 WHERE alias = ?1",
            params![alias, now],
        )?;
    }
    park_in(conn, alias, job)?;
    // Every slot is taken: the leases that ran out go, and the earliest live one says when
    // the next frees itself at the latest.
    conn.exec(
        "DELETE FROM slots WHERE alias = ?1 AND expires_ms <= ?2",
        params![alias, now],
    )?;
    let earliest: Option<i64> = conn.row(
        "SELECT MIN(expires_ms) FROM slots WHERE alias = ?1",
        [alias],
        |row| row.get(0),
    )?;
    let what = format!("the slots of {alias}");
    Ok(SlotTurn::Wait {
        held: u32::try_from(held).unwrap_or(u32::MAX),
        earliest_expiry: earliest.map(|ms| from_millis(ms, &what)).transpose()?,
        at_head: at_head(conn, alias, job, r.max)?,
    })
}
