//! [`Jobs`] on Redis.
//!
//! Each job is a hash holding its record as JSON, plus its `state` and a `version` the Lua
//! scripts check. A transition reads the record, plans the change in Rust
//! ([`Transition::plan`], the same rules for every backend), and writes it with `commit.lua`
//! only if the record still has the state and version it was planned from; if another
//! writer got there first it plans again from the new record, which then usually answers
//! `Stale`. Indexes (by creation, state, batch; unfinished by last change; finished by
//! expiry) are kept in step inside the same scripts.

use std::collections::VecDeque;

use ::redis::AsyncCommands;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::RedisStore;
use super::scripts::{After, CommitReply, CreateReply, Events, NewRecord, Write};
use crate::batch;
use crate::job::{BatchId, Job, JobId, NewJob};
use crate::outbox::{self, EventId};
use crate::state::{JobState, Transition};
use crate::store::{
    Basis, Committed, Created, Cursor, Effects, IdempotencyKey, Jobs, ListFilter, Outcome, Page,
    StoreError,
};

/// How many times a transition is planned again when its record keeps changing under it.
const MAX_PLANS: usize = 32;

/// How many expired jobs a listing sweeps out of the indexes before it reads.
const PRUNE_PER_LIST: usize = 256;

/// How many index entries one listing call examines beyond `limit` (skipping other states
/// of a batch, or records that just expired).
const LIST_BUDGET: usize = 1000;

impl RedisStore {
    /// The record and its version.
    async fn read(&self, id: &JobId) -> Result<Option<(Job, i64)>, StoreError> {
        let mut conn = self.conn();
        let key = self.keys.job(id);
        // The version is read as text: a hand-edited one is a corrupt record, not a Redis error.
        let (json, version): (Option<String>, Option<String>) =
            conn.hmget(&key, &["json", "version"]).await?;
        match (json, version) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(StoreError::Corrupt {
                what: key,
                detail: "the record has no version".into(),
            }),
            (Some(json), Some(version)) => {
                let version = version.parse::<i64>().map_err(|_| StoreError::Corrupt {
                    what: key.clone(),
                    detail: format!("the version {version:?} is not a number"),
                })?;
                Ok(Some((decode(&key, &json)?, version)))
            }
        }
    }

    /// A transition and its effects in one `commit.lua` call: planned from `basis` when
    /// given, otherwise from the record as read; planned again whenever the record moved.
    pub(super) async fn commit_with(
        &self,
        transition: Transition,
        basis: Option<Basis>,
        effects: &Effects,
    ) -> Result<Committed, StoreError> {
        let id = transition.job_id().clone();
        let mut known = basis.map(|b| (b.job, i64::try_from(b.version).unwrap_or(i64::MAX)));
        let after = after(effects);
        for _ in 0..MAX_PLANS {
            let (current, version) = match known.take() {
                Some(known) => known,
                None => match self.read(&id).await? {
                    Some(read) => read,
                    None => return Err(StoreError::NotFound(id)),
                },
            };
            let Some(plan) = transition.plan(&current, Utc::now()) else {
                return Ok(unapplied(Outcome::Stale { current }));
            };
            let mut writes = vec![self.write(&plan.job, Some((current.state, version)))?];
            let mut events = Events::default();
            if let Some(event) = outbox::job_finished(current.state, &plan.job)? {
                events.jobs.push((event, event_ms(&plan.job)));
            }
            if let Some(child) = &plan.create {
                writes.push(self.write(child, None)?);
            }
            if plan.cancel_descendants {
                for (descendant, version) in self.unfinished_descendants(&current).await? {
                    let cancel = Transition::cancel(descendant.id.clone());
                    if let Some(p) = cancel.plan(&descendant, plan.job.updated_at) {
                        let mut write = self.write(&p.job, Some((descendant.state, version)))?;
                        // One chain, one move: the step cancelled first counted it.
                        if writes[0].moved.is_some() {
                            write.moved = None;
                        }
                        writes.push(write);
                        if let Some(event) = outbox::job_finished(descendant.state, &p.job)? {
                            events.jobs.push((event, event_ms(&p.job)));
                        }
                    }
                }
            }
            if writes.iter().any(|w| w.moved.is_some()) {
                events.batch_event = Some(EventId::generate().to_string());
            }
            let claim = plan.claim.as_deref().map(|task| self.keys.task(task));
            let mut conn = self.conn();
            match self
                .scripts
                .commit(&mut conn, &self.keys, claim, &writes, &after, &events)
                .await?
            {
                CommitReply::Ok(version, woken) => {
                    if !woken.is_empty() || !effects.ring_now.is_empty() {
                        self.wake.now();
                    }
                    if let Some((_, Some(at))) = &effects.settle {
                        self.wake.at(*at);
                    }
                    return Ok(Committed {
                        outcome: Outcome::Applied(plan.job),
                        version: Some(version),
                        woken: woken.into_iter().map(JobId::from).collect(),
                        next: None,
                    });
                }
                CommitReply::Taken(owner) => {
                    return Ok(unapplied(Outcome::TaskTaken {
                        by: JobId::from(owner),
                        current,
                    }));
                }
                CommitReply::Moved => continue,
                CommitReply::Gone(gone) => {
                    tracing::debug!(job = %id, %gone, "a record vanished under a transition; planning again");
                    continue;
                }
            }
        }
        Err(StoreError::Contended(id))
    }

    /// The descendants of `job` that have not finished, each with its version.
    async fn unfinished_descendants(&self, job: &Job) -> Result<Vec<(Job, i64)>, StoreError> {
        let mut todo: VecDeque<JobId> = job.children.iter().cloned().collect();
        let mut out = Vec::new();
        while let Some(id) = todo.pop_front() {
            if let Some((child, version)) = self.read(&id).await? {
                todo.extend(child.children.iter().cloned());
                if !child.is_terminal() {
                    out.push((child, version));
                }
            }
        }
        Ok(out)
    }

    fn write(&self, job: &Job, from: Option<(JobState, i64)>) -> Result<Write, StoreError> {
        let moved = from
            .and_then(|(state, _)| batch::moved(state, job))
            .map(|m| (m.from.as_str(), m.to.as_str()));
        Ok(Write {
            moved,
            ensure: from.is_none(),
            id: job.id.to_string(),
            from: from.map_or(("", 0), |(state, version)| (state.as_str(), version)),
            state: job.state.as_str(),
            json: encode(job)?,
            created_ms: job.created_at.timestamp_millis(),
            updated_ms: job.updated_at.timestamp_millis(),
            batch: batch_of(job),
            expire_at_ms: self.expire_at_ms(job),
        })
    }

    fn expire_at_ms(&self, job: &Job) -> i64 {
        match (job.is_terminal(), job.finished_at) {
            (true, Some(at)) => {
                let retention = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
                at.timestamp_millis().saturating_add(retention)
            }
            (true, None) => job.updated_at.timestamp_millis(),
            (false, _) => 0,
        }
    }

    /// The batches of `jobs` that are still being written.
    async fn batches_writing_among(
        &self,
        jobs: &[Job],
    ) -> Result<std::collections::HashSet<BatchId>, StoreError> {
        let batches: std::collections::BTreeSet<&BatchId> = jobs
            .iter()
            .filter_map(|job| job.batch_id.as_ref())
            .collect();
        if batches.is_empty() {
            return Ok(Default::default());
        }
        let mut conn = self.conn();
        let writing: Vec<f64> = {
            let mut pipe = ::redis::pipe();
            for batch in &batches {
                pipe.cmd("ZSCORE")
                    .arg(self.keys.batches_writing())
                    .arg(batch.as_str());
            }
            let scores: Vec<Option<f64>> = pipe.query_async(&mut conn).await?;
            scores.into_iter().map(|s| s.unwrap_or(-1.0)).collect()
        };
        Ok(batches
            .into_iter()
            .zip(writing)
            .filter(|(_, score)| *score >= 0.0)
            .map(|(batch, _)| batch.clone())
            .collect())
    }

    async fn fetch(&self, ids: &[String]) -> Result<Vec<Job>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.hget(self.keys.job(&JobId::from(id.as_str())), "json");
        }
        let mut conn = self.conn();
        let found: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        found
            .into_iter()
            .zip(ids)
            .filter_map(|(json, id)| json.map(|json| decode(id, &json)))
            .collect()
    }
}

