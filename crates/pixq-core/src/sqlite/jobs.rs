//! [`Jobs`] on SQLite: the `jobs`, `tasks` and `idempotency` tables.
//!
//! A transition reads the record, plans the change in Rust ([`Transition::plan`], the same
//! rules for every backend) and writes it, all in one immediate transaction under the one
//! connection's lock: nothing can change the record in between, so a plan never has to be
//! made twice. A finished job is gone to every reader once its `expire_at_ms` has passed;
//! sweeping deletes it, its task claims and its idempotency key.

use std::collections::VecDeque;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::{Cached, SqliteStore, batches, now_ms, optional, outbox};
use crate::batch;
use crate::job::{Job, JobId, NewJob};
use crate::state::Transition;
use crate::store::{
    Basis, Created, Cursor, IdempotencyKey, Jobs, ListFilter, Outcome, Page, StoreError,
};

/// Jobs of a batch still being written are not listed, and not the rescuer's to run: the
/// batch is not there yet.
const VISIBLE: &str = "(batch IS NULL OR NOT EXISTS
    (SELECT 1 FROM batches b WHERE b.id = jobs.batch AND b.status = 'writing'))";

/// How many expired jobs a listing sweeps before it reads (the janitor sweeps the rest).
const PRUNE_PER_LIST: usize = 256;

/// The columns every read of a record takes.
const RECORD: &str =
    "SELECT json FROM jobs WHERE id = ?1 AND (expire_at_ms IS NULL OR expire_at_ms > ?2)";

impl SqliteStore {
    /// Applies `transition` inside the caller's transaction: the record is read and the plan
    /// written under the one connection's lock, so nothing moves in between. With a `basis`
    /// still current (its version and time of change are the row's), the record is not read
    /// and decoded again. Answers the outcome and, when it applied, the record's new version.
    pub(super) fn apply_in(
        &self,
        tx: &Connection,
        transition: &Transition,
        basis: Option<Basis>,
    ) -> Result<(Outcome, Option<u64>), StoreError> {
        let now = now_ms();
        let id = transition.job_id();
        let Some((current, version)) = read_current(tx, id.as_str(), now, basis)? else {
            return Err(StoreError::NotFound(id.clone()));
        };
        let Some(plan) = transition.plan(&current, Utc::now()) else {
            return Ok((Outcome::Stale { current }, None));
        };
        if let Some(task) = &plan.claim {
            // A new task id, the usual case, is claimed by the insert alone.
            let claimed = tx.exec(
                "INSERT OR IGNORE INTO tasks (task_id, job_id) VALUES (?1, ?2)",
                params![task, plan.job.id.as_str()],
            )? > 0;
            if !claimed {
                let owner: String = tx.row(
                    "SELECT job_id FROM tasks WHERE task_id = ?1",
                    [task],
                    |row| row.get(0),
                )?;
                if owner != plan.job.id.as_str() && is_live(tx, &owner, now)? {
                    let by = JobId::from(owner);
                    return Ok((Outcome::TaskTaken { by, current }, None));
                }
                tx.exec(
                    "UPDATE tasks SET job_id = ?2 WHERE task_id = ?1",
                    params![task, plan.job.id.as_str()],
                )?;
            }
        }
        let expire_at = self.expire_at_ms(&plan.job);
        update(tx, &plan.job, expire_at)?;
        outbox::add_job_event(tx, current.state, &plan.job)?;
        let moved = batch::moved(current.state, &plan.job);
        if let Some(moved) = &moved {
            let at = plan.job.updated_at.timestamp_millis();
            batches::move_in(tx, moved, at, expire_at)?;
        }
        if let Some(child) = &plan.create
            && !is_live(tx, child.id.as_str(), now)?
        {
            insert(tx, child, self.expire_at_ms(child))?;
        }
        if plan.cancel_descendants {
            for descendant in unfinished_descendants(tx, &current, now)? {
                let cancel = Transition::cancel(descendant.id.clone());
                if let Some(p) = cancel.plan(&descendant, plan.job.updated_at) {
                    let expire_at = self.expire_at_ms(&p.job);
                    update(tx, &p.job, expire_at)?;
                    outbox::add_job_event(tx, descendant.state, &p.job)?;
                    // One chain, one move: the step cancelled first counted it.
                    if moved.is_none()
                        && let Some(m) = batch::moved(descendant.state, &p.job)
                    {
                        batches::move_in(tx, &m, p.job.updated_at.timestamp_millis(), expire_at)?;
                    }
                }
            }
        }
        Ok((Outcome::Applied(plan.job), Some(version.saturating_add(1))))
    }

