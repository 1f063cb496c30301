//! [`Batches`] on Redis: `{p}:batchrec:{id}` (the record and its counts),
//! `{p}:batch-roots:{id}` (the chains in order), `{p}:batches-writing` and
//! `{p}:batch-idem:{key}`. The counts move inside `commit.lua` (`move` in `prelude.lua`).
//!
//! A batch is written in script calls of [`ADD_CHUNK`] chains, [`CALLS_PER_TRIP`] of them
//! pipelined per round trip, so no one call holds Redis for long; it is accepted by one
//! small script, and its chains are then made due [`RING_CHUNK`] at a time.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use ::redis::AsyncCommands;
use async_trait::async_trait;
use chrono::Utc;

use super::RedisStore;
use crate::batch::{Batch, BatchPage, Batches, Begun, ChainState, Counts, NewBatch};
use crate::job::{BatchId, JobId, NewJob};
use crate::store::{Cursor, IdempotencyKey, StoreError};

/// Chains written by one call of `batch_add.lua`.
const ADD_CHUNK: usize = 500;

/// Calls of `batch_add.lua` sent in one round trip.
const CALLS_PER_TRIP: usize = 8;

/// Chains made due by one call of `batch_ring.lua`.
const RING_CHUNK: usize = 5000;

/// Chains deleted by one call of `batch_discard.lua`.
const DISCARD_CHUNK: usize = 2000;

/// Abandoned batches one sweep discards.
const SWEEP_LIMIT: isize = 16;

/// The oldest members of `{p}:batches` one sweep checks for a record that expired.
const SWEEP_LISTED: isize = 256;

impl RedisStore {
    /// Drops the oldest members of `{p}:batches` whose record expired (a record expires with
    /// its batch; the zset cannot), so the index does not outgrow the batches kept. The
    /// listing drops those it meets too. A record never comes back, so this needs no script.
    async fn drop_expired_listed(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let oldest: Vec<String> = conn
            .zrange(self.keys.batches(), 0, SWEEP_LISTED - 1)
            .await?;
        if oldest.is_empty() {
            return Ok(());
        }
        let mut pipe = ::redis::pipe();
        for id in &oldest {
            pipe.exists(self.keys.batch_record(&BatchId::from(id.as_str())));
        }
        let exists: Vec<bool> = pipe.query_async(&mut conn).await?;
        let gone: Vec<&String> = oldest
            .iter()
            .zip(exists)
            .filter_map(|(id, exists)| (!exists).then_some(id))
            .collect();
        if !gone.is_empty() {
            let _: i64 = conn.zrem(self.keys.batches(), gone).await?;
        }
        Ok(())
    }

    /// Deletes a batch still being written, a chunk per call; whether there was one.
    async fn discard_batch(&self, batch: &BatchId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        loop {
            let left: i64 = self
                .scripts
                .batch_discard
                .arg(&self.keys.layout()[..])
                .arg(batch.as_str())
                .arg(DISCARD_CHUNK)
                .arg(self.keys.batches_writing())
                .invoke_async(&mut conn)
                .await?;
            match left {
                -1 => return Ok(false),
                0 => return Ok(true),
                _ => continue,
            }
        }
    }
}

/// Encodes a batch's chains into trips of `batch_add.lua` calls, off the async threads.
struct Encoder {
    hash: String,
    layout: Vec<String>,
    batch: BatchId,
    now: chrono::DateTime<Utc>,
}

impl Encoder {
    /// Sends the trips of `jobs` down `tx`, [`CALLS_PER_TRIP`] calls of [`ADD_CHUNK`] chains
    /// each, until done or the receiver is gone.
    fn run(
        self,
        jobs: Vec<NewJob>,
        tx: &tokio::sync::mpsc::Sender<Result<::redis::Pipeline, StoreError>>,
    ) {
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let trip = self.trip(&mut jobs);
            let failed = trip.is_err();
            if tx.blocking_send(trip).is_err() || failed {
                return;
            }
        }
    }

    fn trip(
        &self,
        jobs: &mut impl Iterator<Item = NewJob>,
    ) -> Result<::redis::Pipeline, StoreError> {
        let created_ms = self.now.timestamp_millis();
        let mut pipe = ::redis::pipe();
        for _ in 0..CALLS_PER_TRIP {
            let chunk: Vec<NewJob> = jobs.by_ref().take(ADD_CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let call = pipe.cmd("EVALSHA");
            call.arg(&self.hash)
                .arg(0)
                .arg(&self.layout)
                .arg(self.batch.as_str())
                .arg(created_ms)
                .arg(chunk.len());
            for job in chunk {
                let job = job.in_batch(self.batch.clone()).into_job(self.now);
                let json = serde_json::to_string(&job).map_err(|e| {
                    StoreError::corrupt(format!("job {}", job.id), format!("cannot encode: {e}"))
                })?;
                call.arg(job.id.as_str()).arg(json);
            }
        }
        Ok(pipe)
    }
}