/// The arguments of `commit.lua`'s effects.
fn after(effects: &Effects) -> After {
    After {
        settle: effects
            .settle
            .as_ref()
            .map(|(lease, next)| (lease.holder.clone(), next.map(|at| at.timestamp_millis()))),
        now_ms: Utc::now().timestamp_millis(),
        ring_now: effects
            .ring_now
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect(),
        slot: effects
            .slot
            .as_ref()
            .map(|s| (s.alias.clone(), s.max, s.release, s.leave_line)),
    }
}

/// When a job's event was made: when the job ended.
fn event_ms(job: &Job) -> i64 {
    job.finished_at.unwrap_or(job.updated_at).timestamp_millis()
}

/// A commit that did not apply: nothing else was written.
fn unapplied(outcome: Outcome) -> Committed {
    Committed {
        outcome,
        version: None,
        woken: Vec::new(),
        next: None,
    }
}

fn encode(job: &Job) -> Result<String, StoreError> {
    serde_json::to_string(job).map_err(|e| StoreError::Corrupt {
        what: format!("job {}", job.id),
        detail: format!("cannot encode: {e}"),
    })
}

fn decode(what: &str, json: &str) -> Result<Job, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

fn batch_of(job: &Job) -> String {
    job.batch_id
        .as_ref()
        .map(|b| b.to_string())
        .unwrap_or_default()
}

fn new_record(job: &Job) -> Result<NewRecord, StoreError> {
    Ok(NewRecord {
        id: job.id.to_string(),
        state: job.state.as_str(),
        json: encode(job)?,
        created_ms: job.created_at.timestamp_millis(),
        batch: batch_of(job),
    })
}