    fn expire_at_ms(&self, job: &Job) -> Option<i64> {
        match (job.is_terminal(), job.finished_at) {
            (true, Some(at)) => {
                let retention = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
                Some(at.timestamp_millis().saturating_add(retention))
            }
            (true, None) => Some(job.updated_at.timestamp_millis()),
            (false, _) => None,
        }
    }
}

fn encode(job: &Job) -> Result<String, StoreError> {
    serde_json::to_string(job)
        .map_err(|e| StoreError::corrupt(format!("job {}", job.id), format!("cannot encode: {e}")))
}

pub(super) fn decode(what: &str, json: &str) -> Result<Job, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt(what, e.to_string()))
}

/// The live record of `id`.
fn read(conn: &Connection, id: &str, now: i64) -> Result<Option<Job>, StoreError> {
    let json: Option<String> = optional(conn.row(RECORD, params![id, now], |row| row.get(0)))?;
    json.map(|json| decode(&format!("job {id}"), &json))
        .transpose()
}

/// The live record of `id` with its version.
pub(super) fn read_versioned(
    conn: &Connection,
    id: &str,
    now: i64,
) -> Result<Option<(Job, u64)>, StoreError> {
    let row: Option<(String, i64)> = optional(conn.row(
        "SELECT json, version FROM jobs WHERE id = ?1 AND (expire_at_ms IS NULL OR expire_at_ms > ?2)",
        params![id, now],
        |row| Ok((row.get(0)?, row.get(1)?)),
    ))?;
    row.map(|(json, version)| {
        Ok((
            decode(&format!("job {id}"), &json)?,
            u64::try_from(version).unwrap_or(0),
        ))
    })
    .transpose()
}

/// The live record of `id` with its version: `basis` itself when the row is still at its
/// version (and was changed when it says), since then it is what the row holds.
fn read_current(
    conn: &Connection,
    id: &str,
    now: i64,
    basis: Option<Basis>,
) -> Result<Option<(Job, u64)>, StoreError> {
    let Some(basis) = basis else {
        return read_versioned(conn, id, now);
    };
    let row: Option<(i64, i64)> = optional(conn.row(
        "SELECT version, updated_ms FROM jobs
         WHERE id = ?1 AND (expire_at_ms IS NULL OR expire_at_ms > ?2)",
        params![id, now],
        |row| Ok((row.get(0)?, row.get(1)?)),
    ))?;
    match row {
        None => Ok(None),
        Some((version, updated))
            if u64::try_from(version).is_ok_and(|v| v == basis.version)
                && updated == basis.job.updated_at.timestamp_millis() =>
        {
            Ok(Some((basis.job, basis.version)))
        }
        Some(_) => read_versioned(conn, id, now),
    }
}

/// The live record of `id` as stored (JSON, not decoded) with its version: for a caller that
/// decodes it off the store's thread.
pub(super) fn read_raw(
    conn: &Connection,
    id: &str,
    now: i64,
) -> Result<Option<(String, u64)>, StoreError> {
    let row: Option<(String, i64)> = optional(conn.row(
        "SELECT json, version FROM jobs WHERE id = ?1 AND (expire_at_ms IS NULL OR expire_at_ms > ?2)",
        params![id, now],
        |row| Ok((row.get(0)?, row.get(1)?)),
    ))?;
    Ok(row.map(|(json, version)| (json, u64::try_from(version).unwrap_or(0))))
}

/// Whether a record of `id` exists and has not expired.
pub(super) fn is_live(conn: &Connection, id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(optional(conn.row(
        "SELECT 1 FROM jobs WHERE id = ?1 AND (expire_at_ms IS NULL OR expire_at_ms > ?2)",
        params![id, now],
        |_| Ok(()),
    ))?
    .is_some())
}