/// Reads the replies of one trip of `batch_add.lua`.
fn added(batch: &BatchId, replies: Vec<Vec<String>>) -> Result<(), StoreError> {
    for reply in replies {
        match reply.as_slice() {
            [tag] if tag == "added" => {}
            [tag] if tag == "not_writing" => return Err(StoreError::UnknownBatch(batch.clone())),
            [tag, id] if tag == "exists" => {
                return Err(StoreError::Duplicate(JobId::from(id.as_str())));
            }
            _ => return Err(reply_error("batch_add", &reply)),
        }
    }
    Ok(())
}

/// Reads a batch record from its hash fields; `None` unless accepted.
pub(super) fn batch_from(
    id: &BatchId,
    fields: &HashMap<String, String>,
) -> Result<Option<Batch>, StoreError> {
    if fields.get("status").map(String::as_str) != Some("accepted") {
        return Ok(None);
    }
    let what = || format!("batch {id}");
    let number = |name: &str| -> Result<i64, StoreError> {
        let text = fields.get(name).map(String::as_str).unwrap_or("0");
        text.parse::<i64>()
            .map_err(|_| StoreError::corrupt(what(), format!("{name} is {text:?}")))
    };
    let count = |name: &str| -> Result<u64, StoreError> {
        Ok(u64::try_from(number(name)?.max(0)).unwrap_or(0))
    };
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| StoreError::corrupt(what(), format!("time {ms} is out of range")))
    };
    let mut counts = Counts::default();
    for state in ChainState::ALL {
        *counts.get_mut(state) = count(state.as_str())?;
    }
    Ok(Some(Batch {
        id: id.clone(),
        name: fields.get("name").cloned(),
        total: count("total")?,
        counts,
        webhook_url: fields.get("webhook").cloned(),
        created_at: time(number("created")?)?,
        finished_at: match fields.get("finished") {
            Some(_) => Some(time(number("finished")?)?),
            None => None,
        },
    }))
}

fn reply_error(script: &str, reply: &[String]) -> StoreError {
    StoreError::corrupt(
        format!("the reply of {script}.lua"),
        format!("unexpected {reply:?}"),
    )
}