/// A cursor is `<score>:<id>` of the last entry examined.
fn parse_cursor(cursor: &Cursor) -> Result<(String, String), StoreError> {
    let invalid = || StoreError::InvalidCursor(cursor.as_str().to_owned());
    let (score, id) = cursor.as_str().split_once(':').ok_or_else(invalid)?;
    if id.is_empty() || score.parse::<i64>().is_err() {
        return Err(invalid());
    }
    Ok((score.to_owned(), id.to_owned()))
}

#[async_trait]
impl Jobs for RedisStore {
    async fn create(
        &self,
        job: NewJob,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Created, StoreError> {
        let job = job.into_job(Utc::now());
        let record = new_record(&job)?;
        let idem = idempotency
            .as_ref()
            .map(|k| (self.keys.idempotency(&k.key), k.fingerprint.as_str()));
        let mut conn = self.conn();
        let reply = self
            .scripts
            .create(&mut conn, &self.keys, idem, &[record])
            .await?;
        match reply {
            CreateReply::Created => Ok(Created {
                job,
                replayed: false,
            }),
            CreateReply::Replayed(json) => Ok(Created {
                job: decode("the replayed job", &json)?,
                replayed: true,
            }),
            CreateReply::Conflict(first) => Err(StoreError::Conflict {
                key: idempotency.map(|k| k.key).unwrap_or_default(),
                job: JobId::from(first),
            }),
            CreateReply::Exists(id) => Err(StoreError::Duplicate(JobId::from(id))),
        }
    }

    async fn create_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, StoreError> {
        let now = Utc::now();
        let jobs: Vec<Job> = jobs.into_iter().map(|j| j.into_job(now)).collect();
        if jobs.is_empty() {
            return Ok(jobs);
        }
        let records = jobs.iter().map(new_record).collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.conn();
        match self
            .scripts
            .create(&mut conn, &self.keys, None, &records)
            .await?
        {
            CreateReply::Created => Ok(jobs),
            CreateReply::Exists(id) => Err(StoreError::Duplicate(JobId::from(id))),
            CreateReply::Replayed(_) | CreateReply::Conflict(_) => Err(StoreError::Corrupt {
                what: "the reply of create.lua".into(),
                detail: "an idempotency answer to a batch without a key".into(),
            }),
        }
    }

    async fn get(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        Ok(self.read(id).await?.map(|(job, _)| job))
    }

    async fn get_many(&self, ids: &[JobId]) -> Result<Vec<Option<Job>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for id in ids {
            pipe.hget(self.keys.job(id), "json");
        }
        let mut conn = self.conn();
        let found: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        found
            .into_iter()
            .zip(ids)
            .map(|(json, id)| json.map(|json| decode(id.as_str(), &json)).transpose())
            .collect()
    }

    async fn apply(&self, transition: Transition) -> Result<Outcome, StoreError> {
        Ok(self
            .commit_with(transition, None, &Effects::default())
            .await?
            .outcome)
    }

    async fn job_for_task(&self, task_id: &str) -> Result<Option<JobId>, StoreError> {
        let mut conn = self.conn();
        let owner: Option<String> = conn.get(self.keys.task(task_id)).await?;
        Ok(owner.map(JobId::from))
    }

    async fn list(
        &self,
        filter: &ListFilter,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let cursor = cursor.map(parse_cursor).transpose()?;
        let limit = limit.max(1);
        let (index, state) = match (&filter.batch, filter.state) {
            (Some(batch), state) => (self.keys.batch(batch), state.map(JobState::as_str)),
            (None, Some(state)) => (self.keys.state(state), None),
            (None, None) => (self.keys.jobs(), None),
        };
        let mut conn = self.conn();
        self.scripts
            .prune(&mut conn, &self.keys, PRUNE_PER_LIST)
            .await?;
        let reply = self
            .scripts
            .list(
                &mut conn,
                &self.keys,
                index,
                state,
                cursor,
                limit,
                limit.saturating_add(LIST_BUDGET),
            )
            .await?;
        let jobs = reply
            .records
            .iter()
            .map(|json| decode("a listed job", json))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            jobs,
            next_cursor: reply
                .next
                .map(|(score, id)| Cursor::new(format!("{score}:{id}"))),
        })
    }

    async fn unfinished_older_than(
        &self,
        cutoff: DateTime<Utc>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let mut conn = self.conn();
        let ids: Vec<String> = ::redis::cmd("ZRANGE")
            .arg(self.keys.unfinished())
            .arg("-inf")
            .arg(cutoff.timestamp_millis())
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(offset)
            .arg(limit)
            .query_async(&mut conn)
            .await?;
        let mut jobs = self.fetch(&ids).await?;
        let cutoff_ms = cutoff.timestamp_millis();
        jobs.retain(|job| !job.is_terminal() && job.updated_at.timestamp_millis() <= cutoff_ms);
        // A batch still being written is nobody's to run yet: the rescuer must not ring it.
        let writing = self.batches_writing_among(&jobs).await?;
        jobs.retain(|job| job.batch_id.as_ref().is_none_or(|b| !writing.contains(b)));
        Ok(jobs)
    }

    async fn prune_expired(&self, limit: usize) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        self.scripts.prune(&mut conn, &self.keys, limit).await
    }
}