/// Inserts a new record, replacing an expired one under the same id.
pub(super) fn insert(
    conn: &Connection,
    job: &Job,
    expire_at: Option<i64>,
) -> Result<(), StoreError> {
    conn.exec(
        "INSERT OR REPLACE INTO jobs (id, state, version, json, batch, created_ms, updated_ms, expire_at_ms)
         VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7)",
        params![
            job.id.as_str(),
            job.state.as_str(),
            encode(job)?,
            job.batch_id.as_ref().map(|b| b.as_str()),
            job.created_at.timestamp_millis(),
            job.updated_at.timestamp_millis(),
            expire_at,
        ],
    )?;
    Ok(())
}

/// Overwrites an existing record.
fn update(conn: &Connection, job: &Job, expire_at: Option<i64>) -> Result<(), StoreError> {
    conn.exec(
        "UPDATE jobs SET state = ?2, version = version + 1, json = ?3, updated_ms = ?4, expire_at_ms = ?5
         WHERE id = ?1",
        params![
            job.id.as_str(),
            job.state.as_str(),
            encode(job)?,
            job.updated_at.timestamp_millis(),
            expire_at,
        ],
    )?;
    Ok(())
}

/// Deletes up to `limit` jobs whose retention has passed, with their claims and keys.
fn prune(conn: &Connection, limit: usize, now: i64) -> Result<usize, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM jobs WHERE expire_at_ms <= ?1 LIMIT ?2")?
        .query_map(params![now, limit], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        conn.exec("DELETE FROM tasks WHERE job_id = ?1", [id])?;
        conn.exec("DELETE FROM idempotency WHERE job_id = ?1", [id])?;
        conn.exec("DELETE FROM schedule WHERE job_id = ?1", [id])?;
        conn.exec("DELETE FROM jobs WHERE id = ?1", [id])?;
    }
    batches::prune_in(conn, limit, now)?;
    Ok(ids.len())
}

/// The descendants of `job` that have not finished, nearest first.
fn unfinished_descendants(conn: &Connection, job: &Job, now: i64) -> Result<Vec<Job>, StoreError> {
    let mut todo: VecDeque<JobId> = job.children.iter().cloned().collect();
    let mut out = Vec::new();
    while let Some(id) = todo.pop_front() {
        if let Some(child) = read(conn, id.as_str(), now)? {
            todo.extend(child.children.iter().cloned());
            if !child.is_terminal() {
                out.push(child);
            }
        }
    }
    Ok(out)
}

/// A cursor is `<created ms>:<id>` of the last job of a page.
fn parse_cursor(cursor: &Cursor) -> Result<(i64, String), StoreError> {
    let invalid = || StoreError::InvalidCursor(cursor.as_str().to_owned());
    let (score, id) = cursor.as_str().split_once(':').ok_or_else(invalid)?;
    let score = score.parse::<i64>().map_err(|_| invalid())?;
    if id.is_empty() {
        return Err(invalid());
    }
    Ok((score, id.to_owned()))
}

#[async_trait]
impl Jobs for SqliteStore {
    async fn create(
        &self,
        job: NewJob,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let job = job.into_job(Utc::now());
        self.write(move |tx| {
            let now = now_ms();
            if let Some(key) = &idempotency {
                let prior: Option<(String, String)> = optional(tx.row(
                    "SELECT job_id, fingerprint FROM idempotency WHERE key = ?1",
                    [&key.key],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                ))?;
                if let Some((first, fingerprint)) = prior
                    && let Some(existing) = read(tx, &first, now)?
                {
                    if fingerprint == key.fingerprint {
                        return Ok(Created {
                            job: existing,
                            replayed: true,
                        });
                    }
                    return Err(StoreError::Conflict {
                        key: key.key.clone(),
                        job: JobId::from(first),
                    });
                }
            }
            if is_live(tx, job.id.as_str(), now)? {
                return Err(StoreError::Duplicate(job.id.clone()));
            }
            insert(tx, &job, None)?;
            if let Some(key) = &idempotency {
                tx.exec(
                    "INSERT OR REPLACE INTO idempotency (key, job_id, fingerprint) VALUES (?1, ?2, ?3)",
                    params![key.key, job.id.as_str(), key.fingerprint],
                )?;
            }
            Ok(Created {
                job,
                replayed: false,
            })
        })
        .await
    }