#[async_trait]
impl Batches for RedisStore {
    async fn begin(
        &self,
        batch: &NewBatch,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Begun, StoreError> {
        let mut conn = self.conn();
        let reply: Vec<String> = self
            .scripts
            .batch_begin
            .arg(&self.keys.layout()[..])
            .arg(batch.id.as_str())
            .arg(
                idempotency
                    .map(|k| self.keys.batch_idempotency(&k.key))
                    .unwrap_or_default(),
            )
            .arg(idempotency.map_or("", |k| k.fingerprint.as_str()))
            .arg(batch.name.as_deref().unwrap_or(""))
            .arg(batch.webhook_url.as_deref().unwrap_or(""))
            .arg(Utc::now().timestamp_millis())
            .arg(self.keys.batches_writing())
            .invoke_async(&mut conn)
            .await?;
        match reply.as_slice() {
            [tag] if tag == "writing" => Ok(Begun::Writing),
            [tag] if tag == "exists" => Err(StoreError::DuplicateBatch(batch.id.clone())),
            [tag, first] if tag == "replayed" => {
                let first = BatchId::from(first.as_str());
                match self.get(&first).await? {
                    Some(found) => Ok(Begun::Replayed(found)),
                    // It expired between the two calls: as if the key were free, once.
                    None => Err(StoreError::BatchKeyTaken {
                        key: idempotency.map(|k| k.key.clone()).unwrap_or_default(),
                        batch: first,
                        in_progress: false,
                    }),
                }
            }
            [tag, first, writing] if tag == "taken" => Err(StoreError::BatchKeyTaken {
                key: idempotency.map(|k| k.key.clone()).unwrap_or_default(),
                batch: BatchId::from(first.as_str()),
                in_progress: writing == "1",
            }),
            _ => Err(reply_error("batch_begin", &reply)),
        }
    }

    async fn add(&self, batch: &BatchId, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        // Pipelined calls go by hash: load the script first (once per chunk of the API's).
        self.scripts.batch_add.load_async(&mut conn).await?;
        // A thread encodes the next trips while Redis runs this one, and two trips are in
        // flight at once, so neither side waits for the other.
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let encoder = Encoder {
            hash: self.scripts.batch_add.get_hash().to_owned(),
            layout: self.keys.layout().to_vec(),
            batch: batch.clone(),
            now: Utc::now(),
        };
        let encoding = tokio::task::spawn_blocking(move || encoder.run(jobs, &tx));
        let mut in_flight = VecDeque::new();
        while let Some(pipe) = rx.recv().await {
            let pipe: ::redis::Pipeline = pipe?;
            let mut conn = conn.clone();
            let mut trip =
                Box::pin(async move { pipe.query_async::<Vec<Vec<String>>>(&mut conn).await });
            // Polled once now, so it is sent now, in order: the chains keep their order.
            match futures::poll!(trip.as_mut()) {
                std::task::Poll::Ready(replies) => added(batch, replies?)?,
                std::task::Poll::Pending => in_flight.push_back(trip),
            }
            while in_flight.len() >= 2 {
                if let Some(trip) = in_flight.pop_front() {
                    added(batch, trip.await?)?;
                }
            }
        }
        while let Some(trip) = in_flight.pop_front() {
            added(batch, trip.await?)?;
        }
        encoding.await.map_err(|e| {
            StoreError::corrupt(format!("batch {batch}"), format!("encoding failed: {e}"))
        })
    }

    async fn accept(&self, batch: &BatchId) -> Result<Batch, StoreError> {
        let mut conn = self.conn();
        let now = Utc::now();
        let reply: Vec<String> = self
            .scripts
            .batch_accept
            .arg(&self.keys.layout()[..])
            .arg(batch.as_str())
            .arg(now.timestamp_millis())
            .arg(self.keys.batches_writing())
            .arg(self.keys.batches())
            .invoke_async(&mut conn)
            .await?;
        match reply.as_slice() {
            [tag] if tag == "accepted" => {}
            [tag] if tag == "not_writing" => return Err(StoreError::UnknownBatch(batch.clone())),
            _ => return Err(reply_error("batch_accept", &reply)),
        }
        let mut offset = 0usize;
        loop {
            let rang: usize = self
                .scripts
                .batch_ring
                .arg(&self.keys.layout()[..])
                .arg(batch.as_str())
                .arg(offset)
                .arg(RING_CHUNK)
                .arg(now.timestamp_millis())
                .invoke_async(&mut conn)
                .await?;
            offset += rang;
            if rang < RING_CHUNK {
                break;
            }
        }
        if offset > 0 {
            let _: i64 = conn.publish(self.keys.rung_channel(), 1).await?;
            self.wake.now();
        }
        self.get(batch)
            .await?
            .ok_or_else(|| StoreError::UnknownBatch(batch.clone()))
    }

    async fn discard(&self, batch: &BatchId) -> Result<bool, StoreError> {
        self.discard_batch(batch).await
    }

    async fn get(&self, batch: &BatchId) -> Result<Option<Batch>, StoreError> {
        let mut conn = self.conn();
        let fields: HashMap<String, String> = conn.hgetall(self.keys.batch_record(batch)).await?;
        batch_from(batch, &fields)
    }

    async fn roots(
        &self,
        batch: &BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let stop = start.saturating_add(isize::try_from(limit).unwrap_or(isize::MAX) - 1);
        let mut conn = self.conn();
        let ids: Vec<String> = conn
            .lrange(self.keys.batch_roots(batch), start, stop)
            .await?;
        Ok(ids.into_iter().map(JobId::from).collect())
    }

    async fn list(&self, cursor: Option<&Cursor>, limit: usize) -> Result<BatchPage, StoreError> {
        let (score, after) = match cursor {
            Some(cursor) => {
                let (ms, id) = crate::batch::parse_cursor(cursor)?;
                (ms.to_string(), id.to_string())
            }
            None => (String::new(), String::new()),
        };
        if limit == 0 {
            return Ok(BatchPage {
                batches: Vec::new(),
                next_cursor: None,
            });
        }
        let mut conn = self.conn();
        let reply: Vec<Vec<String>> = self
            .scripts
            .batch_list
            .arg(&self.keys.layout()[..])
            .arg(self.keys.batches())
            .arg(score)
            .arg(after)
            .arg(limit)
            .arg(limit.saturating_mul(4).saturating_add(100))
            .invoke_async(&mut conn)
            .await?;
        let mut rows = reply.into_iter();
        let next_cursor = match rows.next().as_deref() {
            Some([score, _]) if score.is_empty() => None,
            Some([score, id]) => Some(Cursor::new(format!("{score}:{id}"))),
            other => {
                return Err(reply_error("batch_list", other.unwrap_or_default()));
            }
        };
        let mut batches = Vec::new();
        for row in rows {
            let Some((id, pairs)) = row.split_first() else {
                return Err(reply_error("batch_list", &row));
            };
            let fields: HashMap<String, String> = pairs
                .chunks_exact(2)
                .map(|kv| (kv[0].clone(), kv[1].clone()))
                .collect();
            if let Some(batch) = batch_from(&BatchId::from(id.as_str()), &fields)? {
                batches.push(batch);
            }
        }
        Ok(BatchPage {
            batches,
            next_cursor,
        })
    }

    async fn sweep_abandoned(&self, older_than: Duration) -> Result<usize, StoreError> {
        if let Err(e) = self.drop_expired_listed().await {
            tracing::warn!(error = %e, "could not drop expired batches from the listing's index");
        }
        let cutoff = Utc::now().timestamp_millis()
            - i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        let mut conn = self.conn();
        let ids: Vec<String> = conn
            .zrangebyscore_limit(self.keys.batches_writing(), "-inf", cutoff, 0, SWEEP_LIMIT)
            .await?;
        let mut swept = 0;
        for id in ids {
            let batch = BatchId::from(id.as_str());
            if self.discard_batch(&batch).await? {
                tracing::warn!(%batch, "discarded a batch whose writer gave up before accepting it");
                swept += 1;
            } else {
                // Accepted meanwhile, or gone: it is not being written any more.
                let _: i64 = conn.zrem(self.keys.batches_writing(), &id).await?;
            }
        }
        Ok(swept)
    }
}