    async fn create_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError> {
        let now = Utc::now();
        let jobs: Vec<Job> = jobs.into_iter().map(|j| j.into_job(now)).collect();
        if jobs.is_empty() {
            return Ok(jobs);
        }
        self.write(move |tx| {
            let now = now_ms();
            let mut seen = std::collections::HashSet::new();
            for job in &jobs {
                if !seen.insert(job.id.as_str()) || is_live(tx, job.id.as_str(), now)? {
                    return Err(StoreError::Duplicate(job.id.clone()));
                }
            }
            for job in &jobs {
                insert(tx, job, None)?;
            }
            Ok(jobs)
        })
        .await
    }

    async fn get(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let id = id.clone();
        self.read(move |conn| read(conn, id.as_str(), now_ms()))
            .await
    }

    async fn get_many(&self, ids: &[JobId]) -> Result<Vec<Option<Job>>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |conn| {
            let now = now_ms();
            ids.iter().map(|id| read(conn, id.as_str(), now)).collect()
        })
        .await
    }

    async fn apply(&self, transition: Transition) -> Result<Outcome, StoreError> {
        let store = self.clone();
        self.write(move |tx| {
            let (outcome, _) = store.apply_in(tx, &transition, None)?;
            Ok(outcome)
        })
        .await
    }

    async fn job_for_task(&self, task_id: &str) -> Result<Option<JobId>, StoreError> {
        let task = task_id.to_owned();
        self.read(move |conn| {
            let owner: Option<String> = optional(conn.row(
                "SELECT t.job_id FROM tasks t JOIN jobs j ON j.id = t.job_id
                 WHERE t.task_id = ?1 AND (j.expire_at_ms IS NULL OR j.expire_at_ms > ?2)",
                params![task, now_ms()],
                |row| row.get(0),
            ))?;
            Ok(owner.map(JobId::from))
        })
        .await
    }

    async fn list(
        &self,
        filter: &ListFilter,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let cursor = cursor.map(parse_cursor).transpose()?;
        let limit = limit.max(1);
        let filter = filter.clone();
        self.write(move |tx| {
            let now = now_ms();
            prune(tx, PRUNE_PER_LIST, now)?;
            let (after_ms, after_id) = cursor.unwrap_or((i64::MAX, String::new()));
            let take = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
            let mut args: Vec<Value> =
                vec![now.into(), after_ms.into(), after_id.into(), take.into()];
            // A batch's index first when there is one: a batch is small next to a state.
            let mut filter_sql = String::new();
            if let Some(batch) = &filter.batch {
                args.push(batch.as_str().to_owned().into());
                filter_sql.push_str(&format!(" AND batch = ?{}", args.len()));
            }
            if let Some(state) = filter.state {
                args.push(state.as_str().to_owned().into());
                filter_sql.push_str(&format!(" AND state = ?{}", args.len()));
            }
            let sql = format!(
                "SELECT created_ms, id, json FROM jobs
                 WHERE (created_ms, id) < (?2, ?3)
                   AND (expire_at_ms IS NULL OR expire_at_ms > ?1){filter_sql}
                   AND {VISIBLE}
                 ORDER BY created_ms DESC, id DESC
                 LIMIT ?4"
            );
            let rows = tx
                .prepare_cached(&sql)?
                .query_map(params_from_iter(args), |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > limit;
            let mut jobs = Vec::with_capacity(limit);
            let mut last = None;
            for (created, id, json) in rows.into_iter().take(limit) {
                jobs.push(decode("a listed job", &json)?);
                last = Some((created, id));
            }
            let next_cursor = match (more, last) {
                (true, Some((created, id))) => Some(Cursor::new(format!("{created}:{id}"))),
                _ => None,
            };
            Ok(Page { jobs, next_cursor })
        })
        .await
    }

    async fn unfinished_older_than(
        &self,
        cutoff: DateTime<Utc>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let cutoff = cutoff.timestamp_millis();
        let (offset, limit) = (
            i64::try_from(offset).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        );
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT id, json FROM jobs WHERE expire_at_ms IS NULL AND updated_ms <= ?1
                       AND {VISIBLE}
                     ORDER BY updated_ms LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = stmt
                .query_map(params![cutoff, limit, offset], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let jobs = rows
                .iter()
                .map(|(id, json)| decode(&format!("job {id}"), json))
                .collect::<Result<Vec<Job>, _>>()?;
            Ok(jobs.into_iter().filter(|job| !job.is_terminal()).collect())
        })
        .await
    }

    async fn prune_expired(&self, limit: usize) -> Result<usize, StoreError> {
        self.write(move |tx| prune(tx, limit, now_ms())).await
    }
}
